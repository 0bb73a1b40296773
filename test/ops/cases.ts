/**
 * The op conformance table: every op of the core, with inputs in its smooth domain, the derivative order to
 * check, and how to build its inputs. Backend-agnostic: `test/ops/gradcheck.test.ts` checks each case against
 * central differences in float64 on the CPU backend, and the gpu.js suite runs the same cases in float32 and
 * compares with the CPU backend.
 */

import type { Tensor } from '../../src/index.js';
import * as mt from '../../src/index.js';

/** How to draw one input. */
export interface InputSpec {
  shape: number[];
  /** Uniform range; default [-2, 2]. */
  lo?: number;
  hi?: number;
  /** Keep |x| at least this far from 0 (kinks of relu/abs/sign, log's pole). */
  awayFromZero?: number;
  /** An int32 input with values in [0, intMax). */
  intMax?: number;
  /** Fixed values (flat) instead of random ones. */
  values?: number[];
}

export interface OpCase {
  name: string;
  fn: (...xs: Tensor[]) => Tensor;
  inputs: InputSpec[];
  /** Highest derivative order checked: 2 for every op, 3 for the smooth ones. */
  order: number;
  /** Which inputs are differentiated (default: all float inputs). */
  diff?: number[];
  /** Looser finite-difference settings where float32 rounding is part of the op (cast). */
  check?: { eps: number; rtol: number };
}

const u = (shape: number[], lo = -2, hi = 2): InputSpec => ({ shape, lo, hi });
const pos = (shape: number[]): InputSpec => ({ shape, lo: 0.3, hi: 2.5 });
const away = (shape: number[]): InputSpec => ({ shape, lo: -2, hi: 2, awayFromZero: 0.2 });

export const OP_CASES: OpCase[] = [
  // unary
  { name: 'neg', fn: (x) => mt.neg(x), inputs: [u([3, 4])], order: 3 },
  { name: 'exp', fn: (x) => mt.exp(x), inputs: [u([3, 4])], order: 3 },
  { name: 'log', fn: (x) => mt.log(x), inputs: [pos([3, 4])], order: 3 },
  { name: 'log1p', fn: (x) => mt.log1p(x), inputs: [pos([3, 4])], order: 3 },
  { name: 'sqrt', fn: (x) => mt.sqrt(x), inputs: [pos([3, 4])], order: 3 },
  { name: 'sin', fn: (x) => mt.sin(x), inputs: [u([3, 4])], order: 3 },
  { name: 'cos', fn: (x) => mt.cos(x), inputs: [u([3, 4])], order: 3 },
  { name: 'tanh', fn: (x) => mt.tanh(x), inputs: [u([3, 4])], order: 3 },
  { name: 'sigmoid', fn: (x) => mt.sigmoid(x), inputs: [u([3, 4])], order: 3 },
  { name: 'softplus', fn: (x) => mt.softplus(x), inputs: [u([3, 4])], order: 3 },
  { name: 'reciprocal', fn: (x) => mt.reciprocal(x), inputs: [pos([3, 4])], order: 3 },
  { name: 'square', fn: (x) => mt.square(x), inputs: [u([3, 4])], order: 3 },
  { name: 'abs', fn: (x) => mt.abs(x), inputs: [away([3, 4])], order: 2 },
  { name: 'relu', fn: (x) => mt.relu(x), inputs: [away([3, 4])], order: 2 },
  { name: 'leakyRelu', fn: (x) => mt.leakyRelu(x, 0.1), inputs: [away([3, 4])], order: 2 },
  { name: 'elu', fn: (x) => mt.elu(x), inputs: [away([3, 4])], order: 2 },
  { name: 'sign', fn: (x) => mt.mul(mt.sign(x), x), inputs: [away([3, 4])], order: 2 },
  // binary, with broadcasting
  { name: 'add', fn: (a, b) => mt.add(a, b), inputs: [u([3, 4]), u([4])], order: 3 },
  { name: 'sub', fn: (a, b) => mt.sub(a, b), inputs: [u([3, 1]), u([1, 4])], order: 3 },
  { name: 'mul', fn: (a, b) => mt.mul(a, b), inputs: [u([2, 3, 4]), u([3, 1])], order: 3 },
  { name: 'div', fn: (a, b) => mt.div(a, b), inputs: [u([3, 4]), pos([4])], order: 3 },
  {
    name: 'pow (tensor exponent)',
    fn: (a, b) => mt.pow(a, b),
    inputs: [pos([3, 4]), u([3, 4], -1.5, 1.5)],
    order: 3,
  },
  { name: 'pow (scalar exponent)', fn: (a) => mt.pow(a, 3), inputs: [u([3, 4])], order: 3 },
  { name: 'maximum', fn: (a, b) => mt.maximum(a, b), inputs: [u([3, 4]), u([3, 4])], order: 2 },
  { name: 'minimum', fn: (a, b) => mt.minimum(a, b), inputs: [u([3, 4]), u([4])], order: 2 },
  {
    name: 'where',
    fn: (a, b) => mt.where(mt.greater(a, 0), mt.mul(a, b), mt.exp(b)),
    inputs: [away([3, 4]), u([3, 4])],
    order: 2,
  },
  {
    name: 'squaredDifference',
    fn: (a, b) => mt.squaredDifference(a, b),
    inputs: [u([3, 4]), u([3, 4])],
    order: 3,
  },
  {
    name: 'clipByValue',
    fn: (a) => mt.clipByValue(a, -1, 1),
    inputs: [{ shape: [3, 4], values: [-1.7, -0.5, 0.3, 1.4, 0.9, -0.2, 2.1, -2.2, 0.45, 0.75, -0.8, 1.9] }],
    order: 2,
  },
  // reductions
  { name: 'sum all', fn: (x) => mt.mul(mt.sum(x), mt.sum(x)), inputs: [u([3, 4])], order: 3 },
  {
    name: 'sum axis keepDims',
    fn: (x) => mt.exp(mt.sum(x, { axis: 1, keepDims: true })),
    inputs: [u([2, 3, 4], -0.5, 0.5)],
    order: 3,
  },
  {
    name: 'sum axes [0,2]',
    fn: (x) => mt.square(mt.sum(x, { axis: [0, 2] })),
    inputs: [u([2, 3, 4])],
    order: 3,
  },
  { name: 'mean', fn: (x) => mt.square(mt.mean(x, { axis: -1 })), inputs: [u([3, 4])], order: 3 },
  { name: 'variance', fn: (x) => mt.variance(x, { axis: 0 }), inputs: [u([5, 3])], order: 3 },
  { name: 'max', fn: (x) => mt.mul(mt.max(x, { axis: 1 }), 2), inputs: [u([3, 5])], order: 2 },
  { name: 'min', fn: (x) => mt.min(x, { axis: 0, keepDims: true }), inputs: [u([4, 3])], order: 2 },
  { name: 'logSumExp', fn: (x) => mt.logSumExp(x, { axis: -1 }), inputs: [u([3, 4])], order: 3 },
  // linear algebra
  { name: 'matmul', fn: (a, b) => mt.matmul(a, b), inputs: [u([3, 4]), u([4, 2])], order: 3 },
  {
    name: 'matmul transposeA',
    fn: (a, b) => mt.matmul(a, b, { transposeA: true }),
    inputs: [u([4, 3]), u([4, 2])],
    order: 3,
  },
  {
    name: 'matmul transposeB',
    fn: (a, b) => mt.matmul(a, b, { transposeB: true }),
    inputs: [u([3, 4]), u([2, 4])],
    order: 3,
  },
  {
    name: 'matmul both transposed',
    fn: (a, b) => mt.matmul(a, b, { transposeA: true, transposeB: true }),
    inputs: [u([4, 3]), u([2, 4])],
    order: 3,
  },
  {
    name: 'matmul batched, broadcast',
    fn: (a, b) => mt.matmul(a, b),
    inputs: [u([2, 3, 4]), u([4, 5])],
    order: 3,
  },
  {
    name: 'matmul batched against a shared transposed matrix',
    fn: (a, b) => mt.matmul(a, b, { transposeB: true }),
    inputs: [u([2, 3, 4]), u([5, 4])],
    order: 3,
  },
  {
    name: 'matmul batched both',
    fn: (a, b) => mt.matmul(mt.tanh(a), b),
    inputs: [u([2, 1, 3, 4]), u([3, 4, 2])],
    order: 3,
  },
  // shapes
  {
    name: 'reshape',
    fn: (x) => mt.mul(mt.reshape(x, [4, 3]), mt.reshape(x, [4, 3])),
    inputs: [u([3, 4])],
    order: 3,
  },
  { name: 'transpose', fn: (x) => mt.mul(mt.transpose(x, [2, 0, 1]), 3), inputs: [u([2, 3, 4])], order: 3 },
  { name: 'broadcastTo', fn: (x) => mt.square(mt.broadcastTo(x, [2, 3, 4])), inputs: [u([3, 1])], order: 3 },
  { name: 'slice', fn: (x) => mt.square(mt.slice(x, [1, 0], [2, 3])), inputs: [u([4, 5])], order: 3 },
  {
    name: 'concat',
    fn: (a, b) => mt.square(mt.concat([a, b, a], 1)),
    inputs: [u([2, 3]), u([2, 2])],
    order: 3,
  },
  { name: 'stack', fn: (a, b) => mt.square(mt.stack([a, b], 1)), inputs: [u([2, 3]), u([2, 3])], order: 3 },
  {
    name: 'pad',
    fn: (x) =>
      mt.square(
        mt.pad(
          x,
          [
            [1, 0],
            [2, 1],
          ],
          0.5,
        ),
      ),
    inputs: [u([2, 3])],
    order: 3,
  },
  {
    name: 'gather (duplicates)',
    fn: (x, i) => mt.square(mt.gather(x, i!, 0)),
    inputs: [u([4, 3]), { shape: [5], values: [0, 2, 2, 3, 0], intMax: 4 }],
    order: 3,
    diff: [0],
  },
  {
    name: 'gather axis 1',
    fn: (x, i) => mt.square(mt.gather(x, i!, 1)),
    inputs: [u([2, 4, 3]), { shape: [2, 2], values: [1, 1, 3, 0], intMax: 4 }],
    order: 3,
    diff: [0],
  },
  {
    name: 'scatterAdd',
    fn: (x, i) => mt.square(mt.scatterAdd(x, i!, 0, [4, 3])),
    inputs: [u([5, 3]), { shape: [5], values: [0, 2, 2, 3, 0], intMax: 4 }],
    order: 3,
    diff: [0],
  },
  {
    // conv2d's im2col: pad, then one gather of 3x3 windows, so the gradient is a scatterAdd in which every
    // padded pixel receives up to 9 contributions (the gpu.js backend's inverse-index kernel).
    name: 'sliding 3x3 windows (pad + gather, conv im2col)',
    fn: (x, i) =>
      mt.square(
        mt.gather(
          mt.reshape(
            mt.pad(
              x,
              [
                [0, 0],
                [1, 1],
                [1, 1],
                [0, 0],
              ],
              0,
            ),
            [1, 36, 2],
          ),
          i!,
          1,
        ),
      ),
    inputs: [u([1, 4, 4, 2]), { shape: [16, 9], values: windowIndices3x3(4, 4), intMax: 36 }],
    order: 3,
    diff: [0],
  },
  {
    name: 'cast through float32 and back',
    fn: (x) => mt.square(mt.cast(mt.cast(x, 'float32'), x.dtype)),
    inputs: [u([3])],
    order: 2,
    check: { eps: 1e-2, rtol: 1e-4 },
  },
  // composites
  { name: 'softmax', fn: (x) => mt.softmax(x), inputs: [u([3, 4])], order: 3 },
  { name: 'logSoftmax', fn: (x) => mt.logSoftmax(x, 0), inputs: [u([3, 4])], order: 3 },
  {
    name: 'softmax cross-entropy',
    fn: (x) =>
      mt.neg(
        mt.sum(mt.mul(mt.oneHot(mt.tensor([1, 0, 3], undefined, 'int32'), 4, x.dtype), mt.logSoftmax(x))),
      ),
    inputs: [u([3, 4])],
    order: 3,
  },
];

/** Draws a case's inputs as host arrays (float64 for floats, int32 for indices), reproducibly. */
export function caseInputs(c: OpCase, seed = 7): { data: Float64Array | Int32Array; shape: number[] }[] {
  const rng = new mt.Rng(seed);
  return c.inputs.map((spec) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    if (spec.intMax !== undefined) {
      const data = new Int32Array(n);
      for (let i = 0; i < n; i++) data[i] = spec.values ? spec.values[i]! : rng.int(spec.intMax);
      return { data, shape: spec.shape };
    }
    const data = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      if (spec.values) {
        data[i] = spec.values[i]!;
        continue;
      }
      let v = rng.uniformIn(spec.lo ?? -2, spec.hi ?? 2);
      const gap = spec.awayFromZero ?? 0;
      if (gap > 0 && Math.abs(v) < gap) v = v < 0 ? v - gap : v + gap;
      data[i] = v;
    }
    return { data, shape: spec.shape };
  });
}

/** Flat positions, in the `[h + 2, w + 2]` zero-padded image, of the 3x3 window taps of each output pixel. */
function windowIndices3x3(h: number, w: number): number[] {
  const out: number[] = [];
  for (let oy = 0; oy < h; oy++)
    for (let ox = 0; ox < w; ox++)
      for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) out.push((oy + ky) * (w + 2) + ox + kx);
  return out;
}
