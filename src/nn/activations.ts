import { elu, leakyRelu, relu, sigmoid, softplus, tanh } from '../ops/elementwise.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Layer } from './layer.js';

/** Activation functions available by name in configs and layers. */
export type ActivationName = 'linear' | 'relu' | 'leakyRelu' | 'tanh' | 'sigmoid' | 'softplus' | 'elu';

/** The function of an activation name. */
export function activationFn(name: ActivationName): (x: Tensor) => Tensor {
  switch (name) {
    case 'linear':
      return (x) => x;
    case 'relu':
      return relu;
    case 'leakyRelu':
      return (x) => leakyRelu(x, 0.2);
    case 'tanh':
      return tanh;
    case 'sigmoid':
      return sigmoid;
    case 'softplus':
      return softplus;
    case 'elu':
      return (x) => elu(x);
  }
}

/** A parameter-free activation layer. */
export function activation(name: ActivationName): Layer {
  const f = activationFn(name);
  return {
    kind: `activation:${name}`,
    build: (inputShape) => ({ specs: [], outputShape: [...inputShape] }),
    apply: (_p, x) => f(x),
  };
}
