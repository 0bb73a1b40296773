/**
 * Kernel threads of the CPU backend (`trainer.parallelism: kernels`): the native addon's big kernels (matmul,
 * elementwise loops, Adam's update) split over several threads, so that one meta-gradient uses several
 * cores. The alternative, splitting a meta-batch's tasks over worker threads (src/meta/threads.ts), repeats
 * every op's fixed cost once per thread; measured on the Omniglot MLP (bench/RESULTS.md), a 16-task half
 * cost 60% of the 32-task whole, so two task threads ran slower than one while two kernel threads ran faster.
 *
 * The setting is per JS thread (each worker thread has its own); only kernels above a size threshold split
 * (src/backends/cpu/native/parallel.c), and a split computes every element as the whole kernel would, except
 * that a matmul's row or column blocks may land on different BLAS kernel edges (results then differ from one
 * thread's in the last bits, the same for the same thread count).
 */
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

/**
 * Runs the calling thread's big CPU kernels on `threads` threads from now on (1: on this thread alone, which
 * also stops the helpers). Returns the count in effect. Throws {@link KernelThreadsError} for more than one
 * where the native addon is not loaded, and a RangeError for a count that is not a whole number from 1 to 256.
 */
export function setCpuKernelThreads(threads: number): number {
  if (!Number.isInteger(threads) || threads < 1 || threads > 256)
    throw new RangeError(`kernel threads: expected a whole number from 1 to 256, got ${threads}`);
  const why = kernelThreadsUnavailable();
  if (why !== undefined) {
    if (threads === 1) return 1;
    throw new KernelThreadsError(`kernel threads: ${threads} asked for, but ${why}`);
  }
  return nativeAddon!.setKernelThreads(threads);
}
