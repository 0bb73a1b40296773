import type { CheckpointArrays } from '../io/checkpoint.js';
import type { Params } from '../nn/params.js';
import { fromArray } from '../ops/creation.js';
import type { Tensor } from '../tensor/tensor.js';

/** Reads tensors to host arrays under a name prefix, for a checkpoint. */
export async function tensorsToArrays(
  tensors: Record<string, Tensor>,
  prefix: string,
): Promise<CheckpointArrays> {
  const out: CheckpointArrays = {};
  for (const [name, t] of Object.entries(tensors))
    out[`${prefix}${name}`] = { shape: [...t.shape], dtype: t.dtype, data: await t.data() };
  return out;
}

/** Recreates the tensors stored under a prefix. */
export function tensorsFromArrays(arrays: CheckpointArrays, prefix: string): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const [name, a] of Object.entries(arrays)) {
    if (name.startsWith(prefix)) out[name.slice(prefix.length)] = fromArray(a.data, a.shape);
  }
  return out;
}

/** Parameters to checkpoint arrays. */
export const paramsToArrays = (params: Params, prefix: string): Promise<CheckpointArrays> =>
  tensorsToArrays(params, prefix);

/** Checkpoint arrays back to parameters. */
export const paramsFromArrays = (arrays: CheckpointArrays, prefix: string): Params =>
  tensorsFromArrays(arrays, prefix);
