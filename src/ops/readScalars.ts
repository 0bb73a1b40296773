import { type HostReads, readScalar } from '../tensor/reads.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { concat, reshape } from './shape.js';

/**
 * The values of several one-element tensors in one read: they are joined into one vector (a copy, so each
 * number is exactly what reading it alone gives) and that vector is read once. Each read is a round trip
 * that stops the host until the device has caught up, so values needed at the same point go together.
 * All tensors must share a dtype.
 *
 * ```ts
 * const [rr, l1] = yield* readScalars([sum(mul(r, r)), sum(abs(r))]);
 * ```
 */
export function* readScalars<const T extends readonly Tensor[]>(ts: T): HostReads<ScalarsOf<T>> {
  for (const t of ts) {
    if (t.size !== 1)
      throw new Error(`readScalars: tensor of shape ${fmtShape(t.shape)} has ${t.size} elements`);
  }
  if (ts.length <= 1) return (ts.length === 0 ? [] : [yield* readScalar(ts[0]!)]) as ScalarsOf<T>;
  const dtype = ts[0]!.dtype;
  const mixed = ts.find((t) => t.dtype !== dtype);
  if (mixed) throw new Error(`readScalars: mixed dtypes ${dtype} and ${mixed.dtype}; cast them first`);
  const values = yield concat(ts.map((t) => reshape(t, [1])));
  return Array.from(values.subarray(0, ts.length)) as unknown as ScalarsOf<T>;
}

/** One number per tensor of a tuple: `readScalars([a, b])` gives `[number, number]`. */
export type ScalarsOf<T extends readonly Tensor[]> = { -readonly [K in keyof T]: number };
