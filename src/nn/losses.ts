import { logSoftmax } from '../ops/activations.js';
import { abs, add, equal, exp, log1p, maximum, mul, neg, square, sub } from '../ops/elementwise.js';
import { max, mean, sum } from '../ops/reduce.js';
import { oneHot } from '../ops/shape.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * How a loss is reduced: `mean` over everything (a scalar), or `perTask`: the mean over every axis but the
 * first, giving one loss per task `[T]` (a MAML inner step needs the per-task sum's gradient).
 */
export type Reduction = 'mean' | 'perTask';

function reduce(values: Tensor, reduction: Reduction): Tensor {
  if (reduction === 'mean') return mean(values);
  return mean(values, { axis: values.shape.map((_, i) => i).slice(1) });
}

/** Mean squared error. */
export function mse(pred: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return reduce(square(sub(pred, target)), reduction);
}

/**
 * Softmax cross-entropy from logits `[..., C]` against int32 labels `[...]` or one-hot/probability targets
 * `[..., C]`, computed through logSoftmax (stable for large logits).
 */
export function softmaxCrossEntropy(logits: Tensor, labels: Tensor, reduction: Reduction = 'mean'): Tensor {
  const classes = logits.shape.at(-1)!;
  const targets = labels.dtype === 'int32' ? oneHot(labels, classes, logits.dtype) : labels;
  const perExample = neg(sum(mul(targets, logSoftmax(logits)), { axis: -1 }));
  return reduce(perExample, reduction);
}

/** Binary cross-entropy with logits: max(x, 0) - x z + log(1 + e^-|x|) (stable). */
export function binaryCrossEntropyWithLogits(
  logits: Tensor,
  targets: Tensor,
  reduction: Reduction = 'mean',
): Tensor {
  const values = add(sub(maximum(logits, 0), mul(logits, targets)), log1p(exp(neg(abs(logits)))));
  return reduce(values, reduction);
}

/**
 * Fraction of examples whose largest logit is the label (a metric: no gradient). With `perTask`, one
 * accuracy per task.
 */
export function accuracy(logits: Tensor, labels: Tensor, reduction: Reduction = 'mean'): Tensor {
  const classes = logits.shape.at(-1)!;
  const isMax = equal(logits, max(logits, { axis: -1, keepDims: true }));
  const hit = max(mul(isMax, oneHot(labels, classes, logits.dtype)), { axis: -1 });
  return reduce(hit, reduction);
}
