import type { TypedArray } from '../../tensor/dtype.js';
import type { Shape } from '../../tensor/shape.js';

/** `shape` seen as [outer, dim, inner] around `axis`: the sizes before it, along it, and after it. */
export function aroundAxis(shape: Shape, axis: number): [outer: number, dim: number, inner: number] {
  let outer = 1;
  let inner = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d]!;
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d]!;
  return [outer, shape[axis]!, inner];
}

/** Gathers slices of `x` along `axis` at `indices`; throws on an index out of range. */
export function gatherKernel(
  x: TypedArray,
  shape: Shape,
  indices: Int32Array,
  axis: number,
  out: TypedArray,
): void {
  const [outer, dim, inner] = aroundAxis(shape, axis);
  const ni = indices.length;
  for (let i = 0; i < ni; i++) {
    const ix = indices[i]!;
    if (ix < 0 || ix >= dim)
      throw new Error(`gather: index ${ix} is out of range [0, ${dim}) on axis ${axis}`);
  }
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < ni; i++) {
      const src = (o * dim + indices[i]!) * inner;
      const dst = (o * ni + i) * inner;
      for (let j = 0; j < inner; j++) out[dst + j] = x[src + j]!;
    }
  }
}

/** Sums `updates` (gather's output shape) into a zeroed `out` of `outShape` at `indices` along `axis`. */
export function scatterAddKernel(
  updates: TypedArray,
  indices: Int32Array,
  axis: number,
  out: TypedArray,
  outShape: Shape,
): void {
  const [outer, dim, inner] = aroundAxis(outShape, axis);
  const ni = indices.length;
  out.fill(0);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < ni; i++) {
      const ix = indices[i]!;
      if (ix < 0 || ix >= dim)
        throw new Error(`scatterAdd: index ${ix} is out of range [0, ${dim}) on axis ${axis}`);
      const dst = (o * dim + ix) * inner;
      const src = (o * ni + i) * inner;
      for (let j = 0; j < inner; j++) out[dst + j]! += updates[src + j]!;
    }
  }
}

/** Concatenates contiguous inputs along `axis`. */
export function concatKernel(
  xs: readonly { data: TypedArray; shape: Shape }[],
  axis: number,
  out: TypedArray,
): void {
  const [outer] = aroundAxis(xs[0]!.shape, axis);
  let outRow = 0;
  for (const x of xs) {
    const [, d, inner] = aroundAxis(x.shape, axis);
    outRow += d * inner;
  }
  let col = 0;
  for (const x of xs) {
    const [, d, inner] = aroundAxis(x.shape, axis);
    const chunk = d * inner;
    for (let o = 0; o < outer; o++) out.set(x.data.subarray(o * chunk, (o + 1) * chunk), o * outRow + col);
    col += chunk;
  }
}

/** Writes `x` into the interior of `out` (already filled with the pad value). */
export function padKernel(
  x: TypedArray,
  shape: Shape,
  paddings: readonly (readonly [number, number])[],
  out: TypedArray,
  outShape: Shape,
): void {
  const rank = shape.length;
  if (rank === 0) {
    out[0] = x[0]!;
    return;
  }
  const outStrides = new Array<number>(rank);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    outStrides[d] = s;
    s *= outShape[d]!;
  }
  let base = 0;
  for (let d = 0; d < rank; d++) base += paddings[d]![0] * outStrides[d]!;
  const inner = shape[rank - 1]!;
  const total = x.length;
  if (total === 0) return;
  const idx = new Array<number>(rank).fill(0);
  let o = base;
  for (let i = 0; i < total; i += inner) {
    out.set(x.subarray(i, i + inner), o);
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      o += outStrides[d]!;
      if (idx[d]! < shape[d]!) break;
      o -= outStrides[d]! * shape[d]!;
      idx[d] = 0;
    }
  }
}
