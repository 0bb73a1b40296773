/**
 * The direct WebGPU dispatcher (src/backends/gpujs/webgpu-direct.ts). Its buffer pool is checked everywhere on
 * a stand-in device; the dispatcher itself runs where the gpu.js suite runs webgpu (METATAPE_GPU_MODES
 * includes it): the same work through it and through gpu.js's own runner gives the same values bit for bit
 * (the shaders are the same), and a repeated step makes no new pipelines and reuses its output buffers.
 */
import { describe, expect, it } from 'vitest';
import type { KernelTensor } from '../../../src/backends/backend.js';
import { createGpujsBackend, type GpujsBackend } from '../../../src/backends/gpujs/index.js';
import { BindGroupCache, BufferPool, type GPUDeviceLike } from '../../../src/backends/gpujs/webgpu-direct.js';
import { modesUnderTest, put, randomValues, rng } from './harness.js';

/** A device whose buffers only have a size, and which counts what it made and destroyed. */
function standInDevice(): { device: GPUDeviceLike; made: number[]; destroyed: number } {
  const state = { made: [] as number[], destroyed: 0 };
  const device = {
    createBuffer: ({ size }: { size: number }) => {
      state.made.push(size);
      return {
        size,
        destroy: () => {
          state.destroyed++;
        },
      };
    },
  } as unknown as GPUDeviceLike;
  return {
    device,
    get made() {
      return state.made;
    },
    get destroyed() {
      return state.destroyed;
    },
  };
}

describe('WebGPU buffer pool', () => {
  it('hands a released buffer back for the same size class, and makes a new one for another', () => {
    const d = standInDevice();
    const pool = new BufferPool(d.device);
    const a = pool.take(100);
    expect(a.size).toBe(112);
    pool.give(a);
    expect(pool.take(97)).toBe(a);
    const b = pool.take(200);
    expect(b).not.toBe(a);
    expect(d.made).toEqual([112, 208]);
    expect([pool.hits, pool.misses]).toEqual([1, 2]);
  });

  it('keeps releasing buffers in LIFO order per size, so a repeated step gets the same buffers back', () => {
    const pool = new BufferPool(standInDevice().device);
    const first = [pool.take(64), pool.take(64), pool.take(64)];
    for (const b of first) pool.give(b);
    const again = [pool.take(64), pool.take(64), pool.take(64)];
    expect(again).toEqual([...first].reverse());
  });

  it('past its byte cap, marks released buffers for destruction instead of keeping them', () => {
    const d = standInDevice();
    const pool = new BufferPool(d.device);
    const big = 600 * 1024 * 1024;
    const x = pool.take(big);
    const y = pool.take(big);
    pool.give(x);
    pool.give(y);
    expect(pool.doomed).toEqual([y]);
    expect(pool.take(big)).toBe(x);
  });
});

describe('WebGPU bind-group cache', () => {
  it('finds what it stored, across keys of every kernel, until its capacity evicts the oldest', () => {
    const cache = new BindGroupCache(3);
    const groups = ['a', 'b', 'c', 'd'].map((name) => ({ name }));
    cache.set('0:1,2,3', groups[0]);
    cache.set('1:1,2,3', groups[1]);
    cache.set('0:1,2,4', groups[2]);
    expect(cache.get('0:1,2,3')).toBe(groups[0]);
    expect(cache.get('1:1,2,3')).toBe(groups[1]);
    cache.set('0:1,2,5', groups[3]);
    expect(cache.size).toBe(3);
    expect(cache.get('0:1,2,3')).toBeUndefined();
    expect(cache.get('0:1,2,5')).toBe(groups[3]);
    expect([cache.hits, cache.misses]).toEqual([3, 1]);
  });
});

const webgpu = modesUnderTest().includes('webgpu');

describe.skipIf(!webgpu)('gpujs:webgpu direct dispatch', () => {
  /** A small elementwise-and-matmul step; returns the values it reads. */
  async function step(b: GpujsBackend, seed: number): Promise<Float32Array[]> {
    const r = rng(seed);
    const x = put(b, randomValues(r, 12 * 8), [12, 8]);
    const w = put(b, randomValues(r, 8 * 5), [8, 5]);
    const t = (h: unknown, shape: number[]): KernelTensor => ({ handle: h, shape, dtype: 'float32' });
    const h = t(b.matmul(x, w, false, false, [12, 5]), [12, 5]);
    const a = t(b.unary('tanh', h), [12, 5]);
    const s = t(b.reduce('sum', t(b.binary('mul', a, a, [12, 5]), [12, 5]), [0]), [5]);
    const d = t(b.binary('sub', a, h, [12, 5]), [12, 5]);
    const g = t(b.matmul(x, d, true, false, [8, 5]), [8, 5]);
    const out = [(await b.read(s)) as Float32Array, (await b.read(g)) as Float32Array];
    // What the engine's finaliser would do: give every tensor's storage back.
    for (const k of [x, w, h, a, s, d, g]) b.dispose?.(k.handle);
    return out;
  }

  it('is on by default and gives gpu.js runner values bit for bit, fusion on and off', async () => {
    for (const fusion of [true, false]) {
      const direct = await createGpujsBackend('webgpu', { fusion });
      const runner = await createGpujsBackend('webgpu', { fusion, webgpuDevice: undefined });
      try {
        expect(direct.directDispatch).toBe(true);
        expect(runner.directDispatch).toBe(false);
        const [d, g] = [await step(direct, 3), await step(runner, 3)];
        for (let i = 0; i < d.length; i++) expect(Array.from(d[i]!)).toEqual(Array.from(g[i]!));
      } finally {
        await direct.destroy();
        await runner.destroy();
      }
    }
  });

  it('compiles nothing and reuses output buffers when a step repeats', async () => {
    const b = await createGpujsBackend('webgpu', { fusion: true });
    try {
      for (let i = 0; i < 2; i++) await step(b, 5);
      const before = b.webgpuStats!;
      for (let i = 0; i < 3; i++) await step(b, 5);
      const after = b.webgpuStats!;
      expect(after.pipelines).toBe(before.pipelines);
      expect(after.poolHits).toBeGreaterThan(before.poolHits);
      // Reads submit; nothing else needs to: a step's dispatches go in a few submits, not one each.
      expect(after.submits - before.submits).toBeLessThan(b.counters.dispatches);
    } finally {
      await b.destroy();
    }
  });

  it('creates no bind groups when a batch of many dispatches of one kernel repeats', async () => {
    // 200 adds of one kernel into 200 pooled outputs: more (kernel, buffers) pairs than a per-kernel cache of
    // a few dozen keeps, as in a training step that runs one kernel on many tensors.
    const b = await createGpujsBackend('webgpu', { fusion: false });
    try {
      const r = rng(7);
      const x = put(b, randomValues(r, 64), [64]);
      const y = put(b, randomValues(r, 64), [64]);
      const batch = async (): Promise<void> => {
        const outs = Array.from({ length: 200 }, () => b.binary('add', x, y, [64]));
        await b.read({ handle: outs[outs.length - 1], shape: [64], dtype: 'float32' });
        for (const h of outs) b.dispose?.(h);
      };
      await batch();
      const before = b.webgpuStats!;
      await batch();
      await batch();
      const after = b.webgpuStats!;
      expect(after.poolHits - before.poolHits).toBe(400);
      expect(after.bindGroups).toBe(before.bindGroups);
    } finally {
      await b.destroy();
    }
  });
});
