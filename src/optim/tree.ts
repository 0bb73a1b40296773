import { zerosLike } from '../ops/creation.js';
import { add, mul, sqrt } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import type { Params } from '../tensor/params.js';
import type { Tensor } from '../tensor/tensor.js';
import { OptimizerError } from './types.js';

/** The record's tensors, in key order, or an error naming the first key `other` lacks. */
export function zipWith(
  a: Params,
  b: Params,
  f: (x: Tensor, y: Tensor, name: string) => Tensor,
  what: string,
): Params {
  const out: Params = {};
  for (const k of Object.keys(a)) {
    const y = b[k];
    if (!y) throw new OptimizerError(`${what}: no entry for parameter '${k}'`);
    out[k] = f(a[k]!, y, k);
  }
  return out;
}

/**
 * `params + updates`, key by key (updates already carry their sign, as in optax).
 *
 * ```ts
 * params = applyUpdates(params, updates);
 * ```
 */
export function applyUpdates(params: Params, updates: Params): Params {
  return zipWith(params, updates, (p, u) => add(p, u), 'applyUpdates');
}

/** Zeros shaped like each parameter (the usual initial optimizer slot). */
export function zerosLikeParams(params: Params): Params {
  const out: Params = {};
  for (const k of Object.keys(params)) out[k] = zerosLike(params[k]!);
  return out;
}

/**
 * The L2 norm of all tensors of a record taken together, as a scalar tensor (no host read).
 *
 * ```ts
 * const n = globalNorm(grads); // sqrt(sum_k sum(g_k^2))
 * ```
 */
export function globalNorm(tree: Params): Tensor {
  let total: Tensor | undefined;
  for (const t of Object.values(tree)) {
    const s = sum(mul(t, t));
    total = total ? add(total, s) : s;
  }
  if (!total) throw new OptimizerError('globalNorm: empty parameter record');
  return sqrt(total);
}
