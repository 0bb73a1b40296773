import { describe, expect, it } from 'vitest';
import { withWorkerHeap } from '../../src/meta/workerHeap.js';

describe('withWorkerHeap', () => {
  it('returns what start resolves to, with or without a heap size', async () => {
    await expect(withWorkerHeap(0, async () => 7)).resolves.toBe(7);
    await expect(withWorkerHeap(64, async () => 'ok')).resolves.toBe('ok');
  });

  it('passes start’s failure through', async () => {
    await expect(
      withWorkerHeap(64, async () => {
        throw new Error('no worker');
      }),
    ).rejects.toThrow('no worker');
  });

  it('rejects a size that is not a non-negative integer, before starting anything', async () => {
    let started = false;
    const start = async () => {
      started = true;
    };
    await expect(withWorkerHeap(-1, start)).rejects.toThrow(RangeError);
    await expect(withWorkerHeap(1.5, start)).rejects.toThrow(/non-negative integer, got 1.5/);
    expect(started).toBe(false);
  });
});
