import { add, mul, sub } from '../ops/elementwise.js';
import { applyUpdates } from '../optim/tree.js';
import type { GradientTransformation } from '../optim/types.js';
import { mapParams } from '../tensor/params.js';
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
