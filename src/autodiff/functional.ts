import { mul } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import type { Tensor } from '../tensor/tensor.js';
import { GradientTape } from './tape.js';

/**
 * `grad(f)` is the function x -> df/dx (of the sum of f's output). It composes: `grad(grad(f))` is the
 * second derivative, because the inner call's tape runs inside the outer call's recording.
 */
export function grad(f: (x: Tensor) => Tensor): (x: Tensor) => Tensor {
  return (x) => valueAndGrad(f)(x).grad;
}

/** `valueAndGrad(f)(x)` returns f(x) and its gradient with one forward pass. */
export function valueAndGrad(f: (x: Tensor) => Tensor): (x: Tensor) => { value: Tensor; grad: Tensor } {
  return (x) => {
    const tape = new GradientTape();
    const value = tape.record(() => {
      tape.watch(x);
      return f(x);
    });
    return { value, grad: tape.gradient(value, x, { unconnected: 'zero' }) };
  };
}

/**
 * Hessian-vector product H(x) v of a scalar f, by reverse-over-reverse: the gradient of <grad f(x), v>.
 * No Hessian is formed; the cost is a small multiple of one gradient.
 */
export function hvp(f: (x: Tensor) => Tensor, x: Tensor, v: Tensor): Tensor {
  const outer = new GradientTape();
  const gv = outer.record(() => {
    outer.watch(x);
    const g = grad(f)(x);
    return sum(mul(g, v));
  });
  return outer.gradient(gv, x, { unconnected: 'zero' });
}

/** The Jacobian of f at x, shape `[...f(x).shape, ...x.shape]` (one reverse pass per output element). */
export function jacobian(f: (x: Tensor) => Tensor, x: Tensor): Tensor {
  const tape = new GradientTape();
  const y = tape.record(() => {
    tape.watch(x);
    return f(x);
  });
  return tape.jacobian(y, x);
}

/** The Hessian of a scalar f at x, shape `[...x.shape, ...x.shape]` (for small inputs). */
export function hessian(f: (x: Tensor) => Tensor, x: Tensor): Tensor {
  return jacobian(grad(f), x);
}
