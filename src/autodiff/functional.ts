import { allocArray } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { ForwardAccumulator } from './forward.js';
import type { Nest, NestOf } from './nest.js';
import { GradientTape } from './tape.js';
import { constantLike, filled, mul, reshape, stack, sumTo } from './tapeMath.js';

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

/** How {@link hvp} computes a Hessian-vector product. */
export type HvpMode = 'forward-over-reverse' | 'reverse-over-reverse';

/** Options of {@link hvp}. */
export interface HvpOptions {
  /**
   * `forward-over-reverse` (default; JAX's recommendation): one gradient pass under a
   * {@link ForwardAccumulator} whose tangent is v, so the tangent of the gradient is H v. Nothing of the
   * gradient's graph is kept for a second backward pass, so it needs less memory (see bench/hvp.ts).
   * `reverse-over-reverse`: the gradient of <grad f(x), v> through two nested tapes.
   */
  mode?: HvpMode;
}

/**
 * Hessian-vector product H(x) v of a scalar f. No Hessian is formed; the cost is a small multiple of one
 * gradient. Differentiable again in either mode (nested tapes or accumulators see its work).
 *
 * ```ts
 * hvp((x) => sum(pow(x, 3)), tensor([1, 2]), tensor([1, 0])); // [6, 0]
 * ```
 */
export function hvp(f: (x: Tensor) => Tensor, x: Tensor, v: Tensor, options: HvpOptions = {}): Tensor {
  if ((options.mode ?? 'forward-over-reverse') === 'forward-over-reverse') {
    const acc = new ForwardAccumulator(x, v);
    const g = acc.record(() => grad(f)(x));
    return acc.jvp(g, { unconnected: 'zero' });
  }
  const outer = new GradientTape();
  const gv = outer.record(() => {
    outer.watch(x);
    const g = grad(f)(x);
    return sumTo(mul(g, v), []);
  });
  return outer.gradient(gv, x, { unconnected: 'zero' });
}

/** Options of {@link jacobian}. */
export interface JacobianOptions {
  /**
   * `reverse`: one backward pass per output element (JAX's `jacrev`); `forward`: one forward pass with a
   * tangent per input element (`jacfwd`); `auto` (default): forward when the input has fewer elements than
   * the output (a tall Jacobian), reverse otherwise.
   */
  mode?: 'forward' | 'reverse' | 'auto';
}

/**
 * The Jacobian of f at x, shape `[...f(x).shape, ...x.shape]`, by forward or reverse mode (see
 * {@link JacobianOptions}). Unconnected entries are zeros.
 *
 * ```ts
 * jacobian((x) => exp(x), tensor([0, 1]));                      // diag(1, e)
 * jacobian((x) => outer(x), tensor([1, 2]), { mode: 'forward' }); // 2 JVPs for a [2, 2] output
 * ```
 */
export function jacobian(f: (x: Tensor) => Tensor, x: Tensor, options: JacobianOptions = {}): Tensor {
  const mode = options.mode ?? 'auto';
  if (mode === 'forward') return jacobianForward(f, x);
  const tape = new GradientTape();
  const y = tape.record(() => {
    tape.watch(x);
    return f(x);
  });
  // Auto: the probe already ran f once; a tall Jacobian is cheaper as x.size JVPs than y.size VJPs.
  if (mode === 'auto' && x.size < y.size) return jacobianForward(f, x);
  return tape.jacobian(y, x);
}

/** One JVP per input element: column j of the Jacobian is J e_j. */
function jacobianForward(f: (x: Tensor) => Tensor, x: Tensor): Tensor {
  const cols: Tensor[] = [];
  let yShape: readonly number[] | undefined;
  for (let j = 0; j < x.size; j++) {
    const [y, t] = jvp((a) => f(a), [x], [basisVector(x, j)]);
    yShape = y.shape;
    cols.push(reshape(t, [y.size]));
  }
  if (cols.length === 0 || !yShape) {
    const y = f(x);
    return filled(y, 0, [...y.shape, ...x.shape]);
  }
  return reshape(stack(cols, 1), [...yShape, ...x.shape]);
}

/** The j-th standard basis vector shaped, typed and placed like `like`. */
function basisVector(like: Tensor, j: number): Tensor {
  const data = allocArray(like.dtype, like.size);
  data[j] = 1;
  return constantLike(data, like.shape, like);
}

/** The Hessian of a scalar f at x, shape `[...x.shape, ...x.shape]` (for small inputs). */
export function hessian(f: (x: Tensor) => Tensor, x: Tensor): Tensor {
  return jacobian(grad(f), x, { mode: 'reverse' });
}

/**
 * Forward mode as a function (JAX's `jax.jvp`): evaluates `f(...primals)` and, in the same pass, its
 * Jacobian-vector product with `tangents` (one per primal, same shapes). `f` may return a tensor or any nest
 * of them; the tangent has the same structure, zeros where the output does not depend on the primals.
 *
 * ```ts
 * const [y, dy] = jvp((x) => pow(x, 3), [tensor(2)], [tensor(1)]); // y = 8, dy = 12
 * ```
 */
export function jvp<Y extends Nest>(
  f: (...xs: Tensor[]) => Y,
  primals: readonly Tensor[],
  tangents: readonly Tensor[],
): [Y, NestOf<Y, never>] {
  const acc = new ForwardAccumulator([...primals], [...tangents], { name: 'jvp' });
  const y = acc.record(() => f(...primals));
  return [y, acc.jvp(y, { unconnected: 'zero' }) as NestOf<Y, never>];
}

/**
 * JAX's `jax.linearize`: evaluates `f(...primals)` once and returns its value and the linear map
 * `(...tangents) -> J · tangents` at that point, for applying the same Jacobian to many tangents. The map
 * reuses two recorded graphs (f's, and that of u -> Jᵀu, which is linear in u) and is the VJP of the
 * latter (the double-VJP trick TF's forward mode also falls back on): each application is one backward pass,
 * and f's nonlinear part is never evaluated again. The recorded graphs are kept as long as the map lives.
 *
 * ```ts
 * const [y, f_jvp] = linearize((x) => sin(x), [tensor([0, 1])]);
 * f_jvp(tensor([1, 1])); // cos(x)
 * ```
 */
export function linearize<Y extends Tensor>(
  f: (...xs: Tensor[]) => Y,
  primals: readonly Tensor[],
): [Y, (...tangents: Tensor[]) => Tensor] {
  const options = { watchAccessedVariables: false } as const;
  const ft = new GradientTape({ ...options, name: 'linearize' });
  const y = ft.record(() => {
    ft.watch(...primals);
    return f(...primals);
  });
  // J^T u for a symbolic u (zeros: the map is linear, so its value at u does not matter).
  const u = filled(y, 0);
  const ut = new GradientTape({ ...options, persistent: true, name: 'linearize (transpose)' });
  const jtu = ut.record(() => {
    ut.watch(u);
    return ft.gradient(y, [...primals], { outputGradients: u, unconnected: 'zero' });
  });
  const apply = (...tangents: Tensor[]): Tensor => {
    if (tangents.length !== primals.length) {
      throw new Error(`linearize: ${tangents.length} tangents for ${primals.length} primals`);
    }
    return ut.gradient(jtu, u, { outputGradients: tangents, unconnected: 'zero' });
  };
  return [y, apply];
}
