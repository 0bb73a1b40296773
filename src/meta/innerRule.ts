import { add, mul, sub } from '../ops/elementwise.js';
import { adam } from '../optim/adam.js';
import { sgd } from '../optim/sgd.js';
import { applyUpdates } from '../optim/tree.js';
import type { GradientTransformation } from '../optim/types.js';
import { mapParams, type Params } from '../tensor/params.js';
import type { InnerRule } from './algorithms/types.js';

/** Plain SGD, `p - lr(name) g`, with a fixed or learned (tensor) step size per parameter: the default rule. */
export const sgdRule: InnerRule = {
  init: () => undefined,
  step: (fast, grads, state, lr) => ({
    // p + g * (-lr) rather than p - g * lr: the same value, but its gradient needs no negation pass.
    fast: mapParams(fast, (p, n) => {
      const r = lr(n);
      return typeof r === 'number' ? add(p, mul(grads[n]!, -r)) : sub(p, mul(grads[n]!, r));
    }),
    state,
  }),
};

/**
 * Any optimizer of `src/optim` as a differentiable inner update (its state is per task, like the fast
 * weights). Given a factory `(lr) => transformation`, the step size passed to `step` is honoured (one
 * transformation per distinct step size, built on first use); a ready-built transformation keeps its own.
 * Learned (tensor) step sizes need {@link sgdRule}.
 */
export function optimizerRule(
  tx: GradientTransformation<unknown> | ((lr: number) => GradientTransformation<unknown>),
): InnerRule {
  const built = new Map<number, GradientTransformation<unknown>>();
  const forLr = (lr: number) => {
    if (typeof tx !== 'function') return tx;
    if (!built.has(lr)) built.set(lr, tx(lr));
    return built.get(lr)!;
  };
  return {
    init: (fast) => forLr(Number.NaN).init(fast),
    step: (fast, grads, state, lr) => {
      const names = Object.keys(fast);
      if (names.length === 0) return { fast, state };
      const sizes = names.map((n) => lr(n));
      const first = sizes[0]!;
      if (typeof first !== 'number' || sizes.some((s) => s !== first)) {
        throw new Error(
          'inner optimizer: one fixed step size for all parameters expected; learned step sizes need the SGD inner rule',
        );
      }
      const { updates, state: next } = forLr(first).update(grads, state, fast);
      return { fast: applyUpdates(fast, updates), state: next };
    },
  };
}

/** An inner optimizer as `trainer.innerOptimizer` names it (the schema fills the defaults). */
export type InnerOptimizerSpec =
  | { readonly kind: 'sgd' }
  | { readonly kind: 'momentum'; readonly momentum: number }
  | { readonly kind: 'adam'; readonly beta1: number; readonly beta2: number };

/**
 * The differentiable inner update of an inner optimizer spec: momentum or Adam from `src/optim` as an
 * {@link optimizerRule} (honouring the step size it is given), plain SGD as {@link sgdRule}.
 */
export function innerOptimizerRule(o: InnerOptimizerSpec): InnerRule {
  if (o.kind === 'sgd') return sgdRule;
  return optimizerRule((lr) =>
    o.kind === 'adam'
      ? (adam({ lr, beta1: o.beta1, beta2: o.beta2, epsRoot: 1e-12 }) as GradientTransformation<unknown>)
      : (sgd({ lr, momentum: o.momentum }) as GradientTransformation<unknown>),
  );
}

/** The state of {@link proximalRule}: where the inner loop started, and the wrapped rule's state. */
interface ProximalState {
  readonly anchor: Params;
  readonly inner: unknown;
}

/**
 * `base` on the proximally regularised inner loss `L(phi) + lambda/2 |phi - theta|^2` (iMAML's inner
 * problem): each gradient gets `lambda (phi - theta)` added, with theta the fast weights `init` saw (the
 * meta-parameters broadcast per task). Training and evaluation then adapt the same way.
 */
export function proximalRule(base: InnerRule, lambda: number): InnerRule {
  return {
    init: (fast): ProximalState => ({ anchor: fast, inner: base.init(fast) }),
    step: (fast, grads, state, lr) => {
      const { anchor, inner } = state as ProximalState;
      const pulled = mapParams(grads, (g, n) =>
        fast[n] ? add(g, mul(sub(fast[n]!, anchor[n]!), lambda)) : g,
      );
      const next = base.step(fast, pulled, inner, lr);
      return { fast: next.fast, state: { anchor, inner: next.state } };
    },
  };
}
