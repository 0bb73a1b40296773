import { ForwardAccumulator } from '../autodiff/forward.js';
import type { HvpMode } from '../autodiff/functional.js';
import { GradientTape } from '../autodiff/tape.js';
import { zerosLike } from '../ops/creation.js';
import { mul } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * An objective evaluated at one point: its value, gradient, and a curvature-vector product `v -> C v` (the
 * Hessian or the Gauss-Newton matrix) that reuses the graph recorded for the gradient, so no Hessian is ever
 * formed and a product costs about one backward pass over the gradient's graph.
 */
export interface CurvaturePoint {
  x: Tensor;
  value: Tensor;
  grad: Tensor;
  /** The curvature matrix times `v` (same shape as x). */
  apply(v: Tensor): Tensor;
}

/** Builds a {@link CurvaturePoint} at x. */
export type CurvatureModel = (x: Tensor) => CurvaturePoint;

// The tapes below ignore Variables an objective may close over: only x is differentiated.
const tapeOptions = { watchAccessedVariables: false } as const;

/** Options of {@link hessianModel}. */
export interface HessianModelOptions {
  /**
   * `reverse-over-reverse` (default): the gradient is computed under a persistent outer tape, kept for the
   * point's life, and each `H v` is one backward pass over it (the outer tape's VJP of the gradient with v;
   * H is symmetric). `forward-over-reverse`: nothing is kept; each `H v` is one gradient pass under a
   * `ForwardAccumulator` with tangent v: less memory, more time per product (bench/hvp.ts measures both).
   */
  hvp?: HvpMode;
}

/**
 * Exact Hessian-vector products, reverse-over-reverse or forward-over-reverse (see {@link HessianModelOptions}).
 *
 * ```ts
 * const pt = hessianModel((x) => sum(pow(x, 4)))(x0);
 * const hv = pt.apply(v); // 12 x0² v
 * ```
 */
export function hessianModel(f: (x: Tensor) => Tensor, options: HessianModelOptions = {}): CurvatureModel {
  if (options.hvp === 'forward-over-reverse') return forwardOverReverseModel(f);
  return (x) => {
    const outer = new GradientTape({ ...tapeOptions, persistent: true });
    const inner = new GradientTape(tapeOptions);
    let value: Tensor | undefined;
    const grad = outer.record(() => {
      outer.watch(x);
      value = inner.record(() => {
        inner.watch(x);
        return f(x);
      });
      return inner.gradient(value, x, { unconnected: 'zero' });
    });
    return {
      x,
      value: value!,
      grad,
      apply: (v) => outer.gradient(grad, x, { outputGradients: v, unconnected: 'zero' }),
    };
  };
}

function gradientAt(f: (x: Tensor) => Tensor, x: Tensor): { value: Tensor; grad: Tensor } {
  const tape = new GradientTape(tapeOptions);
  const value = tape.record(() => {
    tape.watch(x);
    return f(x);
  });
  return { value, grad: tape.gradient(value, x, { unconnected: 'zero' }) };
}

function forwardOverReverseModel(f: (x: Tensor) => Tensor): CurvatureModel {
  return (x) => {
    const { value, grad } = gradientAt(f, x);
    return {
      x,
      value,
      grad,
      apply(v) {
        // The tangent of the gradient along v is H v; the gradient pass's graph is dropped right after.
        const acc = new ForwardAccumulator(x, v);
        const g = acc.record(() => gradientAt(f, x).grad);
        return acc.jvp(g, { unconnected: 'zero' });
      },
    };
  };
}

/**
 * Gauss-Newton products for a least-squares objective `0.5 · |r(x)|²` given the residual function r:
 * `Jᵀ J v`, always positive semi-definite. `J v` comes from the double-VJP trick: `u -> Jᵀ u` is linear in u,
 * so its VJP with v is `J v`; the map `u -> Jᵀ u` is recorded once per point and reused by every product.
 *
 * ```ts
 * const pt = gaussNewtonModel((x) => sub(matmul(A, x), b))(x0);
 * pt.apply(v); // Aᵀ A v
 * ```
 */
export function gaussNewtonModel(residual: (x: Tensor) => Tensor): CurvatureModel {
  return (x) => {
    const rt = new GradientTape({ ...tapeOptions, persistent: true });
    const r = rt.record(() => {
      rt.watch(x);
      return residual(x);
    });
    const value = mul(sum(mul(r, r)), 0.5);
    const grad = rt.gradient(r, x, { outputGradients: r, unconnected: 'zero' });
    let jvp: ((v: Tensor) => Tensor) | undefined;
    const buildJvp = (): ((v: Tensor) => Tensor) => {
      // Any u works (the map is linear); its VJP with v is J v.
      const u = zerosLike(r);
      const ut = new GradientTape({ ...tapeOptions, persistent: true });
      const jtu = ut.record(() => {
        ut.watch(u);
        return rt.gradient(r, x, { outputGradients: u, unconnected: 'zero' });
      });
      return (v) => ut.gradient(jtu, u, { outputGradients: v, unconnected: 'zero' });
    };
    return {
      x,
      value,
      grad,
      apply(v) {
        jvp ??= buildJvp();
        return rt.gradient(r, x, { outputGradients: jvp(v), unconnected: 'zero' });
      },
    };
  };
}
