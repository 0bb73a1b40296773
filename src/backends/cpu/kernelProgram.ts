/**
 * Kernel programs: a computation's native kernel calls recorded once and replayed on new data, without the
 * JavaScript that made them (op dispatch, shape checks, the tape, storage allocation). A meta-iteration with
 * the same shapes makes the same kernel calls on the same storage every time; on the Omniglot MLP that
 * JavaScript is about a quarter of an iteration, on the sinusoid MLP about half. The native side records and
 * replays (src/backends/cpu/native/parallel.c, "Kernel programs"); this side keeps what the program points
 * to alive and private, and tells whether a recording is complete.
 *
 * A recording is complete when every storage access of the computation was a native kernel: JavaScript that
 * reads or writes storage (a read, a kernel without a native loop) first syncs (kernelQueue.ts), and a sync
 * while recording ends the recording there: the kernels recorded so far run, the rest of the computation runs
 * as usual, and {@link recordKernels} reports why it has no program. Constants uploaded while recording
 * (numbers from JavaScript) get storage of their own that the program keeps.
 *
 * What a program cannot see: numbers JavaScript computed from anything but storage (a learning-rate schedule,
 * a random draw) are replayed as recorded. Code that records must compute the same kernels from the same
 * numbers every time (src/meta/kernelReplay.ts says how the meta-learner makes sure).
 */

import type { TypedArray } from '../../tensor/dtype.js';
import { beginRecordingPool, endRecordingPool, pinArrays, type RecordingPoolReport } from './alloc.js';
import { noteProgramRan, setRecording, syncKernels } from './kernelQueue.js';
import { type NativeAddon, nativeAddon, PROGRAM_RUN_MODES, type ProgramSchedule } from './native/addon.js';
import { planMemory } from './programMemory.js';

/** A recorded sequence of native kernels over fixed storage; {@link KernelProgram.run} runs it again. */
export class KernelProgram {
  /** Kernels in the program. */
  readonly kernels: number;

  /** Every array a kernel of the program reads or writes, once: alive while the program is, never recycled. */
  private readonly arrays: readonly object[];

  /** @internal `arrays`: the kernels' arrays as recorded, one entry per argument. */
  constructor(
    private readonly handle: object,
    arrays: readonly object[],
  ) {
    this.kernels = nativeAddon!.programKernels(handle);
    this.arrays = [...new Set(arrays)];
  }

  /** Bytes of storage the program holds: every array it uses, counted once per ArrayBuffer. */
  storageBytes(): number {
    const buffers = new Set<ArrayBufferLike>();
    for (const a of this.arrays) if (ArrayBuffer.isView(a)) buffers.add(a.buffer);
    let bytes = 0;
    for (const b of buffers) bytes += b.byteLength;
    return bytes;
  }

  /**
   * How the program last ran on a thread that queues, where it runs on that thread and its executor by a
   * schedule (src/backends/cpu/native/schedule.c): profiled first, then scheduled, or in order where the
   * plan would not gain or runs in order measure faster. Undefined before such a run.
   */
  schedule(): ProgramSchedule | undefined {
    return nativeAddon!.programSchedule(this.handle);
  }

  /** How the program last ran ({@link ProgramSchedule.last}); `one thread` before a run on a thread that queues. */
  lastRun(): ProgramSchedule['last'] {
    return PROGRAM_RUN_MODES[nativeAddon!.programLastRun(this.handle)] ?? 'one thread';
  }

  /**
   * Runs the program's kernels: in order, or, on a thread that queues its kernels, on it and the queue's
   * executor by the program's schedule ({@link KernelProgram.schedule}). Every kernel has run when it
   * returns.
   */
  run(): void {
    noteProgramRan(nativeAddon!.runProgram(this.handle));
  }

  /**
   * Runs several programs at once, each whole on one of the calling thread's kernel threads
   * (`setCpuKernelThreads`; without them one after another), with the values of running each alone: the
   * task slices of `trainer.parallelism: tasks` (src/meta/kernelReplay.ts). Programs that run together must
   * not write what another reads or writes. Not on a thread that queues its kernels. Every kernel has run
   * when it returns.
   *
   * `io.feeds` ([dst, src, ...], typed arrays of equal byte lengths) are copied first, and `io.combines`
   * ([out, one part per program, ...], Float32Arrays or Float64Arrays of one length) made last,
   * `out[j] = weights[0] * part0[j] + weights[1] * part1[j] + ...` in float64 in program order, rounded once:
   * both shared by all the threads, which would otherwise wait while one thread does them.
   */
  static runTogether(
    programs: readonly KernelProgram[],
    io: { feeds?: TypedArray[]; combines?: TypedArray[]; weights?: readonly number[] } = {},
  ): void {
    nativeAddon!.runPrograms(
      programs.map((p) => p.handle),
      io.feeds ?? [],
      io.combines ?? [],
      Float64Array.from(io.weights ?? []),
    );
  }
}

/** What {@link recordKernels} made: `fn`'s result, and its kernels as a program or why there is none. */
export type Recorded<T> =
  | { result: T; program: KernelProgram }
  | { result: T; program: undefined; reason: string };

/** Whether kernel programs can be recorded here: the native addon is loaded. */
export function kernelProgramsAvailable(): boolean {
  return nativeAddon !== undefined;
}

/** Options of {@link recordKernels}. */
export interface RecordOptions {
  /**
   * Record twice: first to learn which intermediates are dead and when each is used, then with those sharing
   * memory by a plan (src/backends/cpu/programMemory.ts), so that the program touches less memory per run.
   * `fn` must then make the same allocations both times; where it does not, or where the plan would not save
   * a tenth, it is recorded once more as without a plan (so `fn` runs one to three times). Default false.
   */
  planMemory?: boolean;
}

/** One recording of `fn`: its result and program (or why there is none), and what its pool saw. */
interface Recording<T> {
  result: T;
  handle?: object;
  reason?: string;
  arrays: object[];
  kernelEnds: number[];
  pool: RecordingPoolReport;
}

/** Records `fn`'s kernels into a program (not run yet), its storage pool as `pool` says; the arrays unpinned. */
function recordOnce<T>(
  addon: NativeAddon,
  fn: () => T,
  pool: Parameters<typeof beginRecordingPool>[0],
): Recording<T> {
  const arrays: object[] = [];
  const kernelEnds: number[] = [];
  let interrupted: string | undefined;
  let recordingOn = true;
  const stop = (keep: boolean): object | undefined => {
    if (!recordingOn) return undefined;
    recordingOn = false;
    setRecording(undefined);
    return addon.endProgram(keep);
  };
  addon.beginProgram();
  beginRecordingPool(pool);
  setRecording({
    arrays,
    kernelEnds,
    interrupt() {
      // The kernels recorded so far compute what JavaScript is about to touch: run them, and go on as usual.
      const partial = stop(true)!;
      new KernelProgram(partial, arrays).run();
      interrupted = describeInterrupt(new Error().stack);
    },
  });
  let result: T;
  try {
    result = fn();
  } catch (err) {
    try {
      stop(false);
    } finally {
      endRecordingPool(undefined);
    }
    throw err;
  }
  if (interrupted !== undefined)
    return { result, reason: interrupted, arrays, kernelEnds, pool: endRecordingPool(undefined) };
  const handle = stop(true)!;
  return { result, handle, arrays, kernelEnds, pool: endRecordingPool(undefined) };
}

/**
 * Runs `fn` with its native kernels recorded into a program, and runs the program once, so that `fn`'s result
 * is computed either way. The storage of every tensor `fn` computes belongs to the program (each run
 * overwrites it); tensors that existed before are only read, unless `fn` writes them in place.
 */
export function recordKernels<T>(fn: () => T, options: RecordOptions = {}): Recorded<T> {
  const addon = nativeAddon;
  if (addon === undefined)
    return { result: fn(), program: undefined, reason: 'the native addon is not loaded' };
  syncKernels();
  const first = recordOnce(addon, fn, { log: options.planMemory === true });
  if (first.handle === undefined) return { result: first.result, program: undefined, reason: first.reason! };
  let kept = first;
  let arena: object[] = [];
  if (options.planMemory === true) {
    const plan = planMemory(first.pool.allocations, first.arrays, first.kernelEnds);
    const second = plan.arenaBytes < 0.9 * plan.plannedBytes ? recordOnce(addon, fn, { plan }) : undefined;
    if (second?.handle !== undefined && second.pool.planned !== undefined) {
      kept = second;
      // The arena and every view of it stay the program's: a planned array no kernel used is a view too.
      arena = [second.pool.planned.arena, ...second.pool.planned.views];
    } else if (plan.plannedBytes > 0) {
      // No plan after all: recorded once more as without one, the arrays it frees reused within it (the
      // first recording, which logged its allocations, reused none of the arrays given back, and keeps more
      // storage; with none given back the two are the same).
      const plain = recordOnce(addon, fn, {});
      if (plain.handle !== undefined) kept = plain;
    }
  }
  pinArrays(kept.arrays);
  pinArrays(arena);
  const program = new KernelProgram(kept.handle!, [...kept.arrays, ...arena]);
  program.run();
  return { result: kept.result, program };
}

/** Where JavaScript needed storage while recording: the first frames outside the backend's sync paths. */
function describeInterrupt(stack: string | undefined): string {
  const frames = (stack ?? '')
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => !/kernelQueue|kernelProgram/.test(l))
    .slice(0, 3);
  return `JavaScript touched storage while the kernels were recorded (${frames.join(' <- ') || 'unknown'})`;
}
