/**
 * The sinusoid regression family of the MAML paper (Finn et al. 2017, section 5.1):
 * y = A sin(x - phase) with A ~ U[0.1, 5], phase ~ U[0, pi], x ~ U[-5, 5]. Batches are laid out task-major
 * ([T, K, 1]) so a trainer can run all T tasks of a meta-batch as one batched tensor.
 */
import { DataConfigError } from './errors.js';
import type { RandomSource } from './random-source.js';

/** A closed-open interval [lo, hi) a parameter is drawn from uniformly. */
export type Range = readonly [lo: number, hi: number];

/** The MAML paper's amplitude range. */
export const SINUSOID_AMPLITUDE: Range = [0.1, 5];
/** The MAML paper's phase range. */
export const SINUSOID_PHASE: Range = [0, Math.PI];
/** The MAML paper's input range. */
export const SINUSOID_X_RANGE: Range = [-5, 5];

/** Options of {@link sampleSinusoidTasks}. */
export interface SinusoidOptions {
  /** Number of tasks T in the batch. */
  count: number;
  /** Support (inner-loop training) points per task, K. */
  supportShots: number;
  /** Query (outer-loop evaluation) points per task, Q. */
  queryShots: number;
  /** Amplitude range; defaults to {@link SINUSOID_AMPLITUDE}. */
  amplitude?: Range;
  /** Phase range; defaults to {@link SINUSOID_PHASE}. */
  phase?: Range;
  /** Input range; defaults to {@link SINUSOID_X_RANGE}. */
  xRange?: Range;
}

/** A batch of T sinusoid tasks; every array is row-major in the shape given in `shapes`. */
export interface SinusoidBatch {
  /** Support inputs, [T, K, 1]. */
  supportX: Float32Array;
  /** Support targets, [T, K, 1]. */
  supportY: Float32Array;
  /** Query inputs, [T, Q, 1]. */
  queryX: Float32Array;
  /** Query targets, [T, Q, 1]. */
  queryY: Float32Array;
  /** Each task's amplitude, [T]. */
  amplitude: Float32Array;
  /** Each task's phase, [T]. */
  phase: Float32Array;
  /** The shapes of the arrays above. */
  shapes: {
    supportX: [number, number, number];
    supportY: [number, number, number];
    queryX: [number, number, number];
    queryY: [number, number, number];
    amplitude: [number];
    phase: [number];
  };
}

/**
 * Samples T sinusoid tasks with K support and Q query points each.
 *
 * Draw order is fixed (per task: amplitude, phase, K support x, Q query x), so the same RNG state always gives
 * the same batch.
 *
 * @param rng the explicit random source (e.g. `new Rng(seed)` from `src/tensor/random.ts`); it is advanced.
 * @throws DataConfigError on non-positive counts or empty/inverted ranges.
 */
export function sampleSinusoidTasks(rng: RandomSource, options: SinusoidOptions): SinusoidBatch {
  const { count: t, supportShots: k, queryShots: q } = options;
  checkCount('count', t, 1);
  checkCount('supportShots', k, 0);
  checkCount('queryShots', q, 0);
  const amp = checkRange('amplitude', options.amplitude ?? SINUSOID_AMPLITUDE);
  const ph = checkRange('phase', options.phase ?? SINUSOID_PHASE);
  const xr = checkRange('xRange', options.xRange ?? SINUSOID_X_RANGE);

  const supportX = new Float32Array(t * k);
  const supportY = new Float32Array(t * k);
  const queryX = new Float32Array(t * q);
  const queryY = new Float32Array(t * q);
  const amplitude = new Float32Array(t);
  const phase = new Float32Array(t);
  for (let i = 0; i < t; i++) {
    const a = draw(rng, amp);
    const p = draw(rng, ph);
    amplitude[i] = a;
    phase[i] = p;
    fillPoints(rng, xr, a, p, supportX, supportY, i * k, k);
    fillPoints(rng, xr, a, p, queryX, queryY, i * q, q);
  }
  return {
    supportX,
    supportY,
    queryX,
    queryY,
    amplitude,
    phase,
    shapes: {
      supportX: [t, k, 1],
      supportY: [t, k, 1],
      queryX: [t, q, 1],
      queryY: [t, q, 1],
      amplitude: [t],
      phase: [t],
    },
  };
}

/** A task's true curve sampled on an even grid, for plots. */
export interface SinusoidCurve {
  /** Grid inputs, `points` values from lo to hi inclusive. */
  x: Float32Array;
  /** A sin(x - phase) at each grid input. */
  y: Float32Array;
}

/**
 * The true curve y = amplitude * sin(x - phase) on `points` evenly spaced inputs over `xRange` (ends included).
 *
 * @throws DataConfigError when `points` < 2 or the range is empty.
 */
export function sinusoidCurve(
  amplitude: number,
  phase: number,
  points = 200,
  xRange: Range = SINUSOID_X_RANGE,
): SinusoidCurve {
  checkCount('points', points, 2);
  const [lo, hi] = checkRange('xRange', xRange);
  const x = new Float32Array(points);
  const y = new Float32Array(points);
  for (let i = 0; i < points; i++) {
    const xi = lo + ((hi - lo) * i) / (points - 1);
    x[i] = xi;
    y[i] = amplitude * Math.sin(xi - phase);
  }
  return { x, y };
}

function fillPoints(
  rng: RandomSource,
  xr: Range,
  a: number,
  p: number,
  xs: Float32Array,
  ys: Float32Array,
  offset: number,
  n: number,
): void {
  for (let j = 0; j < n; j++) {
    const x = draw(rng, xr);
    xs[offset + j] = x;
    ys[offset + j] = a * Math.sin(x - p);
  }
}

function draw(rng: RandomSource, [lo, hi]: Range): number {
  return lo + (hi - lo) * rng.uniform();
}

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new DataConfigError(`sinusoid: ${name} must be an integer >= ${min}, got ${value}`);
  }
}

function checkRange(name: string, range: Range): Range {
  const [lo, hi] = range;
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || hi < lo) {
    throw new DataConfigError(
      `sinusoid: ${name} must be a finite [lo, hi] with lo <= hi, got [${lo}, ${hi}]`,
    );
  }
  return range;
}
