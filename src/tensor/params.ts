import type { Tensor } from '../tensor/tensor.js';

/**
 * A model's parameters as a flat record, keyed by path (`dense0/kernel`). Layers are pure functions of such
 * a record, so MAML can run the same network on adapted "fast weights" without mutating anything.
 */
export type Params = Record<string, Tensor>;

/** Maps every parameter through `f` (keeps key order). */
export function mapParams(params: Params, f: (t: Tensor, name: string) => Tensor): Params {
  const out: Params = {};
  for (const k of Object.keys(params)) out[k] = f(params[k]!, k);
  return out;
}

/** Pairs two records with the same keys through `f`; a missing key is an error naming it. */
export function zipParams(a: Params, b: Params, f: (x: Tensor, y: Tensor, name: string) => Tensor): Params {
  const out: Params = {};
  for (const k of Object.keys(a)) {
    const y = b[k];
    if (!y) throw new Error(`parameter '${k}' is missing from the second record`);
    out[k] = f(a[k]!, y, k);
  }
  return out;
}
