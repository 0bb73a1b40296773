/**
 * `trainer.parallelism: tasks` (the other way to use threads, `kernels`, is src/backends/cpu/kernelThreads.ts).
 * Data parallelism over a meta-batch: the tasks are split into contiguous slices, one per thread, and the
 * slices' results are combined as the weighted mean they are in exact arithmetic (src/meta/taskSlices.ts).
 *
 * Two ways to run the slices, the same numbers up to which loops compute them:
 * - **Kernel programs** (where the native kernels are loaded and the learner's meta-gradient replays): each
 *   slice's meta-gradient is recorded as a program of native kernels, and the programs run at once on the
 *   calling thread's kernel threads (src/meta/kernelReplay.ts). No worker, no copy of the learner, and the
 *   threads meet twice per meta-gradient.
 * - **Worker threads** (node:worker_threads) otherwise: each has its own learner; the main thread hands out
 *   the slices, waits, and combines. It computes nothing itself, because its V8 heap is the process's, sized
 *   for whatever else the process does, while the workers' heaps are made for this work
 *   (src/meta/workerHeap.ts).
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { kernelThreadsUnavailable, setCpuKernelThreads } from '../backends/cpu/kernelThreads.js';
import { fromArray } from '../ops/creation.js';
import { allocArray, type DType, type TypedArray } from '../tensor/dtype.js';
import type { Params } from '../tensor/params.js';
import type { Tensor } from '../tensor/tensor.js';
import type { MetaGradient } from './algorithms/types.js';
import type { MetaLearner } from './learner.js';
import { sliceWeights, splitTasks, weightedSum } from './taskSlices.js';
import type { TaskBatch } from './tasks.js';
import {
  type Job,
  type JobResult,
  type LearnerRecipe,
  layoutOf,
  type ReadyMessage,
  readInto,
  SIGNAL_BYTES,
  type Slot,
  signalViews,
  slotView,
  type WorkerInit,
} from './threadProtocol.js';
import { COMPUTE_OLD_SPACE_MB, withWorkerHeap } from './workerHeap.js';

export { splitTasks } from './taskSlices.js';
export type { LearnerRecipe } from './threadProtocol.js';

/** A worker that failed to start, failed a job, or sent nothing back in time; the message says which and why. */
export class ThreadError extends Error {
  override readonly name = 'ThreadError';
}

/** Options of {@link MetaGradientThreads.start}. */
export interface ThreadOptions {
  /**
   * Seconds the main thread waits for a worker's result before it gives up with a {@link ThreadError} (a
   * worker killed from outside, e.g. out of memory, cannot report back). Default 600.
   */
  stallSeconds?: number;
  /**
   * Initial old generation of each worker's V8 heap, MB (src/meta/workerHeap.ts says why); 0 for V8's
   * default. Default 128. Measured on the Omniglot MLP at 2 threads (16 tasks a worker, about 20 MB of
   * tensor storage each per iteration), full mark-compacts per iteration and worker: V8's default 0.55-0.67,
   * 64 MB 0.01, 128 MB 0.01; the limit is where garbage may pile up, so larger costs resident memory.
   */
  workerOldSpaceMb?: number;
  /**
   * How the slices run: `programs` (kernel programs at once on the native kernel threads), `workers` (worker
   * threads), or `auto` (the default): programs where they can serve the learner
   * ({@link taskProgramsUnavailable}), else workers.
   */
  via?: 'auto' | 'programs' | 'workers';
}

/**
 * Why a learner's task slices cannot run as kernel programs on the native kernel threads (the native kernels
 * are not loaded, or its meta-gradient is not replayed), or undefined.
 */
export function taskProgramsUnavailable(learner: MetaLearner): string | undefined {
  return kernelThreadsUnavailable() ?? learner.taskSlicesUnavailable();
}

/**
 * `threads` as a config gives it (a count or `'auto'`) to a thread count: `'auto'` is the cores this process
 * may use (`os.availableParallelism()`). Never more than one thread per task of the meta-batch.
 */
export function resolveThreads(threads: number | 'auto', metaBatchSize: number): number {
  const n = threads === 'auto' ? availableParallelism() : threads;
  if (!Number.isInteger(n) || n < 1)
    throw new ThreadError(`threads: expected a positive integer or 'auto', got ${n}`);
  return Math.max(1, Math.min(n, metaBatchSize));
}

/**
 * What a worker runs: the compiled entry, or, when this module runs from its TypeScript source, a two-line
 * bootstrap that registers tsx in the worker first (`--import tsx` in a worker's execArgv does not take
 * effect on Node 20, so the loader is registered by hand).
 */
function workerEntry(): { entry: string | URL; evalCode: boolean } {
  if (!import.meta.url.endsWith('.ts'))
    return { entry: new URL('./threadWorker.js', import.meta.url), evalCode: false };
  const api = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const entry = JSON.stringify(new URL('./threadWorker.ts', import.meta.url).href);
  return { entry: `import(${api}).then((m) => { m.register(); return import(${entry}); });`, evalCode: true };
}

interface Lane {
  worker: Worker;
  reply: MessagePort;
  /** The signal buffer's views (threadProtocol.ts `signalViews`). */
  state: Int32Array;
  scalars: Float64Array;
  /** Jobs finished so far (the value `state[0]` moves from). */
  seen: number;
  /** This lane's task slice and the gradients it writes, grown when a call needs more. */
  batch?: SharedArrayBuffer;
  grads?: SharedArrayBuffer;
}

const TASK_FIELDS = ['supportX', 'supportY', 'queryX', 'queryY'] as const;

/** A shared buffer of at least `bytes` bytes: `current` when big enough, else a new one. */
const ensure = (current: SharedArrayBuffer | undefined, bytes: number): SharedArrayBuffer =>
  current && current.byteLength >= bytes ? current : new SharedArrayBuffer(Math.max(8, bytes));

/** Elements per task (per index of the first axis). */
const perTask = (t: Tensor): number => t.shape.slice(1).reduce((a, b) => a * b, 1);

/**
 * A meta-gradient computed by `threads` worker threads, each with its own learner built from a
 * {@link LearnerRecipe}; the main thread's learner computes only a meta-batch that has a single task. From
 * the caller's side {@link MetaGradientThreads.metaGradient} is synchronous, like `MetaLearner.metaGradient`.
 *
 * Exact: the meta-loss, metric and meta-gradient of every registered algorithm but iMAML (which says so with
 * `splitsOverTasks: false` and is refused) are means over the tasks of the meta-batch, so the mean of slice
 * means weighted by slice sizes is the same number up to float summation order (the partial sums are
 * combined in float64, in slice order). Results are constants: an enclosing tape
 * does not record them. Call {@link MetaGradientThreads.close} when done; workers never keep the process
 * alive (they are unref'd), so a forgotten close cannot hang the exit.
 *
 * ```ts
 * const pool = await MetaGradientThreads.start(learner, recipe, 2);
 * try {
 *   const { loss, grads } = pool.metaGradient(meta, batch);
 * } finally {
 *   await pool.close();
 * }
 * ```
 */
export class MetaGradientThreads {
  private closed = false;
  private metaBuffer?: SharedArrayBuffer;
  /** Where {@link combine} sums each parameter's gradient before it becomes a tensor, reused every call. */
  private readonly combineScratch = new Map<string, TypedArray>();

  private constructor(
    private readonly learner: MetaLearner,
    private readonly lanes: Lane[],
    private readonly stallMs: number,
    /** Kernel threads that run the slices as programs (0: workers, or the main thread alone). */
    private readonly programThreads = 0,
  ) {}

  /** Threads that compute: the kernel threads or the workers, or the main thread alone when there are none. */
  get threads(): number {
    return this.programThreads || Math.max(1, this.lanes.length);
  }

  /** How the slices run: as kernel programs, on worker threads, or all on the main thread (one thread). */
  get via(): 'programs' | 'workers' | 'main thread' {
    return this.programThreads > 0 ? 'programs' : this.lanes.length > 0 ? 'workers' : 'main thread';
  }

  /**
   * Readies `threads` threads: kernel threads that run the slices as programs, or workers, each of which
   * has built its learner once this resolves (`options.via`). `threads` 1 starts none (the pool then just
   * calls `learner.metaGradient` on the main thread). With programs, this thread's kernel threads and the
   * learner's task slices are set until {@link MetaGradientThreads.close}.
   */
  static async start(
    learner: MetaLearner,
    recipe: LearnerRecipe,
    threads: number,
    options: ThreadOptions = {},
  ): Promise<MetaGradientThreads> {
    if (!Number.isInteger(threads) || threads < 1)
      throw new ThreadError(`threads: expected a positive integer, got ${threads}`);
    if (threads > 1 && learner.algorithm.splitsOverTasks === false)
      throw new ThreadError(
        `threads: got ${threads}; algorithm ${learner.algorithm.name} couples the tasks of a meta-batch, so it runs on one thread`,
      );
    const stallMs = (options.stallSeconds ?? 600) * 1000;
    const via = options.via ?? 'auto';
    if (threads > 1 && via !== 'workers') {
      const why = taskProgramsUnavailable(learner);
      if (why === undefined) {
        setCpuKernelThreads(threads, { taskSlices: true });
        learner.setTaskSlices(threads);
        return new MetaGradientThreads(learner, [], stallMs, threads);
      }
      if (via === 'programs')
        throw new ThreadError(`threads: task slices cannot run as kernel programs: ${why}`);
    }
    const entry = workerEntry();
    const lanes: Lane[] = [];
    try {
      if (threads > 1)
        await withWorkerHeap(options.workerOldSpaceMb ?? COMPUTE_OLD_SPACE_MB, async () => {
          for (let i = 1; i <= threads; i++) lanes.push(await startLane(entry, recipe, i));
        });
    } catch (err) {
      await Promise.all(lanes.map((l) => stopLane(l)));
      throw err;
    }
    return new MetaGradientThreads(learner, lanes, stallMs);
  }

  /**
   * {@link MetaGradientThreads.metaGradient} where one thread computes it all: with asynchronous reads
   * (`MetaLearner.metaGradientAsync`), so the trainer runs on a backend that reads only asynchronously.
   * Worker threads run the CPU backend only, so with several the synchronous split is used.
   */
  async metaGradientAsync(meta: Params, batch: TaskBatch, progress = 1): Promise<MetaGradient> {
    if (this.closed) throw new ThreadError('metaGradient: the thread pool is closed');
    if (this.programThreads === 0 && splitTasks(batch.supportX.shape[0]!, this.threads).length === 1)
      return this.learner.metaGradientAsync(meta, batch, progress);
    return this.metaGradient(meta, batch, progress);
  }

  /** The meta-gradient of one meta-batch, as `MetaLearner.metaGradient` computes it, split over the threads. */
  metaGradient(meta: Params, batch: TaskBatch, progress = 1): MetaGradient {
    if (this.closed) throw new ThreadError('metaGradient: the thread pool is closed');
    const tasks = batch.supportX.shape[0]!;
    const slices = splitTasks(tasks, this.threads);
    // Programs: the learner's replay cuts the tasks into slices itself.
    if (slices.length === 1 || this.programThreads > 0)
      return this.learner.metaGradient(meta, batch, progress);
    // The meta-parameters go to one buffer all workers read; each worker gets its slice and a gradient buffer.
    // Slice i goes to worker i + 1; the sums below run in slice order, so the numbers do not depend on which
    // thread computed a slice.
    const metaLayout = layoutOf(
      Object.entries(meta).map(([name, t]) => ({ name, shape: [...t.shape], dtype: t.dtype })),
    );
    this.metaBuffer = ensure(this.metaBuffer, metaLayout.bytes);
    for (const slot of metaLayout.slots) readInto(meta[slot.name]!, slotView(this.metaBuffer, slot));
    // Every job is written before the first is posted: a worker woken early competes for the core with the
    // main thread still copying the next slice (on two cores with two workers, that delayed the second
    // worker's start).
    const jobs: Job[] = [];
    for (let i = 0; i < slices.length; i++) {
      const [start, count] = slices[i]!;
      const lane = this.lanes[i]!;
      const batchLayout = layoutOf(
        TASK_FIELDS.map((f) => ({
          name: f,
          shape: [count, ...batch[f].shape.slice(1)],
          dtype: batch[f].dtype,
        })),
      );
      lane.batch = ensure(lane.batch, batchLayout.bytes);
      lane.grads = ensure(lane.grads, metaLayout.bytes);
      for (const slot of batchLayout.slots) {
        const field = batch[slot.name as (typeof TASK_FIELDS)[number]];
        const per = perTask(field);
        readInto(field, slotView(lane.batch, slot), start * per);
      }
      const job: Job = {
        meta: this.metaBuffer,
        metaSlots: metaLayout.slots,
        batch: lane.batch,
        batchSlots: batchLayout.slots,
        grads: lane.grads,
        progress,
      };
      jobs.push(job);
    }
    for (let i = 0; i < jobs.length; i++) this.lanes[i]!.worker.postMessage(jobs[i]);
    // Collect every worker's answer before throwing, so no result is left queued for the next call.
    const results = this.lanes.slice(0, slices.length).map((lane, i) => this.collect(lane, i + 1));
    const failed = results.findIndex((r) => !r.ok);
    if (failed >= 0) {
      const r = results[failed] as { error: string };
      throw new ThreadError(`metaGradient: worker ${failed + 1} failed: ${r.error}`);
    }
    const ok = results as Extract<JobResult, { ok: true }>[];
    const w = sliceWeights(slices);
    // The losses have the meta-parameters' dtype.
    const dtype = meta[metaLayout.slots[0]!.name]!.dtype;
    return {
      loss: weighted(
        w,
        ok.map((r) => r.loss),
        dtype,
      ),
      metric: weighted(
        w,
        ok.map((r) => r.metric),
        dtype,
      ),
      grads: combine(metaLayout.slots, this.lanes.slice(0, ok.length), w, this.combineScratch),
    };
  }

  /** Blocks until the lane's job is done (Atomics.wait), then reads its result (or its error off the reply port). */
  private collect(lane: Lane, index: number): JobResult {
    const deadline = performance.now() + this.stallMs;
    while (Atomics.load(lane.state, 0) === lane.seen) {
      const left = deadline - performance.now();
      if (left <= 0)
        return {
          ok: false,
          error: `no result within ${this.stallMs / 1000} s (the worker may have crashed or run out of memory)`,
        };
      Atomics.wait(lane.state, 0, lane.seen, Math.min(left, 1000));
    }
    lane.seen++;
    if (Atomics.load(lane.state, 1) === 1)
      return { ok: true, loss: lane.scalars[0]!, metric: lane.scalars[1]! };
    const msg = receiveMessageOnPort(lane.reply);
    if (!msg) return { ok: false, error: `worker ${index} signalled a failure but sent none` };
    return msg.message as JobResult;
  }

  /** Stops the workers, or gives the learner its whole meta-batches and this thread one kernel thread back. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.programThreads > 0) {
      this.learner.setTaskSlices(1);
      setCpuKernelThreads(1);
    }
    await Promise.all(this.lanes.map((l) => stopLane(l)));
  }
}

/** Starts one worker and waits for its learner (or the reason it has none). */
async function startLane(
  { entry, evalCode }: ReturnType<typeof workerEntry>,
  recipe: LearnerRecipe,
  index: number,
): Promise<Lane> {
  const signal = new SharedArrayBuffer(SIGNAL_BYTES);
  const { port1, port2 } = new MessageChannel();
  const init: WorkerInit = { recipe, signal, reply: port2 };
  const worker = new Worker(entry, { workerData: init, transferList: [port2], eval: evalCode });
  const lane: Lane = { worker, reply: port1, ...signalViews(signal), seen: 0 };
  try {
    await new Promise<void>((resolve, reject) => {
      const fail = (why: string) => reject(new ThreadError(`worker ${index} did not start: ${why}`));
      worker.once('message', (m: ReadyMessage) => (m.ready ? resolve() : fail(m.error)));
      worker.once('error', (err) => fail(err.message));
      worker.once('exit', (code) => fail(`it exited with code ${code}`));
    });
  } catch (err) {
    await stopLane(lane);
    throw err;
  }
  worker.removeAllListeners('exit');
  worker.removeAllListeners('error');
  // An error after start surfaces through the job protocol; this keeps it from being an uncaught exception.
  worker.on('error', () => {});
  worker.unref();
  port1.unref();
  return lane;
}

async function stopLane(lane: Lane): Promise<void> {
  lane.reply.close();
  await lane.worker.terminate();
}

/** `w[0] * v[0] + w[1] * v[1] + ...` in float64, as a scalar of `dtype`. */
function weighted(w: readonly number[], v: readonly number[], dtype: DType): Tensor {
  let acc = w[0]! * v[0]!;
  for (let i = 1; i < v.length; i++) acc += w[i]! * v[i]!;
  const out = allocArray(dtype, 1);
  out[0] = acc;
  return fromArray(out, []);
}

/**
 * The weighted sum of the lanes' gradients (read from their shared buffers), each element summed in float64
 * in slice order and rounded once to the parameter's dtype.
 */
function combine(
  slots: readonly Slot[],
  lanes: readonly Lane[],
  w: readonly number[],
  scratch: Map<string, TypedArray>,
): Params {
  const grads: Params = {};
  for (const slot of slots) {
    const parts = lanes.map((l) => slotView(l.grads!, slot));
    const first = parts[0]!;
    let out = scratch.get(slot.name);
    if (out === undefined || out.length !== first.length || out.constructor !== first.constructor) {
      out = allocArray(slot.dtype, first.length);
      scratch.set(slot.name, out);
    }
    weightedSum(out, parts, w);
    grads[slot.name] = fromArray(out, slot.shape);
  }
  return grads;
}
