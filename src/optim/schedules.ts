import { OptimizerError, type Schedule } from './types.js';

// Schedules are host functions of the update count, which optimizers keep as a plain number in their state:
// the count is never differentiated, so computing the learning rate on the host costs no device read.

/**
 * The same value at every step.
 *
 * ```ts
 * const lr = constantSchedule(1e-3);
 * lr(0); // 0.001
 * ```
 */
export function constantSchedule(value: number): Schedule {
  return () => value;
}

/** Options of {@link stepSchedule}. */
export interface StepScheduleOptions {
  /** Value for the first `stepSize` updates. */
  init: number;
  /** Number of updates between decays. */
  stepSize: number;
  /** Multiplier applied every `stepSize` updates (default 0.1). */
  gamma?: number;
}

/**
 * Step decay (PyTorch's `StepLR`): `init * gamma^floor(count / stepSize)`.
 *
 * ```ts
 * const lr = stepSchedule({ init: 0.1, stepSize: 100, gamma: 0.5 });
 * lr(250); // 0.025
 * ```
 */
export function stepSchedule(options: StepScheduleOptions): Schedule {
  const { init, stepSize } = options;
  const gamma = options.gamma ?? 0.1;
  if (!(stepSize > 0)) throw new OptimizerError(`stepSchedule: stepSize must be positive, got ${stepSize}`);
  return (count) => init * gamma ** Math.floor(count / stepSize);
}

/** Options of {@link cosineDecaySchedule}. */
export interface CosineDecayOptions {
  /** Value at count 0. */
  init: number;
  /** Updates over which the value decays; it stays at the floor afterwards. */
  decaySteps: number;
  /** Floor as a fraction of `init` (default 0). */
  alpha?: number;
}

/**
 * Cosine decay (optax's `cosine_decay_schedule`): from `init` to `alpha * init` over `decaySteps`.
 *
 * ```ts
 * const lr = cosineDecaySchedule({ init: 1e-3, decaySteps: 1000 });
 * lr(500); // 5e-4
 * ```
 */
export function cosineDecaySchedule(options: CosineDecayOptions): Schedule {
  const { init, decaySteps } = options;
  const alpha = options.alpha ?? 0;
  if (!(decaySteps > 0))
    throw new OptimizerError(`cosineDecaySchedule: decaySteps must be positive, got ${decaySteps}`);
  return (count) => {
    const t = Math.min(count, decaySteps) / decaySteps;
    return init * ((1 - alpha) * 0.5 * (1 + Math.cos(Math.PI * t)) + alpha);
  };
}

/** Options of {@link warmupSchedule}. */
export interface WarmupOptions {
  /** Updates of linear warm-up. */
  warmupSteps: number;
  /** Value at count 0 (default 0). */
  initValue?: number;
}

/**
 * Linear warm-up from `initValue` to `after(0)` over `warmupSteps`, then `after` with its count restarted at
 * zero (optax's `join_schedules` of a linear ramp and `after`).
 *
 * ```ts
 * const lr = warmupSchedule(cosineDecaySchedule({ init: 1e-3, decaySteps: 900 }), { warmupSteps: 100 });
 * lr(50); // 5e-4
 * ```
 */
export function warmupSchedule(after: Schedule, options: WarmupOptions): Schedule {
  const { warmupSteps } = options;
  const start = options.initValue ?? 0;
  if (!(warmupSteps >= 0))
    throw new OptimizerError(`warmupSchedule: warmupSteps must be >= 0, got ${warmupSteps}`);
  return (count) => {
    if (count >= warmupSteps) return after(count - warmupSteps);
    return start + (after(0) - start) * (count / warmupSteps);
  };
}
