import { allocArray, type DType, type TypedArray } from '../../tensor/dtype.js';
import { broadcastStrides, type Shape, sizeOf, stridesOf } from '../../tensor/shape.js';
import type {
  AdamConstants,
  Backend,
  BackendCounters,
  BinaryOp,
  KernelTensor,
  ReduceOp,
  UnaryOp,
} from '../backend.js';
import { allocUninit, allocZeroed, ON_HEAP_MAX_BYTES, recycleArray } from './alloc.js';
import { binaryKernel, simdElementwise, unaryKernel, whereKernel } from './elementwise.js';
import { WASM_MIN_ELEMENTS } from './elementwiseWasm.js';
import { adamMomentsKernel, adamStepKernel } from './fused.js';
import { aroundAxis, concatKernel, gatherKernel, padKernel, scatterAddKernel } from './indexing.js';
import { kernelsQueued, kernelsRecorded, nativeFrom, syncKernels } from './kernelQueue.js';
import { matmulKernel } from './matmul.js';
import { reduceKernel } from './reduce.js';
import { broadcastCopy, stridedCopy } from './strided.js';

/** Storage of the CPU backend: a typed array in row-major order. */
function arr(t: KernelTensor): TypedArray {
  return t.handle as TypedArray;
}

function bytesPer(dtype: DType): number {
  return dtype === 'float64' ? 8 : 4;
}

/**
 * The reference backend: plain typed arrays on the host, float32 and float64. Every kernel has run by the
 * time JavaScript reads or writes storage (in queue mode, src/backends/cpu/kernelQueue.ts, by a sync at
 * each such place), so `readSync` always works. Comparisons and relu/step follow the conventions in
 * `src/ops/README.md` (relu'(0) = 0, ties in maximum go to the first argument).
 */
export class CpuBackend implements Backend {
  readonly name = 'cpu';
  readonly floatDTypes: readonly DType[] = ['float32', 'float64'];
  private dispatches = 0;
  private uploads = 0;
  private reads = 0;
  private bytesUploaded = 0;
  private bytesRead = 0;

  /** Running totals; a dispatch is one kernel call, and nothing is ever compiled. */
  get counters(): BackendCounters {
    return {
      dispatches: this.dispatches,
      compiles: 0,
      uploads: this.uploads,
      reads: this.reads,
      bytesUploaded: this.bytesUploaded,
      bytesRead: this.bytesRead,
    };
  }

  upload(values: TypedArray, shape: Shape, dtype: DType): unknown {
    const size = sizeOf(shape);
    // A constant made while a kernel program records (values from JavaScript, not from storage): storage of
    // its own, never pooled, which the program reads at every replay.
    if (kernelsRecorded()) {
      const own = allocArray(dtype, size);
      own.set(values);
      return own;
    }
    // Storage of a few bytes is always fresh (never pooled), so no queued kernel can be using it.
    if (size * bytesPer(dtype) > ON_HEAP_MAX_BYTES) syncKernels();
    this.uploads++;
    this.bytesUploaded += size * bytesPer(dtype);
    // Unzeroed storage only when `values` covers all of it.
    const out = values.length === size ? allocUninit(dtype, size) : allocZeroed(dtype, size);
    out.set(values);
    return out;
  }
  read(t: KernelTensor): Promise<TypedArray> {
    return Promise.resolve(this.readSync(t));
  }
  readSync(t: KernelTensor): TypedArray {
    syncKernels();
    const a = arr(t);
    this.reads++;
    this.bytesRead += a.byteLength;
    return a.slice();
  }
  /** Every kernel here returns a fresh typed array, so a handle a release scope gives back is free. */
  recycle(handle: unknown): void {
    recycleArray(handle as TypedArray);
  }
  readSyncInto(t: KernelTensor, out: TypedArray, from: number): void {
    syncKernels();
    const a = arr(t);
    this.reads++;
    this.bytesRead += out.byteLength;
    out.set(from === 0 && out.length === a.length ? a : a.subarray(from, from + out.length));
  }
  fill(shape: Shape, value: number, dtype: DType): unknown {
    this.dispatches++;
    if (dtype === 'float32' && simdElementwise?.fill !== undefined && kernelsQueued()) {
      const out = allocUninit(dtype, sizeOf(shape)) as Float32Array;
      simdElementwise.fill(out, value);
      return out;
    }
    syncKernels();
    if (value === 0) return allocZeroed(dtype, sizeOf(shape));
    const out = allocUninit(dtype, sizeOf(shape));
    out.fill(value);
    return out;
  }
  unary(op: UnaryOp, x: KernelTensor): unknown {
    this.dispatches++;
    const out = allocUninit(x.dtype, sizeOf(x.shape));
    unaryKernel(op, arr(x), out);
    return out;
  }
  binary(op: BinaryOp, a: KernelTensor, b: KernelTensor, outShape: Shape): unknown {
    this.dispatches++;
    const out = allocUninit(a.dtype, sizeOf(outShape));
    binaryKernel(op, arr(a), a.shape, arr(b), b.shape, out, outShape);
    return out;
  }
  where(cond: KernelTensor, a: KernelTensor, b: KernelTensor, outShape: Shape): unknown {
    this.dispatches++;
    const out = allocUninit(a.dtype, sizeOf(outShape));
    whereKernel(arr(cond), cond.shape, arr(a), a.shape, arr(b), b.shape, out, outShape);
    return out;
  }
  reduce(op: ReduceOp, x: KernelTensor, axes: readonly number[]): unknown {
    this.dispatches++;
    const outShape = x.shape.filter((_, i) => !axes.includes(i));
    // reduceKernel starts by filling `out` with the reduction's identity.
    const out = allocUninit(x.dtype, sizeOf(outShape));
    reduceKernel(op, arr(x), x.shape, axes, out);
    return out;
  }
  matmul(
    a: KernelTensor,
    b: KernelTensor,
    transposeA: boolean,
    transposeB: boolean,
    outShape: Shape,
  ): unknown {
    this.dispatches++;
    // matmulKernel writes every element of `out` (zeros when the inner dimension is 0); a test in
    // test/backends/cpu/elementwise.test.ts holds it to that, since the storage starts unzeroed.
    const out = allocUninit(a.dtype, sizeOf(outShape));
    matmulKernel(arr(a), a.shape, arr(b), b.shape, transposeA, transposeB, out, outShape);
    return out;
  }
  transpose(x: KernelTensor, perm: readonly number[]): unknown {
    this.dispatches++;
    const inStrides = stridesOf(x.shape);
    const outShape = perm.map((p) => x.shape[p]!);
    const out = allocUninit(x.dtype, sizeOf(outShape));
    stridedCopy(
      arr(x),
      0,
      perm.map((p) => inStrides[p]!),
      outShape,
      out,
    );
    return out;
  }
  broadcastTo(x: KernelTensor, shape: Shape): unknown {
    this.dispatches++;
    const out = allocUninit(x.dtype, sizeOf(shape));
    broadcastCopy(arr(x), broadcastStrides(x.shape, shape), shape, out);
    return out;
  }
  slice(x: KernelTensor, begin: readonly number[], size: readonly number[]): unknown {
    this.dispatches++;
    const strides = stridesOf(x.shape);
    let base = 0;
    for (let d = 0; d < begin.length; d++) base += begin[d]! * strides[d]!;
    const out = allocUninit(x.dtype, sizeOf(size));
    stridedCopy(arr(x), base, strides, size, out);
    return out;
  }
  concat(xs: readonly KernelTensor[], axis: number): unknown {
    this.dispatches++;
    syncKernels();
    let total = 0;
    for (const x of xs) total += sizeOf(x.shape);
    const out = allocUninit(xs[0]!.dtype, total);
    concatKernel(
      xs.map((x) => ({ data: arr(x), shape: x.shape })),
      axis,
      out,
    );
    return out;
  }
  pad(x: KernelTensor, paddings: readonly (readonly [number, number])[], value: number): unknown {
    this.dispatches++;
    const outShape = x.shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
    const src = arr(x);
    const native = simdElementwise?.pad;
    // The native loop (float32, rank 1-16, from the size where a call beats the JS loop).
    if (
      native !== undefined &&
      src instanceof Float32Array &&
      x.shape.length >= 1 &&
      x.shape.length <= 16 &&
      src.length > 0 &&
      src.length >= nativeFrom(WASM_MIN_ELEMENTS)
    ) {
      const out = allocUninit('float32', sizeOf(outShape)) as Float32Array;
      const outStrides = stridesOf(outShape);
      let base = 0;
      for (let d = 0; d < outShape.length; d++) base += paddings[d]![0] * outStrides[d]!;
      if (native(src, x.shape, out, outStrides, base, value)) return out;
    }
    syncKernels();
    const out = allocZeroed(x.dtype, sizeOf(outShape));
    if (value !== 0) out.fill(value);
    padKernel(src, x.shape, paddings, out, outShape);
    return out;
  }
  gather(x: KernelTensor, indices: KernelTensor, axis: number): unknown {
    this.dispatches++;
    const outShape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
    const out = allocUninit(x.dtype, sizeOf(outShape));
    const src = arr(x);
    const at = arr(indices) as Int32Array;
    // The native loop (float32, from the size where a call beats the JS loop; any size in queue mode).
    if (
      out instanceof Float32Array &&
      src instanceof Float32Array &&
      out.length >= nativeFrom(WASM_MIN_ELEMENTS) &&
      simdElementwise?.gather?.(src, at, out, ...aroundAxis(x.shape, axis))
    )
      return out;
    syncKernels();
    gatherKernel(src, x.shape, at, axis, out);
    return out;
  }
  scatterAdd(updates: KernelTensor, indices: KernelTensor, axis: number, outShape: Shape): unknown {
    this.dispatches++;
    const u = arr(updates);
    const at = arr(indices) as Int32Array;
    const native = simdElementwise?.scatterAdd;
    if (native !== undefined && u instanceof Float32Array && u.length >= nativeFrom(WASM_MIN_ELEMENTS)) {
      // The native loop zeroes `out` itself.
      const out = allocUninit('float32', sizeOf(outShape)) as Float32Array;
      native(u, at, out, ...aroundAxis(outShape, axis));
      return out;
    }
    syncKernels();
    const out = allocZeroed(updates.dtype, sizeOf(outShape));
    scatterAddKernel(u, at, axis, out, outShape);
    return out;
  }
  cast(x: KernelTensor, dtype: DType): unknown {
    this.dispatches++;
    const src = arr(x);
    const out = allocUninit(dtype, src.length);
    if (
      src instanceof Int32Array &&
      out instanceof Float32Array &&
      kernelsQueued() &&
      simdElementwise?.castI32F32?.(src, out)
    )
      return out;
    syncKernels();
    if (dtype === 'int32') for (let i = 0; i < src.length; i++) out[i] = Math.trunc(src[i]!);
    else out.set(src);
    return out;
  }
  adamMoments(
    g: KernelTensor,
    m: KernelTensor,
    v: KernelTensor,
    c: AdamConstants,
  ): [unknown, unknown, unknown] {
    const n = sizeOf(g.shape);
    const out: [TypedArray, TypedArray, TypedArray] = [
      allocUninit(g.dtype, n),
      allocUninit(g.dtype, n),
      allocUninit(g.dtype, n),
    ];
    this.dispatches++;
    adamMomentsKernel(arr(g), arr(m), arr(v), c, ...out);
    return out;
  }
  adamStep(
    params: readonly KernelTensor[],
    grads: readonly KernelTensor[],
    m: readonly KernelTensor[],
    v: readonly KernelTensor[],
    c: AdamConstants,
  ): [unknown, unknown, unknown][] | undefined {
    const inputs: (readonly [TypedArray, TypedArray, TypedArray, TypedArray])[] = new Array(params.length);
    for (let k = 0; k < params.length; k++)
      inputs[k] = [arr(grads[k]!), arr(m[k]!), arr(v[k]!), arr(params[k]!)];
    const outs = adamStepKernel(inputs, c);
    if (outs !== undefined) this.dispatches++;
    return outs;
  }
}
