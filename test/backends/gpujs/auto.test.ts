/** `gpujs` picks the fastest available mode; `auto` follows the measured crossover sizes. */
import { describe, expect, it } from 'vitest';
import { chooseAutoBackend, type ModeProbe, rankModes } from '../../../src/backends/gpujs/index.js';

const soft: ModeProbe[] = [
  { mode: 'webgpu', available: true, software: true },
  { mode: 'headlessgl', available: true, software: true },
  { mode: 'webasm', available: true, software: true },
  { mode: 'cpu', available: true, software: true },
];
const hard: ModeProbe[] = [{ mode: 'webgpu', available: true, software: false }, ...soft.slice(1)];

describe('mode ranking and auto', () => {
  it('ranks a hardware GPU first and software GPUs below WebAssembly', () => {
    expect(rankModes(hard)).toEqual(['webgpu', 'webasm', 'headlessgl', 'cpu']);
    expect(rankModes(soft)).toEqual(['webasm', 'webgpu', 'headlessgl', 'cpu']);
    expect(rankModes([{ mode: 'webgpu', available: false }, ...soft.slice(2)])).toEqual(['webasm', 'cpu']);
  });

  it('auto picks hardware WebGPU only at or above its measured crossover', async () => {
    expect((await chooseAutoBackend({ matmul: 256 }, hard)).backend).toBe('gpujs:webgpu');
    expect((await chooseAutoBackend({ matmul: 40 }, hard)).backend).toBe('cpu');
    expect((await chooseAutoBackend({ elements: 1 << 20 }, hard)).backend).toBe('gpujs:webgpu');
    expect((await chooseAutoBackend({ elements: 1000 }, hard)).backend).toBe('cpu');
  });

  it('auto stays on the CPU backend where only software devices exist', async () => {
    const choice = await chooseAutoBackend({ matmul: 1024 }, soft);
    expect(choice.backend).toBe('cpu');
    expect(choice.reason.length).toBeGreaterThan(0);
  });
});
