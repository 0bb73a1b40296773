import type { Backend } from '../backends/backend.js';
import { getBackend, getDefaultFloat } from '../backends/registry.js';
import { allocArray, type DType, dtypeOfArray, type TypedArray } from '../tensor/dtype.js';
import type { Rng } from '../tensor/random.js';
import { fmtShape, type Shape, sizeOf } from '../tensor/shape.js';
import { type NestedArray, Storage, Tensor, Variable } from '../tensor/tensor.js';

/** Values accepted by {@link tensor}: a number, nested arrays of numbers, or a typed array. */
export type TensorInput = number | NestedArray | TypedArray | readonly number[];

/**
 * Creates a tensor on the current backend. The shape is inferred from nested arrays or given explicitly
 * (required for a flat typed array of rank > 1). The dtype defaults to a typed array's own, else the default
 * float (float32 unless changed).
 *
 * ```ts
 * const a = tensor([[1, 2], [3, 4]]);             // float32 [2,2]
 * const b = tensor(new Float64Array(6), [2, 3]);   // float64 [2,3]
 * ```
 */
export function tensor(values: TensorInput, shape?: Shape, dtype?: DType): Tensor {
  let flat: ArrayLike<number>;
  let inferred: number[];
  if (typeof values === 'number') {
    flat = [values];
    inferred = [];
  } else if (ArrayBuffer.isView(values)) {
    flat = values;
    inferred = [values.length];
    dtype ??= dtypeOfArray(values);
  } else {
    inferred = inferShape(values as NestedArray);
    flat = flattenNested(values as NestedArray);
  }
  const finalShape = shape ? [...shape] : inferred;
  if (sizeOf(finalShape) !== flat.length) {
    throw new Error(`tensor: ${flat.length} values do not fill shape ${fmtShape(finalShape)}`);
  }
  const dt = dtype ?? getDefaultFloat();
  const data = allocArray(dt, flat.length);
  for (let i = 0; i < flat.length; i++) data[i] = flat[i]!;
  return fromArray(data, finalShape);
}

/**
 * Wraps a typed array (the backend's upload copies it) as a tensor, on `backend` (default: the current one).
 * Pass the backend of the tensors it will meet, e.g. an index table for a gather on a given input.
 */
export function fromArray(data: TypedArray, shape: Shape, backend: Backend = getBackend()): Tensor {
  const dtype = dtypeOfArray(data);
  return new Tensor(new Storage(backend, backend.upload(data, shape, dtype)), [...shape], dtype);
}

function inferShape(v: NestedArray): number[] {
  const shape: number[] = [];
  let cur: NestedArray = v;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0]!;
  }
  return shape;
}

/** A rank-0 tensor. */
export function scalar(value: number, dtype?: DType): Tensor {
  return tensor(value, [], dtype);
}

/** A tensor filled with `value`. */
export function fill(shape: Shape, value: number, dtype: DType = getDefaultFloat()): Tensor {
  const backend = getBackend();
  return new Tensor(new Storage(backend, backend.fill(shape, value, dtype)), [...shape], dtype);
}

/** Zeros of a shape. */
export function zeros(shape: Shape, dtype?: DType): Tensor {
  return fill(shape, 0, dtype);
}

/** Ones of a shape. */
export function ones(shape: Shape, dtype?: DType): Tensor {
  return fill(shape, 1, dtype);
}

/** Zeros shaped, typed and placed like `t`. */
export function zerosLike(t: Tensor): Tensor {
  return new Tensor(new Storage(t.backend, t.backend.fill(t.shape, 0, t.dtype)), t.shape, t.dtype);
}

/** Ones shaped, typed and placed like `t`. */
export function onesLike(t: Tensor): Tensor {
  return new Tensor(new Storage(t.backend, t.backend.fill(t.shape, 1, t.dtype)), t.shape, t.dtype);
}

/** `[start, start + step, ...)` below `stop`, as a 1-D tensor. */
export function range(start: number, stop?: number, step = 1, dtype?: DType): Tensor {
  if (stop === undefined) {
    stop = start;
    start = 0;
  }
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const data = allocArray(dtype ?? getDefaultFloat(), n);
  for (let i = 0; i < n; i++) data[i] = start + i * step;
  return fromArray(data, [n]);
}

/** Uniform random values in [lo, hi) drawn from `rng`. */
export function randomUniform(shape: Shape, rng: Rng, lo = 0, hi = 1, dtype?: DType): Tensor {
  const data = allocArray(dtype ?? getDefaultFloat(), sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = rng.uniformIn(lo, hi);
  return fromArray(data, shape);
}

/** Normal random values drawn from `rng`. */
export function randomNormal(shape: Shape, rng: Rng, mean = 0, std = 1, dtype?: DType): Tensor {
  const data = allocArray(dtype ?? getDefaultFloat(), sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = mean + std * rng.normal();
  return fromArray(data, shape);
}

/** Normal values redrawn beyond two standard deviations (TensorFlow's `truncated_normal`). */
export function truncatedNormal(shape: Shape, rng: Rng, mean = 0, std = 1, dtype?: DType): Tensor {
  const data = allocArray(dtype ?? getDefaultFloat(), sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = mean + std * rng.truncatedNormal();
  return fromArray(data, shape);
}

/** A trainable (by default) Variable initialised from a tensor or values. */
export function variable(
  initial: Tensor | TensorInput,
  options: { name?: string; trainable?: boolean; dtype?: DType } = {},
): Variable {
  const t = initial instanceof Tensor ? initial : tensor(initial, undefined, options.dtype);
  return new Variable(t, options);
}

function flattenNested(v: NestedArray): number[] {
  const out: number[] = [];
  const walk = (x: NestedArray): void => {
    if (typeof x === 'number') out.push(x);
    else for (const e of x) walk(e);
  };
  walk(v);
  return out;
}
