import { variable } from '../ops/creation.js';
import type { Rng } from '../tensor/random.js';
import type { Tensor, Variable } from '../tensor/tensor.js';
import { BatchNormState } from './batchNormState.js';
import { initialize } from './init.js';
import type { ApplyContext, Layer, ParamSpec } from './layer.js';
import type { Params } from './params.js';

/** Options of {@link Model.apply}. */
export interface ApplyOptions {
  /** Inputs and (optionally) parameters carry a leading task axis; see {@link ApplyContext}. Default false. */
  batched?: boolean;
  /** Default true (batch statistics in BatchNorm, as MAML uses them). */
  training?: boolean;
  /** Fold this pass's BatchNorm batch statistics into the running ones. Default false. */
  updateRunningStats?: boolean;
  /** Running statistics to read and update instead of the model's own {@link Model.batchNormState}. */
  batchNormState?: BatchNormState;
  /** The linear-product hook of kernels declared `lowRankUpdates`; see {@link ApplyContext}. */
  onKernelProduct?: ApplyContext['onKernelProduct'];
}

/**
 * A stack of layers as a pure function of a parameter record. The model holds no weights itself:
 * `initParams` draws them, `createVariables` wraps them as trainable Variables for ordinary training, and
 * `apply(params, x)` runs the network on any record with the right keys (e.g. MAML's fast weights).
 *
 * ```ts
 * const net = new Model([dense(40, { activation: 'relu' }), dense(40, { activation: 'relu' }), dense(1)], [1]);
 * const params = net.initParams(new Rng(0));
 * const y = net.apply(params, tensor([[0.5], [1.5]]));   // shape [2, 1]
 * ```
 */
export class Model {
  readonly specs: readonly ParamSpec[];
  readonly outputShape: readonly number[];
  /**
   * Running statistics of the BatchNorm layers: non-trainable state, kept out of the parameter record so that
   * adaptation never touches it. Updated only by passes with `updateRunningStats: true`.
   */
  readonly batchNormState = new BatchNormState();

  constructor(
    readonly layers: readonly Layer[],
    readonly inputShape: readonly number[],
  ) {
    const specs: ParamSpec[] = [];
    let shape = [...inputShape];
    layers.forEach((layer, i) => {
      const built = layer.build(shape, `${i}.${layer.kind.split(':')[0]}`);
      specs.push(...built.specs);
      for (const r of built.runningStats ?? []) this.batchNormState.declare(r.name, r.channels);
      shape = built.outputShape;
    });
    this.specs = specs;
    this.outputShape = shape;
  }

  /** Parameter names in a fixed order. */
  get paramNames(): string[] {
    return this.specs.map((s) => s.name);
  }

  /** Number of scalar parameters. */
  get paramCount(): number {
    return this.specs.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  }

  /** Draws fresh parameters (seeded). */
  initParams(rng: Rng): Params {
    const out: Params = {};
    for (const s of this.specs) out[s.name] = initialize(s.init, s.shape, s.fanIn, s.fanOut, rng);
    return out;
  }

  /** Draws fresh parameters as trainable Variables. */
  createVariables(rng: Rng): Record<string, Variable> {
    const params = this.initParams(rng);
    const out: Record<string, Variable> = {};
    for (const [k, v] of Object.entries(params)) out[k] = variable(v, { name: k });
    return out;
  }

  /** Runs the network on `x` with the given parameters. */
  apply(params: Params, x: Tensor, options: ApplyOptions = {}): Tensor {
    const ctx: ApplyContext = {
      batched: options.batched ?? false,
      training: options.training ?? true,
      batchNormState: options.batchNormState ?? this.batchNormState,
      updateRunningStats: options.updateRunningStats ?? false,
      ...(options.onKernelProduct ? { onKernelProduct: options.onKernelProduct } : {}),
    };
    let h = x;
    for (const layer of this.layers) h = layer.apply(params, h, ctx);
    return h;
  }
}
