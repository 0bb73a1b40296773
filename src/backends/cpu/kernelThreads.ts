/**
 * Kernel threads of the CPU backend: the native addon's big kernels (matmul, elementwise loops, Adam's
 * update) split over several threads, so that one meta-gradient uses several cores
 * (`trainer.parallelism: kernels`), or the task slices of `trainer.parallelism: tasks` run at once as kernel
 * programs (the `taskSlices` option; src/meta/kernelReplay.ts), which on the Omniglot MLP is the faster way
 * (bench/RESULTS.md, "Two threads").
 *
 * The setting is per JS thread (each worker thread has its own); only kernels above a size threshold split
 * (src/backends/cpu/native/parallel.c), and a split computes every element as the whole kernel would, except
 * that a matmul's row or column blocks may land on different BLAS kernel edges (results then differ from one
 * thread's in the last bits, the same for the same thread count).
 *
 * Split kernels alone made two threads at most about 1.4 times one on that job: the op dispatch, the tape
 * and the small kernels stayed serial. With `queue` (what the trainer uses), kernels run on an executor
 * thread while this one records the next ops (src/backends/cpu/kernelQueue.ts).
 */
import { configureKernelThreads } from './kernelQueue.js';
import { nativeAddon, nativeAddonReason } from './native/addon.js';

/** Kernel threads were asked for where the native addon is not loaded. */
export class KernelThreadsError extends Error {
  override readonly name = 'KernelThreadsError';
}

/** Why kernel threads are unavailable (the native addon is not built, turned off or failed), or undefined. */
export function kernelThreadsUnavailable(): string | undefined {
  if (nativeAddon === undefined) return `the native kernels are off: ${nativeAddonReason ?? 'unknown'}`;
  return undefined;
}

/** Options of {@link setCpuKernelThreads}. */
export interface KernelThreadOptions {
  /**
   * Queue every native kernel to an executor thread instead of running it during the call (from 2 threads;
   * src/backends/cpu/kernelQueue.ts): the op dispatch and the tape on this thread then overlap the kernels,
   * and this thread runs small kernels and parts of big ones whenever it waits for a result. The results are
   * those of the split kernels without a queue, bit for bit, but for exp and log, which run the C library's
   * (test/backends/cpu/kernelQueue.test.ts compares them with JavaScript's). Default false.
   */
  queue?: boolean;
  /**
   * Kernel threads for task slices (`trainer.parallelism: tasks`, src/meta/kernelReplay.ts): they run the
   * slices' programs together (`KernelProgram.runTogether`), and split big elementwise loops, but never a
   * product, whose last bits would depend on its split (so a slice's program and its op-by-op computation
   * agree bit for bit). Idle, they spin 2 ms before they sleep (a sleeping one took 150-200 us to start its
   * program on this project's 2-core VMs). Not with `queue`. Default false.
   */
  taskSlices?: boolean;
}

/**
 * Runs the calling thread's big CPU kernels on `threads` threads from now on (1: on this thread alone, which
 * also stops the helpers), queued where `options.queue` says. Returns the count in effect. Throws
 * {@link KernelThreadsError} for more than one where the native addon is not loaded, and a RangeError for a
 * count that is not a whole number from 1 to 256.
 */
export function setCpuKernelThreads(threads: number, options: KernelThreadOptions = {}): number {
  if (!Number.isInteger(threads) || threads < 1 || threads > 256)
    throw new RangeError(`kernel threads: expected a whole number from 1 to 256, got ${threads}`);
  const why = kernelThreadsUnavailable();
  if (why !== undefined) {
    if (threads === 1) return 1;
    throw new KernelThreadsError(`kernel threads: ${threads} asked for, but ${why}`);
  }
  if (options.queue === true && options.taskSlices === true)
    throw new RangeError(
      "kernel threads: a queue's threads are not task slices' (queue or taskSlices, not both)",
    );
  return configureKernelThreads(threads, options.queue === true, options.taskSlices === true);
}
