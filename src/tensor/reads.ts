/**
 * Algorithms whose control flow needs values on the host (conjugate gradient's step sizes, a line search's
 * tests, a gradient check's comparison), written once for backends that read synchronously and for those
 * that read only asynchronously (WebGPU): the algorithm is a generator that yields each tensor it needs to
 * see and receives its values; a driver does the reading, with `dataSync()` or `await data()`.
 */
import type { TypedArray } from './dtype.js';
import { fmtShape } from './shape.js';
import type { Tensor } from './tensor.js';

/**
 * A computation that reads tensors back to the host: each `yield t` hands `t` to the driver and resumes with
 * `t`'s values; the generator's return value is the result. Run it with {@link runReadsSync} or
 * {@link runReadsAsync}; compose with `yield*`.
 *
 * ```ts
 * function* halfNorm(x: Tensor): HostReads<number> {
 *   return 0.5 * (yield* readScalar(sum(square(x))));
 * }
 * runReadsSync(halfNorm(x)); // or: await runReadsAsync(halfNorm(x))
 * ```
 */
export type HostReads<T> = Generator<Tensor, T, TypedArray>;

/**
 * The value of a one-element tensor, read by whichever driver runs the computation (`item()` for both).
 *
 * ```ts
 * const rr = yield* readScalar(sum(mul(r, r)));
 * ```
 */
export function* readScalar(t: Tensor): HostReads<number> {
  if (t.size !== 1)
    throw new Error(`readScalar: tensor of shape ${fmtShape(t.shape)} has ${t.size} elements`);
  const values = yield t;
  return values[0]!;
}

/**
 * A computation that reads nothing and returns `value`: a host function's result where a {@link HostReads}
 * is expected.
 *
 * ```ts
 * strongWolfeReads({ phi: (a) => noReads((a - 2) ** 2), derphi: (a) => noReads(2 * (a - 2)) }, 4, -4);
 * ```
 */
// biome-ignore lint/correctness/useYield: a computation with no reads is the generator that returns at once.
export function* noReads<T>(value: T): HostReads<T> {
  return value;
}

/**
 * Runs `reads` to its end, reading each yielded tensor synchronously (`dataSync()`, as `item()` does): throws
 * on a backend that reads only asynchronously.
 *
 * ```ts
 * const { p } = runReadsSync(truncatedCgReads(apply, g, { maxIterations: 10 }));
 * ```
 */
export function runReadsSync<T>(reads: HostReads<T>): T {
  let step = reads.next();
  while (!step.done) step = reads.next(step.value.dataSync());
  return step.value;
}

/**
 * Runs `reads` to its end, awaiting each yielded tensor's values (`await data()`): works on every backend.
 * The values are the same numbers {@link runReadsSync} gives.
 *
 * ```ts
 * const { p } = await runReadsAsync(truncatedCgReads(apply, g, { maxIterations: 10 }));
 * ```
 */
export async function runReadsAsync<T>(reads: HostReads<T>): Promise<T> {
  let step = reads.next();
  while (!step.done) step = reads.next(await step.value.data());
  return step.value;
}
