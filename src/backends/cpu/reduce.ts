import type { TypedArray } from '../../tensor/dtype.js';
import { collapseAxes, type Shape, stridesOf } from '../../tensor/shape.js';
import type { ReduceOp } from '../backend.js';
import { simdElementwise } from './elementwise.js';
import { WASM_MIN_ELEMENTS } from './elementwiseWasm.js';
import { nativeFrom, syncKernels, syncKernelsFor } from './kernelQueue.js';

/**
 * Reduces the sorted `axes` of `x` into `out` (shape: x's shape without those axes). Axes are collapsed first,
 * so the common cases (all axes, the last axis, the first axis) run as flat loops.
 */
export function reduceKernel(
  op: ReduceOp,
  x: TypedArray,
  shape: Shape,
  axes: readonly number[],
  out: TypedArray,
): void {
  if (x.length === 0) {
    syncKernels();
    out.fill(op === 'sum' ? 0 : op === 'max' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY);
    return;
  }
  const { cs, os } = reduceGeometry(shape, axes);
  const rank = cs.length;
  if (rank === 0) {
    syncKernels();
    out[0] = x[0]!;
    return;
  }
  const inner = cs[rank - 1]!;
  const innerStride = os[rank - 1]!;
  // Float32 sums over the axes outside a kept run ([q, r] -> [r], or [p, q, r] -> [p, r]): SIMD column sums in
  // the same order and float32 rounding as reduceRuns.
  if (
    op === 'sum' &&
    innerStride === 1 &&
    x.length >= nativeFrom(WASM_MIN_ELEMENTS) &&
    x instanceof Float32Array &&
    simdElementwise !== undefined &&
    ((rank === 2 && os[0] === 0) || (rank === 3 && os[1] === 0 && os[0] === inner)) &&
    simdElementwise.colsum(x, rank === 3 ? cs[0]! : 1, cs[rank - 2]!, inner, out as Float32Array)
  )
    return;
  // Any other float32 reduction (a whole tensor, the last axis, max-pooling's two window axes, sums over
  // middle axes): reduceRuns's native loop, the same order and rounding.
  if (
    x.length >= nativeFrom(WASM_MIN_ELEMENTS) &&
    x instanceof Float32Array &&
    out instanceof Float32Array &&
    simdElementwise?.reduceStrided?.(op, x, cs, os, out)
  )
    return;
  // reduceRuns reads and writes storage in JavaScript (kernelQueue.ts).
  syncKernelsFor(x, out);
  reduceRuns(op, x, cs, os, out);
}

/**
 * A reduction's collapsed geometry: `cs`, the shape with adjacent axes merged where both the input and the
 * output walk them contiguously, and `os`, the output stride of each collapsed axis (0 on reduced ones).
 */
export function reduceGeometry(shape: Shape, axes: readonly number[]): { cs: number[]; os: number[] } {
  // Output stride of each input axis (0 on reduced axes).
  const outStrides = new Array<number>(shape.length).fill(0);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (!axes.includes(d)) {
      outStrides[d] = s;
      s *= shape[d]!;
    }
  }
  const { shape: cs, strides } = collapseAxes(shape, [stridesOf(shape), outStrides]);
  return { cs, os: strides[1]! };
}

/**
 * The general reduction loop, in JavaScript: `x` (collapsed shape `cs`, at least one axis) into `out`
 * (output strides `os`), from the reduction's identity; a contiguous run into one element accumulates in a
 * JS number, a kept run per element. The native `reduceStrided` loop is this one, bit for bit.
 */
export function reduceRuns(
  op: ReduceOp,
  x: TypedArray,
  cs: readonly number[],
  os: readonly number[],
  out: TypedArray,
): void {
  out.fill(op === 'sum' ? 0 : op === 'max' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY);
  const rank = cs.length;
  const inner = cs[rank - 1]!;
  const innerStride = os[rank - 1]!;
  const idx = new Array<number>(rank).fill(0);
  let o = 0;
  const n = x.length;
  for (let i = 0; i < n; i += inner) {
    if (innerStride === 0) {
      // Reduce a contiguous run into one output element.
      let acc = out[o]!;
      if (op === 'sum') for (let j = 0; j < inner; j++) acc += x[i + j]!;
      else if (op === 'max') for (let j = 0; j < inner; j++) acc = Math.max(x[i + j]!, acc);
      else for (let j = 0; j < inner; j++) acc = Math.min(x[i + j]!, acc);
      out[o] = acc;
    } else if (op === 'sum') for (let j = 0; j < inner; j++) out[o + j]! += x[i + j]!;
    else if (op === 'max') for (let j = 0; j < inner; j++) out[o + j] = Math.max(x[i + j]!, out[o + j]!);
    else for (let j = 0; j < inner; j++) out[o + j] = Math.min(x[i + j]!, out[o + j]!);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      o += os[d]!;
      if (idx[d]! < cs[d]!) break;
      o -= os[d]! * cs[d]!;
      idx[d] = 0;
    }
  }
}
