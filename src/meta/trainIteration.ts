import type { Params } from '../nn/params.js';
import { recycleTensors } from '../ops/releaseScope.js';
import { applyUpdates } from '../optim/tree.js';
import type { GradientTransformation } from '../optim/types.js';
import { Tensor } from '../tensor/tensor.js';
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
  return { ...outerStep(outer, grads, state), loss: read.loss, metric: read.metric };
}

/**
 * The outer update of a meta-iteration: `outer`'s step on the meta-gradient `grads`, applied to `state.meta`.
 * The caller hands over `grads` and `state`: their storage, and that of the updates, is recycled for the next
 * iteration (`recycleTensors`) except what the new state still holds, so only the returned state may be used
 * afterwards (the old one throws a `ReleasedStorageError`). Without this, the replaced parameters, moments,
 * gradients and updates are new external memory every iteration, and V8's collections of it pause the
 * training (about 1 ms per Omniglot MLP iteration on one core).
 *
 * ```ts
 * state = outerStep(adam({ lr: 1e-3 }), grads, state);
 * ```
 */
export function outerStep<S>(
  outer: GradientTransformation<S>,
  grads: Params,
  state: TrainState<S>,
): TrainState<S> {
  // Update and apply in one fused pass where the transformation has one (Adam), else in two.
  const fused = outer.step?.(grads, state.optState, state.meta);
  const { updates, state: optState } = fused
    ? { updates: {}, state: fused.state }
    : outer.update(grads, state.optState, state.meta);
  const next = { meta: fused ? fused.params : applyUpdates(state.meta, updates), optState };
  recycleTensors(
    'outerStep',
    [
      ...Object.values(grads),
      ...Object.values(updates),
      ...Object.values(state.meta),
      ...tensorsIn(state.optState),
    ],
    [...Object.values(next.meta), ...tensorsIn(optState)],
  );
  return next;
}

/** The tensors in an optimizer state: its arrays and plain objects walked to any depth. */
function* tensorsIn(v: unknown): Generator<Tensor> {
  if (v instanceof Tensor) yield v;
  else if (Array.isArray(v)) for (const e of v) yield* tensorsIn(e);
  else if (v !== null && typeof v === 'object') for (const e of Object.values(v)) yield* tensorsIn(e);
}
