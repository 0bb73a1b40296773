import { describe, expect, it } from 'vitest';
import { rankModes } from '../../src/backends/gpujs/create.js';
import type { ModeProbe } from '../../src/backends/gpujs/probe.js';
import { type GpujsModule, resolveBackend, selectBackend } from '../../src/meta/backendChoice.js';

// The resolver's inputs without loading gpu.js: the ranking is the real one, auto's pick is stubbed.
const fake = {
  rankModes,
  backendNameOf: (mode: string) => `gpujs:${mode}`,
  chooseAutoBackend: async () => ({ backend: 'cpu', reason: 'stubbed' }),
} as unknown as GpujsModule;
const probes = [
  { mode: 'cpu', available: true, software: true },
  { mode: 'webasm', available: true, software: true },
  { mode: 'headlessgl', available: false },
] as unknown as ModeProbe[];

describe('one backend resolution for runs and doctor', () => {
  it('resolves gpujs to the best available mode, auto by its chooser, and keeps explicit names', async () => {
    expect(await resolveBackend('gpujs', fake, probes)).toEqual({
      name: 'gpujs:webasm',
      reason: 'gpujs: best available mode',
    });
    expect(await resolveBackend('auto', fake, probes)).toEqual({ name: 'cpu', reason: 'stubbed' });
    expect(await resolveBackend('gpujs:cpu', fake, probes)).toEqual({
      name: 'gpujs:cpu',
      reason: 'requested',
    });
  });

  it('a run asking for cpu never loads gpu.js', async () => {
    expect(await selectBackend('cpu')).toMatchObject({ name: 'cpu', reason: 'requested' });
  });
});
