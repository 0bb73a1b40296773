import type { TypedArray } from '../../tensor/dtype.js';
import { broadcastStrides, collapseAxes, type Shape } from '../../tensor/shape.js';
import type { BinaryOp, UnaryOp } from '../backend.js';

/** Scalar formulas of the unary kernels, as JS expressions of `x`. */
const UNARY_EXPR: Record<UnaryOp, string> = {
  neg: '-x',
  exp: 'Math.exp(x)',
  log: 'Math.log(x)',
  log1p: 'Math.log1p(x)',
  sqrt: 'Math.sqrt(x)',
  sin: 'Math.sin(x)',
  cos: 'Math.cos(x)',
  tanh: 'Math.tanh(x)',
  sigmoid: '(x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)))',
  abs: 'Math.abs(x)',
  sign: '(x > 0 ? 1 : x < 0 ? -1 : 0)',
  relu: '(x > 0 ? x : 0)',
  step: '(x > 0 ? 1 : 0)',
  reciprocal: '1 / x',
  square: 'x * x',
  softplus: '(x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)))',
};

/** Scalar formulas of the binary kernels, as JS expressions of `a` and `b`. */
const BINARY_EXPR: Record<BinaryOp, string> = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  pow: 'Math.pow(a, b)',
  maximum: '(a >= b ? a : b)',
  minimum: '(a <= b ? a : b)',
  greater: '(a > b ? 1 : 0)',
  greaterEqual: '(a >= b ? 1 : 0)',
  less: '(a < b ? 1 : 0)',
  lessEqual: '(a <= b ? 1 : 0)',
  equal: '(a === b ? 1 : 0)',
  notEqual: '(a !== b ? 1 : 0)',
};

type UnaryLoop = (x: TypedArray, out: TypedArray, n: number) => void;
type BinaryLoop = (
  a: TypedArray,
  b: TypedArray,
  out: TypedArray,
  n: number,
  ao: number,
  as: number,
  bo: number,
  bs: number,
  oo: number,
) => void;

// Each op gets its own generated loop so V8 compiles a monomorphic, inlined body per op; a shared loop
// calling a per-op closure would be megamorphic and several times slower on small tensors.
const unaryLoops = new Map<UnaryOp, UnaryLoop>();
const binaryLoops = new Map<BinaryOp, BinaryLoop>();

function unaryLoop(op: UnaryOp): UnaryLoop {
  let f = unaryLoops.get(op);
  if (!f) {
    f = new Function(
      'X',
      'O',
      'n',
      `for (let i = 0; i < n; i++) { const x = X[i]; O[i] = ${UNARY_EXPR[op]}; }`,
    ) as UnaryLoop;
    unaryLoops.set(op, f);
  }
  return f;
}

function binaryLoop(op: BinaryOp): BinaryLoop {
  let f = binaryLoops.get(op);
  if (!f) {
    const e = BINARY_EXPR[op];
    f = new Function(
      'A',
      'B',
      'O',
      'n',
      'ao',
      'as',
      'bo',
      'bs',
      'oo',
      `if (as === 1 && bs === 1) { for (let i = 0; i < n; i++) { const a = A[ao + i], b = B[bo + i]; O[oo + i] = ${e}; } }
       else if (bs === 0) { const b = B[bo]; for (let i = 0; i < n; i++) { const a = A[ao + i * as]; O[oo + i] = ${e}; } }
       else if (as === 0) { const a = A[ao]; for (let i = 0; i < n; i++) { const b = B[bo + i * bs]; O[oo + i] = ${e}; } }
       else { for (let i = 0; i < n; i++) { const a = A[ao + i * as], b = B[bo + i * bs]; O[oo + i] = ${e}; } }`,
    ) as BinaryLoop;
    binaryLoops.set(op, f);
  }
  return f;
}

/** Applies a unary kernel to every element. */
export function unaryKernel(op: UnaryOp, x: TypedArray, out: TypedArray): void {
  unaryLoop(op)(x, out, x.length);
}

/** Applies a binary kernel with NumPy broadcasting of `a` and `b` to `outShape`. */
export function binaryKernel(
  op: BinaryOp,
  a: TypedArray,
  aShape: Shape,
  b: TypedArray,
  bShape: Shape,
  out: TypedArray,
  outShape: Shape,
): void {
  const loop = binaryLoop(op);
  const n = out.length;
  if (n === 0) return;
  if (a.length === n && b.length === n) {
    loop(a, b, out, n, 0, 1, 0, 1, 0);
    return;
  }
  if (b.length === 1 && a.length === n) {
    loop(a, b, out, n, 0, 1, 0, 0, 0);
    return;
  }
  if (a.length === 1 && b.length === n) {
    loop(a, b, out, n, 0, 0, 0, 1, 0);
    return;
  }
  const { shape, strides } = collapseAxes(outShape, [
    broadcastStrides(aShape, outShape),
    broadcastStrides(bShape, outShape),
  ]);
  const sa = strides[0]!;
  const sb = strides[1]!;
  const rank = shape.length;
  if (rank === 0) {
    loop(a, b, out, 1, 0, 0, 0, 0, 0);
    return;
  }
  const inner = shape[rank - 1]!;
  const ias = sa[rank - 1]!;
  const ibs = sb[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let ao = 0;
  let bo = 0;
  for (let o = 0; o < n; o += inner) {
    loop(a, b, out, inner, ao, ias, bo, ibs, o);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      ao += sa[d]!;
      bo += sb[d]!;
      if (idx[d]! < shape[d]!) break;
      ao -= sa[d]! * shape[d]!;
      bo -= sb[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}

/** `cond != 0 ? a : b`, broadcast to `outShape`. */
export function whereKernel(
  cond: TypedArray,
  cShape: Shape,
  a: TypedArray,
  aShape: Shape,
  b: TypedArray,
  bShape: Shape,
  out: TypedArray,
  outShape: Shape,
): void {
  const n = out.length;
  if (cond.length === n && a.length === n && b.length === n) {
    for (let i = 0; i < n; i++) out[i] = cond[i] !== 0 ? a[i]! : b[i]!;
    return;
  }
  const { shape, strides } = collapseAxes(outShape, [
    broadcastStrides(cShape, outShape),
    broadcastStrides(aShape, outShape),
    broadcastStrides(bShape, outShape),
  ]);
  const [sc, sa, sb] = strides as [number[], number[], number[]];
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let co = 0;
  let ao = 0;
  let bo = 0;
  for (let o = 0; o < n; o++) {
    out[o] = cond[co] !== 0 ? a[ao]! : b[bo]!;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      co += sc[d]!;
      ao += sa[d]!;
      bo += sb[d]!;
      if (idx[d]! < shape[d]!) break;
      co -= sc[d]! * shape[d]!;
      ao -= sa[d]! * shape[d]!;
      bo -= sb[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}
