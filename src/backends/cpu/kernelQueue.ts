/**
 * The JavaScript side of the native addon's kernel queue (`trainer.parallelism: kernels`, whose
 * `setCpuKernelThreads(n, { queue: true })` turns it on; src/backends/cpu/native/parallel.c): in queue mode
 * a native kernel call only queues the kernel with the memory it reads and writes, an executor thread runs
 * the queue while this thread records the next ops, and this thread helps when it waits.
 *
 * Two rules keep every result what a direct call would give:
 * - Storage a queued kernel reads or writes stays reachable until it has run: the executor uses the arrays'
 *   memory directly, and a collected array's memory could be handed to anything. Every array given to a
 *   queued kernel is held here until the next full {@link syncKernels}.
 * - JavaScript touches no storage a queued kernel uses: each CPU-backend path that reads or writes storage in
 *   JavaScript (a read, an upload, a kernel with no native loop) first calls {@link syncKernels}, or
 *   {@link syncKernelsFor} with the arrays it touches. Storage given back to the pool and reused as a queued
 *   kernel's output needs no sync: the queue orders kernels whose memory overlaps.
 */
import { nativeAddon } from './native/addon.js';

/** Most arrays held before a sync is forced (bounds what a long run without reads keeps alive). */
const HOLD_MAX = 1 << 16;

let queueing = false;
/** Kernels queued since queue mode began, and how many of them have surely run. */
let queued = 0;
let ran = 0;
/**
 * Since the last full sync: each queued kernel's arrays, then its number, in queue order; holds them alive.
 * A flat array rather than a map from array to kernel: a targeted sync scans it from the end (a few a
 * meta-iteration), where a map costs every kernel a hash insert and the garbage collector a table.
 */
let held: (object | number)[] = [];

/**
 * The kernel program this thread is recording (src/backends/cpu/kernelProgram.ts): while it records, native
 * kernels are recorded rather than run, and every array they use is kept here (the program points to them).
 */
interface Recording {
  arrays: object[];
  /** Where each kernel's arrays end in `arrays` (kernel k's start where kernel k - 1's end). */
  kernelEnds: number[];
  /** Called at the first sync: JavaScript needs data the recorded kernels have not computed yet. */
  interrupt(): void;
}
let recording: Recording | undefined;

/** Set inside {@link withNativeLoops}. */
let nativeLoops = false;

/**
 * Whether this thread's ops take the native loops of queue mode for every float32 kernel: it queues its
 * native kernels, records them into a program (as queued ones, untouched), or runs {@link withNativeLoops}.
 */
export function kernelsQueued(): boolean {
  return queueing || recording !== undefined || nativeLoops;
}

/** Whether this thread's native kernels run later than they are called: it queues or records them. */
export function kernelsDeferred(): boolean {
  return queueing || recording !== undefined;
}

/**
 * Runs `fn` with every float32 kernel on the native loops that queue mode and a recording take (from size 1,
 * exp and log from the C library), run at once: the computation a recorded program replays, op by op, for
 * checking a program against (src/meta/kernelReplay.ts).
 */
export function withNativeLoops<T>(fn: () => T): T {
  const was = nativeLoops;
  nativeLoops = true;
  try {
    return fn();
  } finally {
    nativeLoops = was;
  }
}

/** Whether this thread is recording a kernel program. */
export function kernelsRecorded(): boolean {
  return recording !== undefined;
}

/** @internal Starts or ends recording (kernelProgram.ts only). */
export function setRecording(r: Recording | undefined): void {
  recording = r;
}

/**
 * @internal Counts `calls` a program's run queued (kernelProgram.ts; its two-thread schedule hands the
 * executor its share as a queued call), so that this side's count stays the addon's. The addon returns
 * only once those and every call queued before have run, so nothing is left to wait for or hold.
 */
export function noteProgramRan(calls: number): void {
  if (calls <= 0 || !queueing) return;
  queued += calls;
  ran = queued;
  held = [];
}

/**
 * The size from which a kernel goes native: `threshold` (where a native call starts to beat the JS loop), or
 * 1 in queue mode, where a JS loop would first have to wait for the queue.
 */
export function nativeFrom(threshold: number): number {
  return queueing || recording !== undefined || nativeLoops ? 1 : threshold;
}

/** Called by the addon's JS wrappers after each native call with its arrays: one kernel, maybe queued. */
export function holdForQueue(a: object, b?: object, c?: object, d?: object, e?: object, f?: object): void {
  if (recording !== undefined) {
    recording.arrays.push(a);
    if (b !== undefined) recording.arrays.push(b);
    if (c !== undefined) recording.arrays.push(c);
    if (d !== undefined) recording.arrays.push(d);
    if (e !== undefined) recording.arrays.push(e);
    if (f !== undefined) recording.arrays.push(f);
    recording.kernelEnds.push(recording.arrays.length);
    return;
  }
  if (!queueing) return;
  held.push(a);
  if (b !== undefined) held.push(b);
  if (c !== undefined) held.push(c);
  if (d !== undefined) held.push(d);
  if (e !== undefined) held.push(e);
  if (f !== undefined) held.push(f);
  held.push(++queued);
  if (held.length >= HOLD_MAX) syncKernels();
}

/** Returns once every queued kernel has run (helping with their parts meanwhile); at once when none are. */
export function syncKernels(): void {
  // JavaScript is about to touch storage that recorded kernels may not have computed: the recording stops
  // here, what it holds runs, and the rest of the computation runs as usual.
  recording?.interrupt();
  if (ran === queued) return;
  nativeAddon!.syncKernels(0);
  ran = queued;
  held = [];
}

/**
 * Returns once every queued kernel that uses `a` or `b` has run: before JavaScript reads or writes them,
 * while later kernels (on other storage) may still run.
 */
export function syncKernelsFor(a: object, b: object): void {
  recording?.interrupt();
  if (ran === queued) return;
  // The last kernel that uses either: scan back to it, then on to its number.
  let i = held.length - 1;
  while (i >= 0 && held[i] !== a && held[i] !== b) i--;
  if (i < 0) return;
  while (typeof held[i] !== 'number') i++;
  const upTo = held[i] as number;
  if (upTo <= ran) return;
  // The addon counts from the end of its queue: leave the kernels queued after `upTo`.
  nativeAddon!.syncKernels(queued - upTo);
  ran = upTo;
}

/**
 * The calling thread's native kernels on `threads` threads from now on, queued (`queue`, from 2 threads) or
 * split inside each call; kernels queued before run first. Returns the count in effect. The addon must be
 * loaded (src/backends/cpu/kernelThreads.ts checks).
 */
export function configureKernelThreads(threads: number, queue: boolean, taskSlices = false): number {
  syncKernels();
  const on = queue && threads >= 2;
  const n = nativeAddon!.setKernelThreads(threads, on, !on && taskSlices);
  queueing = on;
  return n;
}

/** What the calling thread's queue has done since it started, or undefined without one. */
export interface KernelQueueStats {
  /** Kernels run. */
  kernels: number;
  /** The executor thread's time running kernels, ms. */
  busyMs: number;
  /** This thread's time in syncs (waiting, and helping meanwhile), ms. */
  syncMs: number;
  /** Parts of the executor's split kernels this thread ran while it waited. */
  helped: number;
  /** Whole kernels this thread ran while it waited. */
  ranHere: number;
}

/** The calling thread's queue figures (for benchmarks and diagnostics), or undefined where none runs. */
export function kernelQueueStats(): KernelQueueStats | undefined {
  return queueing ? nativeAddon!.queueStats() : undefined;
}

/**
 * `METATAPE_KERNEL_QUEUE=<threads>` (2 or more): every thread that loads this module queues its kernels from
 * the start, so that a whole test suite runs in queue mode (CI runs the op, autodiff and meta-learning suites
 * so).
 */
const forced = Number(
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
    ?.METATAPE_KERNEL_QUEUE ?? 0,
);
if (forced >= 2 && nativeAddon !== undefined) configureKernelThreads(forced, true);
