import { add, mul } from '../ops/elementwise.js';
import type { Params } from '../tensor/params.js';
import type { Tensor } from '../tensor/tensor.js';
import { zerosLikeParams } from './tree.js';
import { type GradientTransformation, OptimizerError, type ScalarOrSchedule, valueAt } from './types.js';

/** State of {@link sgd}: the update count and the momentum buffers (empty without momentum). */
export interface SgdState {
  count: number;
  trace: Params;
}

/** Options of {@link sgd}. */
export interface SgdOptions {
  /** Learning rate or schedule of the update count. */
  lr: ScalarOrSchedule;
  /** Heavy-ball momentum coefficient (default 0: plain SGD). */
  momentum?: number;
  /** Nesterov momentum (needs `momentum > 0`). */
  nesterov?: boolean;
  /** L2 penalty added to the gradient, `g + weightDecay · p` (PyTorch's coupled decay; default 0). */
  weightDecay?: number;
}

/**
 * Stochastic gradient descent with optional momentum, Nesterov look-ahead and (coupled) weight decay, in
 * PyTorch's formulation: `g' = g + wd·p; buf = momentum·buf + g'; d = nesterov ? g' + momentum·buf : buf;
 * u = -lr·d`. Pure tensor ops, so a tape can differentiate through the step.
 *
 * ```ts
 * const tx = sgd({ lr: 0.1, momentum: 0.9, nesterov: true });
 * ```
 */
export function sgd(options: SgdOptions): GradientTransformation<SgdState> {
  const momentum = options.momentum ?? 0;
  const nesterov = options.nesterov ?? false;
  const weightDecay = options.weightDecay ?? 0;
  if (!(momentum >= 0)) throw new OptimizerError(`sgd: momentum must be >= 0, got ${momentum}`);
  if (nesterov && momentum === 0) throw new OptimizerError('sgd: nesterov needs momentum > 0');
  return {
    init: (params) => ({ count: 0, trace: momentum > 0 ? zerosLikeParams(params) : {} }),
    update(grads, state, params) {
      if (weightDecay !== 0 && !params)
        throw new OptimizerError('sgd: update() needs the current params for weight decay');
      const f = -valueAt(options.lr, state.count);
      const trace: Params = {};
      const updates: Params = {};
      for (const k of Object.keys(grads)) {
        let g: Tensor = grads[k]!;
        if (weightDecay !== 0) {
          const p = params![k];
          if (!p) throw new OptimizerError(`sgd: no parameter '${k}' for weight decay`);
          g = add(g, mul(p, weightDecay));
        }
        let d = g;
        if (momentum > 0) {
          const buf0 = state.trace[k];
          if (!buf0) throw new OptimizerError(`sgd: no momentum buffer for parameter '${k}'`);
          const buf = add(mul(buf0, momentum), g);
          trace[k] = buf;
          d = nesterov ? add(g, mul(buf, momentum)) : buf;
        }
        updates[k] = mul(d, f);
      }
      return { updates, state: { count: state.count + 1, trace } };
    },
  };
}
