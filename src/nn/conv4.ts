import { activation } from './activations.js';
import { type BatchNormOptions, batchNorm } from './batchNorm.js';
import { conv2d } from './conv2d.js';
import { dense } from './dense.js';
import { LayerError } from './errors.js';
import { flatten } from './flatten.js';
import type { Initializer } from './init.js';
import type { Layer } from './layer.js';
import { Model } from './model.js';
import { globalAvgPool2d, maxPool2d } from './pooling.js';

/** Options of {@link conv4}. */
export interface Conv4Options {
  /** Filters of every block. Default 64 (MAML used 32 on MiniImagenet). */
  filters?: number;
  /**
   * `'maxpool'`: 3x3 'same' conv (stride 1) then 2x2 max-pool ('valid'); `'stride'`: 3x3 'same' conv with
   * stride 2 and no pooling (MAML's Omniglot setting). Default `'maxpool'`.
   */
  pooling?: 'maxpool' | 'stride';
  /**
   * How the last feature map reaches the classifier: `'flatten'` or `'mean'` (global average over the
   * spatial axes). Default: `'mean'` with strided convs, `'flatten'` with max-pooling, as MAML's reference code.
   */
  readout?: 'flatten' | 'mean';
  /** Passed to every BatchNorm layer. */
  batchNorm?: BatchNormOptions;
  kernelInit?: Initializer;
  /** Number of conv blocks. Default 4. */
  blocks?: number;
}

/**
 * The standard few-shot conv network ("conv4"): four blocks of 3x3 conv (`filters` filters) → BatchNorm →
 * ReLU → 2x2 max-pool (or a stride-2 conv instead of the pool), then a Dense layer to `ways` logits.
 * Inputs are NHWC images of `inputShape` (default Omniglot's [28, 28, 1]).
 */
export function conv4(
  inputShape: readonly [number, number, number] = [28, 28, 1],
  ways = 5,
  options: Conv4Options = {},
): Model {
  const filters = options.filters ?? 64;
  const pooling = options.pooling ?? 'maxpool';
  const readout = options.readout ?? (pooling === 'stride' ? 'mean' : 'flatten');
  const blocks = options.blocks ?? 4;
  if (inputShape.length !== 3)
    throw new LayerError('conv4', `inputShape must be [H, W, C], got ${JSON.stringify(inputShape)}`);
  const init = options.kernelInit ? { kernelInit: options.kernelInit } : {};
  const layers: Layer[] = [];
  for (let b = 0; b < blocks; b++) {
    layers.push(
      conv2d(filters, { kernelSize: 3, strides: pooling === 'stride' ? 2 : 1, padding: 'same', ...init }),
    );
    layers.push(batchNorm(options.batchNorm), activation('relu'));
    if (pooling === 'maxpool') layers.push(maxPool2d({ poolSize: 2, strides: 2, padding: 'valid' }));
  }
  layers.push(readout === 'mean' ? globalAvgPool2d() : flatten(), dense(ways, init));
  return new Model(layers, inputShape);
}
