import { type HostReads, readScalar } from '../tensor/reads.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { cast, concat, reshape } from './shape.js';

/**
 * The values of several one-element tensors in one read: they are joined into one vector (a copy, so each
 * number is exactly what reading it alone gives) and that vector is read once. Each read is a round trip
 * that stops the host until the device has caught up, so values needed at the same point go together.
 * Mixed dtypes are joined as float64, which holds every float32 and int32 value exactly (a float32-only
 * backend then throws: give it one dtype).
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
  const first = ts[0]!.dtype;
  const dtype = ts.every((t) => t.dtype === first) ? first : 'float64';
  const values = yield concat(ts.map((t) => reshape(cast(t, dtype), [1])));
  return Array.from(values.subarray(0, ts.length)) as unknown as ScalarsOf<T>;
}

/** One number per tensor of a tuple: `readScalars([a, b])` gives `[number, number]`. */
export type ScalarsOf<T extends readonly Tensor[]> = { -readonly [K in keyof T]: number };
