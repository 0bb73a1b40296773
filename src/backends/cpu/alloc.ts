import { allocArray, type DType, type TypedArray } from '../../tensor/dtype.js';

/**
 * Node's Buffer, when present: `Buffer.allocUnsafeSlow` hands out an unpooled ArrayBuffer without zeroing it,
 * several times cheaper than a zero-filled typed array of tens of kilobytes (which every op result used to be).
 * Declared locally because this project compiles without Node's typings in the library.
 */
const NodeBuffer = (
  globalThis as { Buffer?: { allocUnsafeSlow(size: number): { buffer: ArrayBuffer; byteOffset: number } } }
).Buffer;

/** Below this many bytes a zeroed typed array is as cheap (V8 keeps small ones on the JS heap). */
const UNINIT_MIN_BYTES = 512;

/**
 * Allocates storage for `size` elements of `dtype` whose contents are unspecified: only for a kernel that
 * overwrites every element before anyone reads it. Each call gets its own ArrayBuffer (never pooled or
 * shared), so its lifetime is the garbage collector's exactly as with `allocArray`.
 */
export function allocUninit(dtype: DType, size: number): TypedArray {
  const bytes = dtype === 'float64' ? size * 8 : size * 4;
  if (NodeBuffer === undefined || bytes < UNINIT_MIN_BYTES) return allocArray(dtype, size);
  const { buffer, byteOffset } = NodeBuffer.allocUnsafeSlow(bytes);
  if (dtype === 'float32') return new Float32Array(buffer, byteOffset, size);
  if (dtype === 'float64') return new Float64Array(buffer, byteOffset, size);
  return new Int32Array(buffer, byteOffset, size);
}
