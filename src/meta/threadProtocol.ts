/**
 * The messages and shared memory between {@link MetaGradientThreads} (src/meta/threads.ts) and its workers
 * (src/meta/threadWorker.ts). Tensors cross the thread boundary through SharedArrayBuffers laid out by
 * {@link layoutOf} (a structured clone of ~1 MB of parameters per call cost several ms); messages carry only
 * the layouts and scalars.
 */
import type { MessagePort } from 'node:worker_threads';
import { arrayTypeOf, type DType, type TypedArray } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';

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

/** Where one named tensor lies in a shared buffer. */
export interface Slot {
  name: string;
  shape: number[];
  dtype: DType;
  /** Byte offset (a multiple of 8, so every dtype's view is aligned). */
  offset: number;
}

/** Slots for tensors of these names, shapes and dtypes, packed in order, and the bytes they need. */
export function layoutOf(entries: readonly Omit<Slot, 'offset'>[]): { slots: Slot[]; bytes: number } {
  let bytes = 0;
  const slots = entries.map((e) => {
    const slot: Slot = { name: e.name, shape: [...e.shape], dtype: e.dtype, offset: bytes };
    const size = e.shape.reduce((a, b) => a * b, 1) * arrayTypeOf(e.dtype).BYTES_PER_ELEMENT;
    bytes += Math.ceil(size / 8) * 8;
    return slot;
  });
  return { slots, bytes };
}

/** The typed-array view of a slot in its buffer. */
export function slotView(buffer: SharedArrayBuffer, slot: Slot): TypedArray {
  const size = slot.shape.reduce((a, b) => a * b, 1);
  // The constructors' union type takes ArrayBuffer only; each one takes a SharedArrayBuffer.
  return new (arrayTypeOf(slot.dtype))(buffer as unknown as ArrayBuffer, slot.offset, size);
}

/**
 * Copies `t`'s values from element `from` on into `out` (as many as `out` holds): straight from the backend's
 * storage where it can (`Backend.readSyncInto`, the CPU backend), else through a read. Both sides use it to
 * fill shared buffers without an intermediate copy (a 1 MB `dataSync` per job was fresh garbage).
 */
export function readInto(t: Tensor, out: TypedArray, from = 0): void {
  if (t.backend.readSyncInto) t.backend.readSyncInto(t, out, from);
  else out.set(t.dataSync().subarray(from, from + out.length));
}

/** Bytes of a lane's signal buffer ({@link signalViews}). */
export const SIGNAL_BYTES = 24;

/**
 * The two views of a lane's signal buffer. `state[0]` counts finished jobs (the main thread waits on it);
 * `state[1]` is 1 when the last job succeeded, its loss and metric then in `scalars`, and 0 when it failed,
 * its error then on the reply port. A success carries no message, so the common case costs no serialization.
 */
export function signalViews(signal: SharedArrayBuffer): { state: Int32Array; scalars: Float64Array } {
  return { state: new Int32Array(signal, 0, 2), scalars: new Float64Array(signal, 8, 2) };
}

/** What the worker receives at start (`workerData`). */
export interface WorkerInit {
  recipe: LearnerRecipe;
  /** {@link SIGNAL_BYTES} bytes laid out as {@link signalViews} says. */
  signal: SharedArrayBuffer;
  /** Where failures go; the main thread reads them synchronously (`receiveMessageOnPort`). */
  reply: MessagePort;
}

/**
 * One job: the meta-gradient of a slice of a meta-batch's tasks. The meta-parameters are in `meta` (shared by
 * every worker), the slice's `supportX`, `supportY`, `queryX`, `queryY` in `batch`; the worker writes the
 * gradient of each meta-parameter into `grads`, laid out as `meta`.
 */
export interface Job {
  meta: SharedArrayBuffer;
  metaSlots: Slot[];
  batch: SharedArrayBuffer;
  batchSlots: Slot[];
  grads: SharedArrayBuffer;
  progress: number;
}

/** A job's scalars (its gradients are in the job's `grads` buffer), or the error that stopped it. */
export type JobResult = { ok: true; loss: number; metric: number } | { ok: false; error: string };

/** What the worker posts on its parent port once, after building the learner. */
export type ReadyMessage = { ready: true } | { ready: false; error: string };
