import { add, mul, reciprocal, sqrt, square, sub } from '../ops/elementwise.js';
import { mean } from '../ops/reduce.js';
import { reshape, stopGradient } from '../ops/shape.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import type { BatchNormState } from './batchNormState.js';
import { expectInput, LayerError } from './errors.js';
import { type ApplyContext, alignParam, type Layer, type ParamSpec, param } from './layer.js';
import type { Params } from './params.js';

/** Options of {@link batchNorm}. */
export interface BatchNormOptions {
  /** Running-statistics decay, Keras convention: `running = momentum * running + (1 - momentum) * batch`. Default 0.9. */
  momentum?: number;
  /** Added to the variance before the square root. Default 1e-3 (TensorFlow's). */
  epsilon?: number;
  /**
   * Normalise with the running statistics when the pass is not `training` (default false: always the batch
   * statistics, which is what MAML does during adaptation and at meta-test, transductively per task).
   */
  useRunningStats?: boolean;
  /** Learn a per-channel offset `beta`. Default true. */
  center?: boolean;
  /** Learn a per-channel scale `gamma`. Default true (MAML's TF1 code had none; set false to match it). */
  scale?: boolean;
}

/**
 * Batch normalisation over the last (channel) axis: `gamma * (x - mean) / sqrt(var + epsilon) + beta`.
 *
 * Batch statistics are taken over every axis but the channel axis; in batched mode (`[T, N, ..., C]`) they are
 * per task, over N and the spatial axes but never across tasks, so a meta-batch normalises exactly as its
 * tasks would one by one. `gamma`/`beta` are `[C]` (shared) or `[T, C]` (per-task fast weights).
 *
 * It is a composite (mean, subtract, square, reciprocal square root), so it has derivatives of every order
 * through the statistics, which is what second-order MAML needs and TF.js lacks.
 *
 * Running statistics live outside the parameters, in a {@link BatchNormState} (see {@link ApplyContext}).
 */
export function batchNorm(options: BatchNormOptions = {}): Layer {
  const momentum = options.momentum ?? 0.9;
  const epsilon = options.epsilon ?? 1e-3;
  const center = options.center ?? true;
  const scaled = options.scale ?? true;
  if (!(momentum >= 0 && momentum <= 1))
    throw new LayerError('batchNorm', `momentum must be in [0, 1], got ${momentum}`);
  if (!(epsilon >= 0)) throw new LayerError('batchNorm', `epsilon must be >= 0, got ${epsilon}`);
  let name = 'batchNorm';
  let inShape: number[] = [];
  return {
    kind: 'batchNorm',
    build(inputShape, prefix) {
      name = prefix;
      if (inputShape.length === 0)
        throw new LayerError(prefix, `needs a channel axis, got per-example shape ${fmtShape(inputShape)}`);
      inShape = [...inputShape];
      const c = inShape.at(-1)!;
      const specs: ParamSpec[] = [];
      if (scaled) specs.push({ name: `${prefix}/gamma`, shape: [c], init: 'ones', fanIn: c, fanOut: c });
      if (center) specs.push({ name: `${prefix}/beta`, shape: [c], init: 'zeros', fanIn: c, fanOut: c });
      return { specs, outputShape: [...inShape], runningStats: [{ name: prefix, channels: c }] };
    },
    apply(params: Params, x: Tensor, ctx: ApplyContext) {
      expectInput(name, x.shape, inShape, ctx.batched);
      const c = inShape.at(-1)!;
      let centered: Tensor;
      let variance: Tensor;
      if (options.useRunningStats && !ctx.training) {
        const s = stateOf(name, ctx).get(name, x.dtype);
        centered = sub(x, s.mean);
        variance = s.variance;
      } else {
        const first = ctx.batched ? 1 : 0;
        const axes = x.shape.map((_, i) => i).slice(first, -1);
        const m = mean(x, { axis: axes, keepDims: true });
        centered = sub(x, m);
        variance = mean(square(centered), { axis: axes, keepDims: true });
        if (ctx.updateRunningStats) {
          // A meta-batch contributes the mean of its tasks' statistics.
          const flat = (t: Tensor): Tensor =>
            ctx.batched
              ? mean(reshape(stopGradient(t), [x.shape[0]!, c]), { axis: 0 })
              : reshape(stopGradient(t), [c]);
          stateOf(name, ctx).update(name, flat(m), flat(variance), momentum);
        }
      }
      // Fold gamma into the per-channel scale first: one full-size multiply instead of two.
      let scale = reciprocal(sqrt(add(variance, epsilon)));
      if (scaled) scale = mul(scale, alignParam(param(params, `${name}/gamma`), 1, x.rank));
      let y = mul(centered, scale);
      if (center) y = add(y, alignParam(param(params, `${name}/beta`), 1, x.rank));
      return y;
    },
  };
}

function stateOf(layer: string, ctx: ApplyContext): BatchNormState {
  if (!ctx.batchNormState) {
    throw new LayerError(
      layer,
      'running statistics requested but the ApplyContext has no batchNormState (use Model.apply)',
    );
  }
  return ctx.batchNormState;
}
