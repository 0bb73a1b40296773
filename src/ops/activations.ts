import type { Tensor } from '../tensor/tensor.js';
import { div, exp, sub } from './elementwise.js';
import { logSumExp, max, sum } from './reduce.js';
import { stopGradient } from './shape.js';

/** Softmax along `axis` (default last), shifted by the max for stability. A composite: no rule of its own. */
export function softmax(x: Tensor, axis = -1): Tensor {
  const e = exp(sub(x, stopGradient(max(x, { axis, keepDims: true }))));
  return div(e, sum(e, { axis, keepDims: true }));
}

/** log(softmax(x)) along `axis`, computed as x - logSumExp(x). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return sub(x, logSumExp(x, { axis, keepDims: true }));
}
