/**
 * Elementwise fusion on the gpu.js backends: chains of elementwise kernels (broadcasts, where, casts, fills
 * included) run as one generated kernel when a non-elementwise kernel or a read needs them, with the values of
 * the CPU backend in float64; the kernel bounds split long chains without changing values; pending values keep
 * their inputs alive; pending operands run inside matmuls, pending reductions inside their consumers (within
 * the recomputation budgets), Adam's update is one kernel whose results are read in place; a second-order
 * meta-step through fused kernels matches the unfused backend's and the float64 reference's, in fewer
 * dispatches, and compiles nothing once warm.
 */
import { describe, expect, it } from 'vitest';
import type { Backend, KernelTensor } from '../../../src/backends/backend.js';
import { MAX_FUSION_ARRAYS } from '../../../src/backends/gpujs/create.js';
import {
  FUSION_LIMITS,
  fusionFromEnv,
  MATMUL_INLINE_BUDGET,
  REDUCE_INLINE_STEPS,
} from '../../../src/backends/gpujs/fuser.js';
import { createGpujsBackend, type GpujsBackend } from '../../../src/backends/gpujs/index.js';
import { LazyArray } from '../../../src/backends/gpujs/lazy.js';
import { add, max, mean, mul, reciprocal, sqrt, square, sub, type Tensor, tanh } from '../../../src/index.js';
import type { DType, TypedArray } from '../../../src/tensor/dtype.js';
import { type Shape, sizeOf } from '../../../src/tensor/shape.js';
import {
  backendFor,
  cpu,
  expectClose,
  metaTrain,
  modesUnderTest,
  put,
  randomValues,
  rng,
} from './harness.js';

/** Elementwise float32 math is within a few ulps per op; these chains are ≤ 60 ops of moderate magnitude. */
const TOL = { rtol: 2e-5, atol: 1e-6 };

/** A kernel tensor of `b` whose handle is the result of `f` (shape and dtype given). */
function kt(handle: unknown, shape: Shape, dtype: DType = 'float32'): KernelTensor {
  return { handle, shape, dtype };
}

/**
 * Builds the same elementwise graph on any backend: unary and binary ops, a row broadcast, a broadcastTo, a
 * fill, a where on a comparison, a float-to-int cast and back, and a reuse of one intermediate by several ops.
 */
function chain(b: Backend, x: KernelTensor, row: KernelTensor, dtype: DType): KernelTensor {
  const shape = x.shape;
  const s = kt(b.binary('add', x, row, shape), shape, dtype);
  const t = kt(b.unary('tanh', s), shape, dtype);
  const two = kt(b.fill([1], 2, dtype), [1], dtype);
  const sq = kt(b.binary('mul', t, t, shape), shape, dtype);
  const shifted = kt(b.binary('sub', sq, two, shape), shape, dtype);
  const cond = kt(b.binary('greater', t, kt(b.fill([], 0, dtype), [], dtype), shape), shape, dtype);
  const w = kt(b.where(cond, shifted, kt(b.unary('exp', t), shape, dtype), shape), shape, dtype);
  const bRow = kt(b.broadcastTo(row, shape), shape, dtype);
  const scaled = kt(b.binary('mul', w, bRow, shape), shape, dtype);
  const asInt = kt(b.cast(kt(b.binary('mul', scaled, two, shape), shape, dtype), 'int32'), shape, 'int32');
  const back = kt(b.cast(asInt, dtype), shape, dtype);
  return kt(b.binary('add', kt(b.unary('sigmoid', scaled), shape, dtype), back, shape), shape, dtype);
}

/** `n` alternating unary and binary ops over `arrays` distinct inputs (a long chain with many leaves). */
function longChain(b: Backend, xs: readonly KernelTensor[], n: number, dtype: DType): KernelTensor {
  const shape = xs[0]!.shape;
  let acc = xs[0]!;
  for (let i = 1; i <= n; i++) {
    const other = xs[i % xs.length]!;
    acc =
      i % 3 === 0
        ? kt(b.unary('sin', acc), shape, dtype)
        : kt(b.binary(i % 3 === 1 ? 'add' : 'mul', acc, other, shape), shape, dtype);
  }
  return acc;
}

function dispatches(b: GpujsBackend): number {
  return b.counters.dispatches;
}

/**
 * Dispatches other than uploads: on headlessgl and WebGPU an upload is a kernel too (on webasm and cpu the
 * host array is the upload). The tests below upload no single values, which fusion turns into constants.
 */
function kernels(b: GpujsBackend): number {
  const c = b.counters;
  // Uploads run a copy kernel on headless-gl, and on WebGPU through gpu.js's runner (not the direct path).
  const uploadsDispatch = b.mode === 'headlessgl' || (b.mode === 'webgpu' && !b.directDispatch);
  return c.dispatches - (uploadsDispatch ? c.uploads : 0);
}

describe('fusion switch', () => {
  it('METATAPE_GPU_FUSION=0 turns fusion off, anything else leaves it on', () => {
    expect(fusionFromEnv({ METATAPE_GPU_FUSION: '0' })).toBe(false);
    expect(fusionFromEnv({})).toBe(true);
    expect(fusionFromEnv({ METATAPE_GPU_FUSION: '1' })).toBe(true);
  });
});

describe('fusionArrays: the inputs one fused kernel may read', () => {
  /** The sum of `n` distinct arrays of 5 elements, read back; returns the kernels it took and the values. */
  async function sumOf(b: GpujsBackend, n: number): Promise<{ used: number; got: TypedArray }> {
    const r = rng(21);
    const xs = Array.from({ length: n }, () => put(b, randomValues(r, 5), [5]));
    const before = kernels(b);
    let acc = xs[0]!;
    for (const x of xs.slice(1)) acc = kt(b.binary('add', acc, x, [5]), [5]);
    const got = await b.read(acc);
    return { used: kernels(b) - before, got };
  }

  it('one kernel for 9 inputs when the device binds 10 buffers, two with the default 7, same values', async () => {
    const wide = await createGpujsBackend('webasm', { fusionArrays: 9 });
    const narrow = await createGpujsBackend('webasm', { fusionArrays: FUSION_LIMITS.arrays });
    try {
      const a = await sumOf(wide, 9);
      const b = await sumOf(narrow, 9);
      expect(a.used).toBe(1);
      expect(b.used).toBeGreaterThan(1);
      expectClose(a.got, b.got, TOL, 'fusionArrays 9 vs 7');
    } finally {
      await wide.destroy();
      await narrow.destroy();
    }
  });

  it('the host modes (which bind nothing) read as many arrays as WebGPU at most: one kernel for 15 inputs', async () => {
    for (const mode of ['webasm', 'cpu'] as const) {
      const b = await createGpujsBackend(mode);
      try {
        expect((await sumOf(b, MAX_FUSION_ARRAYS)).used).toBe(1);
        expect((await sumOf(b, MAX_FUSION_ARRAYS + 1)).used).toBe(2);
      } finally {
        await b.destroy();
      }
    }
  });
});

for (const mode of modesUnderTest()) {
  describe(`gpujs:${mode} elementwise fusion`, () => {
    it('a chain of elementwise ops (broadcasts, where, casts, fills) is one dispatch, with float64 values', async () => {
      const b = await backendFor(mode);
      expect(b.fusion).toBe(true);
      const r = rng(11);
      const xv = randomValues(r, 6 * 5);
      const rowv = randomValues(r, 5);
      const x = put(b, xv, [6, 5]);
      const row = put(b, rowv, [5]);
      const before = dispatches(b);
      const out = chain(b, x, row, 'float32');
      // Nothing runs until a value is needed.
      expect(dispatches(b)).toBe(before);
      const got = await b.read(out);
      expect(dispatches(b)).toBe(before + 1);
      const ref = cpu.readSync(
        chain(cpu, put(cpu, xv, [6, 5], 'float64'), put(cpu, rowv, [5], 'float64'), 'float64'),
      );
      expectClose(got, ref, TOL, `${mode} fused chain`);
    });

    it('gives the values of the unfused kernels', async () => {
      const b = await backendFor(mode);
      const off = await createGpujsBackend(mode, { fusion: false });
      try {
        const r = rng(12);
        const xv = randomValues(r, 4 * 7);
        const rowv = randomValues(r, 7);
        const fused = await b.read(chain(b, put(b, xv, [4, 7]), put(b, rowv, [7]), 'float32'));
        const before = dispatches(off);
        const plain = await off.read(chain(off, put(off, xv, [4, 7]), put(off, rowv, [7]), 'float32'));
        // The unfused backend runs one kernel per op.
        expect(dispatches(off) - before).toBeGreaterThan(10);
        expectClose(fused, plain, TOL, `${mode} fused vs unfused`);
      } finally {
        await off.destroy();
      }
    });

    it('splits chains at the kernel bounds without changing values', async () => {
      const b = await backendFor(mode);
      const r = rng(13);
      // More arrays than a kernel may read (the host modes read up to WebGPU's most).
      const arrays = (mode === 'webasm' || mode === 'cpu' ? MAX_FUSION_ARRAYS : FUSION_LIMITS.arrays) + 3;
      const vals = Array.from({ length: arrays }, () => randomValues(r, 9, -1, 1));
      const n = 2 * FUSION_LIMITS.nodes;
      const before = dispatches(b);
      const got = await b.read(
        longChain(
          b,
          vals.map((v) => put(b, v, [9])),
          n,
          'float32',
        ),
      );
      const used = dispatches(b) - before;
      expect(used).toBeGreaterThan(1);
      expect(used).toBeLessThan(n / 4);
      const ref = cpu.readSync(
        longChain(
          cpu,
          vals.map((v) => put(cpu, v, [9], 'float64')),
          n,
          'float64',
        ),
      );
      expectClose(got, ref, { rtol: 1e-4, atol: 1e-5 }, `${mode} long chain`);
    });

    it('reads a pending value through a reshape (inlined when broadcast-free) and a broadcast', async () => {
      const b = await backendFor(mode);
      const r = rng(14);
      const xv = randomValues(r, 6);
      const cv = randomValues(r, 3);
      const got = await reshapes(b, xv, cv, 'float32');
      const ref = await reshapes(cpu, xv, cv, 'float64');
      expectClose(got[0]!, ref[0]!, TOL, `${mode} reshape (flat)`);
      expectClose(got[1]!, ref[1]!, TOL, `${mode} reshape (broadcast)`);
    });

    it('inlines a pending value read with size-1 axes inserted (its broadcasts move with them)', async () => {
      const b = await backendFor(mode);
      const r = rng(16);
      const [xv, cv, kv] = [randomValues(r, 6), randomValues(r, 2), randomValues(r, 3)];
      const build = (B: Backend, dt: DType) => {
        // [2, 3] = x + a column: the column leaf is [2, 1], so read as [2, 1, 3] it must become [2, 1, 1].
        const s = B.binary('add', put(B, xv, [2, 3], dt), put(B, cv, [2, 1], dt), [2, 3]);
        const k = put(B, kv, [3, 1, 1], dt);
        return kt(B.binary('mul', kt(s, [2, 1, 3], dt), k, [3, 2, 1, 3]), [3, 2, 1, 3], dt);
      };
      const out = build(b, 'float32');
      const before = dispatches(b);
      const got = await b.read(out);
      expect(dispatches(b) - before).toBe(1);
      expectClose(got, cpu.readSync(build(cpu, 'float64')), TOL, `${mode} unit-axis reshape`);
    });

    it('inlines a pending value whose reshape merges axes around a broadcast (a per-channel statistic), into a matmul', async () => {
      const b = await backendFor(mode);
      const r = rng(26);
      const [xv, sv, wv] = [
        randomValues(r, 2 * 5 * 3 * 4),
        randomValues(r, 2 * 4),
        randomValues(r, 2 * 4 * 3),
      ];
      const build = (B: Backend, dt: DType) => {
        // [2, 5, 3, 4] = x * s, s a per-task, per-channel [2, 1, 1, 4]: read as [2, 15, 4], s must become
        // [2, 1, 4] (the merged axes are all broadcast), then multiplied by w [2, 4, 3].
        const x = put(B, xv, [2, 5, 3, 4], dt);
        const s = put(B, sv, [2, 1, 1, 4], dt);
        const p = B.binary('mul', x, s, [2, 5, 3, 4]);
        return kt(
          B.matmul(kt(p, [2, 15, 4], dt), put(B, wv, [2, 4, 3], dt), false, false, [2, 15, 3]),
          [2, 15, 3],
          dt,
        );
      };
      const start = kernels(b);
      const got = await b.read(build(b, 'float32'));
      // One fused matmul: the product is computed inside its loop, not by a kernel of its own first.
      expect(kernels(b) - start).toBe(1);
      expectClose(got, cpu.readSync(build(cpu, 'float64')), TOL, `${mode} merged-axes reshape`);
    });

    it('computes slices, transposes and pads (of pending values and arrays) where their consumer reads them, one kernel', async () => {
      const b = await backendFor(mode);
      const r = rng(28);
      const [xv, yv, rowv] = [randomValues(r, 4 * 6), randomValues(r, 3 * 5), randomValues(r, 6)];
      const build = (B: Backend, dt: DType, fill: number) => {
        const t = (h: unknown, s: Shape) => kt(h, s, dt);
        // A pending [4, 6] value, sliced to [2, 4] from [1, 1], transposed to [4, 2] and padded to [5, 3].
        const x = t(
          B.unary('tanh', t(B.binary('mul', put(B, xv, [4, 6], dt), put(B, rowv, [6], dt), [4, 6]), [4, 6])),
          [4, 6],
        );
        const s = t(B.slice(x, [1, 1], [2, 4]), [2, 4]);
        const tr = t(B.transpose(s, [1, 0]), [4, 2]);
        const padded = t(
          B.pad(
            tr,
            [
              [0, 1],
              [1, 0],
            ],
            fill,
          ),
          [5, 3],
        );
        // An array padded (a plain input), then both summed elementwise.
        const y = t(B.slice(put(B, yv, [3, 5], dt), [0, 0], [3, 3]), [3, 3]);
        const py = t(
          B.pad(
            y,
            [
              [1, 1],
              [0, 0],
            ],
            0,
          ),
          [5, 3],
        );
        return t(B.binary('add', padded, py, [5, 3]), [5, 3]);
      };
      for (const fill of [0.5, -3]) {
        const before = kernels(b);
        const out = build(b, 'float32', fill);
        expect(kernels(b) - before).toBe(0);
        const got = await b.read(out);
        expect(kernels(b) - before).toBe(1);
        expectClose(got, cpu.readSync(build(cpu, 'float64', fill)), TOL, `${mode} views (pad ${fill})`);
      }
    });

    it('gathers a pending value (im2col of a padded, scaled map) in one kernel, computing it where it reads it', async () => {
      const b = await backendFor(mode);
      const r = rng(32);
      const [xv, cv] = [randomValues(r, 2 * 3 * 3 * 2), randomValues(r, 2)];
      // Taps of 2x2 windows over the 4x4 padded map, flattened: [9 windows, 4 taps] of positions.
      const idx = Int32Array.from({ length: 36 }, (_, k) => {
        const [p, q] = [Math.floor(k / 4), k % 4];
        return (Math.floor(p / 3) + Math.floor(q / 2)) * 4 + (p % 3) + (q % 2);
      });
      const build = (B: Backend, dt: DType) => {
        const t = (h: unknown, s: Shape) => kt(h, s, dt);
        // relu(x * c) over [2, 3, 3, 2] (c per channel), padded to [2, 4, 4, 2], read as [2, 16, 2].
        const y = t(
          B.unary(
            'relu',
            t(B.binary('mul', put(B, xv, [2, 3, 3, 2], dt), put(B, cv, [2], dt), [2, 3, 3, 2]), [2, 3, 3, 2]),
          ),
          [2, 3, 3, 2],
        );
        const padded = t(
          B.pad(
            y,
            [
              [0, 0],
              [0, 1],
              [1, 0],
              [0, 0],
            ],
            0,
          ),
          [2, 16, 2],
        );
        return t(B.gather(padded, put(B, idx, [9, 4], 'int32'), 1), [2, 36, 2]);
      };
      const before = kernels(b);
      const got = await b.read(build(b, 'float32'));
      expect(kernels(b) - before).toBe(1);
      expectClose(got, cpu.readSync(build(cpu, 'float64')), TOL, `${mode} fused gather`);
    });

    it('scatter-adds pending updates in one kernel (each update computed where its output sums it)', async () => {
      const b = await backendFor(mode);
      const r = rng(33);
      const [uv, cv] = [randomValues(r, 2 * 6 * 2), randomValues(r, 2)];
      // Positions 0..3 with duplicates and a gap: rows 1 and 3 get two updates each, row 2 none.
      const idx = Int32Array.from([3, 1, 0, 1, 3, 3]);
      const build = (B: Backend, dt: DType) => {
        const t = (h: unknown, s: Shape) => kt(h, s, dt);
        const u = t(
          B.unary(
            'tanh',
            t(B.binary('mul', put(B, uv, [2, 6, 2], dt), put(B, cv, [2], dt), [2, 6, 2]), [2, 6, 2]),
          ),
          [2, 6, 2],
        );
        return t(B.scatterAdd(u, put(B, idx, [6], 'int32'), 1, [2, 4, 2]), [2, 4, 2]);
      };
      const before = kernels(b);
      const got = await b.read(build(b, 'float32'));
      expect(kernels(b) - before).toBe(1);
      expectClose(got, cpu.readSync(build(cpu, 'float64')), TOL, `${mode} fused scatterAdd`);
    });

    it('reads a pending value through a reshape that merges a task axis with a broadcast one (a view), one kernel', async () => {
      const b = await backendFor(mode);
      const r = rng(29);
      const [xv, sv] = [randomValues(r, 2 * 5 * 3 * 4), randomValues(r, 2 * 4)];
      const build = (B: Backend, dt: DType) => {
        // [2, 5, 3, 4] = x * s with a per-task s [2, 1, 1, 4], read as [10, 3, 4]: s has no shape there.
        const p = B.binary('mul', put(B, xv, [2, 5, 3, 4], dt), put(B, sv, [2, 1, 1, 4], dt), [2, 5, 3, 4]);
        const m = kt(B.reduce('max', kt(p, [10, 3, 4], dt), [1]), [10, 4], dt);
        return kt(B.unary('neg', m), [10, 4], dt);
      };
      const before = kernels(b);
      const got = await b.read(build(b, 'float32'));
      expect(kernels(b) - before).toBe(1);
      expectClose(got, cpu.readSync(build(cpu, 'float64')), TOL, `${mode} merged task axis`);
    });

    it('reads a slice or transpose of an array in place, by strides (no index arithmetic, inside a matmul too)', async () => {
      const b = await backendFor(mode);
      const r = rng(30);
      const [av, wv, xv, yv] = [
        randomValues(r, 24),
        randomValues(r, 20),
        randomValues(r, 24),
        randomValues(r, 12),
      ];
      const sources: string[] = [];
      const target = b as unknown as { dispatch: (...args: unknown[]) => unknown };
      const dispatch = target.dispatch;
      target.dispatch = (...args: unknown[]) => {
        const spec = args[0] as { key: string; source: string };
        // Uploads are kernels too on headlessgl and WebGPU.
        if (!spec.key.startsWith('upload|')) sources.push(spec.source);
        return dispatch.apply(b, args);
      };
      try {
        // A transposed array [2, 4, 3] -> [2, 3, 4] times w [4, 5]: one matmul kernel, no division in its loop.
        const product = (B: Backend, dt: DType) =>
          kt(
            B.matmul(
              kt(B.transpose(put(B, av, [2, 4, 3], dt), [0, 2, 1]), [2, 3, 4], dt),
              put(B, wv, [4, 5], dt),
              false,
              false,
              [2, 3, 5],
            ),
            [2, 3, 5],
            dt,
          );
        sources.length = 0;
        const got = await b.read(product(b, 'float32'));
        expect(sources.length).toBe(1);
        expect(sources[0]!.slice(sources[0]!.indexOf('for (let p'))).not.toContain('Math.floor');
        expectClose(got, cpu.readSync(product(cpu, 'float64')), TOL, `${mode} transposed operand`);
        // Rows 1..2 of x [4, 6], read as [12] (a slice's rows are one run of memory), plus y: one kernel, no
        // coordinates at all.
        const rows = (B: Backend, dt: DType) => {
          const s = kt(B.slice(put(B, xv, [4, 6], dt), [1, 0], [2, 6]), [12], dt);
          return kt(B.binary('add', s, put(B, yv, [12], dt), [12]), [12], dt);
        };
        sources.length = 0;
        const gotRows = await b.read(rows(b, 'float32'));
        expect(sources.length).toBe(1);
        expect(sources[0]).not.toContain('Math.floor');
        expectClose(gotRows, cpu.readSync(rows(cpu, 'float64')), TOL, `${mode} sliced rows`);
      } finally {
        target.dispatch = dispatch;
      }
    });

    it('computes a matmul operand first where a view would put index arithmetic in its loop', async () => {
      const b = await backendFor(mode);
      const r = rng(31);
      const [xv, sv, wv] = [randomValues(r, 2 * 5 * 4), randomValues(r, 2 * 4), randomValues(r, 4 * 3)];
      const build = (B: Backend, dt: DType) => {
        // [2, 5, 4] = x * s with a per-task s [2, 1, 4], read as [10, 4]: a view (coordinates per element).
        const p = B.binary('mul', put(B, xv, [2, 5, 4], dt), put(B, sv, [2, 1, 4], dt), [2, 5, 4]);
        return kt(B.matmul(kt(p, [10, 4], dt), put(B, wv, [4, 3], dt), false, false, [10, 3]), [10, 3], dt);
      };
      const before = kernels(b);
      const got = await b.read(build(b, 'float32'));
      // The product, then the plain matmul.
      expect(kernels(b) - before).toBe(2);
      expectClose(got, cpu.readSync(build(cpu, 'float64')), TOL, `${mode} view operand`);
    });

    it('sums a pending value in one kernel (the producer runs inside the reduction), over any axes', async () => {
      const b = await backendFor(mode);
      const r = rng(17);
      const [xv, rowv] = [randomValues(r, 3 * 4 * 5), randomValues(r, 5)];
      const sums = (B: Backend, dt: DType, axes: number[], x: KernelTensor, row: KernelTensor) => {
        const d = kt(B.binary('sub', x, row, [3, 4, 5]), [3, 4, 5], dt);
        const sq = kt(B.unary('square', d), [3, 4, 5], dt);
        const kept = [3, 4, 5].filter((_, i) => !axes.includes(i));
        return kt(B.reduce('sum', sq, axes), kept, dt);
      };
      const [x, row] = [put(b, xv, [3, 4, 5]), put(b, rowv, [5])];
      const [x64, row64] = [put(cpu, xv, [3, 4, 5], 'float64'), put(cpu, rowv, [5], 'float64')];
      for (const axes of [[0, 1, 2], [2], [0, 2], [1]]) {
        const before = dispatches(b);
        const got = await b.read(sums(b, 'float32', axes, x, row));
        expect(dispatches(b) - before).toBe(1);
        const ref = cpu.readSync(sums(cpu, 'float64', axes, x64, row64));
        expectClose(got, ref, { rtol: 1e-5, atol: 1e-5 }, `${mode} sum ${axes}`);
      }
    });

    it('computes a small value that must be computed first together with its siblings (one kernel for both)', async () => {
      const b = await createGpujsBackend(mode, { fusion: true, fusionArrays: FUSION_LIMITS.arrays });
      const n = 16;
      const r = rng(31);
      const vals = Array.from({ length: 9 }, () => randomValues(r, n));
      // x1 and x2: chains over the same three arrays (17 nodes each); z: a sum of six other arrays. Each
      // of x1 + z and x2 + z reads nine arrays, over the bound of seven, so x1 and x2 are computed first.
      const build = (B: Backend, dt: DType, xs: KernelTensor[]) => {
        const bin = (op: 'add' | 'mul', p: KernelTensor, q: KernelTensor) =>
          kt(B.binary(op, p, q, [n]), [n], dt);
        const chain = (start: KernelTensor, p: KernelTensor, q: KernelTensor) => {
          let t = start;
          for (let k = 0; k < 4; k++) t = bin('mul', bin('add', t, p), q);
          return t;
        };
        const [a, c, d] = xs as [KernelTensor, KernelTensor, KernelTensor];
        const x1 = chain(a, c, d);
        const x2 = chain(c, d, a);
        let z = xs[3]!;
        for (const w of xs.slice(4)) z = bin('add', z, w);
        return [bin('add', x1, z), bin('add', x2, z)];
      };
      const xs = vals.map((v) => put(b, v, [n]));
      const before = dispatches(b);
      const [y1, y2] = build(b, 'float32', xs);
      const got = [await b.read(y1!), await b.read(y2!)];
      // x1 with x2 as a second segment, then y1 and y2 (four kernels if x2 were computed on its own).
      expect(dispatches(b) - before).toBe(3);
      const ref = build(
        cpu,
        'float64',
        vals.map((v) => put(cpu, v, [n], 'float64')),
      ).map((t) => cpu.readSync(t));
      for (const [k, g] of got.entries())
        expectClose(g, ref[k]!, { rtol: 1e-4, atol: 1e-4 }, `${mode} sibling ${k}`);
    });

    it('runs a long reduction in two passes, the producer inside the first, with the same sum', async () => {
      const b = await backendFor(mode);
      const n = 8 * 256 + 3;
      const xv = randomValues(rng(18), n);
      const build = (B: Backend, dt: DType, x: KernelTensor) =>
        kt(B.reduce('sum', kt(B.unary('square', x), [n], dt), [0]), [], dt);
      const x = put(b, xv, [n]);
      const before = dispatches(b);
      const got = await b.read(build(b, 'float32', x));
      // The partial sums of the squares, the final sum.
      expect(dispatches(b) - before).toBe(2);
      const ref = cpu.readSync(build(cpu, 'float64', put(cpu, xv, [n], 'float64')));
      expectClose(got, ref, { rtol: 1e-4, atol: 0 }, `${mode} long sum`);
      // A row-wise max of a product with a broadcast row, two passes as well.
      const yv = randomValues(rng(25), 3 * n);
      const maxima = (B: Backend, dt: DType, y: KernelTensor, row: KernelTensor) =>
        kt(B.reduce('max', kt(B.binary('mul', y, row, [3, n]), [3, n], dt), [1]), [3], dt);
      const [y, row] = [put(b, yv, [3, n]), put(b, xv, [n])];
      const mid = dispatches(b);
      const gotMax = await b.read(maxima(b, 'float32', y, row));
      expect(dispatches(b) - mid).toBe(2);
      const refMax = cpu.readSync(
        maxima(cpu, 'float64', put(cpu, yv, [3, n], 'float64'), put(cpu, xv, [n], 'float64')),
      );
      expectClose(gotMax, refMax, { rtol: 1e-6, atol: 0 }, `${mode} long max`);
    });

    it('reads pending operands inside a matmul (one kernel), transposed and batch-broadcast, with float64 values', async () => {
      const b = await backendFor(mode);
      const r = rng(19);
      // A: [2, 3, 4] (read transposed as [2, 4, 3]), B: [3, 5] broadcast over the batch.
      const [av, rowv, bv, gv] = [
        randomValues(r, 24),
        randomValues(r, 4),
        randomValues(r, 15),
        randomValues(r, 15),
      ];
      const build = (B: Backend, dt: DType, pendingB: boolean) => {
        const a = put(B, av, [2, 3, 4], dt);
        const row = put(B, rowv, [4], dt);
        // A pending operand with a broadcast leaf and a constant: relu(a * row) - 0.5.
        const ar = kt(B.binary('mul', a, row, [2, 3, 4]), [2, 3, 4], dt);
        const half = kt(B.fill([], 0.5, dt), [], dt);
        const ea = kt(
          B.binary('sub', kt(B.unary('relu', ar), [2, 3, 4], dt), half, [2, 3, 4]),
          [2, 3, 4],
          dt,
        );
        const w = put(B, bv, [3, 5], dt);
        // The fast-weight shape: w - 0.1 * g.
        const eb = pendingB
          ? kt(
              B.binary(
                'sub',
                w,
                kt(
                  B.binary('mul', put(B, gv, [3, 5], dt), kt(B.fill([], 0.1, dt), [], dt), [3, 5]),
                  [3, 5],
                  dt,
                ),
                [3, 5],
              ),
              [3, 5],
              dt,
            )
          : w;
        return kt(B.matmul(ea, eb, true, false, [2, 4, 5]), [2, 4, 5], dt);
      };
      for (const pendingB of [false, true]) {
        const out = build(b, 'float32', pendingB);
        const before = kernels(b);
        const got = await b.read(out);
        // The matmul is already dispatched (it is not elementwise); reading it runs nothing more.
        expect(kernels(b) - before).toBe(0);
        const ref = cpu.readSync(build(cpu, 'float64', pendingB));
        expectClose(got, ref, { rtol: 1e-5, atol: 1e-5 }, `${mode} fused matmul (pending B: ${pendingB})`);
      }
      // Counted from the uploads on: the whole graph is one matmul kernel.
      const start = kernels(b);
      await b.read(build(b, 'float32', true));
      expect(kernels(b) - start).toBe(1);
    });

    it('computes a matmul operand first when inlining it would exceed the recomputation budget', async () => {
      const b = await backendFor(mode);
      // 64 x 64 outputs x k 4096 x 1 operation = 2^24 evaluations: at the budget; one more row is over it.
      const [m, k, n] = [65, 4096, 64];
      expect(m * n * k).toBeGreaterThan(MATMUL_INLINE_BUDGET);
      const r = rng(20);
      const [av, bv] = [randomValues(r, m * k), randomValues(r, k * n)];
      const build = (B: Backend, dt: DType) => {
        const a = kt(B.unary('neg', put(B, av, [m, k], dt)), [m, k], dt);
        return kt(B.matmul(a, put(B, bv, [k, n], dt), false, false, [m, n]), [m, n], dt);
      };
      const before = kernels(b);
      const got = await b.read(build(b, 'float32'));
      // neg, then the plain matmul.
      expect(kernels(b) - before).toBe(2);
      const ref = cpu.readSync(build(cpu, 'float64'));
      expectClose(got, ref, { rtol: 1e-4, atol: 1e-3 }, `${mode} budgeted matmul`);
    });

    it("computes Adam's moments and step in one kernel, reading the previous step's moments in place", async () => {
      const b = await backendFor(mode);
      const r = rng(21);
      const shape = [3, 5];
      const [pv, gv1, gv2] = [randomValues(r, 15), randomValues(r, 15), randomValues(r, 15)];
      const c = { s1: 0.1, s2: 0.001, epsRoot: 1e-12, epsHat: 1e-8, scale: -0.01 };
      /** Two Adam steps from zero moments; the composed ops on the reference (it has its own fused kernel). */
      const steps = (B: Backend, dt: DType, fused: boolean) => {
        const compose = (g: KernelTensor, m: KernelTensor, v: KernelTensor) => {
          const t = (h: unknown) => kt(h, shape, dt);
          const k = (x: number) => kt(B.fill([], x, dt), [], dt);
          const mNew = t(
            B.binary('add', m, t(B.binary('mul', t(B.binary('sub', g, m, shape)), k(c.s1), shape)), shape),
          );
          const sq = t(B.unary('square', g));
          const vNew = t(
            B.binary('add', v, t(B.binary('mul', t(B.binary('sub', sq, v, shape)), k(c.s2), shape)), shape),
          );
          const root = t(B.unary('sqrt', t(B.binary('add', vNew, k(c.epsRoot), shape))));
          const u = t(
            B.binary(
              'mul',
              t(B.binary('div', mNew, t(B.binary('add', root, k(c.epsHat), shape)), shape)),
              k(c.scale),
              shape,
            ),
          );
          return [mNew, vNew, u] as const;
        };
        const step = (g: KernelTensor, m: KernelTensor, v: KernelTensor) => {
          if (!fused) return compose(g, m, v);
          const [hm, hv, hu] = B.adamMoments!(g, m, v, c);
          return [kt(hm, shape, dt), kt(hv, shape, dt), kt(hu, shape, dt)] as const;
        };
        const zero = () => kt(B.fill(shape, 0, dt), shape, dt);
        const [m1, v1, u1] = step(put(B, gv1, shape, dt), zero(), zero());
        const [m2, v2, u2] = step(put(B, gv2, shape, dt), m1, v1);
        // The parameter update applyUpdates makes: p + u1 + u2.
        const p = kt(
          B.binary('add', kt(B.binary('add', put(B, pv, shape, dt), u1, shape), shape, dt), u2, shape),
          shape,
          dt,
        );
        return { m2, v2, u2, p };
      };
      expect(b.adamMoments).toBeDefined();
      const before = kernels(b);
      const got = steps(b, 'float32', true);
      // One kernel per step; the second reads the first's moments from its output, without a copy.
      expect(kernels(b) - before).toBe(2);
      const ref = steps(cpu, 'float64', false);
      for (const k of ['m2', 'v2', 'u2', 'p'] as const)
        expectClose(
          await b.read(got[k]),
          cpu.readSync(ref[k]),
          { rtol: 1e-5, atol: 1e-7 },
          `${mode} adam ${k}`,
        );
      // m2, v2, u2 read in place; p is one more kernel.
      expect(kernels(b) - before).toBe(3);
      // A transpose is a view: computed where it is read, here by the read's one kernel, from the segment.
      const mid = kernels(b);
      const tr = kt(b.transpose(got.m2, [1, 0]), [5, 3]);
      expect(kernels(b) - mid).toBe(0);
      expectClose(
        await b.read(tr),
        cpu.readSync(kt(cpu.transpose(ref.m2, [1, 0]), [5, 3], 'float64')),
        { rtol: 1e-5, atol: 1e-7 },
        `${mode} adam m2 transposed`,
      );
      expect(kernels(b) - mid).toBe(1);
      // A gather reads the segment in place as well (one kernel).
      const rows = Int32Array.from([2, 0]);
      const before2 = kernels(b);
      const gathered = kt(b.gather(got.m2, put(b, rows, [2], 'int32'), 0), [2, 5]);
      expect(kernels(b) - before2).toBe(1);
      expectClose(
        await b.read(gathered),
        cpu.readSync(kt(cpu.gather(ref.m2, put(cpu, rows, [2], 'int32'), 0), [2, 5], 'float64')),
        { rtol: 1e-5, atol: 1e-7 },
        `${mode} adam m2 gathered`,
      );
      // A consumer that needs an array of its own (a concat) gets a copy of the segment.
      const before3 = kernels(b);
      const joined = kt(b.concat([got.m2, got.v2], 0), [6, 5]);
      expect(kernels(b) - before3).toBe(3);
      expectClose(
        await b.read(joined),
        cpu.readSync(kt(cpu.concat([ref.m2, ref.v2], 0), [6, 5], 'float64')),
        { rtol: 1e-5, atol: 1e-7 },
        `${mode} adam m2, v2 joined`,
      );
    });

    it("computes the parameter update p + u in Adam's kernel, and the next step reads the new parameters in place", async () => {
      const b = await backendFor(mode);
      const r = rng(27);
      const shape = [4, 3];
      const [pv, gv, mv] = [randomValues(r, 12), randomValues(r, 12), randomValues(r, 12)];
      const vv = randomValues(r, 12, 0, 1);
      const c = { s1: 0.1, s2: 0.001, epsRoot: 0, epsHat: 1e-8, scale: -0.01 };
      const update = (B: Backend, dt: DType) => {
        const t = (h: unknown) => kt(h, shape, dt);
        const [hm, hv, hu] = B.adamMoments!(
          put(B, gv, shape, dt),
          put(B, mv, shape, dt),
          put(B, vv, shape, dt),
          c,
        );
        // applyUpdates: p + u.
        const p = t(B.binary('add', put(B, pv, shape, dt), t(hu), shape));
        return { m: t(hm), v: t(hv), u: t(hu), p };
      };
      const before = kernels(b);
      const got = update(b, 'float32');
      const ref = update(cpu, 'float64');
      expectClose(await b.read(got.p), cpu.readSync(ref.p), { rtol: 1e-5, atol: 1e-7 }, `${mode} p + u`);
      // One kernel: the moments, the step and the new parameters, each a segment of its output.
      expect(kernels(b) - before).toBe(1);
      for (const k of ['m', 'v', 'u'] as const)
        expectClose(
          await b.read(got[k]),
          cpu.readSync(ref[k]),
          { rtol: 1e-5, atol: 1e-7 },
          `${mode} adam ${k}`,
        );
      expect(kernels(b) - before).toBe(1);
      // The next step (after the reads) reads the parameters in place: 2p is one kernel, no copy of p first.
      const twice = (B: Backend, p: KernelTensor, dt: DType) =>
        kt(B.binary('mul', p, kt(B.fill([], 2, dt), [], dt), shape), shape, dt);
      const doubled = await b.read(twice(b, got.p, 'float32'));
      expect(kernels(b) - before).toBe(2);
      expectClose(
        doubled,
        cpu.readSync(twice(cpu, ref.p, 'float64')),
        { rtol: 1e-5, atol: 1e-7 },
        `${mode} 2p`,
      );
    });

    it("keeps room for p + u in Adam's kernel when the gradient alone would fill the array bound", async () => {
      // With the default 7 arrays: a gradient summing 5 arrays, plus m and v, is 7. p + u would be an eighth: without room
      // for it, u runs alone and p + u is a kernel of its own next step, reading p wherever this step left it
      // (the steady state's kernels then compile a step late).
      const b = await createGpujsBackend(mode, { fusion: true, fusionArrays: FUSION_LIMITS.arrays });
      try {
        const r = rng(41);
        const shape = [4, 3];
        const vals = Array.from({ length: 8 }, () => randomValues(r, 12));
        const vv = randomValues(r, 12, 0, 1);
        const c = { s1: 0.1, s2: 0.001, epsRoot: 0, epsHat: 1e-8, scale: -0.01 };
        const update = (B: Backend, dt: DType) => {
          const t = (h: unknown) => kt(h, shape, dt);
          let g = put(B, vals[0]!, shape, dt);
          for (let k = 1; k < 5; k++) g = t(B.binary('add', g, put(B, vals[k]!, shape, dt), shape));
          const [, , hu] = B.adamMoments!(g, put(B, vals[5]!, shape, dt), put(B, vv, shape, dt), c);
          return t(B.binary('add', put(B, vals[6]!, shape, dt), t(hu), shape));
        };
        const got = update(b, 'float32');
        const ref = update(cpu, 'float64');
        await b.read(put(b, Float32Array.from([1]), [1]));
        // The step's read ran Adam's kernel with p + u as a segment: p is a pending read of it, no kernel of its own.
        const h = got.handle as LazyArray;
        expect(h).toBeInstanceOf(LazyArray);
        expect(h.array).toBeUndefined();
        expect(h.expr?.kind).toBe('leaf');
        expectClose(await b.read(got), cpu.readSync(ref), { rtol: 1e-5, atol: 1e-6 }, `${mode} p + u`);
      } finally {
        await b.destroy();
      }
    });

    it("computes the Adam updates of several parameters (of different shapes) in one kernel at the step's read", async () => {
      const b = await backendFor(mode);
      const r = rng(34);
      const shapes = [[3, 2], [4]];
      const vals = shapes.map((s) => [randomValues(r, sizeOf(s)), randomValues(r, sizeOf(s))] as const);
      const c = { s1: 0.1, s2: 0.001, epsRoot: 0, epsHat: 1e-8, scale: -0.01 };
      const update = (B: Backend, dt: DType) =>
        shapes.flatMap((shape, k) => {
          const t = (h: unknown) => kt(h, shape, dt);
          const zero = () => t(B.fill(shape, 0, dt));
          const [hm, hv, hu] = B.adamMoments!(put(B, vals[k]![0], shape, dt), zero(), zero(), c);
          const p = t(B.binary('add', put(B, vals[k]![1], shape, dt), t(hu), shape));
          return [t(hm), t(hv), t(hu), p];
        });
      const before = kernels(b);
      const got = update(b, 'float32');
      const ref = update(cpu, 'float64');
      // A read ends the step: both parameters' moments, steps and new values in one kernel.
      await b.read(put(b, Float32Array.from([1, 2]), [2]));
      expect(kernels(b) - before).toBe(1);
      for (let k = 0; k < got.length; k++)
        expectClose(
          await b.read(got[k]!),
          cpu.readSync(ref[k]!),
          { rtol: 1e-5, atol: 1e-7 },
          `${mode} adam ${k}`,
        );
      expect(kernels(b) - before).toBe(1);
    });

    it('has no fused Adam kernel with fusion off (the composed ops run)', async () => {
      const off = await createGpujsBackend(mode, { fusion: false });
      try {
        expect(off.adamMoments).toBeUndefined();
      } finally {
        await off.destroy();
      }
    });

    it('inlines a reduction into the elementwise consumer that reads it (the inner-loop bias update), one kernel in all', async () => {
      const b = await backendFor(mode);
      const r = rng(22);
      const [hv, dyv, bv] = [randomValues(r, 4 * 6 * 5), randomValues(r, 4 * 6 * 5), randomValues(r, 4 * 5)];
      // relu(h + (b - 0.1 * sum_rows(dy))): the bias gradient is summed over 6 rows and broadcast back over them.
      const build = (B: Backend, dt: DType) => {
        const db = kt(B.reduce('sum', put(B, dyv, [4, 6, 5], dt), [1]), [4, 5], dt);
        const step = kt(B.binary('mul', db, kt(B.fill([], 0.1, dt), [], dt), [4, 5]), [4, 5], dt);
        const bNew = kt(B.binary('sub', put(B, bv, [4, 5], dt), step, [4, 5]), [4, 5], dt);
        // Read as [4, 1, 5] (a reshape inserting the row axis), broadcast over the rows.
        const bRow = { ...bNew, shape: [4, 1, 5] };
        const h = kt(B.binary('add', put(B, hv, [4, 6, 5], dt), bRow, [4, 6, 5]), [4, 6, 5], dt);
        return kt(B.unary('relu', h), [4, 6, 5], dt);
      };
      const start = kernels(b);
      const got = await b.read(build(b, 'float32'));
      expect(kernels(b) - start).toBe(1);
      expectClose(
        got,
        cpu.readSync(build(cpu, 'float64')),
        { rtol: 1e-5, atol: 1e-6 },
        `${mode} inlined bias sum`,
      );
    });

    it('computes a reduction once where a consumer would recompute it too often (a mean broadcast back over what it averaged)', async () => {
      const b = await backendFor(mode);
      const n = 1024;
      const xv = randomValues(rng(23), 3 * n);
      const build = (B: Backend, dt: DType) => {
        const x = put(B, xv, [3, n], dt);
        const mean = kt(
          B.binary('mul', kt(B.reduce('sum', x, [1]), [3], dt), kt(B.fill([], 1 / n, dt), [], dt), [3]),
          [3],
          dt,
        );
        return kt(B.binary('sub', x, { ...mean, shape: [3, 1] }, [3, n]), [3, n], dt);
      };
      // Each of the 3 sums would be recomputed for n - 1 more elements, n steps each.
      expect(3 * (n - 1) * n).toBeGreaterThan(REDUCE_INLINE_STEPS);
      const start = kernels(b);
      const got = await b.read(build(b, 'float32'));
      // The sum on its own, then the centring.
      expect(kernels(b) - start).toBe(2);
      expectClose(got, cpu.readSync(build(cpu, 'float64')), { rtol: 1e-4, atol: 1e-5 }, `${mode} centred`);
    });

    it('computes the reductions one consumer needs as arrays in one kernel, each read in place from its segment', async () => {
      const b = await backendFor(mode);
      const n = 1024;
      const xv = randomValues(rng(36), 3 * n);
      const build = (B: Backend, dt: DType) => {
        const x = put(B, xv, [3, n], dt);
        const sums = kt(B.reduce('sum', x, [1]), [3], dt);
        const maxima = kt(B.reduce('max', x, [1]), [3], dt);
        // Per row, both pending: neither is computed until a consumer recomputing them too often reads them.
        const t = kt(B.binary('mul', sums, maxima, [3]), [3], dt);
        const y = kt(B.binary('sub', x, { ...t, shape: [3, 1] }, [3, n]), [3, n], dt);
        return { sums, maxima, y };
      };
      expect(3 * (n - 1) * n).toBeGreaterThan(REDUCE_INLINE_STEPS);
      const start = kernels(b);
      const got = build(b, 'float32');
      const ref = build(cpu, 'float64');
      expectClose(await b.read(got.y), cpu.readSync(ref.y), { rtol: 1e-4, atol: 1e-4 }, `${mode} y`);
      // Both reductions in one kernel, then y; the reductions' own reads slice that kernel's output.
      expect(kernels(b) - start).toBe(2);
      expectClose(await b.read(got.sums), cpu.readSync(ref.sums), { rtol: 1e-4, atol: 1e-4 }, `${mode} sums`);
      expectClose(
        await b.read(got.maxima),
        cpu.readSync(ref.maxima),
        { rtol: 1e-6, atol: 0 },
        `${mode} maxima`,
      );
      expect(kernels(b) - start).toBe(2);
    });

    it('reads a reduction nested in another one once per output when it does not move along the reduced axes (a variance), one kernel', async () => {
      const b = await backendFor(mode);
      const xv = randomValues(rng(37), 4 * 64);
      const build = (B: Backend, dt: DType) => {
        const x = put(B, xv, [4, 64], dt);
        const mean = kt(
          B.binary('mul', kt(B.reduce('sum', x, [1]), [4], dt), kt(B.fill([], 1 / 64, dt), [], dt), [4]),
          [4],
          dt,
        );
        const centred = kt(B.binary('sub', x, { ...mean, shape: [4, 1] }, [4, 64]), [4, 64], dt);
        return kt(B.reduce('sum', kt(B.unary('square', centred), [4, 64], dt), [1]), [4], dt);
      };
      const start = kernels(b);
      const got = await b.read(build(b, 'float32'));
      expect(kernels(b) - start).toBe(1);
      expectClose(got, cpu.readSync(build(cpu, 'float64')), { rtol: 1e-5, atol: 1e-5 }, `${mode} variance`);
    });

    it("reads a long mean's second pass inside the first pass of its variance, once per thread (three kernels in all)", async () => {
      const b = await backendFor(mode);
      // Long enough that recomputing the mean's second pass (17 steps) at every element of the variance's first
      // pass would exceed the inlining budget: only read once per thread does it stay inlined.
      const n = 16 * 256 + 3;
      const xv = randomValues(rng(43), 3 * n);
      const build = (B: Backend, dt: DType) => {
        const x = put(B, xv, [3, n], dt);
        // Pending inputs, so that both reductions run as the fuser's two passes.
        const scaled = kt(B.binary('mul', x, kt(B.fill([], 1 / n, dt), [], dt), [3, n]), [3, n], dt);
        const mean = kt(B.reduce('sum', scaled, [1]), [3], dt);
        const centred = kt(B.binary('sub', x, { ...mean, shape: [3, 1] }, [3, n]), [3, n], dt);
        return kt(B.reduce('sum', kt(B.unary('square', centred), [3, n], dt), [1]), [3], dt);
      };
      const start = kernels(b);
      const got = await b.read(build(b, 'float32'));
      // The mean's partials; the variance's partials, the mean's second pass read before each thread's loop;
      // the variance's second pass. The mean's second pass has no kernel of its own.
      expect(kernels(b) - start).toBe(3);
      expectClose(
        got,
        cpu.readSync(build(cpu, 'float64')),
        { rtol: 1e-4, atol: 1e-4 },
        `${mode} long variance`,
      );
    });

    it('a second-order meta-step through batch-normalized layers (statistics computed together) matches float64, compiling nothing once warm', async () => {
      const b = await backendFor(mode);
      const r = rng(38);
      const wv = randomValues(r, 12);
      const xv = randomValues(r, 512 * 4);
      const yv = randomValues(r, 512 * 3);
      const data = { w: [wv, [4, 3]], x: [xv, [512, 4]], y: [yv, [512, 3]] } as const;
      const run = (B: Backend, float: 'float32' | 'float64', steps: number) =>
        metaTrain(B, float, data, steps, normalized);
      const steps = 5;
      const fused = await run(b, 'float32', steps);
      const ref = await run(cpu, 'float64', steps);
      const tol = { rtol: 1e-3, atol: 1e-4 };
      expectClose(Float64Array.from(fused.losses), Float64Array.from(ref.losses), tol, `${mode} losses`);
      expectClose(fused.grad as TypedArray, ref.grad, tol, `${mode} meta-gradient`);
      expectClose(fused.w as TypedArray, ref.w, tol, `${mode} parameters`);
      expect(fused.compiles.slice(3)).toEqual([0, 0]);
    });

    it('nests reductions and fuses max and min (a mean of per-row maxima minus the smallest row minimum), one kernel', async () => {
      const b = await backendFor(mode);
      const xv = randomValues(rng(24), 5 * 7);
      const build = (B: Backend, dt: DType) => {
        const x = kt(B.unary('sin', put(B, xv, [5, 7], dt)), [5, 7], dt);
        const maxima = kt(B.reduce('max', x, [1]), [5], dt);
        const minima = kt(B.reduce('min', x, [1]), [5], dt);
        const lowest = kt(B.reduce('min', minima, [0]), [], dt);
        const total = kt(B.reduce('sum', maxima, [0]), [], dt);
        return kt(B.binary('sub', total, lowest, []), [], dt);
      };
      const start = kernels(b);
      const got = await b.read(build(b, 'float32'));
      expect(kernels(b) - start).toBe(1);
      expectClose(
        got,
        cpu.readSync(build(cpu, 'float64')),
        { rtol: 1e-5, atol: 1e-6 },
        `${mode} nested reductions`,
      );
    });

    it('keeps the inputs of a pending value alive when their tensors are released', async () => {
      const b = await backendFor(mode);
      const a = put(b, Float32Array.of(1, 2, 3), [3]);
      const e = kt(b.unary('exp', a), [3]);
      const s = kt(b.unary('log', e), [3]);
      b.dispose?.(e.handle);
      b.dispose?.(a.handle);
      const got = Array.from(await b.read(s));
      got.forEach((v, i) => {
        expect(v).toBeCloseTo(i + 1, 5);
      });
    });

    it('a second-order meta-step through fused kernels matches unfused and float64, in fewer dispatches, compiling nothing once warm', async () => {
      const b = await backendFor(mode);
      const off = await createGpujsBackend(mode, { fusion: false });
      try {
        const r = rng(15);
        const wv = randomValues(r, 12);
        const xv = randomValues(r, 32);
        const yv = randomValues(r, 24);
        const data = { w: [wv, [4, 3]], x: [xv, [8, 4]], y: [yv, [8, 3]] } as const;
        const run = (B: Backend, float: 'float32' | 'float64', steps: number) =>
          metaTrain(B, float, data, steps);
        const steps = 5;
        const fused = await run(b, 'float32', steps);
        const plain = await run(off, 'float32', steps);
        const ref = await run(cpu, 'float64', steps);
        const tol = { rtol: 1e-4, atol: 1e-5 };
        expectClose(Float64Array.from(fused.losses), Float64Array.from(ref.losses), tol, `${mode} losses`);
        expectClose(fused.grad as TypedArray, ref.grad, tol, `${mode} meta-gradient`);
        expectClose(fused.w as TypedArray, ref.w, tol, `${mode} parameters`);
        expectClose(fused.grad as TypedArray, plain.grad, tol, `${mode} fused vs unfused meta-gradient`);
        // Steady state (from the fourth step): fewer dispatches than one per op, and no compiles.
        expect(fused.dispatches[steps - 1]!).toBeLessThan(plain.dispatches[steps - 1]!);
        expect(fused.compiles.slice(3)).toEqual([0, 0]);
      } finally {
        await off.destroy();
      }
    });
  });
}

/** exp(x) read as [2, 3] plus a row, that sum read back as [6] and, scaled, as [3, 2]. */
async function reshapes(B: Backend, xv: Float32Array, cv: Float32Array, dt: DType): Promise<TypedArray[]> {
  const e = B.unary('exp', put(B, xv, [6], dt));
  // [6] read as [2, 3]: broadcast-free, so the fused kernel inlines it under the new shape.
  const s = B.binary('add', kt(e, [2, 3], dt), put(B, cv, [3], dt), [2, 3]);
  const flat = kt(B.unary('neg', kt(s, [6], dt)), [6], dt);
  // The sum holds a broadcast row, so read as [3, 2] it is computed first and then read as an array.
  const three = kt(B.fill([2], 3, dt), [2], dt);
  const viaRows = kt(B.binary('mul', kt(s, [3, 2], dt), three, [3, 2]), [3, 2], dt);
  return [await B.read(flat), await B.read(viaRows)];
}

/**
 * Batch normalization of the rows of `h` (per column, over the rows), as `nn/batchNorm` computes it, with the
 * mean shifted by the product of the column's mean and maximum: two statistics that a full-size consumer
 * reads together (computed in one kernel), in the forward pass and in both backward ones.
 */
function normalized(h: Tensor): Tensor {
  const m = mean(h, { axis: [0], keepDims: true });
  const centred = sub(h, mul(m, max(h, { axis: [0], keepDims: true })));
  const variance = mean(square(centred), { axis: [0], keepDims: true });
  return tanh(mul(centred, reciprocal(sqrt(add(variance, 1e-3)))));
}
