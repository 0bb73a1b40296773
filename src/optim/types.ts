import type { Params } from '../tensor/params.js';

/**
 * A pure optimizer in the optax style: `init` builds the state from the parameters, `update` maps gradients
 * (and optionally the current parameters) to updates plus the next state. Both are written in tensor ops and
 * never mutate or read values back to the host, so an inner-loop update recorded by a tape can be
 * differentiated again (MAML through an Adam step).
 *
 * ```ts
 * const tx = adam({ lr: 1e-3 });
 * let state = tx.init(params);
 * const { updates, state: next } = tx.update(grads, state, params);
 * params = applyUpdates(params, updates);
 * state = next;
 * ```
 */
export interface GradientTransformation<S> {
  init(params: Params): S;
  update(grads: Params, state: S, params?: Params): { updates: Params; state: S };
  /**
   * Optional: `update` and `applyUpdates(params, updates)` in one fused pass, the same numbers bit for bit,
   * or undefined where it cannot fuse them (the caller then takes the two steps; `outerStep` does).
   */
  step?(grads: Params, state: S, params: Params): { params: Params; state: S } | undefined;
}

/** A learning-rate (or other hyper-parameter) schedule: the value for the update that follows `count` updates. */
export type Schedule = (count: number) => number;

/** A fixed value or a schedule of the step count. */
export type ScalarOrSchedule = number | Schedule;

/** Thrown for invalid optimizer arguments or a transformation used without what it needs. */
export class OptimizerError extends Error {
  override readonly name = 'OptimizerError';
}

/** Resolves a value or schedule at `count`. */
export function valueAt(v: ScalarOrSchedule, count: number): number {
  return typeof v === 'number' ? v : v(count);
}
