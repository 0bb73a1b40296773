/**
 * What a gpu.js kernel returns in pipeline mode: a GL texture (headlessgl), a WebGPU buffer (webgpu) or a plain
 * Float32Array (webasm and cpu, whose "device" is host memory). All hold float32.
 */
export type DeviceValue = Float32Array | GpujsTexture | GpujsBufferResult;

/** gpu.js `Texture` (headlessgl): synchronous readback, refcounted release. */
export interface GpujsTexture {
  toArray(): Float32Array | number[];
  delete(): void;
  readonly output: number[];
}

/** gpu.js `WebGPUBufferResult` (webgpu): asynchronous readback, refcounted release. */
export interface GpujsBufferResult {
  toArray(): Promise<Float32Array | number[]>;
  delete(): void;
  readonly buffer: unknown;
  readonly output: number[];
}

function isThenable<T>(x: unknown): x is PromiseLike<T> {
  return typeof x === 'object' && x !== null && typeof (x as { then?: unknown }).then === 'function';
}

/**
 * The storage handle of the gpu.js backends: one device array of `size` float32 values, either already there
 * (`value`) or still being produced by an asynchronous kernel (`pending`: WebGPU, threaded webasm).
 *
 * Release is deferred while queued kernels still read the array: the finaliser may collect an input tensor
 * as soon as an op has been dispatched, before an asynchronous mode has actually run that op.
 */
export class DeviceArray {
  private value_: DeviceValue | undefined;
  private pending_: Promise<DeviceValue> | undefined;
  private readers = 0;
  private released = false;
  private disposeRequested = false;

  private constructor(readonly size: number) {}

  /** An array whose value exists now. */
  static ready(size: number, value: DeviceValue): DeviceArray {
    const a = new DeviceArray(size);
    a.value_ = value;
    return a;
  }

  /** An array produced by `work`, which may return the value or a promise of it. */
  static from(size: number, work: DeviceValue | PromiseLike<DeviceValue>): DeviceArray {
    if (!isThenable<DeviceValue>(work)) return DeviceArray.ready(size, work);
    const a = new DeviceArray(size);
    const p = Promise.resolve(work).then((v) => {
      a.value_ = v;
      a.pending_ = undefined;
      if (a.disposeRequested && a.readers === 0) a.release();
      return v;
    });
    // A failed kernel surfaces when the tensor is read; without this the rejection would also be reported
    // as unhandled (and kill the process) for tensors nobody reads.
    p.catch(() => undefined);
    a.pending_ = p;
    return a;
  }

  /** The value if it exists now (never for an array still being computed). */
  get value(): DeviceValue | undefined {
    return this.value_;
  }

  /** True while an asynchronous kernel is still producing this array. */
  get isPending(): boolean {
    return this.pending_ !== undefined;
  }

  /** Waits for the value. */
  resolve(): Promise<DeviceValue> {
    if (this.pending_) return this.pending_;
    if (this.value_ !== undefined) return Promise.resolve(this.value_);
    return Promise.reject(new Error('device array was released'));
  }

  /** True once the storage has been given back. */
  get isReleased(): boolean {
    return this.released;
  }

  /** Marks one queued kernel as reading this array; pair with {@link DeviceArray.unpin}. */
  pin(): void {
    this.readers++;
  }

  /** Ends a {@link DeviceArray.pin}, releasing the storage if disposal was waiting for it. */
  unpin(): void {
    this.readers--;
    if (this.readers === 0 && this.disposeRequested) this.release();
  }

  /** Gives the storage back now, or as soon as no queued kernel reads it and it has been produced. */
  dispose(): void {
    this.disposeRequested = true;
    if (this.readers === 0 && !this.pending_) this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    const v = this.value_;
    this.value_ = undefined;
    if (v && !(v instanceof Float32Array)) v.delete();
  }
}
