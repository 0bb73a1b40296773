/**
 * Meta-gradients replayed as kernel programs (src/backends/cpu/kernelProgram.ts): the first meta-batch of a
 * given shape is computed as usual with its native kernels recorded (twice, for a plan by which its dead
 * intermediates share memory: src/backends/cpu/programMemory.ts); later ones with those shapes copy their
 * meta-parameters and tasks into the recorded inputs, run the recorded kernels and copy the results out. The
 * numbers are those of the op-by-op computation, bit for bit (on which loops, see below): the same kernels run
 * in the same order on the same values. What is skipped is the JavaScript that chose them (op dispatch, the tape, shape checks, storage
 * allocation): about a quarter of an Omniglot MLP meta-iteration and half of a sinusoid one.
 *
 * A recording is used only once it has proven itself: the second meta-batch of a shape is computed both ways,
 * and the program is kept only if every output agrees to the bit. A computation that depends on something
 * other than its inputs' values (a number that changes between calls, a random draw, a read) fails this or
 * cannot be recorded at all, and then runs as usual from then on, saying why in
 * {@link MetaGradientReplay.status}. Never recorded: MAML++'s multi-step loss, whose weights anneal with
 * training progress, iMAML, whose conjugate gradient reads scalars on the way, and a meta-gradient computed
 * under an enclosing gradient tape (which must see its ops).
 *
 * The numbers are those of the op-by-op computation on the native loops that queue mode takes for every
 * float32 kernel (exp and log from the C library among them), whatever a shape's state: one thread without
 * replay takes those loops only above a size, so a last-bit difference between the two is possible, and the
 * same config and seed still give the same numbers.
 *
 * With `trainer.parallelism: kernels` (a thread that queues its kernels) a program runs on that thread and
 * the queue's executor by a schedule made for it (src/backends/cpu/native/schedule.c): its first two runs
 * there are profiled in order, and its first scheduled run is checked like the second meta-batch, so every
 * way a program runs is checked once against the op-by-op computation before it is trusted
 * ({@link ReplayStatus.schedule} says which).
 *
 * With task slices ({@link MetaGradientReplay.setTaskSlices}, `trainer.parallelism: tasks` on the native
 * kernels) each slice of the tasks is a program of its own; the programs run at once, one per kernel thread,
 * which also feed them and combine their results (`KernelProgram.runTogether`), and the first run of them
 * together is checked against the slices computed op by op and combined. On the Omniglot MLP a 16-task
 * slice's program takes about 55% of the 32-task one's time (1.45 against 2.65 ms on one thread,
 * bench/taskScaling.ts), and two threads run the whole trainer iteration 1.6-1.9 times as fast as one
 * (`npm run bench -- threads`), where the one program split over two threads by its schedule ran 0.8-1.1
 * times: a schedule hands work between
 * the threads some 500 times per run, slices twice, and the memory plan that made one thread 25% faster adds
 * dependencies a schedule must keep.
 */
import { totalmem } from 'node:os';
import { isForwardActive, isRecording } from '../autodiff/record.js';
import { allocUninit } from '../backends/cpu/alloc.js';
import { KernelProgram, kernelProgramsAvailable, recordKernels } from '../backends/cpu/kernelProgram.js';
import {
  kernelsDeferred,
  kernelsRecorded,
  syncKernels,
  withNativeLoops,
} from '../backends/cpu/kernelQueue.js';
import type { ProgramSchedule } from '../backends/cpu/native/addon.js';
import { getBackend } from '../backends/registry.js';
import { fromArray } from '../ops/creation.js';
import { outsideReleaseScopes } from '../ops/releaseScope.js';
import type { TypedArray } from '../tensor/dtype.js';
import type { Params } from '../tensor/params.js';
import { Storage, Tensor } from '../tensor/tensor.js';
import type { MetaGradient } from './algorithms/types.js';
import { sliceWeights, splitTasks, weightedSum } from './taskSlices.js';
import type { TaskBatch } from './tasks.js';

/** Where a shape's replay stands: `verifying` after its recording, then `replaying` or `off` (with why). */
export type ReplayState = 'verifying' | 'replaying' | 'off';

/** One shape of meta-batch in {@link MetaGradientReplay.status}. */
export interface ReplayStatus {
  /** Names, dtypes and shapes of the meta-parameters and the batch's fields. */
  key: string;
  state: ReplayState;
  /** Kernels in the recorded program, or in all of them with task slices (while verifying or replaying). */
  kernels?: number;
  /** Task slices: how many programs the meta-batch's tasks are cut into (absent for one). */
  slices?: number;
  /** Bytes of storage the programs keep (`KernelProgram.storageBytes`, summed over slices). */
  storageBytes?: number;
  /** Why it is off. */
  reason?: string;
  /**
   * Where the program runs on a thread that queues its kernels (`trainer.parallelism: kernels`): on it and
   * its executor by a schedule (src/backends/cpu/native/schedule.c), with what the schedule predicts.
   */
  schedule?: ProgramSchedule;
}

/** A way of running a shape's programs, each checked once: a program's own way (program.h), or task slices. */
type RunWay = ProgramSchedule['last'] | 'task slices';

/** One slice of a meta-batch's tasks: its recorded program, the tasks it reads and the results it writes. */
interface Slice {
  program: KernelProgram;
  batch: TaskBatch;
  outputs: MetaGradient;
}

/** One shape of meta-batch: its recorded programs (one per slice of its tasks) and the meta-parameters they read. */
interface Entry {
  state: ReplayState;
  reason?: string;
  /** The meta-parameters every slice's program reads. */
  meta?: Params;
  /** One, or with task slices one per slice of the tasks (`splitTasks` order). */
  slices?: Slice[];
  /**
   * The ways of running the programs checked so far (src/backends/cpu/native/program.h's run modes): on a
   * thread that queues, one program may go from its schedule to in order and back (both checked once), as
   * measured runs say which is faster; on one that does not, `one thread`; task slices, `task slices`.
   */
  checked: Set<RunWay>;
}

const BATCH_FIELDS = ['supportX', 'supportY', 'queryX', 'queryY'] as const;

/** Most shapes of meta-batch recorded per learner; others run as usual. */
export const MAX_SHAPES = 8;

const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;

/** `METATAPE_REPLAY=0`: no replay anywhere (to compare, or to rule it out). */
const REPLAY_OFF = env?.METATAPE_REPLAY === '0';

/** `METATAPE_MEMORY_PLAN=0`: programs keep every intermediate in storage of its own (to compare). */
const MEMORY_PLAN_OFF = env?.METATAPE_MEMORY_PLAN === '0';

/** The storage of a CPU tensor (its backend's handle is the typed array). */
const storageOf = (t: Tensor): TypedArray => t.storage.handle as TypedArray;

/**
 * The values of a CPU tensor, without a read: its storage itself where that holds exactly its values (every
 * kernel of the CPU backend writes a contiguous result), after the kernels that write it have run.
 */
function valuesOf(t: Tensor): TypedArray {
  syncKernels();
  const s = storageOf(t);
  return s.length === t.size ? s : t.dataSync();
}

/** A copy of `t` in storage of its own (which a program may then read, and be fed through). */
const copyOf = (t: Tensor): Tensor => fromArray(valuesOf(t), t.shape);

/** A key that differs whenever the kernels would: names, shapes and dtypes of every input. */
function keyOf(meta: Params, batch: TaskBatch): string {
  const parts: string[] = [];
  for (const [name, t] of Object.entries(meta)) parts.push(`${name}:${t.dtype}[${t.shape.join(',')}]`);
  for (const f of BATCH_FIELDS) parts.push(`${f}:${batch[f].dtype}[${batch[f].shape.join(',')}]`);
  return parts.join(' ');
}

/** The first output element that differs between two meta-gradients, or undefined when all agree bitwise. */
function firstDifference(a: MetaGradient, b: MetaGradient): string | undefined {
  const pairs: [string, Tensor, Tensor | undefined][] = [
    ['loss', a.loss, b.loss],
    ['metric', a.metric, b.metric],
    ...Object.entries(a.grads).map(([n, t]): [string, Tensor, Tensor | undefined] => [
      `grads.${n}`,
      t,
      b.grads[n],
    ]),
  ];
  for (const [name, x, y] of pairs) {
    if (y === undefined) return `${name} is missing`;
    const u = valuesOf(x);
    const v = valuesOf(y);
    for (let i = 0; i < u.length; i++)
      if (!Object.is(u[i], v[i])) return `${name}[${i}]: ${u[i]} replayed against ${v[i]}`;
  }
  return undefined;
}

/** A meta-gradient made output by output (loss, metric, each gradient) from the same outputs of `parts`. */
function perOutput(parts: readonly MetaGradient[], make: (same: Tensor[]) => Tensor): MetaGradient {
  const grads: Params = {};
  for (const name of Object.keys(parts[0]!.grads)) grads[name] = make(parts.map((p) => p.grads[name]!));
  return { loss: make(parts.map((p) => p.loss)), metric: make(parts.map((p) => p.metric)), grads };
}

/**
 * A meta-gradient's tensors copied (in the caller's release scope). A plain loop rather than
 * {@link perOutput}: every one-thread replay copies its results this way, a sinusoid one in about 0.1 ms.
 */
function copyResult(out: MetaGradient): MetaGradient {
  const grads: Params = {};
  for (const [name, t] of Object.entries(out.grads)) grads[name] = copyOf(t);
  return { loss: copyOf(out.loss), metric: copyOf(out.metric), grads };
}

/** New uninitialised storage shaped like `t`: the tensor, and its array to fill. */
function storageLike(t: Tensor): { tensor: Tensor; array: TypedArray } {
  const array = allocUninit(t.dtype, t.size);
  return { tensor: new Tensor(new Storage(t.backend, array), [...t.shape], t.dtype), array };
}

/** The slices' meta-gradients made the meta-batch's: each output the slices' mean weighted by their sizes. */
function combineResults(parts: readonly MetaGradient[], w: readonly number[]): MetaGradient {
  if (parts.length === 1) return parts[0]!;
  return perOutput(parts, (same) => {
    const { tensor, array } = storageLike(same[0]!);
    weightedSum(
      array,
      same.map((t) => valuesOf(t)),
      w,
    );
    return tensor;
  });
}

/** Tasks `[start, start + count)` of a batch, copied. */
function sliceOf(batch: TaskBatch, [start, count]: [number, number]): TaskBatch {
  const out = {} as Record<(typeof BATCH_FIELDS)[number], Tensor>;
  for (const f of BATCH_FIELDS) {
    const t = batch[f];
    const per = t.size / t.shape[0]!;
    // fromArray copies: a view is enough.
    out[f] = fromArray(valuesOf(t).subarray(start * per, (start + count) * per), [
      count,
      ...t.shape.slice(1),
    ]);
  }
  return out;
}

/**
 * A meta-gradient function (`MetaLearner`'s own computation) with its kernels recorded and replayed per shape
 * of meta-batch, on the CPU backend with the native addon; elsewhere it just calls the function.
 */
export class MetaGradientReplay {
  private readonly entries = new Map<string, Entry>();
  /** Slices a meta-batch's tasks are cut into ({@link MetaGradientReplay.setTaskSlices}). */
  private slices = 1;

  /**
   * @param compute the meta-gradient as usual; it must depend only on its arguments' values (and on
   *   `progress` only where `never` says why nothing is recorded).
   * @param never why this computation is never recorded (it depends on progress, or reads on the way), or
   *   undefined.
   * @param maxBytes most bytes of storage one shape's programs may keep (default a quarter of the machine's
   *   memory: while a program is recorded and checked, the usual computation's storage comes on top; conv4's
   *   program, 4.2 GB, fits a 24 GB machine's quarter and not its eighth).
   */
  constructor(
    private readonly compute: (meta: Params, batch: TaskBatch, progress: number) => MetaGradient,
    private readonly never?: string,
    private readonly maxBytes = totalmem() / 4,
  ) {}

  /** Why nothing is ever replayed here (whatever the inputs), or undefined. */
  private neverReplayed(): string | undefined {
    if (REPLAY_OFF) return 'turned off (METATAPE_REPLAY=0)';
    if (this.never !== undefined) return this.never;
    if (!kernelProgramsAvailable()) return 'the native addon is not loaded (npm run setup:native)';
    return undefined;
  }

  /** Why replay is impossible for these inputs, or undefined. */
  private unavailable(meta: Params): string | undefined {
    const never = this.neverReplayed();
    if (never !== undefined) return never;
    // An enclosing tape or forward accumulator differentiates through the meta-gradient: its ops must be
    // recorded there, and a replay's results would be constants.
    if (isRecording() || isForwardActive()) return 'inside a gradient tape';
    // Inside another recording (a meta-gradient within a computation being recorded): that one records it.
    if (kernelsRecorded()) return 'inside a recording';
    const first = Object.values(meta)[0];
    if (first === undefined) return 'no meta-parameters';
    if (first.backend.name !== 'cpu') return `backend ${first.backend.name} (replay is the CPU backend's)`;
    return undefined;
  }

  /**
   * Why the tasks of a meta-batch cannot run as slices here ({@link MetaGradientReplay.setTaskSlices}), or
   * undefined: it takes replay, on the CPU backend.
   */
  taskSlicesUnavailable(): string | undefined {
    const never = this.neverReplayed();
    if (never !== undefined) return `no kernel replay: ${never}`;
    const backend = getBackend().name;
    if (backend !== 'cpu') return `backend ${backend} (replay is the CPU backend's)`;
    return undefined;
  }

  /**
   * From now on, cuts each meta-batch's tasks into `slices` slices (`splitTasks`), computes each slice's
   * meta-gradient as a program of its own, runs the programs at once on the calling thread's kernel threads
   * (`setCpuKernelThreads`) and combines their results as the weighted mean they are (src/meta/taskSlices.ts):
   * `trainer.parallelism: tasks` without worker threads. The numbers are those of the slices computed op by op
   * and combined, which is what a shape computes before its programs are checked, or where they are off.
   * 1 (the default): one program for the whole meta-batch.
   */
  setTaskSlices(slices: number): void {
    if (!Number.isInteger(slices) || slices < 1 || slices > 256)
      throw new RangeError(`task slices: expected a whole number from 1 to 256, got ${slices}`);
    this.slices = slices;
  }

  /** The state of each shape seen so far (its key: names, dtypes and shapes of the inputs). */
  status(): ReplayStatus[] {
    return [...this.entries].map(([key, e]) => {
      const program = e.slices?.length === 1 ? e.slices[0]!.program : undefined;
      return {
        key,
        state: e.state,
        ...(e.slices ? { kernels: e.slices.reduce((n, s) => n + s.program.kernels, 0) } : {}),
        ...(e.slices && e.slices.length > 1 ? { slices: e.slices.length } : {}),
        ...(e.slices ? { storageBytes: e.slices.reduce((n, s) => n + s.program.storageBytes(), 0) } : {}),
        ...(e.reason !== undefined ? { reason: e.reason } : {}),
        ...(program?.schedule() ? { schedule: program.schedule() } : {}),
      };
    });
  }

  /**
   * The meta-gradient of `batch` at `meta`: recorded, verified or replayed as the shape's state says. Where
   * replay is available, what is not replayed is computed on the native loops a recording takes too, so that
   * the numbers do not depend on a shape's state.
   */
  metaGradient(meta: Params, batch: TaskBatch, progress: number): MetaGradient {
    if (this.unavailable(meta) !== undefined) return this.compute(meta, batch, progress);
    return withNativeLoops(() => this.byState(meta, batch, progress));
  }

  /** The task slices of a meta-batch of `tasks` tasks: `[start, count]` pairs, one for the whole without slices. */
  private rangesOf(batch: TaskBatch): [number, number][] {
    return splitTasks(batch.supportX.shape[0]!, this.slices);
  }

  /** The meta-gradient op by op: of each task slice, combined. */
  private computeSlices(meta: Params, batch: TaskBatch, progress: number): MetaGradient {
    const ranges = this.rangesOf(batch);
    if (ranges.length === 1) return this.compute(meta, batch, progress);
    const parts = ranges.map((r) => this.compute(meta, sliceOf(batch, r), progress));
    return combineResults(parts, sliceWeights(ranges));
  }

  private byState(meta: Params, batch: TaskBatch, progress: number): MetaGradient {
    const ranges = this.rangesOf(batch);
    const key = `${keyOf(meta, batch)}${ranges.length > 1 ? ` slices:${ranges.length}` : ''}`;
    const entry = this.entries.get(key);
    if (entry === undefined) {
      // Each recorded shape keeps its program's storage (an Omniglot MLP meta-iteration's intermediates):
      // meta-batches whose shapes keep changing run as usual past the first few.
      if (this.entries.size >= MAX_SHAPES) return this.computeSlices(meta, batch, progress);
      return this.record(key, ranges, meta, batch, progress);
    }
    if (entry.state === 'off') return this.computeSlices(meta, batch, progress);
    const replayed = this.replay(entry, ranges, meta, batch);
    const slices = entry.slices!;
    const ran = slices.length > 1 ? 'task slices' : slices[0]!.program.lastRun();
    // Profiled runs are the in-order runs, timed: one way of running.
    const way = ran === 'profiled' ? 'in order' : ran;
    if (entry.state === 'replaying' && entry.checked.has(way)) return replayed;
    // Verifying, or replaying in a way not checked yet (the thread's kernel threads changed): the computation
    // op by op, on the kernels the program recorded, decides.
    const usual = this.computeSlices(meta, batch, progress);
    const diff = firstDifference(replayed, usual);
    if (diff === undefined) {
      // A program's first two runs on a thread that queues are profiled in order: the schedule made from
      // them is checked at its first run.
      entry.checked.add(way);
      entry.state = ran === 'profiled' ? 'verifying' : 'replaying';
    } else {
      entry.state = 'off';
      entry.reason = `the replay differed from the computation (${diff})`;
      delete entry.slices;
      delete entry.meta;
    }
    return usual;
  }

  /** Computes the meta-gradient on copies of the inputs with each slice's kernels recorded. */
  private record(
    key: string,
    ranges: [number, number][],
    meta: Params,
    batch: TaskBatch,
    progress: number,
  ): MetaGradient {
    // Intermediates share memory by a plan, but where the program runs on two threads by a schedule (a
    // thread that queues): arrays that share memory order the kernels that use them, and the schedule,
    // which splits one program's kernels over two threads, lost its gain (the Omniglot MLP's ran no
    // faster than in order).
    const planMemory = !kernelsDeferred() && !MEMORY_PLAN_OFF;
    // Outside any enclosing release scope: the programs' inputs and outputs live as long as they do.
    const { inMeta, slices } = outsideReleaseScopes(() => {
      const inMeta: Params = {};
      for (const [name, t] of Object.entries(meta)) inMeta[name] = copyOf(t);
      const slices = ranges.map((r) => {
        const inBatch =
          ranges.length === 1
            ? (Object.fromEntries(BATCH_FIELDS.map((f) => [f, copyOf(batch[f])])) as unknown as TaskBatch)
            : sliceOf(batch, r);
        return {
          batch: inBatch,
          recorded: recordKernels(() => this.compute(inMeta, inBatch, progress), { planMemory }),
        };
      });
      return { inMeta, slices };
    });
    const result = () =>
      combineResults(
        slices.map((s) => copyResult(s.recorded.result)),
        sliceWeights(ranges),
      );
    for (const { recorded } of slices)
      if (recorded.program === undefined) {
        this.entries.set(key, { state: 'off', reason: recorded.reason, checked: new Set() });
        return result();
      }
    // A program keeps every intermediate of the meta-gradient (the usual computation frees them as it goes):
    // not past a share of the machine's memory (conv4's keeps 4.2 GB, the Omniglot MLP's 0.04 GB).
    const bytes = slices.reduce((n, s) => n + s.recorded.program!.storageBytes(), 0);
    if (bytes > this.maxBytes) {
      const gb = (n: number) => `${(n / 2 ** 30).toFixed(1)} GB`;
      this.entries.set(key, {
        state: 'off',
        checked: new Set(),
        reason: `its storage (${gb(bytes)}) is over the ${gb(this.maxBytes)} a program may keep`,
      });
      return result();
    }
    this.entries.set(key, {
      state: 'verifying',
      meta: inMeta,
      slices: slices.map((s) => ({
        program: s.recorded.program!,
        batch: s.batch,
        outputs: s.recorded.result,
      })),
      checked: new Set(),
    });
    return result();
  }

  /** Feeds the inputs to the programs, runs them, and copies (or combines) their outputs out. */
  private replay(entry: Entry, ranges: [number, number][], meta: Params, batch: TaskBatch): MetaGradient {
    const slices = entry.slices!;
    // The last run's kernels may still be queued: they read the inputs about to be overwritten.
    syncKernels();
    // Each input's storage and what goes there: the first slice's tasks, the meta-parameters (which every
    // slice reads), then the other slices' tasks. The kernel threads share the copying in that order, by
    // bytes, so with two slices each thread copies its own slice's tasks and half the meta-parameters.
    const metaFeeds: TypedArray[] = [];
    for (const [name, t] of Object.entries(entry.meta!)) metaFeeds.push(storageOf(t), valuesOf(meta[name]!));
    const feeds: TypedArray[] = [];
    slices.forEach((slice, i) => {
      if (i === 1 || slices.length === 1) feeds.push(...metaFeeds);
      const [start, count] = ranges[i]!;
      for (const f of BATCH_FIELDS) {
        const values = valuesOf(batch[f]);
        const per = values.length / batch[f].shape[0]!;
        feeds.push(storageOf(slice.batch[f]), values.subarray(start * per, (start + count) * per));
      }
    });
    if (slices.length === 1) {
      for (let k = 0; k < feeds.length; k += 2) feeds[k]!.set(feeds[k + 1]!);
      slices[0]!.program.run();
      return copyResult(slices[0]!.outputs);
    }
    // Task slices: the kernel threads feed the programs, run them, and combine their outputs into new
    // storage, all in one call (a thread waiting while another copies or sums gains nothing).
    const combines: TypedArray[] = [];
    const result = perOutput(
      slices.map((s) => s.outputs),
      (same) => {
        const { tensor, array } = storageLike(same[0]!);
        combines.push(array, ...same.map((t) => valuesOf(t)));
        return tensor;
      },
    );
    KernelProgram.runTogether(
      slices.map((s) => s.program),
      { feeds, combines, weights: sliceWeights(ranges) },
    );
    return result;
  }
}
