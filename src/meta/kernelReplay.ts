/**
 * Meta-gradients replayed as kernel programs (src/backends/cpu/kernelProgram.ts): the first meta-batch of a
 * given shape is computed as usual with its native kernels recorded; later ones with those shapes copy their
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
 * Tried and dropped: with two threads, a program per half of the meta-batch's tasks, one queued to the
 * executor thread and one run beside it. On the Omniglot MLP a half costs about 60% of the whole (the
 * weight-sized work does not halve), so it ran 1.15x one thread against 1.3-1.4x for the one program's
 * kernels split over the two threads.
 */
import { totalmem } from 'node:os';
import { isForwardActive, isRecording } from '../autodiff/record.js';
import { type KernelProgram, kernelProgramsAvailable, recordKernels } from '../backends/cpu/kernelProgram.js';
import { kernelsRecorded, syncKernels, withNativeLoops } from '../backends/cpu/kernelQueue.js';
import type { ProgramSchedule } from '../backends/cpu/native/addon.js';
import { fromArray } from '../ops/creation.js';
import { outsideReleaseScopes } from '../ops/releaseScope.js';
import type { TypedArray } from '../tensor/dtype.js';
import type { Params } from '../tensor/params.js';
import type { Tensor } from '../tensor/tensor.js';
import type { MetaGradient } from './algorithms/types.js';
import type { TaskBatch } from './tasks.js';

/** Where a shape's replay stands: `verifying` after its recording, then `replaying` or `off` (with why). */
export type ReplayState = 'verifying' | 'replaying' | 'off';

/** One shape of meta-batch in {@link MetaGradientReplay.status}. */
export interface ReplayStatus {
  /** Names, dtypes and shapes of the meta-parameters and the batch's fields. */
  key: string;
  state: ReplayState;
  /** Kernels in the recorded program (while verifying or replaying). */
  kernels?: number;
  /** Why it is off. */
  reason?: string;
  /**
   * Where the program runs on a thread that queues its kernels (`trainer.parallelism: kernels`): on it and
   * its executor by a schedule (src/backends/cpu/native/schedule.c), with what the schedule predicts.
   */
  schedule?: ProgramSchedule;
}

/** One shape of meta-batch: its recorded program, the tensors the program reads and the ones it writes. */
interface Entry {
  state: ReplayState;
  reason?: string;
  program?: KernelProgram;
  inputs?: { meta: Params; batch: TaskBatch };
  outputs?: MetaGradient;
  /**
   * The ways of running the program checked so far (src/backends/cpu/native/program.h's run modes): on a
   * thread that queues, it may go from its schedule to in order and back (both checked once), as measured
   * runs say which is faster; on one that does not, `one thread`.
   */
  checked: Set<ProgramSchedule['last']>;
}

const BATCH_FIELDS = ['supportX', 'supportY', 'queryX', 'queryY'] as const;

/** Most shapes of meta-batch recorded per learner; others run as usual. */
export const MAX_SHAPES = 8;

/** `METATAPE_REPLAY=0`: no replay anywhere (to compare, or to rule it out). */
const REPLAY_OFF =
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.METATAPE_REPLAY ===
  '0';

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

/** A meta-gradient's tensors copied (in the caller's release scope). */
function copyResult(out: MetaGradient): MetaGradient {
  const grads: Params = {};
  for (const [name, t] of Object.entries(out.grads)) grads[name] = copyOf(t);
  return { loss: copyOf(out.loss), metric: copyOf(out.metric), grads };
}

/**
 * A meta-gradient function (`MetaLearner`'s own computation) with its kernels recorded and replayed per shape
 * of meta-batch, on the CPU backend with the native addon; elsewhere it just calls the function.
 */
export class MetaGradientReplay {
  private readonly entries = new Map<string, Entry>();

  /**
   * @param compute the meta-gradient as usual; it must depend only on its arguments' values (and on
   *   `progress` only where `never` says why nothing is recorded).
   * @param never why this computation is never recorded (it depends on progress, or reads on the way), or
   *   undefined.
   * @param maxBytes most bytes of storage one recorded program may keep (default a quarter of the machine's
   *   memory: while a program is recorded and checked, the usual computation's storage comes on top; conv4's
   *   program, 4.2 GB, fits a 24 GB machine's quarter and not its eighth).
   */
  constructor(
    private readonly compute: (meta: Params, batch: TaskBatch, progress: number) => MetaGradient,
    private readonly never?: string,
    private readonly maxBytes = totalmem() / 4,
  ) {}

  /** Why replay is impossible for these inputs, or undefined. */
  private unavailable(meta: Params): string | undefined {
    if (REPLAY_OFF) return 'turned off (METATAPE_REPLAY=0)';
    if (this.never !== undefined) return this.never;
    // An enclosing tape or forward accumulator differentiates through the meta-gradient: its ops must be
    // recorded there, and a replay's results would be constants.
    if (isRecording() || isForwardActive()) return 'inside a gradient tape';
    // Inside another recording (a meta-gradient within a computation being recorded): that one records it.
    if (kernelsRecorded()) return 'inside a recording';
    const first = Object.values(meta)[0];
    if (first === undefined) return 'no meta-parameters';
    if (first.backend.name !== 'cpu') return `backend ${first.backend.name} (replay is the CPU backend's)`;
    if (!kernelProgramsAvailable()) return 'the native addon is not loaded (npm run setup:native)';
    return undefined;
  }

  /** The state of each shape seen so far (its key: names, dtypes and shapes of the inputs). */
  status(): ReplayStatus[] {
    return [...this.entries].map(([key, e]) => ({
      key,
      state: e.state,
      ...(e.program ? { kernels: e.program.kernels } : {}),
      ...(e.reason !== undefined ? { reason: e.reason } : {}),
      ...(e.program?.schedule() ? { schedule: e.program.schedule() } : {}),
    }));
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

  private byState(meta: Params, batch: TaskBatch, progress: number): MetaGradient {
    const key = keyOf(meta, batch);
    const entry = this.entries.get(key);
    if (entry === undefined) {
      // Each recorded shape keeps its program's storage (an Omniglot MLP meta-iteration's intermediates):
      // meta-batches whose shapes keep changing run as usual past the first few.
      if (this.entries.size >= MAX_SHAPES) return this.compute(meta, batch, progress);
      return this.record(key, meta, batch, progress);
    }
    if (entry.state === 'off') return this.compute(meta, batch, progress);
    const replayed = this.replay(entry, meta, batch);
    const ran = entry.program!.lastRun();
    // Profiled runs are the in-order runs, timed: one way of running.
    const way = ran === 'profiled' ? 'in order' : ran;
    if (entry.state === 'replaying' && entry.checked.has(way)) return replayed;
    // Verifying, or replaying in a way not checked yet (the thread's kernel threads changed): the computation
    // op by op, on the kernels the program recorded, decides.
    const usual = this.compute(meta, batch, progress);
    const diff = firstDifference(replayed, usual);
    if (diff === undefined) {
      // A program's first two runs on a thread that queues are profiled in order: the schedule made from
      // them is checked at its first run.
      entry.checked.add(way);
      entry.state = ran === 'profiled' ? 'verifying' : 'replaying';
    } else {
      entry.state = 'off';
      entry.reason = `the replay differed from the computation (${diff})`;
      delete entry.program;
      delete entry.inputs;
      delete entry.outputs;
    }
    return usual;
  }

  /** Computes the meta-gradient on copies of the inputs with its kernels recorded. */
  private record(key: string, meta: Params, batch: TaskBatch, progress: number): MetaGradient {
    // Outside any enclosing release scope: the program's inputs and outputs live as long as it does.
    const { inputs, recorded } = outsideReleaseScopes(() => {
      const inMeta: Params = {};
      for (const [name, t] of Object.entries(meta)) inMeta[name] = copyOf(t);
      const inBatch = Object.fromEntries(
        BATCH_FIELDS.map((f) => [f, copyOf(batch[f])]),
      ) as unknown as TaskBatch;
      return {
        inputs: { meta: inMeta, batch: inBatch },
        recorded: recordKernels(() => this.compute(inMeta, inBatch, progress)),
      };
    });
    if (recorded.program === undefined) {
      this.entries.set(key, { state: 'off', reason: recorded.reason, checked: new Set() });
      return copyResult(recorded.result);
    }
    // A program keeps every intermediate of the meta-gradient (the usual computation frees them as it goes):
    // not past a share of the machine's memory (conv4's keeps 4.2 GB, the Omniglot MLP's 0.04 GB).
    const bytes = recorded.program.storageBytes();
    if (bytes > this.maxBytes) {
      const gb = (n: number) => `${(n / 2 ** 30).toFixed(1)} GB`;
      this.entries.set(key, {
        state: 'off',
        checked: new Set(),
        reason: `its storage (${gb(bytes)}) is over the ${gb(this.maxBytes)} a program may keep`,
      });
      return copyResult(recorded.result);
    }
    const entry: Entry = {
      state: 'verifying',
      program: recorded.program,
      inputs,
      outputs: recorded.result,
      checked: new Set(),
    };
    this.entries.set(key, entry);
    return copyResult(recorded.result);
  }

  /** Feeds the inputs to the program, runs it, and copies its outputs out. */
  private replay(entry: Entry, meta: Params, batch: TaskBatch): MetaGradient {
    const inputs = entry.inputs!;
    // The last run's kernels may still be queued: they read the inputs about to be overwritten.
    syncKernels();
    for (const [name, t] of Object.entries(inputs.meta)) storageOf(t).set(valuesOf(meta[name]!));
    for (const f of BATCH_FIELDS) storageOf(inputs.batch[f]).set(valuesOf(batch[f]));
    entry.program!.run();
    return copyResult(entry.outputs!);
  }
}
