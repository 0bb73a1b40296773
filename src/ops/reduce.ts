import type { ReduceOp } from '../backends/backend.js';
import { normalizeAxes, type Shape, sizeOf } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { add, div, equal, exp, log, mul, square, sub } from './elementwise.js';
import { axesToSum, runOp } from './engine.js';
import { broadcastTo, reshape, stopGradient } from './shape.js';

/** Options of the reductions: which axes (default all; negative counts from the end) and whether to keep them. */
export interface ReduceOptions {
  axis?: number | readonly number[];
  keepDims?: boolean;
}

function keptShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function reduce(op: ReduceOp, x: Tensor, options: ReduceOptions): Tensor {
  if (x.dtype === 'int32' && op === 'sum') throw new Error('sum: int32 tensors cannot be summed; cast first');
  const axes = normalizeAxes(options.axis, x.rank, op);
  const kept = keptShape(x.shape, axes);
  if (axes.length === 0) return x;
  const outShape = x.shape.filter((_, i) => !axes.includes(i));
  const y = runOp(
    op,
    [x],
    outShape,
    x.dtype,
    (b) => b.reduce(op, x, axes),
    (dy, yOut, [xs]) => {
      const dyKept = reshape(dy, kept);
      if (op === 'sum') return [broadcastTo(dyKept, xs!.shape)];
      // max/min: the gradient is shared equally among the elements that attain the extremum (TensorFlow's rule).
      return [mul(tieShare(xs!, yOut, axes, kept), dyKept)];
    },
    // Forward: the sum of the tangents; for max/min the mean tangent of the tied extrema (the same rule).
    ([t], yOut, [xs]) =>
      reduce('sum', op === 'sum' ? t! : mul(tieShare(xs!, yOut, axes, kept), t!), { axis: axes }),
  );
  return options.keepDims ? reshape(y, kept) : y;
}

/** 1/count at the elements of `x` that attain the max/min `y` along `axes` (ties share equally), else 0. */
function tieShare(x: Tensor, y: Tensor, axes: readonly number[], kept: readonly number[]): Tensor {
  const mask = equal(x, reshape(stopGradient(y), kept));
  return div(mask, reduce('sum', mask, { axis: axes, keepDims: true }));
}

/** Sum over axes. */
export function sum(x: Tensor, options: ReduceOptions = {}): Tensor {
  return reduce('sum', x, options);
}
/** Maximum over axes; ties share the gradient equally. */
export function max(x: Tensor, options: ReduceOptions = {}): Tensor {
  return reduce('max', x, options);
}
/** Minimum over axes; ties share the gradient equally. */
export function min(x: Tensor, options: ReduceOptions = {}): Tensor {
  return reduce('min', x, options);
}
/** Mean over axes. */
export function mean(x: Tensor, options: ReduceOptions = {}): Tensor {
  const axes = normalizeAxes(options.axis, x.rank, 'mean');
  const n = sizeOf(axes.map((a) => x.shape[a]!));
  return div(sum(x, options), n);
}
/** Population variance over axes. */
export function variance(x: Tensor, options: ReduceOptions = {}): Tensor {
  const m = mean(x, { axis: options.axis, keepDims: true });
  return mean(square(sub(x, m)), options);
}
/** log(sum(exp(x))) over axes, computed stably (the shift by the max carries no gradient). */
export function logSumExp(x: Tensor, options: ReduceOptions = {}): Tensor {
  const m = stopGradient(max(x, { axis: options.axis, keepDims: true }));
  const out = add(log(sum(exp(sub(x, m)), { axis: options.axis, keepDims: true })), m);
  if (options.keepDims) return out;
  const axes = normalizeAxes(options.axis, x.rank, 'logSumExp');
  return reshape(
    out,
    x.shape.filter((_, i) => !axes.includes(i)),
  );
}

/** Sums `x` over broadcast axes so that it has `shape` (undoes a broadcast; used for every gradient). */
export function sumTo(x: Tensor, shape: Shape): Tensor {
  const axes = axesToSum(shape, x.shape, 'sumTo');
  const summed = axes.length > 0 ? sum(x, { axis: axes }) : x;
  return reshape(summed, shape);
}
