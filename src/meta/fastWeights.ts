import type { LowRankDelta } from '../nn/layer.js';
import type { ApplyOptions, Model } from '../nn/model.js';
import { mapParams, type Params } from '../nn/params.js';
import { add } from '../ops/elementwise.js';
import { matmul } from '../ops/linalg.js';
import { stopGradient } from '../ops/shape.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * The adapted parameters of a batch of T tasks. Most parameters are per-task tensors `[T, ...shape]`; a
 * Dense kernel adapted in low-rank form stays the shared `[in, out]` meta-parameter in `params`, and its
 * per-task part is the list of factors in `kernelDeltas` (one term per inner step), so task t's kernel is
 * `W + Σ u[t]ᵀ v[t]`. Run the network on them with {@link applyFast}; {@link materialize} gives every
 * parameter as a full per-task tensor.
 */
export interface FastWeights {
  params: Params;
  kernelDeltas: ReadonlyMap<string, readonly LowRankDelta[]>;
}

/** Runs `model` on a batch of per-task inputs `[T, N, ...]` with fast weights. */
export function applyFast(
  model: Model,
  fast: FastWeights,
  x: Tensor,
  options: Omit<ApplyOptions, 'batched' | 'kernelDeltas'> = {},
): Tensor {
  return model.apply(fast.params, x, { ...options, batched: true, kernelDeltas: fast.kernelDeltas });
}

/** Every parameter as a tensor, low-rank kernels summed into full per-task kernels `[T, in, out]`. */
export function materialize(fast: FastWeights): Params {
  return mapParams(fast.params, (p, name) => {
    let full = p;
    for (const { u, v } of fast.kernelDeltas.get(name) ?? [])
      full = add(full, matmul(u, v, { transposeA: true }));
    return full;
  });
}

/** The same fast weights cut off from every tape (the constants of a first-order inner step). */
export function detachFast(fast: FastWeights): FastWeights {
  const kernelDeltas = new Map<string, LowRankDelta[]>();
  for (const [name, terms] of fast.kernelDeltas) {
    kernelDeltas.set(
      name,
      terms.map(({ u, v }) => ({ u: stopGradient(u), v: stopGradient(v) })),
    );
  }
  return { params: mapParams(fast.params, stopGradient), kernelDeltas };
}
