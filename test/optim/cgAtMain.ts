/**
 * truncatedCg as it stood before it became a HostReads computation (main at 4e15a10, with the damped
 * negative-curvature fallback), kept verbatim as the reference the new sync and async drivers must match
 * number for number: the rewrite reads several scalars together and skips reads whose values were never used,
 * which must change no iterate.
 */
import { abs, add, mul, neg, sub, sum, type Tensor } from '../../src/index.js';
import type { CgStop, TruncatedCgOptions, TruncatedCgResult } from '../../src/optim/index.js';

const EPS64 = 2.220446049250313e-16;

function dot(a: Tensor, b: Tensor): number {
  return sum(mul(a, b)).item();
}

function l1(a: Tensor): number {
  return sum(abs(a)).item();
}

/** `truncatedCg` as it was at main 4e15a10, one `.item()` per scalar. */
export function truncatedCgAtMain(
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
