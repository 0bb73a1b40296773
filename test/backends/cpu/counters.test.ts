/** The CPU backend's counters: one dispatch per kernel call, no compiles, uploads and reads with their bytes. */
import { describe, expect, it } from 'vitest';
import { diffCounters, formatCounters } from '../../../src/backends/backend.js';
import { CpuBackend } from '../../../src/backends/cpu/index.js';

describe('CpuBackend counters', () => {
  it('count kernel calls, uploads and reads (with bytes by dtype); compiles stay 0', async () => {
    const b = new CpuBackend();
    const before = b.counters;
    const x = {
      handle: b.upload(Float64Array.of(1, 2, 3), [3], 'float64'),
      shape: [3],
      dtype: 'float64',
    } as const;
    const y = { handle: b.unary('exp', x), shape: [3], dtype: 'float64' } as const;
    const z = { handle: b.binary('mul', y, x, [3]), shape: [3], dtype: 'float64' } as const;
    b.reduce('sum', z, [0]);
    b.readSync(z);
    await b.read({ handle: b.cast(z, 'float32'), shape: [3], dtype: 'float32' });
    const d = diffCounters(b.counters, before);
    expect(d).toEqual({ dispatches: 4, compiles: 0, uploads: 1, reads: 2, bytesUploaded: 24, bytesRead: 36 });
    expect(formatCounters(d)).toBe('4 dispatches, 0 compiles, 1 upload (24 B), 2 reads (36 B)');
  });
});
