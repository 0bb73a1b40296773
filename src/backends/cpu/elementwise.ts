import type { TypedArray } from '../../tensor/dtype.js';
import { broadcastStrides, collapseAxes, type Shape } from '../../tensor/shape.js';
import type { BinaryOp, UnaryOp } from '../backend.js';
import { elementwiseWasm, WASM_MIN_ELEMENTS } from './elementwiseWasm.js';
import { nativeFrom, syncKernels, syncKernelsFor } from './kernelQueue.js';
import { type ElementwiseKernels, nativeElementwise } from './native/elementwise.js';

/**
 * The float32 SIMD loops the CPU backend runs from {@link WASM_MIN_ELEMENTS} elements on: the native addon's
 * where `npm run setup:native` built it (no copies, the CPU's full vector width), else the WebAssembly ones;
 * undefined only on an engine without WebAssembly SIMD, where the JS loops serve.
 */
export const simdElementwise: ElementwiseKernels | undefined = nativeElementwise ?? elementwiseWasm;

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
/** `O[i] = A[i] op B[i]` for i < n: both operands the output's shape. */
type FlatLoop = (a: TypedArray, b: TypedArray, out: TypedArray, n: number) => void;
/** `O[i] = A[i] op s` (or `s op B[i]`): one operand a single value. */
type ScalarLoop = (x: TypedArray, s: number, out: TypedArray, n: number) => void;
/**
 * `rows` rows of `inner` contiguous output elements: row r reads A at `ao + r*ars + i*ais` and B at
 * `bo + r*brs + i*bis`, writing O from `oo + r*inner`.
 */
type RowsLoop = (
  a: TypedArray,
  b: TypedArray,
  out: TypedArray,
  rows: number,
  inner: number,
  ao: number,
  ars: number,
  ais: number,
  bo: number,
  brs: number,
  bis: number,
  oo: number,
) => void;

interface BinaryLoops {
  flat: FlatLoop;
  scalarB: ScalarLoop;
  scalarA: ScalarLoop;
  rows: RowsLoop;
}

// Each op gets its own generated loops so V8 compiles a monomorphic, inlined body per op; a shared loop
// calling a per-op closure would be megamorphic and several times slower on small tensors. The common
// broadcast patterns (same shape, a scalar operand, a row or column repeated along an axis) each have their
// own loop, so the per-element work never re-derives an index.
const unaryLoops = new Map<UnaryOp, UnaryLoop>();
const binaryLoops = new Map<BinaryOp, BinaryLoops>();

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

function binaryLoops_(op: BinaryOp): BinaryLoops {
  let f = binaryLoops.get(op);
  if (!f) {
    const e = BINARY_EXPR[op];
    const flat = new Function(
      'A',
      'B',
      'O',
      'n',
      `for (let i = 0; i < n; i++) { const a = A[i], b = B[i]; O[i] = ${e}; }`,
    ) as FlatLoop;
    const scalarB = new Function(
      'A',
      'b',
      'O',
      'n',
      `for (let i = 0; i < n; i++) { const a = A[i]; O[i] = ${e}; }`,
    ) as ScalarLoop;
    const scalarA = new Function(
      'B',
      'a',
      'O',
      'n',
      `for (let i = 0; i < n; i++) { const b = B[i]; O[i] = ${e}; }`,
    ) as ScalarLoop;
    const rows = new Function(
      'A',
      'B',
      'O',
      'rows',
      'inner',
      'ao',
      'ars',
      'ais',
      'bo',
      'brs',
      'bis',
      'oo',
      `if (ais === 1 && bis === 1) {
         for (let r = 0; r < rows; r++, ao += ars, bo += brs, oo += inner)
           for (let i = 0; i < inner; i++) { const a = A[ao + i], b = B[bo + i]; O[oo + i] = ${e}; }
       } else if (ais === 1 && bis === 0) {
         for (let r = 0; r < rows; r++, ao += ars, bo += brs, oo += inner) {
           const b = B[bo];
           for (let i = 0; i < inner; i++) { const a = A[ao + i]; O[oo + i] = ${e}; }
         }
       } else if (ais === 0 && bis === 1) {
         for (let r = 0; r < rows; r++, ao += ars, bo += brs, oo += inner) {
           const a = A[ao];
           for (let i = 0; i < inner; i++) { const b = B[bo + i]; O[oo + i] = ${e}; }
         }
       } else {
         for (let r = 0; r < rows; r++, ao += ars, bo += brs, oo += inner)
           for (let i = 0, p = ao, q = bo; i < inner; i++, p += ais, q += bis) {
             const a = A[p], b = B[q]; O[oo + i] = ${e};
           }
       }`,
    ) as RowsLoop;
    f = { flat, scalarB, scalarA, rows };
    binaryLoops.set(op, f);
  }
  return f;
}

/** Applies a unary kernel to every element. */
export function unaryKernel(op: UnaryOp, x: TypedArray, out: TypedArray): void {
  if (
    x.length >= nativeFrom(WASM_MIN_ELEMENTS) &&
    x instanceof Float32Array &&
    simdElementwise?.unary(op, x, out as Float32Array)
  )
    return;
  syncKernelsFor(x, out);
  unaryLoop(op)(x, out, x.length);
}

/**
 * The output shape with size-1 axes dropped and adjacent axes merged wherever both operands step through them
 * as one axis, plus each operand's element stride along every remaining axis (0 where it is broadcast).
 * Operand shapes align to the right of `outShape`, NumPy-style.
 */
function collapseBroadcast(
  aShape: Shape,
  bShape: Shape,
  outShape: Shape,
): { shape: number[]; sa: number[]; sb: number[] } {
  const rank = outShape.length;
  const shape: number[] = [];
  const sa: number[] = [];
  const sb: number[] = [];
  // Walk from the innermost axis outwards, tracking each operand's contiguous stride.
  let ma = 1;
  let mb = 1;
  const offA = rank - aShape.length;
  const offB = rank - bShape.length;
  for (let d = rank - 1; d >= 0; d--) {
    const size = outShape[d]!;
    if (size === 1) continue;
    const da = d - offA >= 0 ? aShape[d - offA]! : 1;
    const db = d - offB >= 0 ? bShape[d - offB]! : 1;
    const stA = da === 1 ? 0 : ma;
    const stB = db === 1 ? 0 : mb;
    const last = shape.length - 1;
    // Merge with the axis inside this one when each operand's stride here continues that axis's run.
    if (last >= 0 && stA === sa[last]! * shape[last]! && stB === sb[last]! * shape[last]!) {
      shape[last]! *= size;
    } else {
      shape.push(size);
      sa.push(stA);
      sb.push(stB);
    }
    ma *= da;
    mb *= db;
  }
  shape.reverse();
  sa.reverse();
  sb.reverse();
  return { shape, sa, sb };
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
  const loops = binaryLoops_(op);
  const n = out.length;
  if (n === 0) return;
  const na = a.length;
  const nb = b.length;
  if (
    n >= nativeFrom(WASM_MIN_ELEMENTS) &&
    out instanceof Float32Array &&
    (na === n || nb === n) &&
    (na === n || na === 1) &&
    (nb === n || nb === 1) &&
    simdElementwise?.binary(op, a as Float32Array, b as Float32Array, out)
  )
    return;
  // The loops below run in JavaScript (kernelQueue.ts); the broadcasts further down may still go native.
  if ((na === n || na === 1) && (nb === n || nb === 1)) syncKernels();
  if (na === n && nb === n) {
    loops.flat(a, b, out, n);
    return;
  }
  if (nb === 1 && na === n) {
    loops.scalarB(a, b[0]!, out, n);
    return;
  }
  if (na === 1 && nb === n) {
    loops.scalarA(b, a[0]!, out, n);
    return;
  }
  if (na === 1 && nb === 1) {
    // Both single values broadcast to a bigger output: compute once, then fill.
    loops.flat(a, b, out, 1);
    out.fill(out[0]!);
    return;
  }
  const { shape, sa, sb } = collapseBroadcast(aShape, bShape, outShape);
  const rank = shape.length;
  if (n >= nativeFrom(WASM_MIN_ELEMENTS) && out instanceof Float32Array && simdElementwise !== undefined) {
    // One operand full, the other a [p, r] block of rows repeated along q ([q, r] with p = 1): the bias add.
    const rows = (s: number[]) =>
      (rank === 2 || (rank === 3 && s[0] === shape[2])) && s[rank - 2] === 0 && s[rank - 1] === 1;
    const p = rank === 3 ? shape[0]! : 1;
    const full = na === n ? 'a' : nb === n ? 'b' : '';
    if (
      full !== '' &&
      rows(full === 'a' ? sb : sa) &&
      simdElementwise.binaryRows(
        op,
        (full === 'a' ? a : b) as Float32Array,
        (full === 'a' ? b : a) as Float32Array,
        full === 'b',
        p,
        shape[rank - 2]!,
        shape[rank - 1]!,
        out,
      )
    )
      return;
  }
  // Any other broadcast: the native strided loop where the addon is built (batch norm's statistics,
  // max-pool's window masks), else the JS loops below.
  if (
    n >= nativeFrom(WASM_MIN_ELEMENTS) &&
    out instanceof Float32Array &&
    a instanceof Float32Array &&
    b instanceof Float32Array &&
    simdElementwise?.binaryStrided?.(op, a, b, out, shape, sa, sb)
  )
    return;
  syncKernels();
  // rank >= 1 here: an output of size > 1 keeps at least one axis.
  const inner = shape[rank - 1]!;
  const ais = sa[rank - 1]!;
  const bis = sb[rank - 1]!;
  if (rank === 1) {
    loops.rows(a, b, out, 1, inner, 0, 0, ais, 0, 0, bis, 0);
    return;
  }
  const rows = shape[rank - 2]!;
  const ars = sa[rank - 2]!;
  const brs = sb[rank - 2]!;
  if (rank === 2) {
    loops.rows(a, b, out, rows, inner, 0, ars, ais, 0, brs, bis, 0);
    return;
  }
  // An odometer over the axes outside the last two; each step runs `rows` x `inner` in one call.
  const block = rows * inner;
  const top = rank - 3;
  const idx = new Array<number>(rank - 2).fill(0);
  let ao = 0;
  let bo = 0;
  for (let o = 0; o < n; o += block) {
    loops.rows(a, b, out, rows, inner, ao, ars, ais, bo, brs, bis, o);
    for (let d = top; d >= 0; d--) {
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
  syncKernels();
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
