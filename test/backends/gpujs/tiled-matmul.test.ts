/**
 * The hand-written tiled WGSL product of WebGPU's direct path (src/backends/gpujs/kernels/wgsl-matmul.ts):
 * products of at least TILED_MATMUL_MIN_MACS multiply-adds run through it, and it must give the CPU backend's
 * values (a float64 reference within the float32 dot-product bound) for plain, transposed, batched and
 * broadcast operands whose sizes are not multiples of its 64x64 block (8x8 threads of 8x8 outputs), and for a second-order meta-gradient
 * whose every product (forward, backward, and the backward of the backward) is tiled. Runs where the gpu.js
 * suite runs webgpu (METATAPE_GPU_MODES includes it); the generator's source is checked everywhere.
 */
import { describe, expect, it } from 'vitest';
import type { Backend, KernelTensor } from '../../../src/backends/backend.js';
import { createGpujsBackend } from '../../../src/backends/gpujs/index.js';
import {
  TILED_MATMUL_MIN_MACS,
  TILED_PENDING_MIN_MACS,
  tiledMatmulWgsl,
} from '../../../src/backends/gpujs/kernels/wgsl-matmul.js';
import type { DType, TypedArray } from '../../../src/tensor/dtype.js';
import { type Shape, sizeOf } from '../../../src/tensor/shape.js';
import { cpu, expectClose, metaTrain, modesUnderTest, put, randomValues, rng } from './harness.js';

describe('tiled WGSL matmul source', () => {
  it('bakes the shapes in and covers the output with blocks of up to 64x64, one batch per workgroup layer', () => {
    const k = tiledMatmulWgsl([3, 70, 45], [45, 33], false, false, [3, 70, 33]);
    expect(k.groups).toEqual([1, 2, 3]);
    expect(k.inputs).toBe(2);
    expect(k.key).toContain('8x8x5');
    // Columns in fours are read as vec4: a thread's 8 columns are two of them.
    expect(tiledMatmulWgsl([70, 45], [45, 64], false, false, [70, 64]).key).toContain('8x8x2v');
    // k in fours: A's rows (and B^T's columns) are read as vec4 along k.
    expect(tiledMatmulWgsl([70, 44], [64, 44], false, true, [70, 64]).key).toContain('8x8x8ab');
    // A transposed, rows in fours: a thread's 8 rows are two vec4 of four.
    expect(tiledMatmulWgsl([44, 72], [44, 64], true, false, [72, 64]).key).toContain('8x2x2vr');
    expect(k.source).toContain('s < 45u');
  });
});

const webgpu = modesUnderTest().includes('webgpu');

/** Product cases: [a shape, b shape, transpose a, transpose b, out shape]. */
const CASES: [Shape, Shape, boolean, boolean, Shape][] = [
  [[100, 70], [70, 45], false, false, [100, 45]],
  [[70, 100], [70, 45], true, false, [100, 45]],
  [[100, 70], [45, 70], false, true, [100, 45]],
  [[70, 100], [45, 70], true, true, [100, 45]],
  [[2, 3, 50, 37], [37, 41], false, false, [2, 3, 50, 41]],
  [[2, 1, 50, 37], [3, 41, 37], false, true, [2, 3, 50, 41]],
  [[2, 980, 66], [2, 980, 64], true, false, [2, 66, 64]],
  // Columns in fours, read as vec4 (B broadcast over the first batch axis, A over the second).
  [[2, 1, 50, 37], [3, 37, 44], false, false, [2, 3, 50, 44]],
  [[70, 100], [70, 48], true, false, [100, 48]],
  // Rows of A and columns of B^T contiguous along k, read four steps of k at a time (batched, broadcast).
  [[100, 72], [48, 72], false, true, [100, 48]],
  [[2, 3, 50, 36], [36, 44], false, false, [2, 3, 50, 44]],
  [[2, 1, 50, 36], [3, 45, 36], false, true, [2, 3, 50, 45]],
  // A transposed with rows in fours: read as vec4 of four rows (with B's columns as vec4, and without).
  [[2, 1, 36, 52], [3, 36, 44], true, false, [2, 3, 52, 44]],
  [[36, 52], [45, 36], true, true, [52, 45]],
];

describe.skipIf(!webgpu)('gpujs:webgpu tiled matmul', () => {
  const kt = (handle: unknown, shape: Shape, dtype: DType = 'float32'): KernelTensor => ({
    handle,
    shape,
    dtype,
  });

  it('matches the CPU backend for plain, transposed, batched and broadcast products', async () => {
    for (const fusion of [true, false]) {
      const b = await createGpujsBackend('webgpu', { fusion });
      try {
        for (const [as, bs, ta, tb, os] of CASES) {
          const k = ta ? as.at(-2)! : as.at(-1)!;
          expect(sizeOf(os) * k).toBeGreaterThanOrEqual(TILED_MATMUL_MIN_MACS / 8);
          const r = rng(sizeOf(as) + sizeOf(bs));
          const av = randomValues(r, sizeOf(as));
          const bv = randomValues(r, sizeOf(bs));
          const run = (B: Backend, dt: DType) =>
            kt(B.matmul(put(B, av, as, dt), put(B, bv, bs, dt), ta, tb, os), os, dt);
          const got = await b.read(run(b, 'float32'));
          const ref = cpu.readSync(run(cpu, 'float64'));
          // |a| * |b| products bound the error of each dot product.
          const abs = (B: Backend, v: Float32Array, s: Shape) => put(B, v.map(Math.abs), s, 'float64');
          const scale = cpu.readSync(
            kt(cpu.matmul(abs(cpu, av, as), abs(cpu, bv, bs), ta, tb, os), os, 'float64'),
          ) as Float64Array;
          expectClose(
            got,
            ref,
            { rtol: 0, atol: 0 },
            `${as}${ta ? 'T' : ''} x ${bs}${tb ? 'T' : ''}`,
            scale,
            k,
          );
        }
      } finally {
        await b.destroy();
      }
    }
  });

  it('runs large products tiled and small ones through gpu.js, with pending operands', async () => {
    const b = await createGpujsBackend('webgpu', { fusion: true });
    try {
      const r = rng(3);
      const av = randomValues(r, 3300 * 64);
      const bv = randomValues(r, 64 * 40);
      const run = (B: Backend, dt: DType, m: number, pending: boolean) => {
        // A pending operand (tanh of the upload): computed first on the tiled path, inlined otherwise.
        const x = put(B, av.subarray(0, m * 64), [m, 64], dt);
        const a = pending ? kt(B.unary('tanh', x), [m, 64], dt) : x;
        return kt(B.matmul(a, put(B, bv, [64, 40], dt), false, false, [m, 40]), [m, 40], dt);
      };
      // 10 rows: below both bounds; 300: tiled unless an operand is pending; 3300: tiled either way.
      for (const m of [3300, 300, 10])
        for (const pending of [false, true]) {
          const before = b.stats.tiledMatmuls;
          const got = await b.read(run(b, 'float32', m, pending));
          const macs = m * 40 * 64;
          const tiled = macs >= (pending ? TILED_PENDING_MIN_MACS : TILED_MATMUL_MIN_MACS);
          expect(b.stats.tiledMatmuls - before, `m=${m}, pending ${pending}`).toBe(tiled ? 1 : 0);
          expectClose(
            got,
            cpu.readSync(run(cpu, 'float64', m, pending)),
            { rtol: 1e-5, atol: 1e-5 },
            `m=${m}, pending ${pending}`,
          );
        }
    } finally {
      await b.destroy();
    }
  });

  it('a second-order meta-gradient through tiled products matches float64, compiling nothing once warm', async () => {
    const b = await createGpujsBackend('webgpu', { fusion: true });
    try {
      const r = rng(21);
      // [2400, 96] x [96, 40]: 9.2M multiply-adds a product, tiled even where an operand is pending.
      const wv = randomValues(r, 96 * 40, -0.3, 0.3);
      const xv = randomValues(r, 2400 * 96);
      const yv = randomValues(r, 2400 * 40, -0.5, 0.5);
      const data = { w: [wv, [96, 40]], x: [xv, [2400, 96]], y: [yv, [2400, 40]] } as const;
      const run = (B: Backend, float: 'float32' | 'float64', steps: number) =>
        metaTrain(B, float, data, steps);
      const tiledBefore = b.stats.tiledMatmuls;
      const got = await run(b, 'float32', 5);
      // The forward products, the inner backward and the outer backward: at least 6 tiled products a step.
      expect(b.stats.tiledMatmuls - tiledBefore).toBeGreaterThanOrEqual(5 * 6);
      const ref = await run(cpu, 'float64', 5);
      const tol = { rtol: 1e-3, atol: 1e-4 };
      expectClose(Float64Array.from(got.losses), Float64Array.from(ref.losses), tol, 'losses');
      expectClose(got.grad as TypedArray, ref.grad, tol, 'meta-gradient');
      expectClose(got.w as TypedArray, ref.w, tol, 'parameters');
      expect(got.compiles.slice(3)).toEqual([0, 0]);
    } finally {
      await b.destroy();
    }
  });
});
