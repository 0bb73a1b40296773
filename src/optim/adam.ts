import { add, mul } from '../ops/elementwise.js';
import { type AdamConstants, adamMoments, adamStep } from '../ops/fused.js';
import type { Params } from '../tensor/params.js';
import type { Tensor } from '../tensor/tensor.js';
import { zerosLikeParams } from './tree.js';
import { type GradientTransformation, OptimizerError, type ScalarOrSchedule, valueAt } from './types.js';

/** State of the Adam family: the update count and the first and second moment estimates. */
export interface AdamState {
  count: number;
  mu: Params;
  nu: Params;
}

/** Options of {@link scaleByAdam}. */
export interface ScaleByAdamOptions {
  /** Decay of the first moment (default 0.9). */
  beta1?: number;
  /** Decay of the second moment (default 0.999). */
  beta2?: number;
  /** Added to the root of the (bias-corrected) second moment (default 1e-8). */
  eps?: number;
  /**
   * Added to the second moment inside the square root (default 0). Set it (e.g. 1e-16) when differentiating
   * through the update where a gradient element may be exactly zero: sqrt has an infinite slope at 0.
   */
  epsRoot?: number;
}

/** Options of {@link adam}. */
export interface AdamOptions extends ScaleByAdamOptions {
  /** Learning rate or schedule of the update count (default 1e-3). */
  lr?: ScalarOrSchedule;
}

/** Options of {@link adamw}. */
export interface AdamWOptions extends AdamOptions {
  /** Decoupled weight decay coefficient (default 1e-4, optax's default). */
  weightDecay?: number;
  /** False for parameters exempt from decay (biases, say). */
  mask?: (name: string) => boolean;
}

interface AdamCore {
  beta1: number;
  beta2: number;
  eps: number;
  epsRoot: number;
  /** Factor of the normalised direction at a count (negative for a descent step). */
  stepFactor: (count: number) => number;
  /** Decoupled weight decay: adds `decay(count) * p` (already signed) to the update. */
  decay?: { factor: (count: number) => number; mask?: (name: string) => boolean };
}

function checkBetas(name: string, beta1: number, beta2: number): void {
  if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
    throw new OptimizerError(`${name}: betas must lie in [0, 1), got ${beta1} and ${beta2}`);
  }
}

/**
 * One Adam step for all parameters. The bias corrections are folded into two host scalars, so each tensor
 * costs a handful of ops: mu += (1-b1)(g - mu); nu += (1-b2)(g² - nu); u = c · mu / (sqrt(nu) + eps').
 * With c = lr·sqrt(1-b2^t)/(1-b1^t) and eps' = eps·sqrt(1-b2^t) this equals lr · m̂ / (sqrt(v̂) + eps).
 */
function adamCore(name: string, core: AdamCore): GradientTransformation<AdamState> {
  const { beta1, beta2, eps, epsRoot } = core;
  checkBetas(name, beta1, beta2);
  /** The host scalars of the update that follows `count` updates. */
  const constants = (count: number): AdamConstants => {
    const t = count + 1;
    const rootBc2 = Math.sqrt(1 - beta2 ** t);
    return {
      s1: 1 - beta1,
      s2: 1 - beta2,
      epsRoot,
      epsHat: eps * rootBc2,
      scale: (core.stepFactor(count) * rootBc2) / (1 - beta1 ** t),
    };
  };
  return {
    init: (params) => ({ count: 0, mu: zerosLikeParams(params), nu: zerosLikeParams(params) }),
    // The outer loop's update: one fused kernel for every parameter where the backend has it (and nothing
    // differentiates it); weight decay is not fused.
    step(grads, state, params) {
      if (core.decay) return undefined;
      const names = Object.keys(grads);
      // The same parameters in both, or the two steps' own checks decide (applyUpdates names a missing one).
      if (names.length !== Object.keys(params).length || names.some((k) => !(k in params))) return undefined;
      const ps: Tensor[] = [];
      const gs: Tensor[] = [];
      const ms: Tensor[] = [];
      const vs: Tensor[] = [];
      for (const k of names) {
        const p = params[k];
        const m = state.mu[k];
        const v = state.nu[k];
        if (!p || !m || !v) throw new OptimizerError(`${name}: no optimizer state or parameter for '${k}'`);
        ps.push(p);
        gs.push(grads[k]!);
        ms.push(m);
        vs.push(v);
      }
      const stepped = adamStep(ps, gs, ms, vs, constants(state.count));
      if (stepped === undefined) return undefined;
      const next: Params = { ...params };
      const mu: Params = {};
      const nu: Params = {};
      for (let i = 0; i < names.length; i++) {
        const k = names[i]!;
        next[k] = stepped[i]!.p;
        mu[k] = stepped[i]!.m;
        nu[k] = stepped[i]!.v;
      }
      return { params: next, state: { count: state.count + 1, mu, nu } };
    },
    update(grads, state, params) {
      const t = state.count + 1;
      const cs = constants(state.count);
      const decay = core.decay;
      if (decay && !params)
        throw new OptimizerError(`${name}: update() needs the current params for weight decay`);
      const wd = decay ? decay.factor(state.count) : 0;
      const mu: Params = {};
      const nu: Params = {};
      const updates: Params = {};
      for (const k of Object.keys(grads)) {
        const g = grads[k]!;
        const m0 = state.mu[k];
        const v0 = state.nu[k];
        if (!m0 || !v0) throw new OptimizerError(`${name}: no optimizer state for parameter '${k}'`);
        // One fused pass where nothing differentiates the update, the same ops composed where something does.
        const { m, v, u: step } = adamMoments(g, m0, v0, cs);
        let u: Tensor = step;
        if (decay && wd !== 0 && (!decay.mask || decay.mask(k))) {
          const p = params![k];
          if (!p) throw new OptimizerError(`${name}: no parameter '${k}' for weight decay`);
          u = add(u, mul(p, wd));
        }
        mu[k] = m;
        nu[k] = v;
        updates[k] = u;
      }
      return { updates, state: { count: t, mu, nu } };
    },
  };
}

/**
 * Adam's normalised direction `m̂ / (sqrt(v̂) + eps)` without the learning rate (optax's `scale_by_adam`), for
 * use in a {@link chain}.
 *
 * ```ts
 * const tx = chain(scaleByAdam(), scaleByLearningRate(1e-3));
 * ```
 */
export function scaleByAdam(options: ScaleByAdamOptions = {}): GradientTransformation<AdamState> {
  return adamCore('scaleByAdam', {
    beta1: options.beta1 ?? 0.9,
    beta2: options.beta2 ?? 0.999,
    eps: options.eps ?? 1e-8,
    epsRoot: options.epsRoot ?? 0,
    stepFactor: () => 1,
  });
}

/**
 * Adam (Kingma & Ba) with bias correction. Differentiable end to end: a tape recording the update gives the
 * meta-gradient through the step.
 *
 * ```ts
 * const tx = adam({ lr: 1e-3 });
 * let state = tx.init(params);
 * ({ updates, state } = tx.update(grads, state));
 * ```
 */
export function adam(options: AdamOptions = {}): GradientTransformation<AdamState> {
  const lr = options.lr ?? 1e-3;
  return adamCore('adam', {
    beta1: options.beta1 ?? 0.9,
    beta2: options.beta2 ?? 0.999,
    eps: options.eps ?? 1e-8,
    epsRoot: options.epsRoot ?? 0,
    stepFactor: (count) => -valueAt(lr, count),
  });
}

/**
 * AdamW (Loshchilov & Hutter): Adam plus decoupled weight decay, `u = -lr · (m̂ / (sqrt(v̂) + eps) + wd · p)`
 * (optax's convention: the decay is scaled by the scheduled learning rate).
 *
 * ```ts
 * const tx = adamw({ lr: 1e-3, weightDecay: 1e-2, mask: (name) => !name.endsWith('bias') });
 * ```
 */
export function adamw(options: AdamWOptions = {}): GradientTransformation<AdamState> {
  const lr = options.lr ?? 1e-3;
  const weightDecay = options.weightDecay ?? 1e-4;
  return adamCore('adamw', {
    beta1: options.beta1 ?? 0.9,
    beta2: options.beta2 ?? 0.999,
    eps: options.eps ?? 1e-8,
    epsRoot: options.epsRoot ?? 0,
    stepFactor: (count) => -valueAt(lr, count),
    decay: { factor: (count) => -valueAt(lr, count) * weightDecay, mask: options.mask },
  });
}
