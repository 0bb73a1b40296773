import { getDefaultFloat } from '../backends/registry.js';
import { sampleSinusoidTasks } from '../data/sinusoid.js';
import { tensor } from '../ops/creation.js';
import type { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * A meta-batch of T tasks, task-major: `supportX [T, K, ...features]`, `supportY [T, K, ...]`, and the same
 * for the query set. Classification labels are int32 `[T, K]`.
 */
export interface TaskBatch {
  supportX: Tensor;
  supportY: Tensor;
  queryX: Tensor;
  queryY: Tensor;
}

/** What kind of problem a task family poses (chooses the loss and the metric). */
export type TaskKind = 'regression' | 'classification';

/** A task family the trainer samples meta-batches from. */
export interface TaskSource {
  readonly kind: TaskKind;
  /** Per-example input shape (without task and example axes). */
  readonly inputShape: readonly number[];
  /** Output units of the network (1 for regression, N ways for classification). */
  readonly outputDim: number;
  /** Samples `count` tasks with `shots` support examples (per class) and the configured query size. */
  sample(rng: Rng, count: number, split: 'train' | 'test', shots?: number): TaskBatch;
}

/** Options of {@link sinusoidSource}. */
export interface SinusoidSourceOptions {
  shots: number;
  queryShots: number;
  amplitude?: readonly [number, number];
  phase?: readonly [number, number];
  xRange?: readonly [number, number];
}

/** The MAML paper's sinusoid regression family as a {@link TaskSource} (train and test draw from one family). */
export function sinusoidSource(options: SinusoidSourceOptions): TaskSource {
  return {
    kind: 'regression',
    inputShape: [1],
    outputDim: 1,
    sample(rng, count, _split, shots) {
      const b = sampleSinusoidTasks(rng, {
        count,
        supportShots: shots ?? options.shots,
        queryShots: options.queryShots,
        ...(options.amplitude ? { amplitude: options.amplitude } : {}),
        ...(options.phase ? { phase: options.phase } : {}),
        ...(options.xRange ? { xRange: options.xRange } : {}),
      });
      // The data layer yields float32; tensors take the run's dtype (float64 for tight checks).
      const dt = getDefaultFloat();
      return {
        supportX: tensor(b.supportX, b.shapes.supportX, dt),
        supportY: tensor(b.supportY, b.shapes.supportY, dt),
        queryX: tensor(b.queryX, b.shapes.queryX, dt),
        queryY: tensor(b.queryY, b.shapes.queryY, dt),
      };
    },
  };
}
