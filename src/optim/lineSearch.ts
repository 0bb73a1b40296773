/**
 * Scalar line searches on host numbers. `phi(alpha)` is the objective along the search direction and
 * `derphi(alpha)` its slope; callers cache evaluations so that asking for both at one alpha costs one
 * objective-and-gradient evaluation. Each search is written once as a {@link HostReads} computation
 * (`strongWolfeReads`, `backtrackingArmijoReads`), whose `phi` and `derphi` may read tensors, so Newton-CG
 * runs it with synchronous or asynchronous reads; `strongWolfe` and `backtrackingArmijo` run it on plain
 * host functions.
 */
import { type HostReads, noReads, runReadsSync } from '../tensor/reads.js';

/** The objective along a direction. */
export interface LineFunction {
  phi(alpha: number): number;
  derphi(alpha: number): number;
}

/** {@link LineFunction} whose values may come from reading tensors (see {@link HostReads}). */
export interface LineFunctionReads {
  phi(alpha: number): HostReads<number>;
  derphi(alpha: number): HostReads<number>;
}

/** Host functions as a {@link LineFunctionReads} that reads nothing. */
function onHost(fn: LineFunction): LineFunctionReads {
  return { phi: (alpha) => noReads(fn.phi(alpha)), derphi: (alpha) => noReads(fn.derphi(alpha)) };
}

/** Options of {@link strongWolfe}. */
export interface WolfeOptions {
  /** Sufficient-decrease constant (default 1e-4). */
  c1?: number;
  /** Curvature constant (default 0.9, right for Newton and quasi-Newton directions). */
  c2?: number;
  /** First trial step (default 1). */
  alpha1?: number;
  /** Largest step tried (default none). */
  amax?: number;
  /** Bracketing iterations (default 10, as SciPy). */
  maxIterations?: number;
}

/** A step satisfying the line search's conditions, or `null` when it failed. */
export type LineSearchResult = { alpha: number; phi: number } | null;

/**
 * A strong-Wolfe line search: the bracketing phase and the zoom with cubic/quadratic interpolation of Nocedal
 * & Wright (Algorithms 3.5 and 3.6), following SciPy's `scalar_search_wolfe2` step for step.
 *
 * ```ts
 * const r = strongWolfe({ phi: (a) => (a - 2) ** 2, derphi: (a) => 2 * (a - 2) }, 4, -4);
 * ```
 */
export function strongWolfe(
  fn: LineFunction,
  phi0: number,
  derphi0: number,
  options: WolfeOptions = {},
): LineSearchResult {
  return runReadsSync(strongWolfeReads(onHost(fn), phi0, derphi0, options));
}

/**
 * {@link strongWolfe} as a {@link HostReads} computation: `fn`'s values may be tensors read back by the
 * driver that runs it.
 *
 * ```ts
 * const r = await runReadsAsync(strongWolfeReads({ *phi(a) { return yield* readScalar(f(a)); }, derphi }, f0, g0));
 * ```
 */
export function* strongWolfeReads(
  fn: LineFunctionReads,
  phi0: number,
  derphi0: number,
  options: WolfeOptions = {},
): HostReads<LineSearchResult> {
  const c1 = options.c1 ?? 1e-4;
  const c2 = options.c2 ?? 0.9;
  const amax = options.amax;
  const maxIterations = options.maxIterations ?? 10;
  let alpha0 = 0;
  let alpha1 = options.alpha1 ?? 1;
  if (amax !== undefined) alpha1 = Math.min(alpha1, amax);
  let phiA0 = phi0;
  let phiA1 = yield* fn.phi(alpha1);
  let derphiA0 = derphi0;
  for (let i = 0; i < maxIterations; i++) {
    if (alpha1 === 0 || (amax !== undefined && alpha0 === amax)) return null;
    if (phiA1 > phi0 + c1 * alpha1 * derphi0 || !Number.isFinite(phiA1) || (phiA1 >= phiA0 && i > 0)) {
      return yield* zoom(fn, alpha0, alpha1, phiA0, phiA1, derphiA0, phi0, derphi0, c1, c2);
    }
    const derphiA1 = yield* fn.derphi(alpha1);
    if (Math.abs(derphiA1) <= -c2 * derphi0) return { alpha: alpha1, phi: phiA1 };
    if (derphiA1 >= 0) return yield* zoom(fn, alpha1, alpha0, phiA1, phiA0, derphiA1, phi0, derphi0, c1, c2);
    let alpha2 = 2 * alpha1;
    if (amax !== undefined) alpha2 = Math.min(alpha2, amax);
    alpha0 = alpha1;
    alpha1 = alpha2;
    phiA0 = phiA1;
    phiA1 = yield* fn.phi(alpha1);
    derphiA0 = derphiA1;
  }
  // Still decreasing after the last doubling: accept the largest step if it decreased enough.
  return phiA1 <= phi0 + c1 * alpha1 * derphi0 ? { alpha: alpha1, phi: phiA1 } : null;
}

function cubicmin(
  a: number,
  fa: number,
  fpa: number,
  b: number,
  fb: number,
  c: number,
  fc: number,
): number | null {
  const C = fpa;
  const db = b - a;
  const dc = c - a;
  const denom = (db * dc) ** 2 * (db - dc);
  const y1 = fb - fa - C * db;
  const y2 = fc - fa - C * dc;
  const A = (dc ** 2 * y1 - db ** 2 * y2) / denom;
  const B = (-(dc ** 3) * y1 + db ** 3 * y2) / denom;
  const radical = B * B - 3 * A * C;
  const xmin = a + (-B + Math.sqrt(radical)) / (3 * A);
  return Number.isFinite(xmin) ? xmin : null;
}

function quadmin(a: number, fa: number, fpa: number, b: number, fb: number): number | null {
  const db = b - a;
  const B = (fb - fa - fpa * db) / (db * db);
  const xmin = a - fpa / (2 * B);
  return Number.isFinite(xmin) ? xmin : null;
}

function* zoom(
  fn: LineFunctionReads,
  aLo: number,
  aHi: number,
  phiLo: number,
  phiHi: number,
  derphiLo: number,
  phi0: number,
  derphi0: number,
  c1: number,
  c2: number,
): HostReads<LineSearchResult> {
  const maxIterations = 10;
  const delta1 = 0.2; // cubic interpolant check
  const delta2 = 0.1; // quadratic interpolant check
  let phiRec = phi0;
  let aRec = 0;
  for (let i = 0; ; i++) {
    const dalpha = aHi - aLo;
    const [a, b] = dalpha < 0 ? [aHi, aLo] : [aLo, aHi];
    let aj: number | null = null;
    let cchk = 0;
    if (i > 0) {
      cchk = delta1 * dalpha;
      aj = cubicmin(aLo, phiLo, derphiLo, aHi, phiHi, aRec, phiRec);
    }
    if (i === 0 || aj === null || aj > b - cchk || aj < a + cchk) {
      const qchk = delta2 * dalpha;
      aj = Number.isFinite(phiHi) ? quadmin(aLo, phiLo, derphiLo, aHi, phiHi) : null;
      if (aj === null || aj > b - qchk || aj < a + qchk) aj = aLo + 0.5 * dalpha;
    }
    const phiAj = yield* fn.phi(aj);
    if (!Number.isFinite(phiAj) || phiAj > phi0 + c1 * aj * derphi0 || phiAj >= phiLo) {
      phiRec = phiHi;
      aRec = aHi;
      aHi = aj;
      phiHi = phiAj;
    } else {
      const derphiAj = yield* fn.derphi(aj);
      if (Math.abs(derphiAj) <= -c2 * derphi0) return { alpha: aj, phi: phiAj };
      if (derphiAj * (aHi - aLo) >= 0) {
        phiRec = phiHi;
        aRec = aHi;
        aHi = aLo;
        phiHi = phiLo;
      } else {
        phiRec = phiLo;
        aRec = aLo;
      }
      aLo = aj;
      phiLo = phiAj;
      derphiLo = derphiAj;
    }
    if (i + 1 > maxIterations) return null;
  }
}

/** Options of {@link backtrackingArmijo}. */
export interface ArmijoOptions {
  /** Sufficient-decrease constant (default 1e-4). */
  c1?: number;
  /** Step shrink factor (default 0.5). */
  shrink?: number;
  /** First trial step (default 1). */
  alpha1?: number;
  /** Trials before giving up (default 30). */
  maxIterations?: number;
}

/**
 * Backtracking until the Armijo (sufficient decrease) condition holds; needs only values.
 *
 * ```ts
 * const r = backtrackingArmijo((a) => (a - 0.3) ** 2, 0.09, -0.6);
 * ```
 */
export function backtrackingArmijo(
  phi: (alpha: number) => number,
  phi0: number,
  derphi0: number,
  options: ArmijoOptions = {},
): LineSearchResult {
  return runReadsSync(backtrackingArmijoReads((alpha) => noReads(phi(alpha)), phi0, derphi0, options));
}

/**
 * {@link backtrackingArmijo} as a {@link HostReads} computation (`phi`'s values may be read tensors).
 *
 * ```ts
 * const r = runReadsSync(backtrackingArmijoReads(function* (a) { return yield* readScalar(f(a)); }, f0, g0));
 * ```
 */
export function* backtrackingArmijoReads(
  phi: (alpha: number) => HostReads<number>,
  phi0: number,
  derphi0: number,
  options: ArmijoOptions = {},
): HostReads<LineSearchResult> {
  const c1 = options.c1 ?? 1e-4;
  const shrink = options.shrink ?? 0.5;
  let alpha = options.alpha1 ?? 1;
  const maxIterations = options.maxIterations ?? 30;
  for (let i = 0; i < maxIterations; i++) {
    const v = yield* phi(alpha);
    if (Number.isFinite(v) && v <= phi0 + c1 * alpha * derphi0) return { alpha, phi: v };
    alpha *= shrink;
  }
  return null;
}
