/**
 * The messages between {@link MetaGradientThreads} (src/meta/threads.ts) and its workers
 * (src/meta/threadWorker.ts): plain data only, so that both sides agree on one shape and nothing but typed
 * arrays crosses the thread boundary.
 */
import type { MessagePort } from 'node:worker_threads';
import type { DType, TypedArray } from '../tensor/dtype.js';

/**
 * How a worker builds its own copy of the learner: it imports `module` and calls its export `exportName` with
 * `arg` (structured-cloneable), which returns a `MetaLearner` or a promise of one. The function must set up
 * the worker's backend and default dtype as the main thread's (a worker starts with the defaults).
 */
export interface LearnerRecipe {
  /** URL of an ES module (`new URL('./setup.js', import.meta.url).href`). */
  module: string;
  /** The exported function that builds the learner. */
  exportName: string;
  /** Its argument. */
  arg: unknown;
}

/** A tensor as data: the typed array (float32, float64 or int32) and the shape. */
export interface WireTensor {
  data: TypedArray;
  shape: number[];
  dtype: DType;
}

/** What the worker receives at start (`workerData`). */
export interface WorkerInit {
  recipe: LearnerRecipe;
  /** `Int32Array` over one cell: the count of finished jobs, which the main thread waits on. */
  signal: SharedArrayBuffer;
  /** Where results go; the main thread reads them synchronously (`receiveMessageOnPort`). */
  reply: MessagePort;
}

/** One job: the meta-gradient of a slice of a meta-batch's tasks. */
export interface Job {
  meta: Record<string, WireTensor>;
  batch: { supportX: WireTensor; supportY: WireTensor; queryX: WireTensor; queryY: WireTensor };
  progress: number;
}

/** A job's result, or the error that stopped it. */
export type JobResult =
  | { ok: true; loss: number; metric: number; grads: Record<string, WireTensor> }
  | { ok: false; error: string };

/** What the worker posts on its parent port once, after building the learner. */
export type ReadyMessage = { ready: true } | { ready: false; error: string };
