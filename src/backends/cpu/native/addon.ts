import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TypedArray } from '../../../tensor/dtype.js';
import type { NativeBlas } from './blas.js';

/**
 * gather's and scatterAdd's arguments: `a` (gather's x `[outer, dim, inner]`, scatterAdd's updates
 * `[outer, indices.length, inner]`), the indices along the middle axis, and `out` (the other shape).
 */
export type IndexKernelArgs = [
  a: Float32Array,
  indices: Int32Array,
  out: Float32Array,
  outer: number,
  dim: number,
  inner: number,
];

/**
 * The optional native addon (addon.c, blas.c, elementwise.c), built by `npm run setup:native`: matmul on
 * the system's BLAS and float32 elementwise loops on the tensors' own storage. Without it (nothing is
 * compiled by `npm ci`) the CPU backend runs its WebAssembly SIMD kernels; `METATAPE_NATIVE=0` turns a
 * built addon off.
 */
/**
 * A kernel program's two-thread schedule (schedule.c): how it last ran, the runs profiled, and the times its
 * plan predicts (the kernels' sum, the planned two-thread time, the longest dependency chain).
 */
/** The ways a program runs, in the addon's order (program.h's program_run_mode). */
export const PROGRAM_RUN_MODES = ['one thread', 'profiled', 'in order', 'scheduled'] as const;

export interface ProgramSchedule {
  /**
   * How it last ran: on a thread that does not queue (`one thread`), or on one that does: in order and timed
   * (`profiled`, its first two runs there), in order (`in order`: the plan would not gain, a trial, or runs
   * in order measured faster) or by the schedule (`scheduled`). The last three give the same values, two-thread ones; `one thread` may differ
   * from them in a product's last bits.
   */
  last: (typeof PROGRAM_RUN_MODES)[number];
  profiled: number;
  planned: boolean;
  /** The plan gains enough to be run (else the program runs in order). */
  worthwhile: boolean;
  serialMs: number;
  plannedMs: number;
  criticalMs: number;
  /**
   * Median wall time of its runs in order and by the schedule in their last trial (0: none yet): both ways
   * run a trial back to back every 1024 runs, and the faster is taken until the next.
   */
  inOrderMs: number;
  scheduledMs: number;
  /** Kernels in each thread's list (a split kernel is in both). */
  lists: [number, number];
  split: number;
}

export interface NativeAddon extends NativeBlas {
  /**
   * The calling thread's big kernels (matmul, elementwise, Adam) run on `n` threads from now on: this one and
   * n - 1 helpers (parallel.c); 1 stops the helpers. With `queued` (n >= 2), every kernel is queued to an
   * executor thread instead of running during the call; with `slices` (n >= 2, not queued), the threads are
   * task slices' (runPrograms): products stay whole, elementwise loops split. Returns the count in effect.
   */
  setKernelThreads(n: number, queued?: boolean, slices?: boolean): number;
  /** The calling thread's queue figures (see `KernelQueueStats`), or undefined without a queue. */
  queueStats(): { kernels: number; busyMs: number; syncMs: number; helped: number; ranHere: number };
  /**
   * Returns once every kernel the calling thread queued has run but the last `leave` (0: all have run;
   * src/backends/cpu/kernelQueue.ts).
   */
  syncKernels(leave: number): void;
  /**
   * From now on the calling thread's kernel calls are checked and recorded into a program instead of run
   * (parallel.c, "Kernel programs"); kernels it queued before run first.
   */
  beginProgram(): void;
  /** Stops recording: the program (an opaque handle), or undefined when `keep` is false. */
  endProgram(keep?: boolean): object | undefined;
  /**
   * Runs a program's kernels: in order on this thread, or, on a thread that queues, on it and its executor
   * by the program's schedule (schedule.c); returns the calls it queued (all have run when it returns).
   */
  runProgram(program: object): number;
  /**
   * Runs the programs at once, each whole on one of this thread's kernel threads (setKernelThreads; without
   * them one after another), each kernel as this thread would run it op by op; all have run when it returns.
   * Before: `feeds` ([dst, src, ...], equal byte lengths) copied by all the threads; after: `combines`
   * ([out, one part per program, ...], float32 or float64 of one length) made the parts' sum weighted by
   * `weights` (in float64, in program order, rounded once), by all the threads. Throws on a thread that
   * queues its kernels.
   */
  runPrograms(
    programs: object[],
    feeds?: TypedArray[],
    combines?: TypedArray[],
    weights?: Float64Array,
  ): void;
  /**
   * `out[j] = weights[0] * parts[0][j] + weights[1] * parts[1][j] + ...` summed in float64 in that order and
   * rounded once, split over this thread's kernel threads where big (not on a thread that queues).
   */
  combineSlices(out: Float32Array, parts: Float32Array[], weights: Float64Array): void;
  /** Kernels in a program. */
  programKernels(program: object): number;
  /** How a program last ran and what its two-thread schedule predicts; undefined before a run on two. */
  programSchedule(program: object): ProgramSchedule | undefined;
  /**
   * How a program last ran, as an index into {@link PROGRAM_RUN_MODES}, or -1 before its first run on a
   * thread that queues: one number, where programSchedule builds an object.
   */
  programLastRun(program: object): number;
  /**
   * Median ns for this thread to hand a flag to another and get it back (parallel.c): what two threads pay
   * to hand each other work, which the two-thread figures move with; benchmarks report it.
   */
  coreRoundTrip(): number;
  /**
   * The BLAS the addon opened (its path and build configuration), or why none; `copies` of it are loaded
   * (a sequential library gets one per thread that multiplies, src/backends/cpu/native/blas.c says why),
   * `copyPerThread` says whether concurrent threads still each get their own, `copy` is the calling
   * thread's (-1 before its first product).
   */
  blasInfo(): {
    path?: string;
    config?: string;
    error?: string;
    copies?: number;
    copyPerThread?: boolean;
    copy?: number;
  };
  /** `out = a op b`, op 0-3 = add, sub, mul, div; a and b of out's length or 1 (not both 1). */
  binary(op: number, a: Float32Array, b: Float32Array, out: Float32Array): void;
  /** `out = full op rows` (`rows op full` when rowsFirst); full and out [p, q, r], rows [p, r]. */
  rows(
    op: number,
    full: Float32Array,
    rows: Float32Array,
    rowsFirst: boolean,
    p: number,
    q: number,
    r: number,
    out: Float32Array,
  ): void;
  /**
   * `out = a op b` through element strides (0 on a broadcast axis): op 0-11 = add, sub, mul, div, maximum,
   * minimum, greater, greaterEqual, less, lessEqual, equal, notEqual; geometry = shape, a's strides, b's
   * strides (rank each, at most 16); out contiguous over shape.
   */
  strided(op: number, a: Float32Array, b: Float32Array, out: Float32Array, geometry: Int32Array): void;
  /** `out = op(x)`, op 0-7 = relu, step, neg, square, sqrt, reciprocal, abs, sign. */
  unary(op: number, x: Float32Array, out: Float32Array): void;
  /** `out[p, r]` = the sum over q of `x[p, q, r]`, rows added in order in float32. */
  colsum(x: Float32Array, p: number, q: number, r: number, out: Float32Array): void;
  /**
   * `out` (contiguous over shape) = `x[base + sum(index[d] * strides[d])]`; geometry = shape, then strides
   * (non-negative, rank at most 16).
   */
  copy(x: Float32Array, base: number, out: Float32Array, geometry: Int32Array): void;
  /**
   * `out` = op 0-2 (sum, max, min) over contiguous `x` read as `shape`, each element going to
   * `sum(index[d] * outStrides[d])`; geometry = shape, then outStrides (rank at most 16).
   */
  reduceStrided(op: number, x: Float32Array, out: Float32Array, geometry: Int32Array): void;
  /** Every element of `out` = `value` rounded to float32. */
  fill(out: Float32Array, value: number): void;
  /** `out[i] = x[i]` (to nearest). */
  castI32F32(x: Int32Array, out: Float32Array): void;
  /**
   * `out` = value, with contiguous `x` (of `shape`) copied in at `base + sum(index[d] * outStrides[d])`;
   * geometry = shape, then out's strides (rank at most 16).
   */
  pad(x: Float32Array, out: Float32Array, geometry: Int32Array, base: number, value: number): void;
  /** `out[o, i, :] = x[o, indices[i], :]` over x `[outer, dim, inner]`; throws on an index out of range. */
  gather(...args: IndexKernelArgs): void;
  /** `out` (`[outer, dim, inner]`) zeroed, then `out[o, indices[i], :] += updates[o, i, :]` in index order. */
  scatterAdd(...args: IndexKernelArgs): void;
  /**
   * Adam's whole step for many parameters (`Backend.adamStep`): `arrays` holds g, m0, v0, p0, m, v, p per
   * parameter (Float32Arrays, one length per parameter); m, v and p get the new moments and parameter,
   * rounded as `adamF32` then an add round them. Not on a thread that queues or records its kernels.
   */
  adamStep(
    arrays: Float32Array[],
    s1: number,
    s2: number,
    epsRoot: number,
    epsHat: number,
    scale: number,
  ): void;
  /** Adam's moment update (`Backend.adamMoments`) in float32, rounded as `adamF32` rounds. */
  adam(
    g: Float32Array,
    m0: Float32Array,
    v0: Float32Array,
    m: Float32Array,
    v: Float32Array,
    u: Float32Array,
    s1: number,
    s2: number,
    epsRoot: number,
    epsHat: number,
    scale: number,
  ): void;
}

/** Where `npm run setup:native` puts the addon: build/native under the package root (src/ or dist/ alike). */
export const NATIVE_ADDON_PATH = join(
  resolve(dirname(fileURLToPath(import.meta.url)), '../../../..'),
  'build',
  'native',
  'metatape_native.node',
);

function load(): { addon?: NativeAddon; reason?: string } {
  if (process.env.METATAPE_NATIVE === '0') return { reason: 'turned off (METATAPE_NATIVE=0)' };
  if (!existsSync(NATIVE_ADDON_PATH)) return { reason: 'not built (npm run setup:native)' };
  try {
    return { addon: createRequire(import.meta.url)(NATIVE_ADDON_PATH) as NativeAddon };
  } catch (err) {
    // A stale build (another Node ABI or machine) must not break the backend: say why, keep wasm.
    return { reason: `${NATIVE_ADDON_PATH} failed to load: ${(err as Error).message}` };
  }
}

const loaded = load();

/** The loaded addon, or undefined where it is not built, is turned off or failed to load. */
export const nativeAddon: NativeAddon | undefined = loaded.addon;

/** Why {@link nativeAddon} is undefined, when it is. */
export const nativeAddonReason: string | undefined = loaded.reason;
