import { add, div, maximum, minimum, mul } from '../ops/elementwise.js';
import type { Params } from '../tensor/params.js';
import { globalNorm, zerosLikeParams, zipWith } from './tree.js';
import { type GradientTransformation, OptimizerError, type ScalarOrSchedule, valueAt } from './types.js';

/** State of the transformations that keep nothing. */
export type EmptyState = Record<string, never>;

/** State of the transformations that only count updates (for schedules). */
export interface CountState {
  count: number;
}

/** State of {@link traceMomentum}. */
export interface TraceState {
  trace: Params;
}

function mapRecord(tree: Params, f: (t: Params[string], name: string) => Params[string]): Params {
  const out: Params = {};
  for (const k of Object.keys(tree)) out[k] = f(tree[k]!, k);
  return out;
}

/** A transformation with any state: the element type of {@link chain}'s argument tuple. */
// biome-ignore lint/suspicious/noExplicitAny: the element states are recovered by StatesOf.
export type AnyTransformation = GradientTransformation<any>;

/** The tuple of states of a tuple of transformations. */
export type StatesOf<T extends readonly AnyTransformation[]> = {
  [K in keyof T]: T[K] extends GradientTransformation<infer S> ? S : never;
};

/**
 * Runs transformations in sequence, each on the previous one's updates; the state is the tuple of states.
 *
 * ```ts
 * const tx = chain(clipByGlobalNorm(1), adam({ lr: 1e-3 }));
 * ```
 */
export function chain<T extends readonly AnyTransformation[]>(
  ...txs: T
): GradientTransformation<StatesOf<T>> {
  return {
    init: (params) => txs.map((tx) => tx.init(params)) as StatesOf<T>,
    update(grads, state, params) {
      let updates = grads;
      const next = txs.map((tx, i) => {
        const r = tx.update(updates, state[i], params);
        updates = r.updates;
        return r.state;
      });
      return { updates, state: next as StatesOf<T> };
    },
  };
}

/**
 * Passes updates through unchanged.
 *
 * ```ts
 * const tx = identity();
 * ```
 */
export function identity(): GradientTransformation<EmptyState> {
  return { init: () => ({}), update: (grads, state) => ({ updates: grads, state }) };
}

/**
 * Multiplies updates by a constant.
 *
 * ```ts
 * const tx = chain(scaleByAdam(), scale(-1e-3)); // = adam({ lr: 1e-3 })
 * ```
 */
export function scale(factor: number): GradientTransformation<EmptyState> {
  return {
    init: () => ({}),
    update: (grads, state) => ({ updates: mapRecord(grads, (g) => mul(g, factor)), state }),
  };
}

/**
 * Multiplies updates by `-lr(count)` (a descent step), counting updates for the schedule.
 *
 * ```ts
 * const tx = chain(traceMomentum(0.9), scaleByLearningRate(cosineDecaySchedule({ init: 0.1, decaySteps: 1000 })));
 * ```
 */
export function scaleByLearningRate(lr: ScalarOrSchedule): GradientTransformation<CountState> {
  return {
    init: () => ({ count: 0 }),
    update(grads, state) {
      const f = -valueAt(lr, state.count);
      return { updates: mapRecord(grads, (g) => mul(g, f)), state: { count: state.count + 1 } };
    },
  };
}

/**
 * Clips every update element to `[-maxDelta, maxDelta]` (optax's `clip`; named apart from the `clipByValue`
 * op). Its gradient is 1 inside the interval and 0 outside.
 *
 * ```ts
 * const tx = chain(clip(1), sgd({ lr: 0.1 }));
 * ```
 */
export function clip(maxDelta: number): GradientTransformation<EmptyState> {
  if (!(maxDelta > 0)) throw new OptimizerError(`clip: maxDelta must be positive, got ${maxDelta}`);
  return {
    init: () => ({}),
    update: (grads, state) => ({
      updates: mapRecord(grads, (g) => minimum(maximum(g, -maxDelta), maxDelta)),
      state,
    }),
  };
}

/**
 * Rescales all updates together so that their global L2 norm is at most `maxNorm` (no host read: the factor
 * `maxNorm / max(norm, maxNorm)` stays a tensor).
 *
 * ```ts
 * const tx = chain(clipByGlobalNorm(1), adam({ lr: 1e-3 }));
 * ```
 */
export function clipByGlobalNorm(maxNorm: number): GradientTransformation<EmptyState> {
  if (!(maxNorm > 0)) throw new OptimizerError(`clipByGlobalNorm: maxNorm must be positive, got ${maxNorm}`);
  return {
    init: () => ({}),
    update(grads, state) {
      const factor = div(maxNorm, maximum(globalNorm(grads), maxNorm));
      return { updates: mapRecord(grads, (g) => mul(g, factor)), state };
    },
  };
}

/**
 * Adds `weightDecay * params` to the updates (placed before `scaleByLearningRate`, this is decoupled weight
 * decay as in AdamW). `mask(name)` false exempts a parameter (biases, norms).
 *
 * ```ts
 * const tx = chain(scaleByAdam(), addDecayedWeights(1e-4), scaleByLearningRate(1e-3));
 * ```
 */
export function addDecayedWeights(
  weightDecay: number,
  mask?: (name: string) => boolean,
): GradientTransformation<EmptyState> {
  return {
    init: () => ({}),
    update(grads, state, params) {
      if (!params) throw new OptimizerError('addDecayedWeights: update() needs the current params');
      const updates = zipWith(
        grads,
        params,
        (g, p, k) => (mask && !mask(k) ? g : add(g, mul(p, weightDecay))),
        'addDecayedWeights',
      );
      return { updates, state };
    },
  };
}

/** Options of {@link traceMomentum}. */
export interface TraceOptions {
  /** Nesterov's look-ahead: the update is `g + decay * trace` instead of `trace`. */
  nesterov?: boolean;
}

/**
 * Heavy-ball momentum: `trace = g + decay * trace`; the update is the trace (or Nesterov's `g + decay * trace`).
 *
 * ```ts
 * const tx = chain(traceMomentum(0.9), scaleByLearningRate(0.01));
 * ```
 */
export function traceMomentum(decay: number, options: TraceOptions = {}): GradientTransformation<TraceState> {
  return {
    init: (params) => ({ trace: zerosLikeParams(params) }),
    update(grads, state) {
      const trace = zipWith(grads, state.trace, (g, t) => add(g, mul(t, decay)), 'traceMomentum');
      const updates = options.nesterov
        ? zipWith(grads, trace, (g, t) => add(g, mul(t, decay)), 'traceMomentum')
        : trace;
      return { updates, state: { trace } };
    },
  };
}
