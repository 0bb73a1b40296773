import { add } from '../ops/elementwise.js';
import { matmul } from '../ops/linalg.js';
import type { Tensor } from '../tensor/tensor.js';
import { type ActivationName, activationFn } from './activations.js';
import type { Initializer } from './init.js';
import { type ApplyContext, alignParam, type Layer, type ParamSpec, param } from './layer.js';
import type { Params } from './params.js';

/** Options of {@link dense}. */
export interface DenseOptions {
  activation?: ActivationName;
  useBias?: boolean;
  kernelInit?: Initializer;
  biasInit?: Initializer;
}

/**
 * A fully connected layer `act(x W + b)` on the last axis. Per-task kernels `[T, in, out]` run as one batched
 * matmul against inputs `[T, N, in]`; every product `x W` goes through `ctx.onKernelProduct` when set.
 */
export function dense(units: number, options: DenseOptions = {}): Layer {
  const act = activationFn(options.activation ?? 'linear');
  const useBias = options.useBias ?? true;
  let names = { kernel: '', bias: '' };
  return {
    kind: 'dense',
    build(inputShape, prefix) {
      if (inputShape.length !== 1) {
        throw new Error(
          `dense: expects a flat input, got per-example shape [${inputShape.join(',')}]; add flatten() first`,
        );
      }
      const inDim = inputShape[0]!;
      names = { kernel: `${prefix}/kernel`, bias: `${prefix}/bias` };
      const specs: ParamSpec[] = [
        {
          name: names.kernel,
          shape: [inDim, units],
          init: options.kernelInit ?? 'glorotUniform',
          fanIn: inDim,
          fanOut: units,
          lowRankUpdates: true,
        },
      ];
      if (useBias)
        specs.push({
          name: names.bias,
          shape: [units],
          init: options.biasInit ?? 'zeros',
          fanIn: inDim,
          fanOut: units,
        });
      return { specs, outputShape: [units] };
    },
    apply(params: Params, x: Tensor, ctx: ApplyContext) {
      const product = matmul(x, param(params, names.kernel));
      // The linear-product hook (MAML's low-rank fast weights add their per-task corrections there).
      let y = ctx.onKernelProduct ? ctx.onKernelProduct(names.kernel, x, product) : product;
      if (useBias) y = add(y, alignParam(param(params, names.bias), 1, y.rank));
      return act(y);
    },
  };
}
