import { afterEach, describe, expect, it } from 'vitest';
import {
  KernelThreadsError,
  kernelThreadsUnavailable,
  setCpuKernelThreads,
} from '../../../src/backends/cpu/kernelThreads.js';
import { nativeAddon } from '../../../src/backends/cpu/native/addon.js';
import { Rng } from '../../../src/tensor/random.js';

/** `n` deterministic values in [-2, 2), so a failure reproduces. */
const random = (n: number, seed: number): Float32Array => {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.uniformIn(-2, 2));
};

/** Every array of `got` equal to the same array of `want` bit for bit (NaN payloads and -0 included). */
function expectSameBits(got: readonly Float32Array[], want: readonly Float32Array[]): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++)
    expect(Buffer.from(got[i]!.buffer).equals(Buffer.from(want[i]!.buffer)), `array ${i}`).toBe(true);
}

/** Runs `f` with the calling thread's kernels on `threads` threads, then back on one. */
function on<T>(threads: number, f: () => T): T {
  expect(setCpuKernelThreads(threads)).toBe(threads);
  try {
    return f();
  } finally {
    setCpuKernelThreads(1);
  }
}

describe('setCpuKernelThreads', () => {
  it('refuses counts that are not whole numbers from 1 to 256', () => {
    for (const bad of [0, -1, 1.5, 257, Number.NaN])
      expect(() => setCpuKernelThreads(bad)).toThrow(RangeError);
  });
  it(`needs the native addon for more than one thread (${kernelThreadsUnavailable() ?? 'loaded'})`, () => {
    expect(setCpuKernelThreads(1)).toBe(1);
    if (kernelThreadsUnavailable() === undefined) on(2, () => undefined);
    else expect(() => setCpuKernelThreads(2)).toThrow(KernelThreadsError);
  });
});

const skip = kernelThreadsUnavailable();
describe.skipIf(skip !== undefined)(`kernels split over threads ${skip ? `(skipped: ${skip})` : ''}`, () => {
  const addon = nativeAddon!;
  afterEach(() => {
    setCpuKernelThreads(1);
  });
  // Around the split threshold (16384 elements), odd lengths, and lengths a part boundary splits unevenly.
  const SIZES = [16383, 16384, 16400, 50001, 200003];

  it('elementwise loops give the same bits on 1, 2 and 3 threads (every op, full and scalar operands)', () => {
    for (const n of SIZES) {
      const a = random(n, n);
      const b = random(n, n + 1);
      const s = Float32Array.of(0.75);
      const results = [1, 2, 3].map((t) =>
        on(t, () => {
          const outs: Float32Array[] = [];
          for (let op = 0; op < 4; op++)
            for (const [x, y] of [
              [a, b],
              [a, s],
              [s, b],
            ] as const) {
              const o = new Float32Array(n).fill(Number.NaN);
              addon.binary(op, x, y, o);
              outs.push(o);
            }
          for (let op = 0; op < 5; op++) {
            const o = new Float32Array(n).fill(Number.NaN);
            addon.unary(op, a, o);
            outs.push(o);
          }
          return outs;
        }),
      );
      for (const other of results.slice(1)) expectSameBits(other, results[0]!);
    }
  });

  it('row broadcasts split over blocks or rows give the same bits', () => {
    // [p, q, r]: many blocks (split over p), one block (split over its q rows).
    for (const [p, q, r] of [
      [32, 5, 256],
      [1, 160, 257],
      [3, 2000, 9],
    ] as const) {
      const full = random(p * q * r, q);
      const rows = random(p * r, r);
      const results = [1, 2, 3].map((t) =>
        on(t, () =>
          [false, true].flatMap((first) =>
            [0, 1, 2, 3].map((op) => {
              const o = new Float32Array(p * q * r).fill(Number.NaN);
              addon.rows(op, full, rows, first, p, q, r, o);
              return o;
            }),
          ),
        ),
      );
      for (const other of results.slice(1)) expectSameBits(other, results[0]!);
    }
  });

  it('strided copies and broadcasts split over output rows give the same bits as whole', () => {
    // A transpose ([q, p] read as [p, q]), a broadcast of rows ([p, 1, r] -> [p, q, r]), and a strided binary
    // with a broadcast operand, each over enough rows to split unevenly.
    const [p, q, r] = [37, 41, 29];
    const x = random(p * q * r, 21);
    const rowsOf = random(p * r, 22);
    const results = [1, 2, 3].map((t) =>
      on(t, () => {
        const transposed = new Float32Array(p * q * r).fill(Number.NaN);
        addon.copy(x, 0, transposed, Int32Array.of(q, p, r, r, q * r, 1));
        const broadcast = new Float32Array(p * q * r).fill(Number.NaN);
        addon.copy(rowsOf, 0, broadcast, Int32Array.of(p, q, r, r, 0, 1));
        const sum = new Float32Array(p * q * r).fill(Number.NaN);
        addon.strided(0, x, rowsOf, sum, Int32Array.of(p, q, r, q * r, r, 1, r, 0, 1));
        return [transposed, broadcast, sum];
      }),
    );
    expect(results[0]![1]![r + 3]).toBe(rowsOf[3]);
    for (const other of results.slice(1)) expectSameBits(other, results[0]!);
  });

  it('gather and scatterAdd split over rows or outer slices give the same bits as whole', () => {
    // im2col's shapes: 9 windows of a padded image per output pixel, indices repeated across windows.
    const [outer, dim, inner, ni] = [13, 900, 3, 6272];
    const x = random(outer * dim * inner, 23);
    const r = new Rng(24);
    const indices = Int32Array.from({ length: ni }, () => Math.floor(r.uniform() * dim));
    const results = [1, 2, 3].map((t) =>
      on(t, () => {
        const gathered = new Float32Array(outer * ni * inner).fill(Number.NaN);
        addon.gather(x, indices, gathered, outer, dim, inner);
        const summed = new Float32Array(outer * dim * inner).fill(Number.NaN);
        addon.scatterAdd(gathered, indices, summed, outer, dim, inner);
        return [gathered, summed];
      }),
    );
    expect(results[0]![0]![inner * 5 + 1]).toBe(x[indices[5]! * inner + 1]);
    for (const other of results.slice(1)) expectSameBits(other, results[0]!);
  });

  it('kernels cut into different part counts, back to back, each finish every part (2000 rounds)', () => {
    // A loop is cut into 8 parts and a product into one per thread: a helper still finishing a claim on the
    // last kernel must never take a part of the next one by the wrong count (an unfinished output).
    const n = 16400;
    const [a, b] = [random(n, 7), random(n, 8)];
    const [m, k] = [64, 64];
    const [x, y] = [random(m * k, 9), random(k * m, 10)];
    const pairs = new Float64Array([0, 0]);
    const sum = new Float32Array(n);
    const prod = new Float32Array(m * m);
    addon.binary(0, a, b, sum);
    addon.gemm(x, y, prod, m, m, k, false, false, pairs, 1);
    on(2, () => {
      const [s, p] = [new Float32Array(n), new Float32Array(m * m)];
      for (let round = 0; round < 2000; round++) {
        s.fill(Number.NaN);
        p.fill(Number.NaN);
        addon.binary(0, a, b, s);
        addon.gemm(x, y, p, m, m, k, false, false, pairs, 1);
        if (!Buffer.from(s.buffer).equals(Buffer.from(sum.buffer))) expect.fail(`sum, round ${round}`);
        // A split product may differ in its last bits from one thread's, never by more.
        for (let i = 0; i < p.length; i++)
          if (!(Math.abs(p[i]! - prod[i]!) <= 1e-4 * (1 + Math.abs(prod[i]!))))
            expect.fail(`product, round ${round}`);
      }
    });
  });

  it('column sums split over blocks or columns give the same bits, and the float64 sums to float32 rounding', () => {
    // [p, q, r]: many blocks (split over p), one block (split over its r columns, unevenly), and below the
    // threshold.
    for (const [p, q, r] of [
      [32, 5, 256],
      [1, 160, 257],
      [1, 2000, 40],
      [2, 3, 7],
    ] as const) {
      const x = random(p * q * r, p + q + r);
      const results = [1, 2, 3].map((t) =>
        on(t, () => {
          const o = new Float32Array(p * r).fill(Number.NaN);
          addon.colsum(x, p, q, r, o);
          return [o];
        }),
      );
      for (const other of results.slice(1)) expectSameBits(other, results[0]!);
      for (let pi = 0; pi < p; pi++)
        for (let j = 0; j < r; j++) {
          let want = 0;
          for (let qi = 0; qi < q; qi++) want += x[(pi * q + qi) * r + j]!;
          expect(results[1]![0]![pi * r + j]).toBeCloseTo(want, 2);
        }
    }
  });

  it("Adam's update gives the same bits", () => {
    const n = 200003;
    const [g, m0, v0] = [random(n, 1), random(n, 2), random(n, 3).map(Math.abs)];
    const results = [1, 2].map((t) =>
      on(t, () => {
        const [m, v, u] = [new Float32Array(n), new Float32Array(n), new Float32Array(n)];
        addon.adam(g, m0, v0, m, v, u, 0.9, 0.999, 0, 1e-8, -1e-3);
        return [m, v, u];
      }),
    );
    expectSameBits(results[1]!, results[0]!);
  });

  it('matmul split over rows, columns or products matches one thread and a float64 reference', () => {
    // [m, n, k, count]: tall (rows split), wide (columns split), batched (products split), one product per part.
    for (const [m, n, k, count] of [
      [784, 256, 80, 1],
      [40, 900, 64, 1],
      [64, 64, 64, 6],
      [96, 80, 70, 2],
    ] as const)
      for (const [ta, tb] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        const a = random(m * k * count, m + k);
        const b = random(k * n * count, n + k);
        const offsets = Float64Array.from(
          { length: 2 * count },
          (_, i) => (i % 2 === 0 ? m * k : k * n) * (i >> 1),
        );
        const product = (t: number) =>
          on(t, () => {
            const c = new Float32Array(m * n * count).fill(Number.NaN);
            addon.gemm(a, b, c, m, n, k, ta, tb, offsets, count);
            return c;
          });
        const one = product(1);
        for (const t of [2, 3]) {
          const split = product(t);
          let worst = 0;
          for (let i = 0; i < one.length; i++) worst = Math.max(worst, Math.abs(split[i]! - one[i]!));
          expect(worst).toBeLessThan(1e-4);
        }
        // One element of each product against float64, so a block written to the wrong place shows.
        for (let p = 0; p < count; p++)
          for (const [i, j] of [
            [0, 0],
            [m - 1, n - 1],
            [m >> 1, n >> 1],
          ] as const) {
            let ref = 0;
            for (let x = 0; x < k; x++) {
              const av = ta ? a[p * m * k + x * m + i]! : a[p * m * k + i * k + x]!;
              const bv = tb ? b[p * k * n + j * k + x]! : b[p * k * n + x * n + j]!;
              ref += av * bv;
            }
            expect(Math.abs(product(2)[p * m * n + i * n + j]! - ref)).toBeLessThan(1e-3);
          }
      }
  });

  it('the setting is per thread and can change: 2, then 3, then 1', () => {
    expect(setCpuKernelThreads(2)).toBe(2);
    expect(setCpuKernelThreads(3)).toBe(3);
    expect(setCpuKernelThreads(1)).toBe(1);
  });
});
