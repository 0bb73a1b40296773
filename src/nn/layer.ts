import { reshape } from '../ops/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import type { BatchNormState } from './batchNormState.js';
import type { Initializer } from './init.js';
import type { Params } from './params.js';

/** One parameter a layer needs: its path, its shape (without any task axis) and how to draw it. */
export interface ParamSpec {
  name: string;
  shape: number[];
  init: Initializer;
  fanIn: number;
  fanOut: number;
  /**
   * The layer uses this `[in, out]` kernel only in products `x · W`, each passed through
   * {@link ApplyContext.onKernelProduct}; a caller can then adapt it in a form other than a per-task copy
   * (MAML's low-rank fast weights, `src/meta/fastWeights.ts`). Set by Dense.
   */
  lowRankUpdates?: boolean;
}

/**
 * How a layer is run.
 * - `batched`: inputs carry a leading task axis, `[T, N, ...features]`, and each parameter either has the
 *   shape of its spec (shared by every task) or a leading task axis `[T, ...spec]` (per-task fast weights).
 *   This is how a whole MAML meta-batch runs as one set of batched ops.
 * - `training`: BatchNorm uses batch statistics (as MAML does during adaptation and meta-test) or running ones.
 *   Only BatchNorm layers built with `useRunningStats: true` read running statistics, and only when
 *   `training` is false; by default BatchNorm always normalises with the statistics of the batch at hand.
 * - `batchNormState`: where BatchNorm layers keep running statistics (`Model.apply` passes the model's own).
 * - `updateRunningStats`: fold this pass's batch statistics into `batchNormState` (default false, so that
 *   MAML's many inner-loop and gradient-check passes leave the state alone unless asked).
 * - `onKernelProduct`: one hook for every linear product `x · W` of a kernel declared `lowRankUpdates`: it
 *   gets the kernel's name, the input and the product, and returns the product the layer goes on with. `nn`
 *   knows nothing of what a caller does there (MAML adds per-task low-rank corrections and records them).
 */
export interface ApplyContext {
  batched: boolean;
  training: boolean;
  batchNormState?: BatchNormState;
  updateRunningStats?: boolean;
  /**
   * Sees each `lowRankUpdates` kernel's product: its name, the input `x` and `x · kernel` (before the bias);
   * returns the product to use in its place (the same tensor when it only observes).
   */
  onKernelProduct?: (kernel: string, x: Tensor, product: Tensor) => Tensor;
}

/** A BatchNorm layer's request for running statistics over `channels` channels, keyed by its prefix. */
export interface RunningStatSpec {
  name: string;
  channels: number;
}

/** What {@link Layer.build} returns. */
export interface LayerBuild {
  specs: ParamSpec[];
  outputShape: number[];
  /** Non-trainable running statistics the layer keeps (BatchNorm), collected by the Model. */
  runningStats?: RunningStatSpec[];
}

/** A layer: builds its parameter specs from the per-example input shape, then is a pure function of them. */
export interface Layer {
  readonly kind: string;
  /** Declares parameters under `prefix` for a per-example input of `inputShape`; returns the output shape. */
  build(inputShape: readonly number[], prefix: string): LayerBuild;
  apply(params: Params, x: Tensor, ctx: ApplyContext): Tensor;
}

/**
 * Aligns a parameter with an input of rank `xRank`: a per-task parameter `[T, ...spec]` gets singleton axes
 * after the task axis so that it broadcasts against `[T, N, ..., C]`; a shared one is returned as it is.
 */
export function alignParam(p: Tensor, specRank: number, xRank: number): Tensor {
  if (p.rank === specRank) return p;
  const ones = new Array<number>(xRank - 1 - specRank).fill(1);
  return reshape(p, [p.shape[0]!, ...ones, ...p.shape.slice(1)]);
}

/** Reads a parameter, failing with a message that names it. */
export function param(params: Params, name: string): Tensor {
  const p = params[name];
  if (!p) throw new Error(`missing parameter '${name}' (have: ${Object.keys(params).join(', ')})`);
  return p;
}
