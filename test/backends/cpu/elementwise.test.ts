import { describe, expect, it } from 'vitest';
import { BINARY_OPS, type BinaryOp, UNARY_OPS } from '../../../src/backends/backend.js';
import { binaryKernel, unaryKernel } from '../../../src/backends/cpu/elementwise.js';
import {
  ELEMENTWISE_CHUNK,
  ElementwiseWasm,
  elementwiseWasm,
  WASM_MIN_ELEMENTS,
} from '../../../src/backends/cpu/elementwiseWasm.js';
import { gatherKernel, padKernel, scatterAddKernel } from '../../../src/backends/cpu/indexing.js';
import { matmulKernel } from '../../../src/backends/cpu/matmul.js';
import { nativeAddonReason } from '../../../src/backends/cpu/native/addon.js';
import { type ElementwiseKernels, nativeElementwise } from '../../../src/backends/cpu/native/elementwise.js';
import { reduceGeometry, reduceKernel, reduceRuns } from '../../../src/backends/cpu/reduce.js';
import { arrayTypeOf, type DType, type TypedArray } from '../../../src/tensor/dtype.js';
import { broadcastShapes, stridesOf } from '../../../src/tensor/shape.js';

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
const SPECIAL = [0, -0, 1, -1, 0.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-40, 3];

/** Random values with a sprinkling of NaN, signed zeros, infinities and denormals (ints for int32). */
function values(dtype: DType, n: number, next: () => number): TypedArray {
  const x = new (arrayTypeOf(dtype))(n);
  for (let i = 0; i < n; i++) {
    const r = next();
    if (dtype === 'int32') x[i] = Math.floor(r * 9) - 4;
    else if (r < 0.1) x[i] = SPECIAL[Math.floor(next() * SPECIAL.length)]!;
    else x[i] = (next() * 2 - 1) * 4;
  }
  return x;
}

/** The scalar formulas the kernels implement, applied one output element at a time. */
const REF: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: (a, b) => a ** b,
  // biome-ignore lint/complexity/useMathMinMax: the kernels' NaN and signed-zero conventions, not Math.max's
  maximum: (a, b) => (a >= b ? a : b),
  // biome-ignore lint/complexity/useMathMinMax: the kernels' NaN and signed-zero conventions, not Math.min's
  minimum: (a, b) => (a <= b ? a : b),
  greater: (a, b) => (a > b ? 1 : 0),
  greaterEqual: (a, b) => (a >= b ? 1 : 0),
  less: (a, b) => (a < b ? 1 : 0),
  lessEqual: (a, b) => (a <= b ? 1 : 0),
  equal: (a, b) => (a === b ? 1 : 0),
  notEqual: (a, b) => (a !== b ? 1 : 0),
};

/** Broadcasting by index arithmetic, the slow obvious way. */
function reference(
  op: BinaryOp,
  a: TypedArray,
  aShape: number[],
  b: TypedArray,
  bShape: number[],
  out: TypedArray,
  outShape: number[],
): void {
  const rank = outShape.length;
  const index = (shape: number[], idx: number[]): number => {
    let off = 0;
    for (let d = 0; d < shape.length; d++) {
      const i = shape[d] === 1 ? 0 : idx[d + rank - shape.length]!;
      off = off * shape[d]! + i;
    }
    return off;
  };
  const idx = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let rem = o;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d] = rem % outShape[d]!;
      rem = Math.floor(rem / outShape[d]!);
    }
    out[o] = REF[op](a[index(aShape, idx)]!, b[index(bShape, idx)]!);
  }
}

/** Element-by-element identity, NaN equal to NaN and +0 distinct from -0. */
function expectSame(got: TypedArray, want: TypedArray, what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    if (!Object.is(got[i], want[i])) {
      throw new Error(`${what}: element ${i} is ${got[i]}, want ${want[i]}`);
    }
  }
}

/** Two operand shapes from one base shape, each axis kept or set to 1 and leading axes dropped at random. */
function broadcastCase(next: () => number, maxRank: number, maxDim: number) {
  const rank = Math.floor(next() * (maxRank + 1));
  const base = Array.from({ length: rank }, () => Math.floor(next() * (maxDim + 1)));
  const operand = () => {
    const drop = Math.floor(next() * (rank + 1) * 0.5);
    return base.slice(drop).map((d) => (next() < 0.35 ? 1 : d));
  };
  const aShape = operand();
  const bShape = operand();
  return { outShape: broadcastShapes(aShape, bShape), aShape, bShape };
}

const DTYPES: DType[] = ['float32', 'float64', 'int32'];

describe('binaryKernel', () => {
  it('matches index-by-index broadcasting on random shapes, every op and dtype, bit for bit', () => {
    const next = rng(13);
    for (let trial = 0; trial < 400; trial++) {
      const { outShape, aShape, bShape } = broadcastCase(next, 5, trial % 4 === 0 ? 1 : 5);
      for (const dtype of DTYPES) {
        const a = values(dtype, size(aShape), next);
        const b = values(dtype, size(bShape), next);
        const ops = dtype === 'int32' ? (['add', 'sub', 'mul', 'maximum', 'less'] as const) : BINARY_OPS;
        for (const op of ops) {
          const got = new (arrayTypeOf(dtype))(size(outShape));
          const want = new (arrayTypeOf(dtype))(size(outShape));
          binaryKernel(op, a, aShape, b, bShape, got, outShape);
          reference(op, a, aShape, b, bShape, want, outShape);
          expectSame(got, want, `${op} ${dtype} [${aShape}] [${bShape}] -> [${outShape}]`);
        }
      }
    }
  });

  it('covers the fast patterns: same shape, scalars, rows, columns, bias rows of a batch, size 0 and 1', () => {
    const cases: [number[], number[], number[]][] = [
      [
        [25, 10, 40],
        [25, 10, 40],
        [25, 10, 40],
      ],
      [[25, 10, 40], [], [25, 10, 40]],
      [[], [25, 10, 40], [25, 10, 40]],
      [
        [25, 10, 40],
        [25, 1, 40],
        [25, 10, 40],
      ],
      [
        [25, 1, 40],
        [25, 10, 40],
        [25, 10, 40],
      ],
      [[25, 10, 40], [40], [25, 10, 40]],
      [
        [25, 10, 1],
        [25, 10, 40],
        [25, 10, 40],
      ],
      [
        [250, 1],
        [1, 40],
        [250, 40],
      ],
      [
        [1, 40],
        [250, 1],
        [250, 40],
      ],
      [
        [3, 1, 4, 1, 5],
        [1, 2, 1, 6, 1],
        [3, 2, 4, 6, 5],
      ],
      [[1], [1], [1]],
      [[], [], []],
      [[1, 1], [], [7, 9]],
      [[0, 3], [3], [0, 3]],
      [[0], [], [0]],
      [[700], [1], [700]],
      [[1], [701], [701]],
      [[WASM_MIN_ELEMENTS + 3], [WASM_MIN_ELEMENTS + 3], [WASM_MIN_ELEMENTS + 3]],
      // Bias rows with a row length off the 4-lane vector width (the SIMD rows loops' scalar tails).
      [
        [7, 13, 11],
        [7, 1, 11],
        [7, 13, 11],
      ],
      [
        [7, 1, 11],
        [7, 13, 11],
        [7, 13, 11],
      ],
      [[60, 11], [11], [60, 11]],
      [[11], [60, 11], [60, 11]],
    ];
    const next = rng(7);
    for (const [aShape, bShape, outShape] of cases) {
      for (const dtype of DTYPES) {
        const a = values(dtype, size(aShape), next);
        const b = values(dtype, size(bShape), next);
        for (const op of BINARY_OPS) {
          const got = new (arrayTypeOf(dtype))(size(outShape));
          const want = new (arrayTypeOf(dtype))(size(outShape));
          binaryKernel(op, a, aShape, b, bShape, got, outShape);
          reference(op, a, aShape, b, bShape, want, outShape);
          expectSame(got, want, `${op} ${dtype} [${aShape}] [${bShape}] -> [${outShape}]`);
        }
      }
    }
  });

  it('gives the JS loops result from the float32 SIMD loops at every length around the vector width', () => {
    expect(elementwiseWasm).toBeDefined();
    const next = rng(3);
    for (let n = WASM_MIN_ELEMENTS; n < WASM_MIN_ELEMENTS + 9; n++) {
      for (const [na, nb] of [
        [n, n],
        [n, 1],
        [1, n],
      ] as const) {
        const a = values('float32', na, next) as Float32Array;
        const b = values('float32', nb, next) as Float32Array;
        for (const op of ['add', 'sub', 'mul', 'div'] as const) {
          const got = new Float32Array(n);
          const want = new Float32Array(n);
          expect(elementwiseWasm!.binary(op, a, b, got)).toBe(true);
          reference(op, a, na === 1 ? [] : [n], b, nb === 1 ? [] : [n], want, [n]);
          expectSame(got, want, `wasm ${op} ${na} ${nb}`);
        }
      }
    }
  });
});

/** The unary ops with SIMD loops (wasm and native) and their scalar formulas, NaN and -0 conventions included. */
const SIMD_UREF: Record<string, (x: number) => number> = {
  // biome-ignore lint/complexity/useMathMinMax: the kernels' NaN and signed-zero conventions, not Math.max's
  relu: (x) => (x > 0 ? x : 0),
  step: (x) => (x > 0 ? 1 : 0),
  neg: (x) => -x,
  square: (x) => x * x,
  sqrt: (x) => Math.sqrt(x),
};

/**
 * Checks `e.binary` in every operand mode ([n] op [n], [n] op [1], [1] op [n]) and `e.unary` at length n
 * against the references, bit for bit. `inPlace` also runs each binary with out aliasing its full operand;
 * `special` puts a NaN and a -0 into the unary operand.
 */
function checkBinaryUnary(
  e: ElementwiseKernels,
  name: string,
  n: number,
  next: () => number,
  { inPlace = false, special = false } = {},
): void {
  for (const [na, nb] of [
    [n, n],
    [n, 1],
    [1, n],
  ] as const) {
    if (na === 1 && nb === 1) continue;
    const a = values('float32', na, next) as Float32Array;
    const b = values('float32', nb, next) as Float32Array;
    for (const op of ['add', 'sub', 'mul', 'div'] as const) {
      const got = new Float32Array(n);
      const want = new Float32Array(n);
      expect(e.binary(op, a, b, got)).toBe(true);
      reference(op, a, na === 1 ? [] : [n], b, nb === 1 ? [] : [n], want, [n]);
      expectSame(got, want, `${name}: ${op} ${na} ${nb}`);
      if (inPlace) {
        const aliased = Float32Array.from(na === n ? a : b);
        expect(na === n ? e.binary(op, aliased, b, aliased) : e.binary(op, a, aliased, aliased)).toBe(true);
        expectSame(aliased, want, `${name}: ${op} in place ${na} ${nb}`);
      }
    }
  }
  const x = values('float32', n, next) as Float32Array;
  if (special) {
    x[0] = Number.NaN;
    if (n > 2) x[1] = -0;
  }
  for (const [op, f] of Object.entries(SIMD_UREF)) {
    const got = new Float32Array(n);
    expect(e.unary(op, x, got)).toBe(true);
    expectSame(got, Float32Array.from(x, f), `${name}: ${op} ${n}`);
  }
}

/** Checks `e.binaryRows` on a [p, q, r] full operand and [p, r] rows, both operand orders, bit for bit. */
function checkRows(
  e: ElementwiseKernels,
  name: string,
  [p, q, r]: [number, number, number],
  next: () => number,
) {
  const full = values('float32', p * q * r, next) as Float32Array;
  const rows = values('float32', p * r, next) as Float32Array;
  for (const op of ['add', 'sub', 'mul', 'div'] as const) {
    for (const rowsFirst of [false, true]) {
      const got = new Float32Array(p * q * r);
      const want = new Float32Array(p * q * r);
      expect(e.binaryRows(op, full, rows, rowsFirst, p, q, r, got)).toBe(true);
      if (rowsFirst) reference(op, rows, [p, 1, r], full, [p, q, r], want, [p, q, r]);
      else reference(op, full, [p, q, r], rows, [p, 1, r], want, [p, q, r]);
      expectSame(got, want, `${name}: ${op} rows [${p}, ${q}, ${r}]${rowsFirst ? ' (rows first)' : ''}`);
    }
  }
  return full;
}

describe('ElementwiseWasm chunking', () => {
  // Small chunks (and whole operands, Infinity) put chunk boundaries inside vectors, rows and tasks; the shared
  // instance's chunk is exercised by lengths just around it and a few times it.
  const CHUNKS = [4, 5, 7, 64, 1000, Number.POSITIVE_INFINITY];
  const engines = () => [
    ...CHUNKS.map((chunk) => ({ name: `chunk ${chunk}`, e: new ElementwiseWasm({ chunk }) })),
    { name: 'shared', e: elementwiseWasm! },
  ];
  const lengths = (chunk: number) =>
    Number.isFinite(chunk) ? [1, 3, chunk - 1, chunk, chunk + 1, 3 * chunk + 2] : [1, 6, 1001];
  const sharedLengths = [ELEMENTWISE_CHUNK - 1, ELEMENTWISE_CHUNK + 1, 2 * ELEMENTWISE_CHUNK + 5];

  it('gives the reference result bit for bit for every operand mode across chunk boundaries', () => {
    const next = rng(23);
    for (const { name, e } of engines()) {
      const chunk = name === 'shared' ? ELEMENTWISE_CHUNK : Number(name.slice(6));
      for (const n of name === 'shared' ? sharedLengths : lengths(chunk).filter((k) => k > 0))
        checkBinaryUnary(e, name, n, next);
    }
  });

  it('adds rows per task across chunk boundaries: tasks per chunk, rows of a task per chunk, rows over a chunk', () => {
    const next = rng(29);
    // [p, q, r]: tasks smaller than, equal to and larger than small chunks; rows longer than a chunk.
    const shapes = [
      [3, 2, 2],
      [5, 3, 7],
      [2, 9, 1],
      [4, 1, 13],
      [32, 5, 256],
      [25, 10, 40],
      [1, 3, 1030],
    ];
    for (const { name, e } of engines())
      for (const shape of shapes as [number, number, number][]) checkRows(e, name, shape, next);
  });
});

describe('native elementwise kernels (npm run setup:native)', () => {
  // CI builds the addon and sets METATAPE_REQUIRE_NATIVE=1: there a missing addon fails instead of skipping.
  const why = nativeElementwise === undefined ? ` (skipped: ${nativeAddonReason})` : '';
  it(`loads where required${why}`, () => {
    if (process.env.METATAPE_REQUIRE_NATIVE === '1') expect(nativeAddonReason).toBeUndefined();
    else expect(nativeElementwise !== undefined || nativeAddonReason !== undefined).toBe(true);
  });
  const e = nativeElementwise!;
  // Lengths around every vector width (4, 8, 16 floats) and the unrolled loops' steps, and a long one.
  const lengths = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 127, 129, 1000, 70001];

  it.skipIf(nativeElementwise === undefined)(
    `binary and unary give the reference bit for bit, in place too${why}`,
    () => {
      const next = rng(41);
      for (const n of lengths) {
        checkBinaryUnary(e, 'native', n, next, { inPlace: true, special: true });
        expect(e.unary('tanh', new Float32Array(n), new Float32Array(n))).toBe(false);
      }
    },
  );

  it.skipIf(nativeElementwise === undefined)(
    `bias rows and column sums give the reference bit for bit${why}`,
    () => {
      const next = rng(43);
      for (const [p, q, r] of [
        [3, 2, 2],
        [5, 3, 7],
        [2, 9, 1],
        [32, 5, 256],
        [25, 10, 40],
        [1, 3, 1030],
      ] as [number, number, number][]) {
        const full = checkRows(e, 'native', [p, q, r], next);
        const sums = new Float32Array(p * r);
        expect(e.colsum(full, p, q, r, sums)).toBe(true);
        // Rows added in order, rounding to float32 after each addition.
        const want = new Float32Array(p * r);
        for (let pi = 0; pi < p; pi++)
          for (let qi = 0; qi < q; qi++)
            for (let j = 0; j < r; j++) want[pi * r + j]! += full[(pi * q + qi) * r + j]!;
        expectSame(sums, want, `native colsum [${p}, ${q}, ${r}]`);
      }
    },
  );

  it.skipIf(nativeElementwise === undefined)(
    `any broadcast through strides gives the reference bit for bit${why}`,
    () => {
      const next = rng(47);
      let cases = 0;
      for (let trial = 0; cases < 150 && trial < 5000; trial++) {
        const { outShape, aShape, bShape } = broadcastCase(next, 6, 7);
        if (size(outShape) < WASM_MIN_ELEMENTS) continue;
        cases++;
        const a = values('float32', size(aShape), next) as Float32Array;
        const b = values('float32', size(bShape), next) as Float32Array;
        for (const op of BINARY_OPS) {
          if (op === 'pow') continue; // no native loop: libm's powf rounds differently from Math.pow
          const got = new Float32Array(size(outShape));
          const want = new Float32Array(size(outShape));
          binaryKernel(op, a, aShape, b, bShape, got, outShape);
          reference(op, a, aShape, b, bShape, want, outShape);
          expectSame(got, want, `native ${op} [${aShape}] [${bShape}] -> [${outShape}]`);
        }
      }
      expect(cases).toBe(150);
      // Max-pool's mask: x [2, 4, 2, 4, 2, 3] against its window maxima [2, 4, 1, 4, 1, 3], directly.
      const x = values('float32', 2 * 4 * 2 * 4 * 2 * 3, next) as Float32Array;
      const m = values('float32', 2 * 4 * 4 * 3, next) as Float32Array;
      const shape = [2, 4, 2, 4, 2, 3];
      const sa = [192, 48, 24, 6, 3, 1];
      const sb = [48, 12, 0, 3, 0, 1];
      const got = new Float32Array(x.length);
      const want = new Float32Array(x.length);
      expect(e.binaryStrided!('equal', x, m, got, shape, sa, sb)).toBe(true);
      reference('equal', x, shape, m, [2, 4, 1, 4, 1, 3], want, shape);
      expectSame(got, want, 'max-pool mask');
      expect(e.binaryStrided!('pow', x, m, got, shape, sa, sb)).toBe(false);
      // A stride that reaches past b throws instead of reading outside it.
      expect(() => e.binaryStrided!('add', x, m, got, shape, sa, [48, 12, 0, 3, 0, 2])).toThrow(
        /does not fit/,
      );
    },
  );

  it.skipIf(nativeElementwise === undefined)(
    `gather and scatterAdd give the JS loops' result bit for bit, repeated indices too${why}`,
    () => {
      const next = rng(53);
      // [outer, dim, inner] and index counts: im2col's shapes (inner 1 and 64), repeats, small and split.
      for (const [outer, dim, inner, ni] of [
        [1, 5, 1, 3],
        [3, 7, 4, 12],
        [32, 900, 1, 7056],
        [8, 196, 64, 1764],
        [2, 3, 5, 1],
      ] as [number, number, number, number][]) {
        const x = values('float32', outer * dim * inner, next) as Float32Array;
        const indices = Int32Array.from({ length: ni }, () => Math.floor(next() * dim));
        const got = new Float32Array(outer * ni * inner);
        const want = new Float32Array(outer * ni * inner);
        expect(e.gather!(x, indices, got, outer, dim, inner)).toBe(true);
        gatherKernel(x, [outer, dim, inner], indices, 1, want);
        expectSame(got, want, `native gather [${outer}, ${dim}, ${inner}] x ${ni}`);
        // Scatter the gathered rows back: every index's rows summed in order, into an unzeroed output.
        const sums = new Float32Array(outer * dim * inner).fill(Number.NaN);
        const sumsWant = new Float32Array(outer * dim * inner);
        expect(e.scatterAdd!(got, indices, sums, outer, dim, inner)).toBe(true);
        scatterAddKernel(got, indices, 1, sumsWant, [outer, dim, inner]);
        expectSame(sums, sumsWant, `native scatterAdd [${outer}, ${dim}, ${inner}] x ${ni}`);
      }
      const x = new Float32Array(6);
      expect(() => e.gather!(x, Int32Array.of(0, 3), new Float32Array(4), 1, 3, 2)).toThrow(
        /index 3 is out of range/,
      );
      expect(() => e.scatterAdd!(new Float32Array(2), Int32Array.of(-1), x, 1, 3, 2)).toThrow(/index -1/);
      expect(() => e.gather!(x, Int32Array.of(0), new Float32Array(5), 1, 3, 2)).toThrow(
        /outer\*indices\*inner/,
      );
    },
  );

  it.skipIf(nativeElementwise === undefined)(
    `reductions over any axes give reduce.ts's general loop (reduceRuns) bit for bit, NaN and signed zeros too${why}`,
    () => {
      const next = rng(59);
      // Max-pooling's [b, oh, kh, ow, kw, c] over the window axes, then random shapes and axis subsets.
      const cases: [number[], number[]][] = [
        [
          [4, 7, 2, 7, 2, 64],
          [2, 4],
        ],
      ];
      for (let trial = 0; trial < 60; trial++) {
        const rank = 2 + Math.floor(next() * 4);
        const shape = Array.from({ length: rank }, () => 1 + Math.floor(next() * 9));
        const axes = [...Array(rank).keys()].filter(() => next() < 0.5);
        if (axes.length > 0) cases.push([shape, axes]);
      }
      for (const [shape, axes] of cases) {
        const { cs, os } = reduceGeometry(shape, axes);
        // Every axis of size 1 collapses away: reduce.ts copies the one element itself.
        if (cs.length === 0) continue;
        const s = size(shape.filter((_, d) => !axes.includes(d)));
        const x = values('float32', size(shape), next) as Float32Array;
        for (const op of ['sum', 'max', 'min'] as const) {
          const got = new Float32Array(s).fill(Number.NaN);
          const want = new Float32Array(s);
          expect(e.reduceStrided!(op, x, cs, os, got), `[${shape}] axes ${axes}`).toBe(true);
          reduceRuns(op, x, cs, os, want);
          expectSame(got, want, `native ${op} [${shape}] axes ${axes}`);
        }
      }
      expect(() => e.reduceStrided!('sum', new Float32Array(6), [2, 3], [3, 1], new Float32Array(5))).toThrow(
        /does not fit/,
      );
    },
  );

  it.skipIf(nativeElementwise === undefined)(`pad gives padKernel's result bit for bit${why}`, () => {
    const next = rng(61);
    // Convolution's [tasks*images, h, w, c] with "same" padding, max-pooling's -Infinity, random others.
    const cases: [number[], [number, number][], number][] = [
      [
        [160, 28, 28, 1],
        [
          [0, 0],
          [1, 1],
          [1, 1],
          [0, 0],
        ],
        0,
      ],
      [
        [20, 14, 14, 64],
        [
          [0, 0],
          [0, 1],
          [0, 1],
          [0, 0],
        ],
        Number.NEGATIVE_INFINITY,
      ],
    ];
    for (let trial = 0; trial < 40; trial++) {
      const rank = 1 + Math.floor(next() * 4);
      const shape = Array.from({ length: rank }, () => 1 + Math.floor(next() * 7));
      const pads = shape.map((): [number, number] => [Math.floor(next() * 3), Math.floor(next() * 3)]);
      cases.push([shape, pads, next() < 0.5 ? 0 : -2.5]);
    }
    for (const [shape, pads, value] of cases) {
      const outShape = shape.map((d, i) => d + pads[i]![0] + pads[i]![1]);
      const x = values('float32', size(shape), next) as Float32Array;
      const got = new Float32Array(size(outShape)).fill(Number.NaN);
      const outStrides = stridesOf(outShape);
      const base = pads.reduce((b, [before], d) => b + before * outStrides[d]!, 0);
      expect(e.pad!(x, shape, got, outStrides, base, value)).toBe(true);
      const want = new Float32Array(size(outShape)).fill(value);
      padKernel(x, shape, pads, want, outShape);
      expectSame(got, want, `native pad [${shape}] by ${JSON.stringify(pads)}`);
    }
    expect(() => e.pad!(new Float32Array(6), [2, 3], new Float32Array(8), [4, 1], 3, 0)).toThrow(
      /does not fit/,
    );
  });

  it.skipIf(nativeElementwise === undefined)(`throws on operands of the wrong type or length${why}`, () => {
    expect(() => e.binary('add', new Float32Array(4), new Float32Array(3), new Float32Array(4))).toThrow(
      /length/,
    );
    // A float64 operand is not taken (the caller's loops convert it); a float64 output is a caller's bug.
    const f64 = new Float64Array(4) as unknown as Float32Array;
    expect(e.binary('add', f64, new Float32Array(4), new Float32Array(4))).toBe(false);
    expect(() => e.binary('add', new Float32Array(4), new Float32Array(4), f64)).toThrow(/Float32Array/);
    expect(() => e.colsum(new Float32Array(6), 1, 2, 4, new Float32Array(4))).toThrow(/p\*q\*r/);
  });
});

describe('unaryKernel', () => {
  it('gives the scalar formula bit for bit on both sides of the SIMD threshold, float32 and float64', () => {
    const next = rng(5);
    for (const n of [0, 1, 3, 40, WASM_MIN_ELEMENTS - 1, WASM_MIN_ELEMENTS, WASM_MIN_ELEMENTS + 5, 10000]) {
      for (const dtype of ['float32', 'float64'] as const) {
        const x = values(dtype, n, next);
        for (const op of UNARY_OPS) {
          const got = new (arrayTypeOf(dtype))(n);
          unaryKernel(op, x, got);
          const f = SIMD_UREF[op];
          if (!f) continue;
          const want = new (arrayTypeOf(dtype))(n);
          for (let i = 0; i < n; i++) want[i] = f(x[i]!);
          expectSame(got, want, `${op} ${dtype} n=${n}`);
        }
      }
    }
  });
});

describe('reduceKernel', () => {
  /** Sums, maxima and minima the obvious way, in the kernel's documented order. */
  function reference(op: 'sum' | 'max' | 'min', x: TypedArray, shape: number[], axes: number[]) {
    const outShape = shape.filter((_, i) => !axes.includes(i));
    const out = new (x.constructor as new (n: number) => TypedArray)(size(outShape));
    out.fill(op === 'sum' ? 0 : op === 'max' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY);
    const rank = shape.length;
    const idx = new Array<number>(rank).fill(0);
    for (let i = 0; i < x.length; i++) {
      let rem = i;
      for (let d = rank - 1; d >= 0; d--) {
        idx[d] = rem % shape[d]!;
        rem = Math.floor(rem / shape[d]!);
      }
      let o = 0;
      for (let d = 0; d < rank; d++) if (!axes.includes(d)) o = o * shape[d]! + idx[d]!;
      const v = x[i]!;
      if (op === 'sum') out[o] = out[o]! + v;
      else if (op === 'max') out[o] = Math.max(v, out[o]!);
      else out[o] = Math.min(v, out[o]!);
    }
    return out;
  }

  it('matches the reference on every axis subset of random shapes (max, min exactly; sums closely)', () => {
    const next = rng(11);
    for (let trial = 0; trial < 150; trial++) {
      const rank = 1 + Math.floor(next() * 4);
      const shape = Array.from({ length: rank }, () => Math.floor(next() * 6));
      for (let mask = 0; mask < 1 << rank; mask++) {
        const axes = [...Array(rank).keys()].filter((d) => mask & (1 << d));
        for (const dtype of ['float32', 'float64'] as const) {
          const x = new (arrayTypeOf(dtype))(size(shape));
          for (let i = 0; i < x.length; i++) x[i] = next() * 2 - 1;
          for (const op of ['sum', 'max', 'min'] as const) {
            const outShape = shape.filter((_, i) => !axes.includes(i));
            const got = new (arrayTypeOf(dtype))(size(outShape));
            reduceKernel(op, x, shape, axes, got);
            const want = reference(op, x, shape, axes);
            if (op === 'sum') {
              for (let i = 0; i < got.length; i++) expect(got[i]).toBeCloseTo(want[i]!, 5);
            } else expectSame(got, want, `${op} [${shape}] axes ${axes}`);
          }
        }
      }
    }
  });

  it('sums float32 columns with SIMD bit for bit like the row-by-row float32 accumulation', () => {
    const next = rng(17);
    const shapes: [number[], number[]][] = [
      [[25, 10, 40], [1]],
      [[250, 40], [0]],
      [[7, 100, 3], [1]],
      [[3, 64, 9], [1]],
      [
        [2, 300, 5],
        [0, 1],
      ],
      [
        [5, 200, 2, 7],
        [1, 2],
      ],
      [[1, 0, 600], [1]],
    ];
    for (const [shape, axes] of shapes) {
      const x = new Float32Array(size(shape));
      for (let i = 0; i < x.length; i++) x[i] = next() < 0.05 ? -0 : (next() * 2 - 1) * 100;
      const outShape = shape.filter((_, i) => !axes.includes(i));
      const got = new Float32Array(size(outShape));
      reduceKernel('sum', x, shape, axes, got);
      // The reference accumulates into float32, rounding after every addition, in index order.
      expectSame(got, reference('sum', x, shape, axes), `sum [${shape}] axes ${axes}`);
    }
  });
});

describe('kernels behind unzeroed storage', () => {
  it('matmulKernel writes every output element (the CPU backend hands it unzeroed storage)', () => {
    const next = rng(23);
    const cases: [number[], number[], boolean, boolean, number[]][] = [
      [[250, 40], [40, 40], false, false, [250, 40]],
      [[25, 10, 40], [25, 40, 1], false, false, [25, 10, 1]],
      [[25, 10, 40], [25, 10, 1], true, false, [25, 40, 1]],
      [[250, 40], [250, 40], true, false, [40, 40]],
      [[3, 4], [5, 4], false, true, [3, 5]],
      [[2, 3, 0], [0, 4], false, false, [2, 3, 4]],
      [[300, 0], [0, 70], false, false, [300, 70]],
      [[1, 1], [1, 1], false, false, [1, 1]],
    ];
    for (const [aShape, bShape, tA, tB, outShape] of cases) {
      for (const dtype of ['float32', 'float64'] as const) {
        const a = values(dtype, size(aShape), next);
        const b = values(dtype, size(bShape), next);
        for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) a[i] = 1;
        for (let i = 0; i < b.length; i++) if (!Number.isFinite(b[i]!)) b[i] = 1;
        const zeroed = new (arrayTypeOf(dtype))(size(outShape));
        const garbage = new (arrayTypeOf(dtype))(size(outShape)).fill(Number.NaN);
        matmulKernel(a, aShape, b, bShape, tA, tB, zeroed, outShape);
        matmulKernel(a, aShape, b, bShape, tA, tB, garbage, outShape);
        expectSame(garbage, zeroed, `matmul ${dtype} [${aShape}] [${bShape}] ${tA} ${tB}`);
      }
    }
  });
});
