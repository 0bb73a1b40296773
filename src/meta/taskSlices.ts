/**
 * A meta-batch's tasks cut into slices, one per thread, and the slices' results made one
 * (`trainer.parallelism: tasks`). Both ways of running the slices use it: worker threads
 * (src/meta/threads.ts) and kernel programs run at once on the native kernel threads (src/meta/kernelReplay.ts).
 *
 * Exact: the meta-loss, metric and meta-gradient of every algorithm that splits over tasks are means over the
 * tasks, so the mean of slice means weighted by slice sizes is the same number up to float summation order.
 * The split depends on the task and thread counts only, and the weighted sum runs in float64 in slice order,
 * rounded once: a run with the same thread count gives the same numbers bit for bit.
 */
import { kernelsDeferred } from '../backends/cpu/kernelQueue.js';
import { nativeAddon } from '../backends/cpu/native/addon.js';
import type { TypedArray } from '../tensor/dtype.js';

/**
 * Splits `tasks` tasks into `parts` contiguous slices as equal as possible, larger ones first:
 * `[start, count]` pairs. The split depends on the two numbers only, so a run with the same thread count
 * always sums the same partial results in the same order (bitwise reproducible).
 */
export function splitTasks(tasks: number, parts: number): [start: number, count: number][] {
  const k = Math.max(1, Math.min(parts, tasks));
  const base = Math.floor(tasks / k);
  const extra = tasks % k;
  const out: [number, number][] = [];
  let start = 0;
  for (let i = 0; i < k; i++) {
    const count = base + (i < extra ? 1 : 0);
    out.push([start, count]);
    start += count;
  }
  return out;
}

/** Each slice's weight in the mean over all tasks: its share of them. */
export function sliceWeights(slices: readonly [number, number][]): number[] {
  const tasks = slices.reduce((sum, [, count]) => sum + count, 0);
  return slices.map(([, count]) => count / tasks);
}

/**
 * `out = w0 * a + w1 * b` elementwise, in float64 and rounded once (as the general loop): monomorphic, since
 * through the TypedArray union each element access was several times slower.
 */
function weightedPairF32(out: Float32Array, a: Float32Array, b: Float32Array, w0: number, w1: number): void {
  for (let j = 0; j < out.length; j++) out[j] = w0 * a[j]! + w1 * b[j]!;
}

/**
 * `out[j] = w[0] * parts[0][j] + w[1] * parts[1][j] + ...`, summed in float64 in slice order and rounded once
 * to `out`'s type. Float32 goes native where the addon is loaded (and the thread neither queues nor records
 * its kernels), split over the thread's kernel threads where big; the result is the same either way.
 */
export function weightedSum(out: TypedArray, parts: readonly TypedArray[], w: readonly number[]): void {
  const first = parts[0]!;
  if (
    out instanceof Float32Array &&
    parts.every((p) => p instanceof Float32Array && p.length === out.length) &&
    nativeAddon !== undefined &&
    !kernelsDeferred()
  ) {
    nativeAddon.combineSlices(out, parts as Float32Array[], Float64Array.from(w));
    return;
  }
  const w0 = w[0]!;
  if (parts.length === 2 && out instanceof Float32Array)
    weightedPairF32(out, first as Float32Array, parts[1] as Float32Array, w0, w[1]!);
  else
    for (let j = 0; j < out.length; j++) {
      let acc = w0 * first[j]!;
      for (let i = 1; i < parts.length; i++) acc += w[i]! * parts[i]![j]!;
      out[j] = acc;
    }
}
