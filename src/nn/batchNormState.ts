import { fill } from '../ops/creation.js';
import { add, mul } from '../ops/elementwise.js';
import { outsideReleaseScopes } from '../ops/releaseScope.js';
import { cast, stopGradient } from '../ops/shape.js';
import type { DType } from '../tensor/dtype.js';
import { fmtShape, shapesEqual } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { LayerError } from './errors.js';
import type { Params } from './params.js';

/** The running mean and (population) variance of one BatchNorm layer, each `[C]`. */
export interface RunningStats {
  mean: Tensor;
  variance: Tensor;
}

/**
 * The non-trainable state of a network's BatchNorm layers: one running mean and variance per layer, keyed by
 * the layer's parameter prefix (`2.batchNorm`). It is kept apart from the {@link Params} record on purpose:
 * MAML differentiates (and adapts) every entry of that record, and running statistics must be neither.
 *
 * Statistics start at mean 0, variance 1 and change only when a forward pass asks for it
 * (`updateRunningStats`); they are stored in the dtype of the last batch that updated them and cast on read.
 */
export class BatchNormState {
  private readonly channels = new Map<string, number>();
  private readonly stats = new Map<string, RunningStats>();

  /** Registers a layer with `channels` channels (done by the Model when it builds its layers). */
  declare(layer: string, channels: number): void {
    const prev = this.channels.get(layer);
    if (prev !== undefined && prev !== channels)
      throw new LayerError(layer, `declared with ${prev} and ${channels} channels`);
    this.channels.set(layer, channels);
  }

  /** The layers this state holds statistics for, in declaration order. */
  get layers(): string[] {
    return [...this.channels.keys()];
  }

  /** The running statistics of `layer` in `dtype` (initial ones if it was never updated). */
  get(layer: string, dtype: DType): RunningStats {
    const c = this.channelsOf(layer);
    const s = this.stats.get(layer);
    if (!s) return { mean: fill([c], 0, dtype), variance: fill([c], 1, dtype) };
    return { mean: cast(s.mean, dtype), variance: cast(s.variance, dtype) };
  }

  /**
   * Folds a batch's statistics in, Keras-style: `running = momentum * running + (1 - momentum) * batch`.
   * Inputs must be `[C]` and should carry no gradient (the layer passes stopped values).
   */
  update(layer: string, batchMean: Tensor, batchVariance: Tensor, momentum: number): void {
    const c = this.channelsOf(layer);
    for (const t of [batchMean, batchVariance]) {
      if (!shapesEqual(t.shape, [c]))
        throw new LayerError(layer, `running statistics must be [${c}], got ${fmtShape(t.shape)}`);
    }
    // Plain ops on stopped values: they run on any backend without a read-back and no tape follows them.
    // Outside release scopes: the statistics outlive the meta-iteration that updates them.
    outsideReleaseScopes(() => {
      const old = this.get(layer, batchMean.dtype);
      const blend = (r: Tensor, b: Tensor): Tensor =>
        add(mul(r, momentum), mul(stopGradient(b), 1 - momentum));
      this.stats.set(layer, {
        mean: blend(old.mean, batchMean),
        variance: blend(old.variance, batchVariance),
      });
    });
  }

  /** Forgets every update (back to mean 0, variance 1). */
  reset(): void {
    this.stats.clear();
  }

  /** An independent copy (e.g. one state per inner step, as MAML++ keeps). */
  clone(): BatchNormState {
    const out = new BatchNormState();
    for (const [k, c] of this.channels) out.declare(k, c);
    for (const [k, s] of this.stats) out.stats.set(k, { ...s });
    return out;
  }

  /** The statistics as a record (`<layer>/movingMean`, `<layer>/movingVariance`), e.g. for `saveParams`. */
  toParams(dtype: DType = 'float32'): Params {
    const out: Params = {};
    for (const layer of this.layers) {
      const s = this.get(layer, dtype);
      out[`${layer}/movingMean`] = s.mean;
      out[`${layer}/movingVariance`] = s.variance;
    }
    return out;
  }

  /** Restores statistics written by {@link BatchNormState.toParams}; every declared layer must be present. */
  loadParams(record: Params): void {
    for (const layer of this.layers) {
      const c = this.channelsOf(layer);
      const mean = record[`${layer}/movingMean`];
      const variance = record[`${layer}/movingVariance`];
      if (!mean || !variance) throw new LayerError(layer, 'running statistics missing from the record');
      if (!shapesEqual(mean.shape, [c]) || !shapesEqual(variance.shape, [c])) {
        throw new LayerError(
          layer,
          `running statistics must be [${c}], got ${fmtShape(mean.shape)} and ${fmtShape(variance.shape)}`,
        );
      }
      this.stats.set(layer, { mean, variance });
    }
  }

  private channelsOf(layer: string): number {
    const c = this.channels.get(layer);
    if (c === undefined)
      throw new LayerError(
        layer,
        `no BatchNorm layer of this name in the state (have: ${this.layers.join(', ') || 'none'})`,
      );
    return c;
  }
}
