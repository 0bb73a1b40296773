import { Rng } from '../tensor/random.js';
import { type HostReads, readScalar, runReadsAsync, runReadsSync } from '../tensor/reads.js';
import { Storage, Tensor } from '../tensor/tensor.js';
import { jvp } from './functional.js';
import { GradientTape } from './tape.js';
import { add, constantLike, filled, mul, sumTo } from './tapeMath.js';

/*
 * Written with the tape's own primitives (./tapeMath.ts), not the ops: the checker sits in autodiff, below the
 * ops it checks, and needs only products, sums and constants. Written once as a HostReads computation
 * (../tensor/reads.ts): checkGrads runs it with synchronous reads, checkGradsAsync with asynchronous ones.
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
 * tolerances; they are cast to float64 here on a backend that holds float64 (on a float32-only backend, such
 * as gpu.js, they stay float32: pass a larger `eps` and looser tolerances).
 *
 * Reads synchronously; on a backend that reads only asynchronously (WebGPU) use {@link checkGradsAsync}.
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
  runReadsSync(checkGradsReads(f, inputs, options));
}

/**
 * {@link checkGrads} with asynchronous reads, for every backend (WebGPU included): the same directions, the
 * same numbers, the same verdict; rejects with a {@link GradCheckError}.
 *
 * ```ts
 * await checkGradsAsync((x) => sum(exp(x)), [tensor([0.1, 0.2])], { eps: 1e-2, rtol: 1e-2, atol: 1e-3 });
 * ```
 */
export function checkGradsAsync(
  f: (...xs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  options: CheckGradsOptions = {},
): Promise<void> {
  return runReadsAsync(checkGradsReads(f, inputs, options));
}

function* checkGradsReads(
  f: (...xs: Tensor[]) => Tensor,
  inputs: readonly Tensor[],
  options: CheckGradsOptions,
): HostReads<void> {
  const order = options.order ?? 2;
  const rng = new Rng(options.seed ?? 1234);
  const xs = inputs.map(toWidestFloat);
  const probe = f(...xs);
  const w = randomLike(probe, rng);
  const scalarF = (...a: Tensor[]): Tensor => sumTo(mul(f(...a), w), []);
  yield* checkLevel(scalarF, xs, order, 1, rng, options);
}

function* checkLevel(
  f: (...xs: Tensor[]) => Tensor,
  xs: readonly Tensor[],
  order: number,
  level: number,
  rng: Rng,
  options: CheckGradsOptions,
): HostReads<void> {
  const eps = options.eps ?? 1e-5;
  const rtol = options.rtol ?? 1e-5;
  const atol = options.atol ?? 1e-7;
  const directions = options.directions ?? 2;
  for (let d = 0; d < directions; d++) {
    const v = xs.map((x) => randomLike(x, rng));
    const analytic = yield* readScalar(directional(f, xs, v, options.mode));
    const plus = yield* readScalar(f(...xs.map((x, i) => add(x, mul(v[i]!, filled(x, eps))))));
    const minus = yield* readScalar(f(...xs.map((x, i) => add(x, mul(v[i]!, filled(x, -eps))))));
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
    yield* checkLevel((...a) => directional(f, a, u, options.mode), xs, order, level + 1, rng, options);
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
 * `x` as float64 on its backend (or float32 where the backend holds no float64): a new leaf (the checker
 * differentiates with respect to it, never through the conversion), made by the backend's cast kernel.
 */
function toWidestFloat(x: Tensor): Tensor {
  const dtype = x.backend.floatDTypes.includes('float64') ? 'float64' : 'float32';
  if (x.dtype === dtype) return x;
  return new Tensor(new Storage(x.backend, x.backend.cast(x, dtype)), [...x.shape], dtype);
}
