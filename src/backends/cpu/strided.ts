import type { TypedArray } from '../../tensor/dtype.js';
import { collapseAxes, type Shape } from '../../tensor/shape.js';
import { simdElementwise } from './elementwise.js';
import { kernelsQueued, nativeFrom, syncKernels } from './kernelQueue.js';

/**
 * From this many elements a float32 copy goes to the native kernels' one-call copy where they are built
 * (`npm run setup:native`). `npx tsx bench/cpuKernels.ts copy` ([p, 1, q] -> [p, 4, q], CPU ns per element,
 * pinned): at 64 elements the JS loop 2.6 against native 3.5, at 128 2.1 against 1.5, at 512 1.6 against 0.5.
 */
export const NATIVE_COPY_MIN_ELEMENTS = 128;

/** The native one-call copy, where it is built and worth its call; false where the JS routines must run. */
function nativeCopy(
  src: TypedArray,
  base: number,
  strides: readonly number[],
  out: Shape,
  dst: TypedArray,
): boolean {
  return (
    dst.length >= nativeFrom(NATIVE_COPY_MIN_ELEMENTS) &&
    src instanceof Float32Array &&
    dst instanceof Float32Array &&
    simdElementwise?.copyStrided?.(src, base, strides, out, dst) === true
  );
}

/**
 * Copies `src` into the contiguous `dst` of shape `out`, reading source element
 * `base + sum(index[d] * strides[d])`: the copy of transpose, broadcastTo and slice. Large float32 copies
 * run natively where the addon is built, the rest as {@link stridedCopyJs}.
 */
export function stridedCopy(
  src: TypedArray,
  base: number,
  strides: readonly number[],
  out: Shape,
  dst: TypedArray,
): void {
  if (out.length === 0 || !nativeCopy(src, base, strides, out, dst)) {
    syncKernels();
    stridedCopyJs(src, base, strides, out, dst);
  }
}

/** {@link stridedCopy} in JS: the innermost axis runs as a tight loop, an odometer steps the others. */
export function stridedCopyJs(
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
 * `broadcastTo`'s copy: `src` seen through `strides` (0 on broadcast axes, as from `broadcastStrides`) into
 * the contiguous `dst` of shape `out`, the values of {@link stridedCopy} bit for bit. Large float32 copies
 * run natively in one call where the addon is built, the rest as {@link broadcastCopyJs}.
 */
export function broadcastCopy(
  src: TypedArray,
  strides: readonly number[],
  out: Shape,
  dst: TypedArray,
): void {
  // A single value is a JS fill, unless kernels are queued (the native copy repeats it with stride 0).
  if ((src.length === 1 && !kernelsQueued()) || !nativeCopy(src, 0, strides, out, dst)) {
    syncKernels();
    broadcastCopyJs(src, strides, out, dst);
  }
}

/**
 * {@link broadcastCopy} in JS: a broadcast axis is filled by copying its first block once and then doubling
 * it with `copyWithin` (a memmove), so repeating a bias row over a batch costs a few large copies instead of
 * a loop per row.
 */
export function broadcastCopyJs(
  src: TypedArray,
  strides: readonly number[],
  out: Shape,
  dst: TypedArray,
): void {
  if (dst.length === 0) return;
  if (src.length === 1) {
    dst.fill(src[0]!);
    return;
  }
  const { shape, strides: st } = collapseAxes(out, [strides]);
  const ss = st[0]!;
  // Elements of dst covered by one index of each axis.
  const block = new Array<number>(shape.length);
  let b = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    block[d] = b;
    b *= shape[d]!;
  }
  const fill = (d: number, from: number, to: number): void => {
    const n = shape[d]!;
    const s = ss[d]!;
    if (d === shape.length - 1) {
      if (s === 0) dst.fill(src[from]!, to, to + n);
      else for (let j = 0, p = from; j < n; j++, p += s) dst[to + j] = src[p]!;
      return;
    }
    const inner = block[d]!;
    if (s === 0) {
      fill(d + 1, from, to);
      for (let done = 1; done < n; ) {
        const k = Math.min(done, n - done);
        dst.copyWithin(to + done * inner, to, to + k * inner);
        done += k;
      }
      return;
    }
    for (let i = 0; i < n; i++) fill(d + 1, from + i * s, to + i * inner);
  };
  fill(0, 0, 0);
}
