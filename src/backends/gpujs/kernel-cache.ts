import type { GpujsInstance, GpujsKernel } from './gpujs-module.js';
import type { KernelSpec } from './kernels/spec.js';

/** Settings every kernel of a backend is created with, beyond its output size. */
export interface KernelSettings {
  /** webasm under gpu.js's async contract: large kernels run on the worker-thread pool and return Promises. */
  readonly asyncMode: boolean;
}

/**
 * The compiled kernels of one backend (one gpu.js mode), keyed by op and shape signature plus everything gpu.js
 * fixes when it first runs a kernel: the output size and the size of every argument (with `dynamicArguments`
 * off it bakes argument sizes into the compiled code, and a later call with another size throws or reads the
 * wrong layout). A spec's key identifies its source only, and two ops can share a source while their inputs
 * differ in size (a slice's strides and offset do not say how long the sliced array is). A training step
 * repeats the same shapes, so after its first step it finds every kernel here and compiles nothing.
 */
export class KernelCache {
  private readonly kernels = new Map<string, GpujsKernel>();
  private misses = 0;

  constructor(
    private readonly gpu: GpujsInstance,
    private readonly settings: KernelSettings,
  ) {}

  /** Kernels created so far (each one is compiled by gpu.js on its first call). */
  get compiles(): number {
    return this.misses;
  }

  /** Number of cached kernels. */
  get size(): number {
    return this.kernels.size;
  }

  /**
   * The kernel for `spec` with an output of `outSize` elements and arguments of `argSizes` elements each (in
   * argument order), created on first use.
   */
  get(spec: KernelSpec, outSize: number, argSizes: readonly number[]): GpujsKernel {
    const key = `${spec.key}>${outSize}<${argSizes.join(',')}`;
    let k = this.kernels.get(key);
    if (!k) {
      this.misses++;
      k = this.gpu.createKernel(spec.source, {
        output: [outSize],
        // Outputs stay on the device (textures / storage buffers) and feed the next kernel directly.
        pipeline: true,
        // A fresh output per call: gpu.js otherwise re-renders into the buffer it returned last time, which
        // would silently rewrite a tensor that is still alive.
        immutable: true,
        // Every size is baked into the source; nothing may resize behind the cache's back.
        dynamicOutput: false,
        dynamicArguments: false,
        tactic: 'precision',
        asyncMode: this.settings.asyncMode,
      });
      this.kernels.set(key, k);
    }
    return k;
  }

  /** Releases every kernel (the owning GPU instance is destroyed separately). */
  clear(): void {
    for (const k of this.kernels.values()) k.destroy?.();
    this.kernels.clear();
  }
}
