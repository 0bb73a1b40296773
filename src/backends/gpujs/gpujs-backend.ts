import type { DType, TypedArray } from '../../tensor/dtype.js';
import { type Shape, sizeOf, stridesOf } from '../../tensor/shape.js';
import type {
  AdamConstants,
  Backend,
  BackendCounters,
  BinaryOp,
  KernelTensor,
  ReduceOp,
  UnaryOp,
} from '../backend.js';
import { DeviceArray, type DeviceValue } from './device-array.js';
import { GpujsDisposedError, GpujsDTypeError, GpujsSyncReadError } from './errors.js';
import { FUSION_LIMITS, Fuser, fusionFromEnv } from './fuser.js';
import type { GpujsInstance, GpujsKernel } from './gpujs-module.js';
import { InverseIndexCache } from './inverse-index.js';
import { KernelCache } from './kernel-cache.js';
import * as elementwise from './kernels/elementwise.js';
import { broadcastStrides, sig } from './kernels/index-math.js';
import * as indexing from './kernels/indexing.js';
import * as layout from './kernels/layout.js';
import { CONCAT_MAX_INPUTS } from './kernels/layout.js';
import * as matmulKernels from './kernels/matmul.js';
import { reduceSpec as buildReduceSpec, partialReduceSpec } from './kernels/reduce.js';
import { type KernelSpec, memoSpec } from './kernels/spec.js';
import {
  TILED_MATMUL_MIN_MACS,
  TILED_PENDING_MIN_MACS,
  tiledMatmulWgsl,
  type WgslKernel,
} from './kernels/wgsl-matmul.js';
import type { LazyArray, ViewMap } from './lazy.js';
import { backendNameOf, type GpujsMode, isAsyncMode, webasmThreadsFromEnv } from './modes.js';
import {
  DirectBuffer,
  type DirectCounters,
  type GPUDeviceLike,
  type KernelTime,
  WebGPUDirect,
} from './webgpu-direct.js';

/** Options of a gpu.js backend. */
export interface GpujsBackendOptions {
  /**
   * webasm only: run large kernels on gpu.js's worker-thread pool (its async contract; default: off, unless
   * `METATAPE_GPUJS_WEBASM_THREADS=1`).
   */
  readonly webasmThreads?: boolean;
  /**
   * Elementwise fusion (default: on, unless `METATAPE_GPU_FUSION=0`): elementwise kernels return pending
   * expressions and every chain of them runs as one generated kernel when a non-elementwise consumer or a
   * read needs its value. Off, every elementwise op is its own dispatch (the baseline of `npm run bench`).
   */
  readonly fusion?: boolean;
  /**
   * Most device arrays one fused kernel reads (default `FUSION_LIMITS.arrays`, 7: WebGPU's default of 8
   * storage buffers less the output). `createGpujsBackend` raises it on WebGPU to what the adapter binds.
   */
  readonly fusionArrays?: number;
  /**
   * webgpu only: the device gpu.js builds its kernels on. With it, built kernels run through
   * {@link WebGPUDirect} (pooled buffers, cached parameters, batched submits) instead of gpu.js's per-call
   * runner; `createGpujsBackend` passes it unless `METATAPE_WEBGPU_DIRECT=0`.
   */
  readonly webgpuDevice?: unknown;
}

/** False when `METATAPE_WEBGPU_DIRECT=0` asks WebGPU kernels to run through gpu.js's own runner. */
export function webgpuDirectFromEnv(): boolean {
  return process.env.METATAPE_WEBGPU_DIRECT !== '0';
}

/** Counters for tests and benchmarks. */
export interface GpujsStats {
  /** Kernels created (each compiled once); flat in a steady-state training step. */
  readonly compiles: number;
  /** Kernels gpu.js itself holds, including any it switched to behind our back (should equal compiles). */
  readonly gpujsKernels: number;
  /** Kernel dispatches. */
  readonly dispatches: number;
  /**
   * Inner-loop steps of every scatterAdd kernel run so far (output elements x the kernel's loop bound): the
   * cost that the inverse index brings from outputs x indices down to outputs x the most contributions any
   * output receives.
   */
  readonly scatterLoopSteps: number;
  /** Inverse indices built on the host and uploaded (once per index tensor and scatter length). */
  readonly inverseIndexBuilds: number;
  /** Products run as the hand-written tiled WGSL kernel (WebGPU's direct path only; see tiledMatmulWgsl). */
  readonly tiledMatmuls: number;
}

const EMPTY = new Float32Array(0);

/* Every op asks for its kernel's spec; these keep each one built once (see memoSpec). */
const fillSpec = memoSpec(elementwise.fillSpec);
const unarySpec = memoSpec(elementwise.unarySpec);
const binarySpec = memoSpec(elementwise.binarySpec);
const whereSpec = memoSpec(elementwise.whereSpec);
const copySpec = memoSpec(elementwise.copySpec);
const gatherSpec = memoSpec(indexing.gatherSpec);
const scatterAddSpec = memoSpec(indexing.scatterAddSpec);
const scatterAddInverseSpec = memoSpec(indexing.scatterAddInverseSpec);
const concatSpec = memoSpec(layout.concatSpec);
const padSpec = memoSpec(layout.padSpec);
const stridedCopySpec = memoSpec(layout.stridedCopySpec);
const matmulSpec = memoSpec(matmulKernels.matmulSpec);
const reduceSpec = memoSpec(buildReduceSpec);

/**
 * A backend whose every primitive is a gpu.js kernel, for any of gpu.js's modes. Values stay on the device
 * (textures, storage buffers, or host arrays for webasm/cpu) from op to op; kernels are generated per op and
 * shape signature with the shapes baked in as literals, compiled once and cached.
 *
 * All modes compute in float32; int32 tensors (indices, labels) are held as exact float32 integers (exact up to
 * 2^24) and converted on upload and read.
 */
export class GpujsBackend implements Backend {
  readonly name: string;
  readonly floatDTypes: readonly DType[] = ['float32'];
  /** True where kernels complete asynchronously, so only `read` can wait for them. */
  readonly isAsync: boolean;
  /**
   * Releases a texture or storage buffer (headlessgl, webgpu). Absent for webasm and cpu, whose arrays live in
   * host memory that the garbage collector frees by itself: registering them with the storage finaliser would
   * keep them alive until a finaliser task runs, which a synchronous training loop never lets happen.
   */
  readonly dispose?: (handle: unknown) => void;
  /**
   * WebGPU's direct path only: a release scope's intermediates go back to the buffer pool when the scope ends
   * (as {@link GpujsBackend.dispose} does, which defers while a pending kernel or fused expression still reads
   * them), rather than whenever the garbage collector finds their tensors: the next iteration's outputs
   * reuse them instead of creating buffers.
   */
  readonly recycle?: (handle: unknown) => void;
  private readonly cache: KernelCache;
  /** scatterAdd's inverse indices, per index tensor storage. */
  private readonly inverse: InverseIndexCache;
  /**
   * The host values of int32 uploads on modes whose arrays live on the device, so that an index tensor's
   * inverse index can be built without reading it back (WebGPU cannot read synchronously at all).
   */
  private readonly hostInts = new WeakMap<object, Float32Array>();
  /**
   * Adam's moments and step as one kernel (see {@link Backend.adamMoments}); present only with fusion, whose
   * pending reads let the three results share one output. Without it the composed ops run, one kernel each.
   */
  readonly adamMoments?: (
    g: KernelTensor,
    m: KernelTensor,
    v: KernelTensor,
    c: AdamConstants,
  ) => [unknown, unknown, unknown];
  /** Elementwise fusion; undefined when off (every elementwise op dispatches its own kernel). */
  private readonly fuser: Fuser | undefined;
  /** WebGPU's dispatcher when kernels bypass gpu.js's runner (see {@link GpujsBackendOptions.webgpuDevice}). */
  private readonly direct: WebGPUDirect | undefined;
  private dispatches = 0;
  /** Hand-written WGSL products by shape signature (direct WebGPU only), and how many were made. */
  private readonly wgslMatmuls = new Map<string, WgslKernel>();
  private wgslCompiles = 0;
  private tiledMatmuls = 0;
  private uploads = 0;
  private reads = 0;
  private bytesUploaded = 0;
  private bytesRead = 0;
  private scatterLoopSteps = 0;

  constructor(
    readonly mode: GpujsMode,
    private readonly gpu: GpujsInstance,
    options: GpujsBackendOptions = {},
  ) {
    this.name = backendNameOf(mode);
    const threads = (options.webasmThreads ?? webasmThreadsFromEnv()) === true;
    this.isAsync = isAsyncMode(mode, threads);
    this.cache = new KernelCache(gpu, { asyncMode: mode === 'webasm' && threads });
    this.inverse = new InverseIndexCache((table) => this.uploadFloats(table));
    this.direct =
      mode === 'webgpu' && options.webgpuDevice !== undefined
        ? new WebGPUDirect(options.webgpuDevice as GPUDeviceLike)
        : undefined;
    if (mode === 'headlessgl' || mode === 'webgpu')
      this.dispose = (handle) => {
        this.inverse.release(handle as object);
        (handle as DeviceArray | LazyArray).dispose();
      };
    if (this.direct) this.recycle = this.dispose;
    this.fuser =
      (options.fusion ?? fusionFromEnv()) === true
        ? new Fuser((call, size) => this.dispatch(call.spec, size, call.arrays, call.scalars), this.name, {
            ...FUSION_LIMITS,
            arrays: options.fusionArrays ?? FUSION_LIMITS.arrays,
            ...(mode === 'headlessgl' ? { siblingNodes: FUSION_LIMITS.nodes } : {}),
          })
        : undefined;
    const fuser = this.fuser;
    if (fuser)
      this.adamMoments = (g, m, v, c) => {
        const fused = fuser.adamMoments(g, m, v, c);
        if (fused) return fused;
        // Empty tensors: nothing to compute, three empty results.
        return [0, 1, 2].map(() => DeviceArray.ready(0, EMPTY)) as [unknown, unknown, unknown];
      };
  }

  /**
   * True when WebGPU kernels run through {@link WebGPUDirect} rather than gpu.js's runner. Uploads then write
   * device memory directly instead of dispatching a copy kernel.
   */
  get directDispatch(): boolean {
    return this.direct !== undefined;
  }

  /**
   * The direct WebGPU dispatcher's totals (submits, bind groups and pipelines created, output buffers reused
   * from the pool or made); undefined elsewhere.
   */
  get webgpuStats(): (DirectCounters & { poolHits: number; poolMisses: number }) | undefined {
    const d = this.direct;
    return d ? { ...d.counters, poolHits: d.poolStats.hits, poolMisses: d.poolStats.misses } : undefined;
  }

  /**
   * WebGPU's direct path with `METATAPE_WEBGPU_PROFILE=1` only: device milliseconds per kernel over the
   * dispatches recorded since {@link startWebgpuProfile}, each replayed on its own (see
   * {@link WebGPUDirect.profile}).
   */
  webgpuProfile(): Promise<KernelTime[]> {
    if (!this.direct) return Promise.reject(new Error(`${this.name}: no direct WebGPU path to profile`));
    return this.direct.profile();
  }

  /** Starts a {@link webgpuProfile} window (forgets the dispatches kept so far). */
  startWebgpuProfile(): void {
    this.direct?.startProfile();
  }

  /** True when elementwise chains run as fused kernels. */
  get fusion(): boolean {
    return this.fuser !== undefined;
  }

  /** Running totals since the backend was created (see {@link BackendCounters}). */
  get counters(): BackendCounters {
    return {
      dispatches: this.dispatches,
      compiles: this.cache.compiles + this.wgslCompiles,
      uploads: this.uploads,
      reads: this.reads,
      bytesUploaded: this.bytesUploaded,
      bytesRead: this.bytesRead,
    };
  }

  /** Compilation and dispatch counters. */
  get stats(): GpujsStats {
    const held = (this.gpu as unknown as { kernels?: unknown[] }).kernels;
    return {
      compiles: this.cache.compiles,
      gpujsKernels: held ? held.length : 0,
      dispatches: this.dispatches,
      scatterLoopSteps: this.scatterLoopSteps,
      inverseIndexBuilds: this.inverse.builds,
      tiledMatmuls: this.tiledMatmuls,
    };
  }

  /** Releases every kernel and the gpu.js instance (its GL context or worker pool). */
  async destroy(): Promise<void> {
    this.direct?.clear();
    this.cache.clear();
    await this.gpu.destroy();
  }

  upload(values: TypedArray, shape: Shape, dtype: DType): unknown {
    this.checkDType(dtype);
    const n = sizeOf(shape);
    if (n === 0) return DeviceArray.ready(0, EMPTY);
    if (this.fuser && n === 1) {
      this.countUpload(n);
      return this.fuser.fill(shape, Math.fround(Number(values[0])));
    }
    const host =
      values instanceof Float32Array ? values.slice(0, n) : Float32Array.from(values.subarray(0, n));
    const handle = this.uploadFloats(host);
    if (dtype === 'int32' && !this.hostMemory) this.hostInts.set(handle, host);
    return handle;
  }

  async read(t: KernelTensor): Promise<TypedArray> {
    const { array, offset } = this.readable(t);
    this.countRead(array.size);
    const v = await array.resolve();
    return toHost(await readValue(v), sizeOf(t.shape), t.dtype, offset);
  }

  readSync(t: KernelTensor): TypedArray {
    const { array, offset } = this.readable(t);
    const v = array.value;
    if (this.mode === 'webgpu' || v === undefined) throw new GpujsSyncReadError(this.name);
    const data = readValue(v);
    if (data instanceof Promise) throw new GpujsSyncReadError(this.name);
    this.countRead(array.size);
    return toHost(data, sizeOf(t.shape), t.dtype, offset);
  }

  /**
   * The array a read takes its values from and where they start in it: a segment of a kernel with several
   * results (Adam's moments) is read from that kernel's output, which costs no copy kernel.
   */
  private readable(t: KernelTensor): { array: DeviceArray; offset: number } {
    return this.fuser?.segment(t) ?? { array: this.arr(t), offset: 0 };
  }

  fill(shape: Shape, value: number, dtype: DType): unknown {
    this.checkDType(dtype);
    const n = sizeOf(shape);
    const v = dtype === 'int32' ? Math.trunc(value) : value;
    if (this.fuser) return this.fuser.fill(shape, v);
    return this.dispatch(fillSpec(n), n, [], [v]);
  }

  unary(op: UnaryOp, x: KernelTensor): unknown {
    if (this.fuser) return this.fuser.unary(op, x);
    const n = sizeOf(x.shape);
    return this.dispatch(unarySpec(op, n, x.dtype), n, [this.arr(x)]);
  }

  binary(op: BinaryOp, a: KernelTensor, b: KernelTensor, outShape: Shape): unknown {
    if (this.fuser) return this.fuser.binary(op, a, b, outShape);
    return this.dispatch(binarySpec(op, a.shape, b.shape, outShape, a.dtype), sizeOf(outShape), [
      this.arr(a),
      this.arr(b),
    ]);
  }

  where(cond: KernelTensor, a: KernelTensor, b: KernelTensor, outShape: Shape): unknown {
    if (this.fuser) return this.fuser.where(cond, a, b, outShape);
    const spec = whereSpec(cond.shape, a.shape, b.shape, outShape);
    return this.dispatch(spec, sizeOf(outShape), [this.arr(cond), this.arr(a), this.arr(b)]);
  }

  reduce(op: ReduceOp, x: KernelTensor, axes: readonly number[]): unknown {
    const pending = this.fuser?.reduce(op, x, axes) ?? this.fuser?.partialReduce(op, x, axes);
    if (pending) return pending;
    const outSize = sizeOf(x.shape.filter((_, i) => !axes.includes(i)));
    if (sizeOf(x.shape) === 0) {
      const init = op === 'sum' ? 0 : op === 'max' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
      return this.dispatch(fillSpec(outSize), outSize, [], [init]);
    }
    const partial = partialReduceSpec(op, x.shape, axes);
    if (partial) {
      const { spec, outputs, chunks } = partial;
      const partials = this.dispatch(spec, outputs * chunks, [this.arr(x)]);
      const out = this.dispatch(reduceSpec(op, [outputs, chunks], [1]), outSize, [partials]);
      // Released once the second pass has read it (dispose waits for queued readers).
      partials.dispose();
      return out;
    }
    return this.dispatch(reduceSpec(op, x.shape, axes), outSize, [this.arr(x)]);
  }

  matmul(
    a: KernelTensor,
    b: KernelTensor,
    transposeA: boolean,
    transposeB: boolean,
    outShape: Shape,
  ): unknown {
    const n = sizeOf(outShape);
    if (sizeOf(a.shape) === 0 || sizeOf(b.shape) === 0) return this.dispatch(fillSpec(n), n, [], [0]);
    const k = transposeA ? a.shape.at(-2)! : a.shape.at(-1)!;
    const macs = n * k;
    if (
      this.direct &&
      macs >= TILED_MATMUL_MIN_MACS &&
      (macs >= TILED_PENDING_MIN_MACS || !(this.fuser?.isPending(a) || this.fuser?.isPending(b)))
    ) {
      // A large product runs tiled (see tiledMatmulWgsl), pending operands computed first: a fused matmul
      // would evaluate them inside gpu.js's untiled loop, once per output that reads them. A smaller one with
      // a pending operand stays fused (see TILED_PENDING_MIN_MACS).
      const tiled = this.tiledMatmul(a, b, transposeA, transposeB, outShape);
      if (tiled) return tiled;
    }
    const fused = this.fuser?.matmul(a, b, transposeA, transposeB, outShape);
    if (fused) return fused;
    return this.dispatch(matmulSpec(a.shape, b.shape, transposeA, transposeB, outShape), n, [
      this.arr(a),
      this.arr(b),
    ]);
  }

  /**
   * A product on WebGPU's direct path as a hand-written tiled kernel (pending operands computed first);
   * undefined where an operand's value is not a direct buffer yet (its kernel still waits on an input).
   */
  private tiledMatmul(
    a: KernelTensor,
    b: KernelTensor,
    transposeA: boolean,
    transposeB: boolean,
    outShape: Shape,
  ): DeviceArray | undefined {
    const inputs = [this.arr(a), this.arr(b)];
    const values = inputs.map((x) => x.value);
    if (!values.every((v) => v instanceof DirectBuffer)) return undefined;
    const n = sizeOf(outShape);
    const key = `${sig(a.shape)}${transposeA},${sig(b.shape)}${transposeB}>${sig(outShape)}`;
    let wgsl = this.wgslMatmuls.get(key);
    if (!wgsl) {
      wgsl = tiledMatmulWgsl(a.shape, b.shape, transposeA, transposeB, outShape);
      this.wgslMatmuls.set(key, wgsl);
      this.wgslCompiles++;
    }
    this.dispatches++;
    this.tiledMatmuls++;
    try {
      return DeviceArray.ready(n, this.direct!.runWgsl(wgsl, n, values as DirectBuffer[]));
    } catch (e) {
      return DeviceArray.from(n, Promise.reject(e));
    }
  }

  transpose(x: KernelTensor, perm: readonly number[]): unknown {
    const inStrides = stridesOf(x.shape);
    const outShape = perm.map((p) => x.shape[p]!);
    return this.strided(
      x,
      outShape,
      perm.map((p) => inStrides[p]!),
      0,
    );
  }

  broadcastTo(x: KernelTensor, shape: Shape): unknown {
    if (this.fuser) return this.fuser.broadcastTo(x, shape);
    return this.strided(x, shape, broadcastStrides(x.shape, shape), 0);
  }

  slice(x: KernelTensor, begin: readonly number[], size: readonly number[]): unknown {
    const strides = stridesOf(x.shape);
    let base = 0;
    for (let d = 0; d < begin.length; d++) base += begin[d]! * strides[d]!;
    return this.strided(x, size, strides, base);
  }

  concat(xs: readonly KernelTensor[], axis: number): unknown {
    // Empty inputs contribute nothing and cannot be bound as kernel arguments.
    const parts = xs.filter((x) => sizeOf(x.shape) > 0);
    const outShape = [...xs[0]!.shape];
    outShape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
    if (parts.length === 0) return DeviceArray.ready(0, EMPTY);
    if (parts.length > CONCAT_MAX_INPUTS) {
      // Concatenate in groups, then the groups: associativity of concat keeps the result the same.
      const groups: KernelTensor[] = [];
      for (let g = 0; g < parts.length; g += CONCAT_MAX_INPUTS) {
        const group = parts.slice(g, g + CONCAT_MAX_INPUTS);
        const shape = [...group[0]!.shape];
        shape[axis] = group.reduce((s, x) => s + x.shape[axis]!, 0);
        groups.push({ handle: this.concat(group, axis), shape, dtype: group[0]!.dtype });
      }
      const out = this.concat(groups, axis);
      for (const g of groups) (g.handle as DeviceArray).dispose();
      return out;
    }
    const spec = concatSpec(
      parts.map((x) => x.shape),
      axis,
    );
    return this.dispatch(
      spec,
      sizeOf(outShape),
      parts.map((x) => this.arr(x)),
    );
  }

  pad(x: KernelTensor, paddings: readonly (readonly [number, number])[], value: number): unknown {
    const outSize = sizeOf(x.shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]));
    if (sizeOf(x.shape) === 0) return this.dispatch(fillSpec(outSize), outSize, [], [value]);
    if (this.fuser) return this.fuser.view(x, outShapeOf(x.shape, paddings), padMap(paddings, value));
    return this.dispatch(padSpec(x.shape, paddings), outSize, [this.arr(x)], [value]);
  }

  gather(x: KernelTensor, indices: KernelTensor, axis: number): unknown {
    const ni = sizeOf(indices.shape);
    const outSize = (sizeOf(x.shape) / (x.shape[axis]! || 1)) * ni;
    if (sizeOf(x.shape) === 0 || ni === 0) return this.dispatch(fillSpec(outSize), outSize, [], [0]);
    const fused = this.fuser?.gather(x, indices, axis, outSize);
    if (fused) return fused;
    return this.dispatch(gatherSpec(x.shape, ni, axis), outSize, [this.arr(x), this.arr(indices)]);
  }

  scatterAdd(updates: KernelTensor, indices: KernelTensor, axis: number, outShape: Shape): unknown {
    const ni = sizeOf(indices.shape);
    const n = sizeOf(outShape);
    if (ni === 0 || sizeOf(updates.shape) === 0) return this.dispatch(fillSpec(n), n, [], [0]);
    const inverse = this.inverse.get(indices.handle as object, outShape[axis]!, () =>
      this.hostValues(indices),
    );
    if (inverse) {
      if (inverse.maxDegree === 0) return this.dispatch(fillSpec(n), n, [], [0]);
      this.scatterLoopSteps += n * inverse.maxDegree;
      const fused = this.fuser?.scatterAddInverse(
        updates,
        inverse.table,
        outShape,
        ni,
        axis,
        inverse.maxDegree,
      );
      if (fused) return fused;
      const spec = scatterAddInverseSpec(outShape, ni, axis, inverse.maxDegree);
      return this.dispatch(spec, n, [this.arr(updates), inverse.table]);
    }
    this.scatterLoopSteps += n * ni;
    return this.dispatch(scatterAddSpec(outShape, ni, axis), n, [this.arr(updates), this.arr(indices)]);
  }

  cast(x: KernelTensor, dtype: DType): unknown {
    this.checkDType(dtype);
    if (this.fuser) return this.fuser.cast(x, dtype);
    const n = sizeOf(x.shape);
    // A same-storage cast still copies: each tensor must own its storage, since each one is disposed.
    const truncate = dtype === 'int32' && x.dtype !== 'int32';
    return this.dispatch(copySpec(n, truncate ? 'int32' : 'float32'), n, [this.arr(x)]);
  }

  private strided(x: KernelTensor, outShape: Shape, strides: readonly number[], base: number): unknown {
    const view = this.fuser?.view(x, outShape, { kind: 'strided', strides: [...strides], base });
    if (view !== undefined) return view;
    return this.dispatch(stridedCopySpec(outShape, strides, base), sizeOf(outShape), [this.arr(x)]);
  }

  /** True for the modes whose "device" arrays are host Float32Arrays (webasm, cpu). */
  private get hostMemory(): boolean {
    return this.mode === 'webasm' || this.mode === 'cpu';
  }

  /** Puts host floats on the device as one array (no fusion: the caller needs a real array). */
  private uploadFloats(host: Float32Array): DeviceArray {
    const n = host.length;
    this.countUpload(n);
    // webasm and cpu keep tensors in host memory: the host array is the upload.
    if (this.hostMemory) return DeviceArray.ready(n, host);
    if (this.direct) return DeviceArray.ready(n, this.direct.upload(host));
    const spec: KernelSpec = { ...copySpec(n, 'float32'), key: `upload|${n}` };
    return this.dispatch(spec, n, [], [], [host]);
  }

  private countUpload(n: number): void {
    this.uploads++;
    this.bytesUploaded += 4 * n;
  }

  /**
   * The values of an index tensor if the host has them without waiting or reading back: the copy kept at
   * upload, or the array itself where arrays live in host memory. Undefined for indices computed on a GPU.
   */
  private hostValues(t: KernelTensor): ArrayLike<number> | undefined {
    const kept = this.hostInts.get(t.handle as object);
    if (kept || !this.hostMemory) return kept;
    const v = this.arr(t).value;
    return v instanceof Float32Array ? v : undefined;
  }

  private checkDType(dtype: DType): void {
    if (dtype === 'float64') throw new GpujsDTypeError(dtype, this.name);
  }

  private countRead(size: number): void {
    this.fuser?.advance();
    this.reads++;
    this.bytesRead += 4 * size;
  }

  /**
   * The device array of an input: every non-elementwise kernel reads its inputs here, which is where a pending
   * fused expression is materialized (once).
   */
  private arr(t: KernelTensor): DeviceArray {
    if (this.fuser) return this.fuser.array(t);
    const a = t.handle as DeviceArray;
    if (a.isReleased) throw new GpujsDisposedError(this.name);
    return a;
  }

  /**
   * Runs a kernel on device arrays (plus float scalars, plus host arrays for uploads) and returns the output
   * array at once. In a synchronous mode with every input present the kernel runs now; otherwise it runs when
   * its inputs exist, and the inputs stay pinned until it has.
   */
  private dispatch(
    spec: KernelSpec,
    outSize: number,
    inputs: readonly DeviceArray[],
    scalars: readonly number[] = [],
    hostArrays: readonly Float32Array[] = [],
  ): DeviceArray {
    if (outSize === 0) return DeviceArray.ready(0, EMPTY);
    const kernel = this.cache.get(spec, outSize, argSizesOf(hostArrays, inputs));
    this.dispatches++;
    const direct = this.direct;
    // The direct WebGPU path with every input present: its result exists at once, so nothing to wait for or
    // pin. Kept free of closures (they would allocate a context on every call of this hot method).
    if (direct && !inputs.some(isPending))
      return runDirect(direct, kernel, outSize, hostArrays, inputs, scalars, spec.key);
    return this.dispatchQueued(kernel, outSize, inputs, scalars, hostArrays, spec.key);
  }

  /** {@link dispatch} through gpu.js's runner, or on the direct path when an input is still pending. */
  private dispatchQueued(
    kernel: GpujsKernel,
    outSize: number,
    inputs: readonly DeviceArray[],
    scalars: readonly number[],
    hostArrays: readonly Float32Array[],
    label: string,
  ): DeviceArray {
    const direct = this.direct;
    const run = direct
      ? (values: readonly DeviceValue[]) =>
          direct.run(kernel, outSize, [...hostArrays, ...values, ...scalars], label)
      : (values: readonly DeviceValue[]) =>
          kernel(...hostArrays, ...values, ...scalars) as DeviceValue | Promise<DeviceValue>;
    const present = inputs.every((a) => !a.isPending);
    if (!this.isAsync && present)
      return DeviceArray.from(outSize, run(inputs.map((a) => a.value as DeviceValue)));
    let work: Promise<DeviceValue>;
    if (present) {
      // Submit now, not a microtask later: WebGPU then queues kernels in dispatch order.
      let out: DeviceValue | Promise<DeviceValue>;
      try {
        out = run(inputs.map((a) => a.value as DeviceValue));
      } catch (e) {
        out = Promise.reject(e);
      }
      // A runner that returns its result at once (the direct path did so): nothing to wait for or pin.
      if (!(out instanceof Promise)) return DeviceArray.ready(outSize, out);
      work = out;
    } else work = Promise.all(inputs.map((a) => a.resolve())).then(run);
    for (const a of inputs) a.pin();
    const unpin = () => {
      for (const a of inputs) a.unpin();
    };
    work.then(unpin, unpin);
    return DeviceArray.from(outSize, work);
  }
}

/** The element counts of a kernel's array arguments, in argument order (host arrays, then inputs). */
function argSizesOf(hostArrays: readonly Float32Array[], inputs: readonly DeviceArray[]): number[] {
  const sizes: number[] = [];
  for (const h of hostArrays) sizes.push(h.length);
  for (const a of inputs) sizes.push(a.size);
  return sizes;
}

/**
 * Runs a kernel on the direct WebGPU path, all of its inputs present. A failure is reported when the result is
 * read, as for any kernel of an asynchronous mode.
 */
function runDirect(
  direct: WebGPUDirect,
  kernel: GpujsKernel,
  outSize: number,
  hostArrays: readonly Float32Array[],
  inputs: readonly DeviceArray[],
  scalars: readonly number[],
  label: string,
): DeviceArray {
  try {
    return DeviceArray.ready(
      outSize,
      direct.run(kernel, outSize, directArgs(hostArrays, inputs, scalars), label),
    );
  } catch (e) {
    return DeviceArray.from(outSize, Promise.reject(e));
  }
}

/** Whether a device array's kernel has not produced it yet. */
function isPending(a: DeviceArray): boolean {
  return a.isPending;
}

/** A direct WebGPU kernel's arguments in gpu.js's order: host arrays, device values, scalars. */
function directArgs(
  hostArrays: readonly Float32Array[],
  inputs: readonly DeviceArray[],
  scalars: readonly number[],
): unknown[] {
  const args: unknown[] = hostArrays.length > 0 ? [...hostArrays] : [];
  for (const a of inputs) args.push(a.value);
  for (const s of scalars) args.push(s);
  return args;
}

/** The shape `shape` pads to. */
function outShapeOf(shape: Shape, paddings: readonly (readonly [number, number])[]): Shape {
  return shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
}

/** A padding as a view's map: the pad value a constant node (a kernel argument). */
function padMap(paddings: readonly (readonly [number, number])[], value: number): ViewMap {
  return {
    kind: 'pad',
    paddings: paddings.map((p) => [p[0], p[1]] as const),
    value: { kind: 'const', value },
  };
}

/** A device value's floats on the host (a Promise only for WebGPU buffers). */
function readValue(v: DeviceValue): Float32Array | number[] | Promise<Float32Array | number[]> {
  if (v instanceof Float32Array) return v;
  return v.toArray();
}

/** Copies `size` floats from `offset` on into a fresh host array of `dtype`. */
function toHost(data: Float32Array | number[], size: number, dtype: DType, offset = 0): TypedArray {
  if (dtype === 'int32') {
    const out = new Int32Array(size);
    for (let i = 0; i < size; i++) out[i] = Math.round(data[offset + i]!);
    return out;
  }
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = data[offset + i]!;
  return out;
}
