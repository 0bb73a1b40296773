import { Rng } from '../tensor/random.js';
import { Storage, Tensor } from '../tensor/tensor.js';
import { jvp } from './functional.js';
import { GradientTape } from './tape.js';
import { add, constantLike, filled, mul, sumTo } from './tapeMath.js';

/*
 * Written with the tape's own primitives (./tapeMath.ts), not the ops: the checker sits in autodiff, below the
 * ops it checks, and needs only products, sums and constants.
 */

/** Options of {@link checkGrads}. */
export interface CheckGradsOptions {
  /** Highest derivative order to check (1 = gradient, 2 = gradient of the gradient, ...). Default 2. */
  order?: number;
  /** Central-difference step. Default 1e-5 (float64). */
  eps?: number;
  /** Relative tolerance. Default 1e-5. */
  rtol?: number;
  /** Absolute tolerance. Default 1e-7. */
  atol?: number;
  /** Random directions tried at each order. Default 2. */
  directions?: number;
  /** Seed of the random directions and output projection. */
  seed?: number;
  /**
   * How the analytic directional derivatives are computed: `reverse` (default) by nested
   * `GradientTape`s, `forward` by nested `ForwardAccumulator`s (JVPs), so order n checks n levels
   * of forward-over-forward.
   */
  mode?: 'reverse' | 'forward';
}

/** Thrown by {@link checkGrads} with the order, the analytic and the numerical value. */
export class GradCheckError extends Error {}

/**
 * Checks the derivatives of `f` at `inputs` against central differences along random directions, then
 * recurses: the directional derivative <grad f, u> is itself checked the same way, which verifies the
 * gradient of the gradient computed by nested tapes (as JAX's `check_grads(f, args, order)`).
 *
 * `f` may return any shape (it is projected on a random cotangent). Inputs should be float64 for tight
 * tolerances; they are cast to float64 here.
 *
 * ```ts
 * checkGrads((x) => sum(exp(x)), [tensor([0.1, 0.2], undefined, 'float64')], { order: 3 });
 * ```
 */
export function checkGrads(
  f: (...xs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  options: CheckGradsOptions = {},
): void {
  const order = options.order ?? 2;
  const rng = new Rng(options.seed ?? 1234);
  const xs = inputs.map(toFloat64);
  const probe = f(...xs);
  const w = randomLike(probe, rng);
  const scalarF = (...a: Tensor[]): Tensor => sumTo(mul(f(...a), w), []);
  checkLevel(scalarF, xs, order, 1, rng, options);
}

function checkLevel(
  f: (...xs: Tensor[]) => Tensor,
  xs: readonly Tensor[],
  order: number,
  level: number,
  rng: Rng,
  options: CheckGradsOptions,
): void {
  const eps = options.eps ?? 1e-5;
  const rtol = options.rtol ?? 1e-5;
  const atol = options.atol ?? 1e-7;
  const directions = options.directions ?? 2;
  for (let d = 0; d < directions; d++) {
    const v = xs.map((x) => randomLike(x, rng));
    const analytic = directional(f, xs, v, options.mode).item();
    const plus = f(...xs.map((x, i) => add(x, mul(v[i]!, filled(x, eps))))).item();
    const minus = f(...xs.map((x, i) => add(x, mul(v[i]!, filled(x, -eps))))).item();
    const numeric = (plus - minus) / (2 * eps);
    const tol = atol + rtol * Math.max(Math.abs(analytic), Math.abs(numeric));
    if (!(Math.abs(analytic - numeric) <= tol)) {
      throw new GradCheckError(
        `gradient check failed at order ${level}: analytic ${analytic} vs numerical ${numeric} (|diff| ${Math.abs(analytic - numeric)} > tol ${tol})`,
      );
    }
  }
  if (level < order) {
    const u = xs.map((x) => randomLike(x, rng));
    // The next level checks the derivative of <grad f, u>, computed inside the caller's tape (or accumulator).
    checkLevel((...a) => directional(f, a, u, options.mode), xs, order, level + 1, rng, options);
  }
}

/** <grad f(xs), v> as a differentiable scalar: by a tape's gradient, or as one JVP. */
function directional(
  f: (...xs: Tensor[]) => Tensor,
  xs: readonly Tensor[],
  v: readonly Tensor[],
  mode: 'reverse' | 'forward' = 'reverse',
): Tensor {
  if (mode === 'forward') return jvp(f, xs, v)[1];
  const g = gradientOf(f, xs);
  let s: Tensor | undefined;
  for (let i = 0; i < xs.length; i++) {
    const term = sumTo(mul(g[i]!, v[i]!), []);
    s = s ? add(s, term) : term;
  }
  return s!;
}

function gradientOf(f: (...xs: Tensor[]) => Tensor, xs: readonly Tensor[]): Tensor[] {
  const tape = new GradientTape();
  const y = tape.record(() => {
    tape.watch(...xs);
    return f(...xs);
  });
  return tape.gradient(y, [...xs], { unconnected: 'zero' });
}

/** Normal random values shaped, typed and placed like `t`. */
function randomLike(t: Tensor, rng: Rng): Tensor {
  const data = new Float64Array(t.size);
  for (let i = 0; i < data.length; i++) data[i] = rng.normal();
  return constantLike(data, t.shape, t);
}

/**
 * `x` as float64 on its backend: a new leaf (the checker differentiates with respect to it, never through
 * the conversion), made by the backend's cast kernel.
 */
function toFloat64(x: Tensor): Tensor {
  if (x.dtype === 'float64') return x;
  return new Tensor(new Storage(x.backend, x.backend.cast(x, 'float64')), [...x.shape], 'float64');
}
