import { GradientTape } from '../autodiff/tape.js';
import { add } from '../ops/elementwise.js';
import type { Params } from '../tensor/params.js';
import type { Tensor, Variable } from '../tensor/tensor.js';
import { type FlatState, flattenState, unflattenState } from './state.js';
import { type GradientTransformation, OptimizerError } from './types.js';

/** Snapshots of the Variables' current values (plain tensors that a later assign cannot change). */
function snapshots(variables: Record<string, Variable>): Params {
  const out: Params = {};
  for (const k of Object.keys(variables)) out[k] = variables[k]!.snapshot();
  return out;
}

/**
 * Applies a {@link GradientTransformation} to named Variables for ordinary training: each `step` records the
 * loss on a tape, takes the gradients, runs the transformation and assigns the new values. Nothing is read
 * back to the host; the returned loss is a tensor the caller may read when it wants to.
 *
 * ```ts
 * const opt = new ModelOptimizer(adam({ lr: 1e-3 }), { w, b });
 * for (let i = 0; i < 100; i++) opt.step(() => mean(square(sub(add(matmul(x, w), b), y))));
 * ```
 */
export class ModelOptimizer<S> {
  /** The transformation's current state (replace it to resume from a checkpoint). */
  state: S;

  constructor(
    readonly transformation: GradientTransformation<S>,
    readonly variables: Record<string, Variable>,
  ) {
    if (Object.keys(variables).length === 0)
      throw new OptimizerError('ModelOptimizer: no variables to optimise');
    this.state = transformation.init(snapshots(variables));
  }

  /** One training step on `lossFn` (which reads the Variables); returns the loss before the update. */
  step(lossFn: () => Tensor): Tensor {
    const r = minimize(this.transformation, this.variables, lossFn, this.state);
    this.state = r.state;
    return r.loss;
  }

  /** Applies gradients computed elsewhere (keyed like the Variables). */
  applyGradients(grads: Params): void {
    this.state = applyToVariables(this.transformation, this.variables, grads, this.state);
  }

  /** The state as named tensors plus a JSON skeleton, for a checkpoint. */
  saveState(): FlatState {
    return flattenState(this.state);
  }

  /** Restores a state saved by {@link ModelOptimizer.saveState}. */
  loadState(flat: FlatState): void {
    this.state = unflattenState<S>(flat);
  }
}

/**
 * One functional training step: the loss of `lossFn` (which reads `variables`), the gradients, the update and
 * the assignment, returning the loss and the next state.
 *
 * ```ts
 * const tx = sgd({ lr: 0.1 });
 * let state = tx.init({ w });
 * ({ state } = minimize(tx, { w }, () => sum(square(w)), state));
 * ```
 */
export function minimize<S>(
  transformation: GradientTransformation<S>,
  variables: Record<string, Variable>,
  lossFn: () => Tensor,
  state: S,
): { loss: Tensor; state: S } {
  const tape = new GradientTape();
  const loss = tape.record(lossFn);
  const grads = tape.gradient(loss, variables as Record<string, Tensor>, { unconnected: 'zero' });
  return { loss, state: applyToVariables(transformation, variables, grads as Params, state) };
}

/** Runs the transformation on `grads` and assigns `v + u` to each Variable; returns the next state. */
function applyToVariables<S>(
  transformation: GradientTransformation<S>,
  variables: Record<string, Variable>,
  grads: Params,
  state: S,
): S {
  const params = snapshots(variables);
  const r = transformation.update(grads, state, params);
  for (const k of Object.keys(variables)) {
    const u = r.updates[k];
    if (u) variables[k]!.assign(add(params[k]!, u));
  }
  return r.state;
}
