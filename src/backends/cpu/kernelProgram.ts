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
import { beginRecordingPool, endRecordingPool } from './alloc.js';
import { noteProgramRan, setRecording, syncKernels } from './kernelQueue.js';
import { nativeAddon, PROGRAM_RUN_MODES, type ProgramSchedule } from './native/addon.js';

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
}

/** What {@link recordKernels} made: `fn`'s result, and its kernels as a program or why there is none. */
export type Recorded<T> =
  | { result: T; program: KernelProgram }
  | { result: T; program: undefined; reason: string };

/** Whether kernel programs can be recorded here: the native addon is loaded. */
export function kernelProgramsAvailable(): boolean {
  return nativeAddon !== undefined;
}

/**
 * Runs `fn` with its native kernels recorded into a program, and runs the program once, so that `fn`'s result
 * is computed either way. The storage of every tensor `fn` computes belongs to the program (each run
 * overwrites it); tensors that existed before are only read, unless `fn` writes them in place.
 */
export function recordKernels<T>(fn: () => T): Recorded<T> {
  const addon = nativeAddon;
  if (addon === undefined)
    return { result: fn(), program: undefined, reason: 'the native addon is not loaded' };
  syncKernels();
  const arrays: object[] = [];
  let interrupted: string | undefined;
  let recordingOn = true;
  const stop = (keep: boolean): object | undefined => {
    if (!recordingOn) return undefined;
    recordingOn = false;
    setRecording(undefined);
    return addon.endProgram(keep);
  };
  addon.beginProgram();
  beginRecordingPool();
  setRecording({
    arrays,
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
  if (interrupted !== undefined) {
    endRecordingPool(undefined);
    return { result, program: undefined, reason: interrupted };
  }
  const handle = stop(true)!;
  endRecordingPool(arrays);
  const program = new KernelProgram(handle, arrays);
  program.run();
  return { result, program };
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
