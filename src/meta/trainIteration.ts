import type { Params } from '../nn/params.js';
import { applyUpdates } from '../optim/tree.js';
import type { GradientTransformation } from '../optim/types.js';
import type { MetaGradient } from './learner.js';
import { NonFiniteError, readIterationScalars } from './nonFinite.js';
import type { TaskBatch } from './tasks.js';

/** The meta-parameters and the outer optimizer's state between two meta-iterations. */
export interface TrainState<S> {
  meta: Params;
  optState: S;
}

/** A meta-iteration's new state and the numbers the trainer logs. */
export interface TrainIterationResult<S> extends TrainState<S> {
  loss: number;
  metric: number;
}

/**
 * One meta-iteration of `metatape run`: the meta-gradient of `batch`, one read of its meta-loss, metric and
 * gradient norm (a NaN or Inf throws a {@link NonFiniteError} naming `iteration`, before any update), then
 * the outer update. Every read is asynchronous, so this runs on any backend (WebGPU included) when
 * `metaGradient` is asynchronous too (`MetaLearner.metaGradientAsync`); on the others the numbers are those
 * of synchronous reads.
 *
 * ```ts
 * const next = await trainIteration((m, b, p) => learner.metaGradientAsync(m, b, p), outer, state, batch, 1, 0.01);
 * ```
 */
export async function trainIteration<S>(
  metaGradient: (meta: Params, batch: TaskBatch, progress: number) => Promise<MetaGradient>,
  outer: GradientTransformation<S>,
  state: TrainState<S>,
  batch: TaskBatch,
  iteration: number,
  progress: number,
): Promise<TrainIterationResult<S>> {
  const { loss, metric, grads } = await metaGradient(state.meta, batch, progress);
  // One read: the loss, the metric and the squared gradient norm (a NaN anywhere shows there).
  const read = await readIterationScalars(loss, metric, grads);
  if (read.bad) throw new NonFiniteError(iteration, read.bad, read.loss);
  const { updates, state: optState } = outer.update(grads, state.optState, state.meta);
  return { meta: applyUpdates(state.meta, updates), optState, loss: read.loss, metric: read.metric };
}
