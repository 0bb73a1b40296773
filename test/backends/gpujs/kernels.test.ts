/**
 * Every primitive of the gpu.js backend against the CPU backend, on random inputs, on every mode under test
 * (see harness.ts). The reference is the CPU backend in float64 on the same (float32) inputs, so the check
 * measures the gpu.js result's own float32 error.
 */
import { describe, expect, it } from 'vitest';
import type { Backend, KernelTensor } from '../../../src/backends/backend.js';
import { BINARY_OPS, UNARY_OPS, type UnaryOp } from '../../../src/backends/backend.js';
import type { TypedArray } from '../../../src/tensor/dtype.js';
import { broadcastShapes, type Shape, sizeOf } from '../../../src/tensor/shape.js';
import { backendFor, cpu, expectClose, modesUnderTest, put, randomValues, rng, type Tol } from './harness.js';

interface Input {
  readonly values: TypedArray;
  readonly shape: Shape;
  readonly int?: boolean;
}

interface Case {
  readonly name: string;
  readonly inputs: readonly Input[];
  readonly run: (b: Backend, xs: KernelTensor[]) => unknown;
  readonly outShape: Shape;
  readonly outInt?: boolean;
  readonly tol?: Tol;
  /** For sums and dot products: the number of terms per output element (enables the γ_n bound). */
  readonly terms?: number;
}

const EXACT: Tol = { rtol: 0, atol: 0 };
/** Correctly rounded or nearly (add, mul, div, sqrt; gather/copy are exact anyway). */
const ARITH: Tol = { rtol: 4 * 2 ** -24, atol: 0 };
/**
 * exp/log/pow/tanh/sigmoid/softplus/log1p: WGSL allows exp 3+2|x| ulp and log 3 ulp outside [0.5, 2]
 * (2^-21 absolute inside); GLSL leaves highp accuracy to the driver. 2e-6 relative plus 2^-21 absolute covers
 * the specs on our |x| <= 4 inputs.
 */
const TRANSC: Tol = { rtol: 2e-6, atol: 2 ** -21 };
/** sin/cos: WGSL's bound is 2^-11 absolute on [-pi, pi]; drivers do far better, the bound is what is promised. */
const TRIG: Tol = { rtol: 0, atol: 2 ** -11 };

const UNARY_TOL: Record<UnaryOp, Tol> = {
  neg: EXACT,
  abs: EXACT,
  sign: EXACT,
  relu: EXACT,
  step: EXACT,
  square: ARITH,
  reciprocal: ARITH,
  sqrt: ARITH,
  exp: TRANSC,
  log: TRANSC,
  log1p: TRANSC,
  tanh: TRANSC,
  sigmoid: TRANSC,
  softplus: TRANSC,
  sin: TRIG,
  cos: TRIG,
};

/** Inputs in each unary op's domain, plus small arguments where a naive formula loses accuracy. */
function unaryInput(op: UnaryOp, r: () => number): Float32Array {
  const n = 24;
  if (op === 'log' || op === 'sqrt' || op === 'reciprocal') return randomValues(r, n, 0.1, 4);
  const v = randomValues(r, n, -4, 4);
  if (op === 'log1p') {
    v.set([1e-7, -1e-6, 3e-4, -0.5, 0.9, 2], 0);
    for (let i = 6; i < n; i++) v[i] = Math.abs(v[i]!) - 0.9;
  }
  if (op === 'tanh' || op === 'sigmoid' || op === 'softplus')
    v.set([1e-6, -1e-6, 0.05, -0.099, 0.1, 0.3, 20, -20], 0);
  if (op === 'relu' || op === 'step' || op === 'sign' || op === 'abs') v.set([0, -0, 1e-30], 0);
  return v;
}

function cases(): Case[] {
  const r = rng(20240601);
  const f = (shape: Shape, lo = -2, hi = 2): Input => ({
    values: randomValues(r, sizeOf(shape), lo, hi),
    shape,
  });
  const out: Case[] = [];

  for (const op of UNARY_OPS) {
    const values = unaryInput(op, r);
    out.push({
      name: `unary ${op}`,
      inputs: [{ values, shape: [4, 6] }],
      run: (b, [x]) => b.unary(op, x!),
      outShape: [4, 6],
      tol: UNARY_TOL[op],
    });
  }

  const pairs: [Shape, Shape][] = [
    [
      [3, 4],
      [3, 4],
    ],
    [
      [2, 3, 4],
      [3, 1],
    ],
    [[1], [5]],
    [
      [4, 1, 3],
      [1, 2, 3],
    ],
    [[], [2, 2]],
    [
      [2, 1, 3, 1],
      [5, 1, 4],
    ],
  ];
  for (const op of BINARY_OPS) {
    for (const [sa, sb] of pairs) {
      const os = broadcastShapes(sa, sb);
      // Comparisons draw from a few integers so that ties occur; pow keeps its base positive except for
      // integer exponents, where negative bases are defined.
      const cmp = !['add', 'sub', 'mul', 'div', 'pow'].includes(op);
      const mk = (s: Shape): Input =>
        cmp ? { values: Float32Array.from(randomValues(r, sizeOf(s), -2, 2), Math.round), shape: s } : f(s);
      let a = mk(sa);
      let b = mk(sb);
      if (op === 'div')
        b = { values: randomValues(r, sizeOf(sb), 0.5, 2).map((x, i) => (i % 2 ? -x : x)), shape: sb };
      if (op === 'pow') {
        a = { values: randomValues(r, sizeOf(sa), -2, 2), shape: sa };
        b = { values: Float32Array.from(randomValues(r, sizeOf(sb), -3, 3), Math.round), shape: sb };
      }
      out.push({
        name: `binary ${op} ${JSON.stringify(sa)}x${JSON.stringify(sb)}`,
        inputs: [a, b],
        run: (be, [x, y]) => be.binary(op, x!, y!, os),
        outShape: os,
        tol: op === 'pow' ? TRANSC : cmp ? EXACT : ARITH,
      });
    }
  }
  out.push({
    name: 'pow: non-integer exponents of positive bases, zero bases',
    inputs: [
      { values: Float32Array.of(0.5, 1.5, 3, 0, 0, 0, 2, -2), shape: [8] },
      { values: Float32Array.of(0.3, -1.7, 2.5, 2, 0, -1, 0, 0), shape: [8] },
    ],
    run: (b, [x, y]) => b.binary('pow', x!, y!, [8]),
    outShape: [8],
    tol: TRANSC,
  });
  out.push({
    name: 'int32 div truncates',
    inputs: [
      { values: Int32Array.of(7, -7, 9, 1, -3, 100), shape: [6], int: true },
      { values: Int32Array.of(2, 2, -4, 3, 2, 7), shape: [6], int: true },
    ],
    run: (b, [x, y]) => b.binary('div', x!, y!, [6]),
    outShape: [6],
    outInt: true,
    tol: EXACT,
  });

  const c = { values: Float32Array.from(randomValues(r, 4, -1, 1), (x) => (x > 0 ? 1 : 0)), shape: [4, 1] };
  out.push({
    name: 'where broadcast',
    inputs: [c, f([3]), f([2, 4, 3])],
    run: (b, [k, x, y]) => b.where(k!, x!, y!, [2, 4, 3]),
    outShape: [2, 4, 3],
    tol: EXACT,
  });

  const rs: Shape = [2, 3, 4, 5];
  for (const axes of [[0], [1], [3], [0, 2], [1, 3], [2, 3], [0, 1, 2, 3], [0, 1]]) {
    const x = f(rs);
    const os = rs.filter((_, i) => !axes.includes(i));
    const terms = axes.reduce((p, a) => p * rs[a]!, 1);
    for (const op of ['sum', 'max', 'min'] as const) {
      out.push({
        name: `reduce ${op} axes ${axes}`,
        inputs: [x],
        run: (b, [t]) => b.reduce(op, t!, axes),
        outShape: os,
        tol: EXACT,
        terms: op === 'sum' ? terms : undefined,
      });
    }
  }
  out.push({
    name: 'reduce max over a long strided axis (two passes)',
    inputs: [f([3000, 2])],
    run: (b, [t]) => b.reduce('max', t!, [0]),
    outShape: [2],
    tol: EXACT,
  });
  out.push({
    name: 'reduce min over two long axes',
    inputs: [f([40, 70, 3])],
    run: (b, [t]) => b.reduce('min', t!, [0, 1]),
    outShape: [3],
    tol: EXACT,
  });
  out.push({
    name: 'reduce sum of 5000 (long loop)',
    inputs: [f([5000])],
    run: (b, [t]) => b.reduce('sum', t!, [0]),
    outShape: [],
    tol: EXACT,
    terms: 5000,
  });

  const mm = (sa: Shape, sb: Shape, ta: boolean, tb: boolean, os: Shape, k: number): void => {
    out.push({
      name: `matmul ${JSON.stringify(sa)}${ta ? 'T' : ''} x ${JSON.stringify(sb)}${tb ? 'T' : ''}`,
      inputs: [f(sa), f(sb)],
      run: (b, [x, y]) => b.matmul(x!, y!, ta, tb, os),
      outShape: os,
      tol: EXACT,
      terms: k,
    });
  };
  mm([4, 3], [3, 5], false, false, [4, 5], 3);
  mm([3, 4], [3, 5], true, false, [4, 5], 3);
  mm([4, 3], [5, 3], false, true, [4, 5], 3);
  mm([3, 4], [5, 3], true, true, [4, 5], 3);
  mm([2, 4, 3], [3, 5], false, false, [2, 4, 5], 3);
  mm([2, 1, 4, 3], [3, 3, 5], false, false, [2, 3, 4, 5], 3);
  mm([3, 2, 3, 4], [1, 5, 3], true, true, [3, 2, 4, 5], 3);
  mm([1, 7], [7, 1], false, false, [1, 1], 7);
  mm([33, 17], [17, 29], false, false, [33, 29], 17);
  mm([64, 128], [64, 96], true, false, [128, 96], 64);

  const t3 = f([2, 3, 4]);
  for (const perm of [
    [0, 1, 2],
    [2, 1, 0],
    [1, 0, 2],
    [0, 2, 1],
    [2, 0, 1],
  ]) {
    out.push({
      name: `transpose ${perm}`,
      inputs: [t3],
      run: (b, [x]) => b.transpose(x!, perm),
      outShape: perm.map((p) => t3.shape[p]!),
      tol: EXACT,
    });
  }
  out.push({
    name: 'broadcastTo [3,1]->[2,3,4]',
    inputs: [f([3, 1])],
    run: (b, [x]) => b.broadcastTo(x!, [2, 3, 4]),
    outShape: [2, 3, 4],
    tol: EXACT,
  });
  out.push({
    name: 'broadcastTo scalar',
    inputs: [f([])],
    run: (b, [x]) => b.broadcastTo(x!, [5]),
    outShape: [5],
    tol: EXACT,
  });
  out.push({
    name: 'slice',
    inputs: [f([4, 5, 6])],
    run: (b, [x]) => b.slice(x!, [1, 0, 2], [2, 5, 3]),
    outShape: [2, 5, 3],
    tol: EXACT,
  });
  for (const axis of [0, 1, 2]) {
    const shapes: Shape[] = [0, 1, 2].map((k) => [2, 3, 4].map((d, i) => (i === axis ? d + k : d)));
    const os = [2, 3, 4].map((d, i) => (i === axis ? shapes.reduce((s, x) => s + x[axis]!, 0) : d));
    out.push({
      name: `concat 3 on axis ${axis}`,
      inputs: shapes.map((s) => f(s)),
      run: (b, xs) => b.concat(xs, axis),
      outShape: os,
      tol: EXACT,
    });
  }
  {
    const shapes: Shape[] = Array.from({ length: 19 }, (_, k) => [2, (k % 3) + 1]);
    const os = [2, shapes.reduce((s, x) => s + x[1]!, 0)];
    out.push({
      name: 'concat 19 inputs (grouped)',
      inputs: shapes.map((s) => f(s)),
      run: (b, xs) => b.concat(xs, 1),
      outShape: os,
      tol: EXACT,
    });
  }
  out.push({
    name: 'concat with an empty input',
    inputs: [f([2, 0]), f([2, 3])],
    run: (b, xs) => b.concat(xs, 1),
    outShape: [2, 3],
    tol: EXACT,
  });
  out.push({
    name: 'pad',
    inputs: [f([2, 3])],
    run: (b, [x]) =>
      b.pad(
        x!,
        [
          [1, 2],
          [0, 3],
        ],
        -1.5,
      ),
    outShape: [5, 6],
    tol: EXACT,
  });
  out.push({
    name: 'pad scalar',
    inputs: [f([])],
    run: (b, [x]) => b.pad(x!, [], 3),
    outShape: [],
    tol: EXACT,
  });

  const idx = (values: number[], shape: Shape): Input => ({
    values: Int32Array.from(values),
    shape,
    int: true,
  });
  out.push({
    name: 'gather axis 0 with duplicates',
    inputs: [f([4, 3]), idx([0, 2, 2, 3, 0], [5])],
    run: (b, [x, i]) => b.gather(x!, i!, 0),
    outShape: [5, 3],
    tol: EXACT,
  });
  out.push({
    name: 'gather axis 1, 2-d indices',
    inputs: [f([2, 4, 3]), idx([1, 1, 3, 0], [2, 2])],
    run: (b, [x, i]) => b.gather(x!, i!, 1),
    outShape: [2, 2, 2, 3],
    tol: EXACT,
  });
  out.push({
    name: 'gather last axis',
    inputs: [f([3, 5]), idx([4, 0, 4], [3])],
    run: (b, [x, i]) => b.gather(x!, i!, 1),
    outShape: [3, 3],
    tol: EXACT,
  });
  out.push({
    name: 'scatterAdd with duplicates',
    inputs: [f([5, 3]), idx([0, 2, 2, 3, 0], [5])],
    run: (b, [u, i]) => b.scatterAdd(u!, i!, 0, [4, 3]),
    outShape: [4, 3],
    tol: EXACT,
    terms: 5,
  });
  out.push({
    name: 'scatterAdd axis 1, 2-d indices',
    inputs: [f([2, 2, 2, 3]), idx([1, 1, 3, 1], [2, 2])],
    run: (b, [u, i]) => b.scatterAdd(u!, i!, 1, [2, 4, 3]),
    outShape: [2, 4, 3],
    tol: EXACT,
    terms: 4,
  });
  out.push({
    name: 'cast float -> int32 truncates toward zero',
    inputs: [{ values: Float32Array.of(1.7, -1.7, 0.2, -0.2, 5, -5, 123456.9), shape: [7] }],
    run: (b, [x]) => b.cast(x!, 'int32'),
    outShape: [7],
    outInt: true,
    tol: EXACT,
  });
  out.push({
    name: 'cast int32 -> float32',
    inputs: [idx([3, -4, 16777215], [3])],
    run: (b, [x]) => b.cast(x!, 'float32'),
    outShape: [3],
    tol: EXACT,
  });
  out.push({
    name: 'fill',
    inputs: [],
    run: (b) => b.fill([3, 2], -2.25, 'float32'),
    outShape: [3, 2],
    tol: EXACT,
  });
  out.push({
    name: 'fill int32',
    inputs: [],
    run: (b) => b.fill([4], 7, 'int32'),
    outShape: [4],
    outInt: true,
    tol: EXACT,
  });
  out.push({
    name: 'reduce over an empty axis',
    inputs: [f([3, 0])],
    run: (b, [x]) => b.reduce('sum', x!, [1]),
    outShape: [3],
    tol: EXACT,
  });
  out.push({
    name: 'zero-size output',
    inputs: [f([0, 4])],
    run: (b, [x]) => b.unary('exp', x!),
    outShape: [0, 4],
    tol: EXACT,
  });
  return out;
}

function uploadAll(
  b: Backend,
  inputs: readonly Input[],
  float: 'float32' | 'float64',
  abs = false,
): KernelTensor[] {
  return inputs.map((x) => {
    const v = abs && !x.int ? x.values.map(Math.abs) : x.values;
    return put(b, v, x.shape, x.int ? 'int32' : float);
  });
}

for (const mode of modesUnderTest()) {
  describe(`gpujs:${mode} primitives match the CPU backend`, () => {
    for (const c of cases()) {
      it(c.name, async () => {
        const b = await backendFor(mode);
        const outDtype = c.outInt ? 'int32' : 'float32';
        const got = await b.read({
          handle: c.run(b, uploadAll(b, c.inputs, 'float32')),
          shape: c.outShape,
          dtype: outDtype,
        });
        const ref = cpu.readSync({
          handle: c.run(cpu, uploadAll(cpu, c.inputs, 'float64')),
          shape: c.outShape,
          dtype: c.outInt ? 'int32' : 'float64',
        });
        expect(got.length).toBe(sizeOf(c.outShape));
        expect(got).toBeInstanceOf(c.outInt ? Int32Array : Float32Array);
        const scale = c.terms
          ? (cpu.readSync({
              handle: c.run(cpu, uploadAll(cpu, c.inputs, 'float64', true)),
              shape: c.outShape,
              dtype: 'float64',
            }) as Float64Array)
          : undefined;
        expectClose(got, ref, c.tol ?? EXACT, `${mode} ${c.name}`, scale, c.terms);
      });
    }
  });
}
