import { abs, add, mul, neg, sub } from '../ops/elementwise.js';
import { readScalars } from '../ops/readScalars.js';
import { sum } from '../ops/reduce.js';
import { type HostReads, readScalar, runReadsAsync, runReadsSync } from '../tensor/reads.js';
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
  /**
   * With `damping` λ: also stop as on negative curvature where the undamped operator curves down along p
   * (pᵀCp < 0, i.e. pᵀ(C + λI)p < λ|p|²), so the solution is built only along directions where C is
   * positive and every step is at most |r|²/(λ|p|²) long (Steihaug's rule applied to C). CG on an indefinite
   * C + λI can otherwise take an arbitrarily long step where pᵀ(C + λI)p is small but positive; iMAML sets it
   * (a ReLU network's Hessian is indefinite). Default false.
   */
  positiveCurvatureOnly?: boolean;
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

function dot(a: Tensor, b: Tensor): Tensor {
  return sum(mul(a, b));
}

function l1(a: Tensor): Tensor {
  return sum(abs(a));
}

/**
 * Approximately solves `(C + λI) p = -g` by conjugate gradient from p = 0, as SciPy's Newton-CG inner loop:
 * it stops when the residual's L1 norm is at most `eta · |g|₁` with the forcing term `eta = min(0.5,
 * sqrt(|g|₁))` (so the outer iteration converges superlinearly), after `maxIterations` products, or on
 * non-positive curvature: then the last iterate is used, or on the first iteration the steepest-descent
 * step `-(gᵀg / |gᵀCg|) g`, or with `damping` λ > 0 the bounded `-g / λ` (the damped system's solution
 * without the curvature). Only scalars are read back (the control logic); vectors stay tensors. Reads
 * synchronously: on a backend that reads only asynchronously (WebGPU) use {@link truncatedCgAsync}.
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
  return runReadsSync(truncatedCgReads(apply, g, options));
}

/**
 * {@link truncatedCg} with asynchronous reads, for every backend (WebGPU included): the same iterates and
 * the same result, number for number.
 *
 * ```ts
 * const { p } = await truncatedCgAsync((v) => hvp(f, x, v), g, { maxIterations: 5, damping: 1 });
 * ```
 */
export function truncatedCgAsync(
  apply: (v: Tensor) => Tensor,
  g: Tensor,
  options: TruncatedCgOptions,
): Promise<TruncatedCgResult> {
  return runReadsAsync(truncatedCgReads(apply, g, options));
}

/**
 * {@link truncatedCg} as a {@link HostReads} computation (run it with `runReadsSync`/`runReadsAsync`, or
 * `yield*` it from another one). Scalars needed at the same point are read together: about two reads per
 * CG iteration (the curvature with |p|², then the new residual's squared and L1 norms).
 */
export function* truncatedCgReads(
  apply: (v: Tensor) => Tensor,
  g: Tensor,
  options: TruncatedCgOptions,
): HostReads<TruncatedCgResult> {
  const damping = options.damping ?? 0;
  const maxIterations = options.maxIterations;
  const op = damping > 0 ? (v: Tensor) => add(apply(v), mul(v, damping)) : apply;
  // Forcing 0 (an exact solve, iMAML's) converges only on a zero residual, which |r|² tells as well as |r|₁:
  // the L1 norms, a pass over the vector each iteration, are then not computed.
  const useL1 = options.forcing !== 0;
  const [maggrad, gg] = useL1 ? yield* readScalars([l1(g), dot(g, g)]) : [0, yield* readScalar(dot(g, g))];
  const eta = options.forcing ?? Math.min(0.5, Math.sqrt(maggrad));
  const termcond = useL1 ? eta * maggrad : 0;
  let x: Tensor | null = null; // null stands for zeros, saving the first iteration's adds
  let r = g; // residual (C + λI) x + g
  let rl1 = maggrad; // |r|₁, for the stopping test (r = g at first)
  let p = neg(g);
  let rr = gg;
  let products = 0;
  for (let i = 0; i < maxIterations; i++) {
    if ((useL1 ? rl1 : rr) <= termcond) return yield* finish('converged', i);
    const Ap = op(p);
    products++;
    // |p|² for the relative zero-curvature test, read with the curvature; p = -g at first, so |p|² = gᵀg.
    const [curv, pp] =
      i === 0 ? [yield* readScalar(dot(p, Ap)), rr] : yield* readScalars([dot(p, Ap), dot(p, p)]);
    // SciPy tests curv <= 3·eps absolutely, which fires near the solution where p is tiny and then throws
    // the Newton step away; relative to |p|² it only fires on (numerically) flat directions.
    if (curv >= 0 && curv <= 3 * EPS64 * pp) return yield* finish('zeroCurvature', i);
    if (!(curv > 0) || (options.positiveCurvatureOnly && curv < damping * pp)) {
      // Negative (or NaN) curvature: keep what CG built so far; on the first iteration, a scaled steepest
      // descent step (the model is unbounded below along -g, so its length comes from |gᵀCg|).
      if (i > 0 || Number.isNaN(curv)) return yield* finish('negativeCurvature', i);
      // Damped (iMAML's (H + lambda I) v = lambda g, a damped Newton step): the damped system's solution with
      // the curvature left out, -g / lambda. The undamped rule's rr / curv is unbounded as curv -> 0-, and a
      // ReLU network's Hessian often has eigenvalues just below -lambda (issue 15: iMAML diverged on it).
      const step = damping > 0 ? -1 / damping : rr / curv; // curv < 0: either is a descent step
      return { p: mul(g, step), iterations: 0, products, stop: 'negativeCurvature', pAp: Number.NaN };
    }
    const alpha = rr / curv;
    x = x ? add(x, mul(p, alpha)) : mul(p, alpha);
    r = add(r, mul(Ap, alpha));
    // The last iteration's new direction and residual norms would never be used.
    if (i === maxIterations - 1) break;
    const [rr1, r1] = useL1 ? yield* readScalars([dot(r, r), l1(r)]) : [yield* readScalar(dot(r, r)), 0];
    p = add(neg(r), mul(p, rr1 / rr));
    rr = rr1;
    rl1 = r1;
  }
  return yield* finish('maxIterations', maxIterations);

  function* finish(stop: CgStop, iterations: number): HostReads<TruncatedCgResult> {
    // No progress (zero curvature on the first product): fall back to steepest descent.
    if (!x) return { p: neg(g), iterations, products, stop, pAp: Number.NaN };
    // r = A x + g, so xᵀ A x = xᵀ (r - g): the model curvature without another product.
    return { p: x, iterations, products, stop, pAp: yield* readScalar(dot(x, sub(r, g))) };
  }
}
