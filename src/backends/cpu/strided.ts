import type { TypedArray } from '../../tensor/dtype.js';
import type { Shape } from '../../tensor/shape.js';

/**
 * Element strides of a source of shape `src` seen through an output of shape `out` (NumPy broadcasting:
 * a broadcast or missing axis gets stride 0).
 */
export function broadcastStrides(src: Shape, out: Shape): number[] {
  const strides = new Array<number>(out.length).fill(0);
  const off = out.length - src.length;
  let s = 1;
  for (let i = src.length - 1; i >= 0; i--) {
    strides[i + off] = src[i] === 1 && out[i + off] !== 1 ? 0 : s;
    s *= src[i]!;
  }
  return strides;
}

/**
 * Copies `src` into the contiguous `dst` of shape `out`, reading source element
 * `base + sum(index[d] * strides[d])`. The innermost axis runs as a tight loop; this one routine serves
 * transpose, broadcastTo and slice.
 */
export function stridedCopy(
  src: TypedArray,
  base: number,
  strides: readonly number[],
  out: Shape,
  dst: TypedArray,
): void {
  const rank = out.length;
  if (rank === 0) {
    dst[0] = src[base]!;
    return;
  }
  const n = out[rank - 1]!;
  const s = strides[rank - 1]!;
  const total = dst.length;
  if (total === 0) return;
  const idx = new Array<number>(rank).fill(0);
  let srcOff = base;
  for (let o = 0; o < total; o += n) {
    if (s === 1) for (let j = 0; j < n; j++) dst[o + j] = src[srcOff + j]!;
    else if (s === 0) dst.fill(src[srcOff]!, o, o + n);
    else for (let j = 0, p = srcOff; j < n; j++, p += s) dst[o + j] = src[p]!;
    // Advance the odometer over the outer axes.
    for (let d = rank - 2; d >= 0; d--) {
      idx[d]!++;
      srcOff += strides[d]!;
      if (idx[d]! < out[d]!) break;
      srcOff -= strides[d]! * out[d]!;
      idx[d] = 0;
    }
  }
}

/**
 * Merges adjacent output axes whose strides (for every operand) are compatible, so that broadcast loops run
 * over as few, as long axes as possible. Returns the collapsed shape and per-operand strides.
 */
export function collapseAxes(
  out: Shape,
  operandStrides: number[][],
): { shape: number[]; strides: number[][] } {
  const shape: number[] = [];
  const strides: number[][] = operandStrides.map(() => []);
  for (let d = 0; d < out.length; d++) {
    const size = out[d]!;
    if (size === 1) continue;
    const last = shape.length - 1;
    if (last >= 0 && operandStrides.every((st, k) => strides[k]![last] === st[d]! * size)) {
      shape[last] = shape[last]! * size;
      for (let k = 0; k < operandStrides.length; k++) strides[k]![last] = operandStrides[k]![d]!;
      continue;
    }
    shape.push(size);
    for (let k = 0; k < operandStrides.length; k++) strides[k]!.push(operandStrides[k]![d]!);
  }
  return { shape, strides };
}
