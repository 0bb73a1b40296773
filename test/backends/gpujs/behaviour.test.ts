/**
 * The gpu.js backend's contracts beyond values: kernels compile once per shape signature (a steady-state
 * training step compiles nothing), outputs never alias live tensors, reads are the only wait, and a mode that
 * cannot run says what is missing.
 */
import { describe, expect, it } from 'vitest';
import type { KernelTensor } from '../../../src/backends/backend.js';
import {
  createGpujsBackend,
  type GpujsBackend,
  GpujsModeUnavailableError,
  GpujsSyncReadError,
  probeGpujsModes,
} from '../../../src/backends/gpujs/index.js';
import { getBackend, useBackend } from '../../../src/backends/registry.js';
import { fromArray, mul, sub } from '../../../src/index.js';
import { backendFor, metaStep, modesUnderTest, put, randomValues, rng } from './harness.js';

function withBackend<T>(b: GpujsBackend, fn: () => T): T {
  const prev = getBackend();
  useBackend(b);
  try {
    return fn();
  } finally {
    useBackend(prev);
  }
}

for (const mode of modesUnderTest()) {
  describe(`gpujs:${mode} contracts`, () => {
    it('a steady-state second-order training step compiles nothing', async () => {
      const b = await backendFor(mode);
      const r = rng(5);
      let w = withBackend(b, () => fromArray(randomValues(r, 12), [4, 3]));
      const x = withBackend(b, () => fromArray(randomValues(r, 32), [8, 4]));
      const y = withBackend(b, () => fromArray(randomValues(r, 24), [8, 3]));
      const step = async () => {
        const { loss, grad } = withBackend(b, () => metaStep(w, x, y));
        w = withBackend(b, () => sub(w, mul(grad, 0.05)));
        return (await loss.data())[0]!;
      };
      const first = await step();
      // With fusion the update `w - lr * grad` is a pending expression that the next step's first matmul
      // materializes, so its kernel is first compiled in step two: that step is still warm-up.
      await step();
      const warm = b.stats;
      expect(warm.compiles).toBeGreaterThan(0);
      let last = first;
      for (let i = 0; i < 3; i++) last = await step();
      expect(b.stats.compiles).toBe(warm.compiles);
      // gpu.js switches kernels on its own when argument types change; that would be a hidden recompile.
      expect(b.stats.gpujsKernels).toBe(warm.gpujsKernels);
      expect(b.stats.dispatches).toBeGreaterThan(warm.dispatches);
      expect(last).toBeLessThan(first);
    });

    it('a reused kernel never overwrites a live result (no output aliasing)', async () => {
      const b = await backendFor(mode);
      const a = put(b, Float32Array.of(1, 2, 3, 4), [4]);
      const c = put(b, Float32Array.of(10, 20, 30, 40), [4]);
      const r1: KernelTensor = { handle: b.unary('neg', a), shape: [4], dtype: 'float32' };
      const r2: KernelTensor = { handle: b.unary('neg', c), shape: [4], dtype: 'float32' };
      // A kernel fed its own previous output, repeatedly: each result must stay what it was.
      const chain: KernelTensor[] = [r1];
      for (let i = 0; i < 3; i++)
        chain.push({
          handle: b.binary('add', chain.at(-1)!, chain.at(-1)!, [4]),
          shape: [4],
          dtype: 'float32',
        });
      expect(Array.from(await b.read(r1))).toEqual([-1, -2, -3, -4]);
      expect(Array.from(await b.read(r2))).toEqual([-10, -20, -30, -40]);
      for (let i = 0; i < chain.length; i++) {
        expect(Array.from(await b.read(chain[i]!))).toEqual([-1, -2, -3, -4].map((v) => v * 2 ** i));
      }
    });

    it('disposing a tensor that a queued kernel still reads is safe', async () => {
      const b = await backendFor(mode);
      const a = put(b, Float32Array.of(1, 2, 3), [3]);
      const e: KernelTensor = { handle: b.unary('exp', a), shape: [3], dtype: 'float32' };
      const s: KernelTensor = { handle: b.unary('log', e), shape: [3], dtype: 'float32' };
      b.dispose?.(e.handle);
      b.dispose?.(a.handle);
      const got = Array.from(await b.read(s));
      got.forEach((v, i) => {
        expect(v).toBeCloseTo(i + 1, 5);
      });
    });

    it('reads back asynchronously; readSync works exactly where the mode allows it', async () => {
      const b = await backendFor(mode);
      const t = put(b, Int32Array.of(3, -4, 5), [3], 'int32');
      expect(Array.from(await b.read(t))).toEqual([3, -4, 5]);
      if (b.isAsync) expect(() => b.readSync(t)).toThrow(GpujsSyncReadError);
      else expect(Array.from(b.readSync(t))).toEqual([3, -4, 5]);
    });

    it('holds float32 only and says so', async () => {
      const b = await backendFor(mode);
      expect(b.floatDTypes).toEqual(['float32']);
      expect(() => b.upload(Float64Array.of(1), [1], 'float64')).toThrow(/float64/);
    });
  });
}

describe('gpu.js modes that cannot run here', () => {
  it('fail with an error that names what is missing and how to get it', async () => {
    for (const p of await probeGpujsModes()) {
      if (p.available) continue;
      const err = await createGpujsBackend(p.mode).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GpujsModeUnavailableError);
      expect((err as GpujsModeUnavailableError).remedy.length).toBeGreaterThan(10);
      expect((err as Error).message).toContain(p.mode);
    }
  });

  it('webasm and cpu need nothing from the system', async () => {
    const probes = await probeGpujsModes();
    expect(probes.find((p) => p.mode === 'webasm')?.available).toBe(true);
    expect(probes.find((p) => p.mode === 'cpu')?.available).toBe(true);
  });
});
