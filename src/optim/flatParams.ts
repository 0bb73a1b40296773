import { concat, reshape, slice } from '../ops/shape.js';
import type { Params } from '../tensor/params.js';
import type { Tensor } from '../tensor/tensor.js';
import { OptimizerError } from './types.js';

/** Where each parameter sits in the flat vector made by {@link flattenParams}. */
export interface ParamLayout {
  entries: { name: string; shape: readonly number[]; offset: number; size: number }[];
  size: number;
}

/**
 * Concatenates a parameter record (in key order) into one 1-D tensor, differentiably, and returns the layout
 * to undo it.
 *
 * ```ts
 * const { flat, layout } = flattenParams({ w, b });
 * const back = unflattenParams(flat, layout); // { w, b } as views of slices of `flat`
 * ```
 */
export function flattenParams(params: Params): { flat: Tensor; layout: ParamLayout } {
  const names = Object.keys(params);
  if (names.length === 0) throw new OptimizerError('flattenParams: empty parameter record');
  let offset = 0;
  const entries = names.map((name) => {
    const t = params[name]!;
    const e = { name, shape: [...t.shape], offset, size: t.size };
    offset += t.size;
    return e;
  });
  const flat = concat(
    names.map((n) => reshape(params[n]!, [-1])),
    0,
  );
  return { flat, layout: { entries, size: offset } };
}

/** Splits a flat vector back into a record by `layout` (slices and reshapes, so gradients flow). */
export function unflattenParams(flat: Tensor, layout: ParamLayout): Params {
  if (flat.size !== layout.size) {
    throw new OptimizerError(`unflattenParams: vector of ${flat.size} values for a layout of ${layout.size}`);
  }
  const out: Params = {};
  for (const e of layout.entries) out[e.name] = reshape(slice(flat, [e.offset], [e.size]), e.shape);
  return out;
}
