import { installTapeMath } from '../autodiff/tape.js';
import { allocArray } from '../tensor/dtype.js';
import { Storage, Tensor } from '../tensor/tensor.js';
import { onesLike, zerosLike } from './creation.js';
import { add } from './elementwise.js';
import { reshape, stack } from './shape.js';

export * from './activations.js';
export * from './creation.js';
export * from './elementwise.js';
export { constScalar, type TensorLike } from './engine.js';
export * from './linalg.js';
export * from './reduce.js';
export * from './shape.js';

installTapeMath({
  onesLike,
  zerosLike,
  add,
  stack,
  reshape,
  constantLike(values, shape, like) {
    const data = allocArray(like.dtype, values.length);
    data.set(values);
    return new Tensor(new Storage(like.backend, like.backend.upload(data, shape, like.dtype)), [...shape], like.dtype);
  },
});
