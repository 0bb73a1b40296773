import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  matmulKernel,
  matmulKernelJs,
  matmulKernelNative,
  matmulKernelWasm,
  NATIVE_MIN_MACS,
  WASM_MIN_MACS,
} from '../../../src/backends/cpu/matmul.js';
import { NATIVE_ADDON_PATH, nativeAddon } from '../../../src/backends/cpu/native/addon.js';
import { nativeBlas, nativeBlasStatus } from '../../../src/backends/cpu/native/blas.js';
import { matmulWasm } from '../../../src/backends/cpu/wasm/matmulWasm.js';
import type { TypedArray } from '../../../src/tensor/dtype.js';
import { broadcastStrides } from '../../../src/tensor/shape.js';

type Kernel = typeof matmulKernel;

/** A deterministic generator (mulberry32), so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const size = (shape: readonly number[]): number => shape.reduce((x, y) => x * y, 1);

function fill<T extends Float32Array | Float64Array>(x: T, next: () => number): T {
  for (let i = 0; i < x.length; i++) x[i] = next() * 2 - 1;
  return x;
}

/** Output shape of matmul(A, B): broadcast batch axes, then [m, n]. */
function outShapeOf(aShape: number[], bShape: number[], transposeA: boolean, transposeB: boolean): number[] {
  const m = transposeA ? aShape.at(-1)! : aShape.at(-2)!;
  const n = transposeB ? bShape.at(-2)! : bShape.at(-1)!;
  const aB = aShape.slice(0, -2);
  const bB = bShape.slice(0, -2);
  const rank = Math.max(aB.length, bB.length);
  const batch: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = aB[i - rank + aB.length] ?? 1;
    const y = bB[i - rank + bB.length] ?? 1;
    batch.push(x === 1 ? y : x);
  }
  return [...batch, m, n];
}

/**
 * The naive triple loop in float64, with per-element sum |a||b| so the float32 tolerance can scale with the
 * magnitude that actually went into each entry.
 */
function reference(
  a: TypedArray,
  aShape: number[],
  b: TypedArray,
  bShape: number[],
  transposeA: boolean,
  transposeB: boolean,
  outShape: number[],
): { value: Float64Array; scale: Float64Array } {
  const r = outShape.length;
  const [m, n] = [outShape[r - 2]!, outShape[r - 1]!];
  const k = transposeA ? aShape.at(-2)! : aShape.at(-1)!;
  const batch = outShape.slice(0, -2);
  const aS = broadcastStrides(aShape.slice(0, -2), batch);
  const bS = broadcastStrides(bShape.slice(0, -2), batch);
  const value = new Float64Array(size(outShape));
  const scale = new Float64Array(size(outShape));
  for (let t = 0; t < size(batch); t++) {
    let aOff = 0;
    let bOff = 0;
    for (let d = batch.length - 1, rest = t; d >= 0; d--) {
      const i = rest % batch[d]!;
      rest = Math.floor(rest / batch[d]!);
      aOff += i * aS[d]! * m * k;
      bOff += i * bS[d]! * k * n;
    }
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        let abs = 0;
        for (let p = 0; p < k; p++) {
          const x = a[aOff + (transposeA ? p * m + i : i * k + p)]!;
          const y = b[bOff + (transposeB ? j * k + p : p * n + j)]!;
          s += x * y;
          abs += Math.abs(x * y);
        }
        value[t * m * n + i * n + j] = s;
        scale[t * m * n + i * n + j] = abs;
      }
    }
  }
  return { value, scale };
}

/** Runs `kernel` on random operands and checks every entry against the float64 reference. */
function check(
  kernel: Kernel,
  aShape: number[],
  bShape: number[],
  transposeA: boolean,
  transposeB: boolean,
  dtype: 'float32' | 'float64' = 'float32',
  seed = 1,
): void {
  const next = rng(seed);
  const Arr = dtype === 'float32' ? Float32Array : Float64Array;
  const a = fill(new Arr(size(aShape)), next);
  const b = fill(new Arr(size(bShape)), next);
  const outShape = outShapeOf(aShape, bShape, transposeA, transposeB);
  // Garbage in the output proves every entry is written.
  const out = new Arr(size(outShape)).fill(12345);
  kernel(a, aShape, b, bShape, transposeA, transposeB, out, outShape);
  const { value, scale } = reference(a, aShape, b, bShape, transposeA, transposeB, outShape);
  const k = transposeA ? aShape.at(-2)! : aShape.at(-1)!;
  // float32 accumulation in any order: |error| <= k * eps * sum |a||b| (+ the final rounding).
  const eps = dtype === 'float32' ? 2 ** -23 : 2 ** -52;
  for (let i = 0; i < out.length; i++) {
    const tol = (k + 2) * eps * (scale[i]! + Math.abs(value[i]!)) + 1e-300;
    if (!(Math.abs(out[i]! - value[i]!) <= tol)) {
      throw new Error(`entry ${i} of [${outShape}]: got ${out[i]}, want ${value[i]} (tol ${tol})`);
    }
  }
}

const TRANSPOSES: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

/** [A shape, B shape] before transposition, as [batchA..., m, k] and [batchB..., k, n]. */
const SHAPES: [string, number[], number[]][] = [
  ['13x9 . 9x7 (no dimension a multiple of the tile)', [13, 9], [9, 7]],
  ['k = 1 (outer product)', [10, 1], [1, 40]],
  ['n = 1 (matrix-vector)', [40, 40], [40, 1]],
  ['m = 1 (vector-matrix)', [1, 10], [10, 40]],
  ['m = n = k = 1', [1, 1], [1, 1]],
  ['exact tiles 8x16 . 16x16', [8, 16], [16, 16]],
  ['n = 12 (one 8-wide and one 4-wide tile)', [6, 2], [2, 12]],
  ['n = 15 (8-wide, 4-wide, then 3 single columns)', [5, 3], [3, 15]],
  ['MAML hidden layer [25,10,40] . [25,40,40]', [25, 10, 40], [25, 40, 40]],
  ['MAML weight gradient [25,40,10] . [25,10,40]', [25, 40, 10], [25, 10, 40]],
  ['broadcast batch [2,1,3,4] . [3,4,5]', [2, 1, 3, 4], [3, 4, 5]],
  ['broadcast batch [1,6,5] . [3,5,6] (A repeats)', [1, 6, 5], [3, 5, 6]],
  ['broadcast batch [3,6,5] . [2,1,5,9] (B repeats)', [3, 6, 5], [2, 1, 5, 9]],
  ['unbatched A, batched B [7,5] . [4,5,6]', [7, 5], [4, 5, 6]],
  ['large-ish 128x256 . 256x64', [128, 256], [256, 64]],
  // The blocked kernel: 5x8 register tiles inside KC = 256, MC = 120, NC = 2048 cache blocks.
  ['one exact 5x8 tile', [5, 3], [3, 8]],
  ['n = 8, m = 1 (a tile with one row)', [1, 6], [6, 8]],
  ['n = 9 (one full column panel and a 1-wide edge)', [6, 11], [11, 9]],
  ['n = 7 (narrow kernel below the 8-wide tile)', [11, 6], [6, 7]],
  ['m = 3 (narrow kernel below the 5-row tile), n = 17', [3, 20], [20, 17]],
  ['m = 4, batched [2,4,9] . [2,9,33]', [2, 4, 9], [2, 9, 33]],
  ['m = 243, k = 257, n = 19: crosses MC twice and KC once, row and column edges', [243, 257], [257, 19]],
  ['k = 520 (two full KC blocks and a partial), n = 2061 (crosses NC)', [7, 520], [520, 2061]],
  ['k = 256, m = 120 (exactly one KC and one MC block)', [120, 256], [256, 16]],
  ['k*n > 16384 (B packed, not read in place), n = 60 (a 4-wide edge), k = 300', [6, 300], [300, 60]],
  ['stacked batch: [3,2,7,9] . [9,16] (A rows stacked onto one B)', [3, 2, 7, 9], [9, 16]],
  ['stacked batch across blocks: [2,130,300] . [300,24]', [2, 130, 300], [300, 24]],
  ['broadcast A [1,6,10] . [4,10,12] (not stackable)', [1, 6, 10], [4, 10, 12]],
  ['broadcast both [4,1,6,10] . [3,10,12]', [4, 1, 6, 10], [3, 10, 12]],
];

/** Applies the transposes to a [.., m, k] / [.., k, n] pair: the operands as stored. */
function stored(shape: number[], transpose: boolean): number[] {
  return transpose ? [...shape.slice(0, -2), shape.at(-1)!, shape.at(-2)!] : shape;
}

const KERNELS: [string, Kernel][] = [
  ['matmulKernel', matmulKernel],
  ['matmulKernelWasm', matmulKernelWasm as Kernel],
  ['matmulKernelJs', matmulKernelJs],
  // The optional native BLAS path (`npm run setup:native`): checked on every shape where it is built.
  ...(nativeBlas === undefined ? [] : ([['matmulKernelNative', matmulKernelNative]] as [string, Kernel][])),
];

describe('matmul kernels against a float64 triple loop', () => {
  it('the WebAssembly SIMD module loads on this engine', () => {
    expect(matmulWasm).toBeDefined();
  });

  for (const [kname, kernel] of KERNELS) {
    describe(kname, () => {
      for (const [name, aShape, bShape] of SHAPES) {
        for (const [ta, tb] of TRANSPOSES) {
          it(`${name}, transposeA=${ta} transposeB=${tb}`, () => {
            check(kernel, stored(aShape, ta), stored(bShape, tb), ta, tb);
          });
        }
      }
    });
  }

  it('float64 operands (the JS path) match to double precision, all transposes', () => {
    for (const [, aShape, bShape] of SHAPES) {
      for (const [ta, tb] of TRANSPOSES)
        check(matmulKernel, stored(aShape, ta), stored(bShape, tb), ta, tb, 'float64');
    }
  });

  it('k = 0 writes zeros', () => {
    for (const kernel of [matmulKernel, matmulKernelWasm as Kernel]) {
      const out = new Float32Array(6).fill(7);
      kernel(new Float32Array(0), [2, 0], new Float32Array(0), [0, 3], false, false, out, [2, 3]);
      expect(Array.from(out)).toEqual([0, 0, 0, 0, 0, 0]);
      // Batched and as wide as the blocked kernel's tile, transposed or not.
      for (const [ta, tb] of TRANSPOSES) {
        const wide = new Float32Array(2 * 3 * 16).fill(7);
        const aShape = ta ? [2, 0, 3] : [2, 3, 0];
        const bShape = tb ? [2, 16, 0] : [2, 0, 16];
        kernel(new Float32Array(0), aShape, new Float32Array(0), bShape, ta, tb, wide, [2, 3, 16]);
        expect(wide.every((v) => v === 0)).toBe(true);
      }
    }
  });

  it('a small product after a large one (memory grown, regions reused) is still right', () => {
    check(matmulKernelWasm as Kernel, [300, 200], [150, 200], false, true, 'float32', 7);
    check(matmulKernelWasm as Kernel, [3, 4, 5], [3, 4, 6], true, false, 'float32', 8);
  });

  it('dispatches float32 products to the JS path below the threshold, with the same results', () => {
    // 2x2x2 = 8 multiply-adds: below WASM_MIN_MACS, so this exercises the small-product path.
    expect(2 * 2 * 2).toBeLessThan(WASM_MIN_MACS);
    check(matmulKernel, [2, 2], [2, 2], false, false);
  });
});

describe('NaN and Inf propagate (no zero skipping)', () => {
  for (const [kname, kernel] of KERNELS) {
    it(`${kname}: NaN in A poisons its row, Inf in B its column, Inf * 0 is NaN`, () => {
      for (const [ta, tb] of TRANSPOSES) {
        const [m, k, n] = [9, 20, 13]; // 2340 MACs: above the wasm threshold
        const a = new Float32Array(m * k); // zeros
        const b = new Float32Array(k * n);
        const at = (i: number, p: number): number => (ta ? p * m + i : i * k + p);
        const bt = (p: number, j: number): number => (tb ? j * k + p : p * n + j);
        a[at(5, 3)] = Number.NaN;
        b[bt(7, 11)] = Number.POSITIVE_INFINITY; // times the zero A column 7: NaN down column 11
        b[bt(2, 4)] = 1;
        a[at(0, 2)] = Number.POSITIVE_INFINITY; // Inf * 1 = Inf at (0, 4)
        const out = new Float32Array(m * n);
        kernel(a, ta ? [k, m] : [m, k], b, tb ? [n, k] : [k, n], ta, tb, out, [m, n]);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            const v = out[i * n + j]!;
            if (i === 5 || j === 11) expect(v, `(${i},${j}) ${ta} ${tb}`).toBeNaN();
            else if (i === 0 && j === 4) expect(v).toBe(Number.POSITIVE_INFINITY);
            else if (i === 0)
              expect(v, `(${i},${j})`).toBeNaN(); // Inf * 0 elsewhere in row 0
            else expect(v).toBe(0);
          }
        }
      }
    });
  }
});

describe('the native BLAS matmul (npm run setup:native)', () => {
  // CI builds the addon and sets METATAPE_REQUIRE_NATIVE=1, so there an unbuilt or unloadable addon
  // fails instead of skipping.
  const required = process.env.METATAPE_REQUIRE_NATIVE === '1';
  it(`is loaded, or says why not (${nativeBlasStatus.active ? nativeBlasStatus.library : nativeBlasStatus.reason})`, () => {
    if (required) expect(nativeBlasStatus.reason).toBeUndefined();
    if (nativeBlasStatus.active) {
      expect(nativeBlasStatus.library).toMatch(/blas/i);
    } else {
      expect(nativeBlasStatus.reason).toMatch(/not built|turned off|failed to load|no BLAS/);
    }
  });

  const skip = nativeBlas === undefined ? `skipped: ${nativeBlasStatus.reason}` : '';
  it.skipIf(nativeBlas === undefined)(
    `float64 products match to double precision, all transposes ${skip}`,
    () => {
      for (const [, aShape, bShape] of SHAPES) {
        for (const [ta, tb] of TRANSPOSES)
          check(matmulKernelNative, stored(aShape, ta), stored(bShape, tb), ta, tb, 'float64');
      }
    },
  );

  it.skipIf(nativeBlas === undefined)(
    `matmulKernel sends products from NATIVE_MIN_MACS on to it ${skip}`,
    () => {
      // The dispatcher's choice is visible only in timing, so check that both sides of the threshold agree
      // with the reference: products above it go native (float32 and float64), below it wasm or JS.
      expect(16 * 32 * 32).toBeGreaterThanOrEqual(NATIVE_MIN_MACS);
      expect(4 * 4 * 4).toBeLessThan(NATIVE_MIN_MACS);
      for (const dtype of ['float32', 'float64'] as const) {
        check(matmulKernel, [16, 32], [32, 32], false, true, dtype);
        check(matmulKernel, [4, 4], [4, 4], true, false, dtype);
      }
    },
  );

  it.skipIf(nativeBlas === undefined)(`throws instead of reading past an operand ${skip}`, () => {
    const blas = nativeBlas!;
    const a = new Float32Array(12);
    const b = new Float32Array(12);
    const c = new Float32Array(9);
    // A is 3x4 at offset 4: runs 4 floats past the end of a.
    expect(() => blas.gemm(a, b, c, 3, 3, 4, false, false, Float64Array.of(4, 0), 1)).toThrow(
      /past its array/,
    );
    expect(() =>
      blas.gemm(a, b, new Float32Array(8), 3, 3, 4, false, false, Float64Array.of(0, 0), 1),
    ).toThrow(/c is shorter/);
    expect(() =>
      blas.gemm(a, new Float64Array(12), c, 3, 3, 4, false, false, Float64Array.of(0, 0), 1),
    ).toThrow(/one float type/);
    // A view's offset is honoured: the product of two subarrays equals the product of copies.
    const big = Float32Array.from({ length: 40 }, (_, i) => (i % 7) - 3);
    const view = big.subarray(8, 20);
    const out1 = new Float32Array(9);
    const out2 = new Float32Array(9);
    blas.gemm(view, b.fill(1), out1, 3, 3, 4, false, false, Float64Array.of(0, 0), 1);
    blas.gemm(Float32Array.from(view), b, out2, 3, 3, 4, false, false, Float64Array.of(0, 0), 1);
    expect(Array.from(out1)).toEqual(Array.from(out2));
  });
  /**
   * Worker threads that multiply at the same time: each must get a copy of the library of its own (a
   * sequential OpenBLAS shares an unlocked buffer table between concurrent callers), and every product must
   * equal the one the main thread makes. A barrier starts all workers' loops together.
   */
  it.skipIf(nativeBlas === undefined)(
    `worker threads multiply concurrently, each on its own copy of a sequential library ${skip}`,
    async () => {
      const threads = 3;
      const [m, n, k] = [96, 80, 112];
      const next = rng(21);
      const a = Float32Array.from({ length: m * k }, () => next() - 0.5);
      const b = Float32Array.from({ length: k * n }, () => next() - 0.5);
      const expected = new Float32Array(m * n);
      nativeBlas!.gemm(a, b, expected, m, n, k, false, false, Float64Array.of(0, 0), 1);
      // [0]: workers started; [1]: workers past their first product.
      const barrier = new Int32Array(new SharedArrayBuffer(8));
      const code = `
        const { workerData, parentPort } = require('node:worker_threads');
        const addon = require(workerData.path);
        const { a, b, expected, barrier, m, n, k, threads } = workerData;
        const c = new Float32Array(m * n);
        const offsets = Float64Array.of(0, 0);
        Atomics.add(barrier, 0, 1);
        while (Atomics.load(barrier, 0) < threads) Atomics.wait(barrier, 0, Atomics.load(barrier, 0), 10);
        let wrong = 0;
        let info;
        for (let r = 0; r < 400; r++) {
          c.fill(Number.NaN);
          addon.gemm(a, b, c, m, n, k, false, false, offsets, 1);
          for (let i = 0; i < c.length; i++) if (c[i] !== expected[i]) { wrong++; break; }
          if (r === 0) {
            // Which copy this thread took, while every worker is alive: one that finished and exited would
            // give its copy back to a late one.
            info = addon.blasInfo();
            Atomics.add(barrier, 1, 1);
            while (Atomics.load(barrier, 1) < threads) Atomics.wait(barrier, 1, Atomics.load(barrier, 1), 10);
          }
        }
        parentPort.postMessage({ wrong, info });`;
      const round = () =>
        Promise.all(
          Array.from(
            { length: threads },
            () =>
              new Promise<{ wrong: number; info: { copy: number; copyPerThread: boolean } }>(
                (resolve, reject) => {
                  const w = new Worker(code, {
                    eval: true,
                    workerData: { path: NATIVE_ADDON_PATH, a, b, expected, barrier, m, n, k, threads },
                  });
                  // Resolved once the thread is gone, so its copy is back before the next round.
                  w.once('message', (msg) => {
                    w.terminate().then(() => resolve(msg), reject);
                  });
                  w.once('error', reject);
                },
              ),
          ),
        );
      const first = await round();
      const copiesAfterFirst = nativeAddon!.blasInfo().copies;
      // Exited workers give their copies back: a second set of workers loads no more.
      barrier[0] = 0;
      barrier[1] = 0;
      const second = await round();
      for (const r of [...first, ...second]) expect(r.wrong).toBe(0);
      const info = nativeAddon!.blasInfo();
      expect(info.copies).toBe(copiesAfterFirst);
      if (/sequential/.test(info.config ?? '') && process.platform === 'linux') {
        // glibc's dlmopen: every worker got a copy no other live thread had.
        expect(info.copyPerThread).toBe(true);
        for (const results of [first, second])
          expect(new Set(results.map((r) => r.info.copy)).size).toBe(threads);
        expect(info.copies).toBeGreaterThanOrEqual(threads);
      }
    },
  );
});
