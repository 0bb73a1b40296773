import type { TypedArray } from '../../tensor/dtype.js';
import type { Shape } from '../../tensor/shape.js';

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
