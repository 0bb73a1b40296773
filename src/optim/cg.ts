import { abs, add, mul, neg, sub } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import type { Tensor } from '../tensor/tensor.js';

/** Why {@link truncatedCg} stopped. */
export type CgStop = 'converged' | 'negativeCurvature' | 'zeroCurvature' | 'maxIterations';

/** Options of {@link truncatedCg}. */
export interface TruncatedCgOptions {
  /** Cap on CG iterations (curvature products). */
  maxIterations: number;
  /** Added to the curvature: solves (C + damping·I) p = -g. Default 0. */
  damping?: number;
  /** A fixed forcing term eta in place of `min(0.5, sqrt(|g|₁))` (e.g. 1e-10 for an exact Newton step). */
  forcing?: number;
}

/** Result of {@link truncatedCg}. */
export interface TruncatedCgResult {
  /** The search direction. */
  p: Tensor;
  iterations: number;
  /** Curvature-vector products evaluated. */
  products: number;
  stop: CgStop;
  /** The damped model's curvature along p, pᵀ(C + λI)p (NaN when the steepest-descent fallback was taken). */
  pAp: number;
}

const EPS64 = 2.220446049250313e-16;

function dot(a: Tensor, b: Tensor): number {
  return sum(mul(a, b)).item();
}

function l1(a: Tensor): number {
  return sum(abs(a)).item();
}

/**
 * Approximately solves `(C + λI) p = -g` by conjugate gradient from p = 0, as SciPy's Newton-CG inner loop:
 * it stops when the residual's L1 norm is at most `eta · |g|₁` with the forcing term `eta = min(0.5,
 * sqrt(|g|₁))` (so the outer iteration converges superlinearly), after `maxIterations` products, or on
 * non-positive curvature: then the last iterate is used, or on the first iteration the steepest-descent
 * step `-(gᵀg / |gᵀCg|) g`, or with `damping` λ > 0 the bounded `-g / λ` (the damped system's solution
 * without the curvature). Only scalars are read back (the control logic); vectors stay tensors.
 *
 * ```ts
 * const { p } = truncatedCg((v) => pt.apply(v), pt.grad, { maxIterations: 20 * n });
 * ```
 */
export function truncatedCg(
  apply: (v: Tensor) => Tensor,
  g: Tensor,
  options: TruncatedCgOptions,
): TruncatedCgResult {
  const damping = options.damping ?? 0;
  const op = damping > 0 ? (v: Tensor) => add(apply(v), mul(v, damping)) : apply;
  const maggrad = l1(g);
  const eta = options.forcing ?? Math.min(0.5, Math.sqrt(maggrad));
  const termcond = eta * maggrad;
  let x: Tensor | null = null; // null stands for zeros, saving the first iteration's adds
  let r = g; // residual (C + λI) x + g
  let p = neg(g);
  let rr = dot(r, r);
  let pp = rr; // |p|², tracked for the relative zero-curvature test
  let products = 0;
  for (let i = 0; i < options.maxIterations; i++) {
    if (l1(r) <= termcond) return finish('converged', i);
    const Ap = op(p);
    products++;
    const curv = dot(p, Ap);
    // SciPy tests curv <= 3·eps absolutely, which fires near the solution where p is tiny and then throws
    // the Newton step away; relative to |p|² it only fires on (numerically) flat directions.
    if (curv >= 0 && curv <= 3 * EPS64 * pp) return finish('zeroCurvature', i);
    if (!(curv > 0)) {
      // Negative (or NaN) curvature: keep what CG built so far; on the first iteration, a scaled steepest
      // descent step (the model is unbounded below along -g, so its length comes from |gᵀCg|).
      if (i > 0 || Number.isNaN(curv)) return finish('negativeCurvature', i);
      // Damped (iMAML's (H + lambda I) v = lambda g, a damped Newton step): the damped system's solution with
      // the curvature left out, -g / lambda. The undamped rule's rr / curv is unbounded as curv -> 0-, and a
      // ReLU network's Hessian often has eigenvalues just below -lambda (issue 15: iMAML diverged on it).
      const step = damping > 0 ? -1 / damping : rr / curv; // curv < 0: either is a descent step
      return { p: mul(g, step), iterations: 0, products, stop: 'negativeCurvature', pAp: Number.NaN };
    }
    const alpha = rr / curv;
    x = x ? add(x, mul(p, alpha)) : mul(p, alpha);
    r = add(r, mul(Ap, alpha));
    const rr1 = dot(r, r);
    p = add(neg(r), mul(p, rr1 / rr));
    pp = dot(p, p);
    rr = rr1;
  }
  return finish('maxIterations', options.maxIterations);

  function finish(stop: CgStop, iterations: number): TruncatedCgResult {
    // No progress (zero curvature on the first product): fall back to steepest descent.
    if (!x) return { p: neg(g), iterations, products, stop, pAp: Number.NaN };
    // r = A x + g, so xᵀ A x = xᵀ (r - g): the model curvature without another product.
    return { p: x, iterations, products, stop, pAp: dot(x, sub(r, g)) };
  }
}
