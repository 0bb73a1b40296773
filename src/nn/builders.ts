import { type ActivationName, activation } from './activations.js';
import { type BatchNormOptions, batchNorm } from './batchNorm.js';
import { dense } from './dense.js';
import { LayerError } from './errors.js';
import type { Initializer } from './init.js';
import type { Layer } from './layer.js';
import { Model } from './model.js';

/** A {@link Model} running `layers` in order on per-example inputs of `inputShape`. */
export function sequential(layers: readonly Layer[], inputShape: readonly number[]): Model {
  return new Model(layers, inputShape);
}

/** Options of {@link mlp}. */
export interface MlpOptions {
  /** Hidden activation. Default `'relu'`. */
  activation?: ActivationName;
  /** Insert BatchNorm between each hidden Dense and its activation (Dense → BatchNorm → act). Default false. */
  batchNorm?: boolean | BatchNormOptions;
  kernelInit?: Initializer;
  /** Activation of the output layer. Default `'linear'` (logits / regression output). */
  outputActivation?: ActivationName;
}

/** The layers of an MLP (without the Model), for composing into larger stacks. */
export function mlpLayers(hidden: readonly number[], outputDim: number, options: MlpOptions = {}): Layer[] {
  const act = options.activation ?? 'relu';
  const bn = options.batchNorm ?? false;
  const init = options.kernelInit ? { kernelInit: options.kernelInit } : {};
  const layers: Layer[] = [];
  for (const units of hidden) {
    if (!Number.isInteger(units) || units <= 0)
      throw new LayerError('mlp', `hidden widths must be positive integers, got ${JSON.stringify(hidden)}`);
    if (bn) {
      layers.push(dense(units, init), batchNorm(bn === true ? {} : bn));
      if (act !== 'linear') layers.push(activation(act));
    } else {
      layers.push(dense(units, { activation: act, ...init }));
    }
  }
  layers.push(dense(outputDim, { activation: options.outputActivation ?? 'linear', ...init }));
  return layers;
}

/**
 * A multilayer perceptron `inputDim → hidden[0] → ... → outputDim` (the sinusoid-regression network of MAML is
 * `mlp(1, [40, 40], 1)`).
 */
export function mlp(
  inputDim: number,
  hidden: readonly number[],
  outputDim: number,
  options: MlpOptions = {},
): Model {
  return new Model(mlpLayers(hidden, outputDim, options), [inputDim]);
}

/** Options of {@link mamlMlp}. */
export interface MamlMlpOptions {
  /** Default [256, 128, 64, 64]. */
  hidden?: readonly number[];
  /** Default `'relu'`. */
  activation?: ActivationName;
  /** Default true; options are passed to every BatchNorm layer. */
  batchNorm?: boolean | BatchNormOptions;
}

/**
 * The MAML paper's fully connected Omniglot network: 784-256-128-64-64, each hidden block Dense → BatchNorm →
 * ReLU, then a Dense layer to `ways` logits. Inputs are flattened images `[N, inputDim]`.
 */
export function mamlMlp(inputDim = 784, ways = 5, options: MamlMlpOptions = {}): Model {
  return mlp(inputDim, options.hidden ?? [256, 128, 64, 64], ways, {
    activation: options.activation ?? 'relu',
    batchNorm: options.batchNorm ?? true,
  });
}
