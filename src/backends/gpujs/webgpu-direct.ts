/**
 * Kernel dispatch on WebGPU without gpu.js's per-call runner. gpu.js still translates each kernel to WGSL; this
 * module compiles that source unchanged and runs it on the same Dawn device. Per call, gpu.js's runner makes a
 * new output buffer, writes a parameter buffer, creates a bind group, and encodes and submits one pass (on
 * lavapipe about 12, 23 and 40 µs for the buffer, bind group and submit alone), and returns a Promise. Here:
 * - Output buffers come from a pool of released ones of the same size ({@link BufferPool}).
 * - Bind groups are cached by kernel and the buffers they bind, in one cache of {@link BIND_GROUPS} entries
 *   ({@link BindGroupCache}). Output buffers come back from the pool, so a repeated step meets the same
 *   (kernel, buffers) again; the cache must hold a whole step's dispatches, not a few per kernel (with 32 per
 *   kernel, 1000 adds of one kernel created a bind group each, about 23 µs on lavapipe). A step whose outputs
 *   are new buffers (pool misses) still creates its bind groups: the sinusoid step, 47 of 47 dispatches.
 * - Parameter blocks of many dispatches go to one uniform ring buffer, bound with a dynamic offset and written
 *   with one `writeBuffer` just before the submit.
 * - Dispatches are recorded into one open compute pass, submitted when a value is read, every
 *   {@link SUBMIT_EVERY} dispatches (up to {@link SUBMIT_MAX} where they are recorded in a few µs each), or
 *   when the current task ends. The result handle exists at once, with no Promise: the queue runs work in order.
 * The shader is gpu.js's own (inputs read-only, one buffer per tensor): an earlier version that kept tensors
 * as regions of shared read-write heaps needed no bind groups per call, but its shaders ran 3x slower on
 * lavapipe (conv4 step: 11 s of device time against 3).
 *
 * Ordering. WebGPU runs the dispatches of a pass, and the submits of a queue, in order, each seeing the writes
 * of the ones before. A buffer is released only after every dispatch that reads it has been recorded, so the
 * next dispatch that writes it comes later in that order. `queue.writeBuffer` is the one operation that takes
 * effect before recorded but unsubmitted work: uploads therefore write new buffers mapped at creation, and
 * buffers are destroyed only after the submit that may use them.
 */

import type { WgslKernel } from './kernels/wgsl-matmul.js';

/** Buffer usage and map-mode flags (WebGPU constants; the globals exist only once Dawn is installed). */
const USAGE_MAP_READ = 0x1;
const USAGE_COPY_SRC = 0x4;
const USAGE_COPY_DST = 0x8;
const USAGE_UNIFORM = 0x40;
const USAGE_STORAGE = 0x80;
const MAP_READ = 0x1;
const STAGE_COMPUTE = 0x4;

/**
 * Dispatches recorded before the open pass is submitted even if nothing reads: lets the device start while the
 * host records the rest (on lavapipe, 32 made the sinusoid step 0.7x gpu.js's runner, which submits each one;
 * 4 and 8 were even with it). A submit costs the host about 36 µs on lavapipe, so where dispatches are recorded
 * faster than {@link SUBMIT_AFTER_MS} allows, a pass takes more of them, up to {@link SUBMIT_MAX}.
 */
export const SUBMIT_EVERY = 8;
/**
 * Least time between a pass's first dispatch and its submit, unless {@link SUBMIT_MAX} is reached: the device
 * starts at most this late, while dispatches recorded in a few µs each share one submit's cost (on lavapipe
 * pinned to one core, 0.5 ms took 1000 tiny adds from about 32 to 24 µs each, medians of 4 runs, against 0.2).
 */
const SUBMIT_AFTER_MS = 0.5;
/** Most dispatches one submit carries. */
export const SUBMIT_MAX = 128;
/** Released bytes the pool keeps for reuse; beyond this a released buffer is destroyed. */
const POOL_BYTES = 1024 * 1024 * 1024;
/**
 * Bind groups kept, over all kernels: more than a conv4 step's few hundred dispatches or a batch of thousands
 * of tiny ones, so that a repeated step finds all of its own. Each holds a reference to the buffers it binds;
 * a destroyed buffer's memory is freed all the same.
 */
export const BIND_GROUPS = 16384;
/** Bytes of the uniform ring that the parameter blocks of one submit are written to. */
const PARAM_RING_BYTES = 256 * 1024;
/** Most bytes of one parameter block (gpu.js's: 16, then 16 per array argument, then 4 per scalar). */
const MAX_BLOCK_BYTES = 4096;

/* Minimal structural types of the WebGPU objects used here (the project does not depend on @webgpu/types). */
interface GPUBufferLike {
  readonly size: number;
  destroy(): void;
  getMappedRange(offset?: number, size?: number): ArrayBuffer;
  unmap(): void;
  mapAsync(mode: number, offset?: number, size?: number): Promise<void>;
}
interface GPUComputePassLike {
  setPipeline(p: unknown): void;
  setBindGroup(i: number, g: unknown, dynamicOffsets?: number[]): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}
interface GPUCommandEncoderLike {
  beginComputePass(): GPUComputePassLike;
  copyBufferToBuffer(src: GPUBufferLike, so: number, dst: GPUBufferLike, d: number, n: number): void;
  finish(): unknown;
}
type BindGroupEntry = { binding: number; resource: { buffer: unknown; offset?: number; size?: number } };
/** The parts of a `GPUDevice` used here. */
export interface GPUDeviceLike {
  readonly limits: {
    readonly maxStorageBufferBindingSize: number;
    readonly maxBufferSize: number;
    readonly minUniformBufferOffsetAlignment: number;
    readonly maxComputeWorkgroupsPerDimension: number;
    readonly maxStorageBuffersPerShaderStage?: number;
  };
  createBuffer(d: { size: number; usage: number; mappedAtCreation?: boolean }): GPUBufferLike;
  createBindGroup(d: { layout: unknown; entries: BindGroupEntry[] }): unknown;
  createBindGroupLayout(d: { entries: unknown[] }): unknown;
  createPipelineLayout(d: { bindGroupLayouts: unknown[] }): unknown;
  createShaderModule(d: { code: string }): unknown;
  createComputePipeline(d: { layout: unknown; compute: { module: unknown; entryPoint: string } }): unknown;
  pushErrorScope(filter: string): void;
  popErrorScope(): Promise<{ message: string } | null>;
  createCommandEncoder(): GPUCommandEncoderLike;
  readonly queue: {
    submit(c: unknown[]): void;
    onSubmittedWorkDone?(): Promise<void>;
    writeBuffer(
      b: GPUBufferLike,
      offset: number,
      data: ArrayBufferView | ArrayBuffer,
      o?: number,
      n?: number,
    ): void;
  };
}

/** The parts of a gpu.js 2.24 `WebGPUKernel` used here: its WGSL translation and parameter layout. */
interface GpujsWebGPUKernel {
  compiledSource?: string;
  readonly workgroupSize: readonly number[];
  readonly paramsLayout?: {
    readonly arrayArgs: readonly { readonly index: number; readonly dimsOffset: number }[];
    readonly scalarArgs: readonly {
      readonly index: number;
      readonly offset: number;
      readonly type: string;
    }[];
    readonly bufferConstants: readonly unknown[];
    readonly randomSeedOffset: number | null;
    readonly byteLength: number;
  };
  build(...args: unknown[]): unknown;
  _buildAsync(): Promise<void>;
}

/** A gpu.js kernel function (`createKernel`'s result), whose `kernel` is the kernel object. */
interface KernelShortcut {
  readonly kernel?: GpujsWebGPUKernel;
}

/**
 * Storage buffers kept for reuse by exact size. A training step allocates the same sizes every iteration, so
 * after the first one nearly every request is a hit.
 */
export class BufferPool {
  private readonly free = new Map<number, GPUBufferLike[]>();
  private freeBytes = 0;
  /** Buffers that recorded work may still use; destroyed by the owner after its next submit. */
  readonly doomed: GPUBufferLike[] = [];
  hits = 0;
  misses = 0;

  constructor(private readonly device: GPUDeviceLike) {}

  /** A buffer of `bytes` bytes (at least 4), rounded up to a multiple of 16. */
  take(bytes: number): GPUBufferLike {
    const size = sizeClass(bytes);
    const reused = this.free.get(size)?.pop();
    if (reused) {
      this.freeBytes -= size;
      this.hits++;
      return reused;
    }
    this.misses++;
    return this.device.createBuffer({ size, usage: USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST });
  }

  /** Takes back a buffer that no dispatch recorded from now on uses; past the cap, it is destroyed instead. */
  give(buffer: GPUBufferLike): void {
    if (this.freeBytes + buffer.size > POOL_BYTES) {
      this.doomed.push(buffer);
      return;
    }
    let list = this.free.get(buffer.size);
    if (!list) {
      list = [];
      this.free.set(buffer.size, list);
    }
    list.push(buffer);
    this.freeBytes += buffer.size;
  }

  /** Destroys every pooled buffer. */
  clear(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.freeBytes = 0;
  }
}

/**
 * Bind groups by a key naming the kernel and the buffers bound; past its capacity the oldest entry goes first.
 * A key names buffers by ids that are never reused, so an entry of a destroyed buffer is never found again and
 * only waits to be evicted.
 */
export class BindGroupCache {
  private readonly groups = new Map<string, unknown>();
  hits = 0;
  misses = 0;

  constructor(private readonly capacity: number = BIND_GROUPS) {}

  /** Entries held. */
  get size(): number {
    return this.groups.size;
  }

  /** The group stored under `key`, or undefined (counted as a hit or a miss). */
  get(key: string): unknown {
    const group = this.groups.get(key);
    if (group === undefined) this.misses++;
    else this.hits++;
    return group;
  }

  /** Stores `group` under `key`, evicting the oldest entry if the cache is full. */
  set(key: string, group: unknown): void {
    if (this.groups.size >= this.capacity) this.groups.delete(this.groups.keys().next().value!);
    this.groups.set(key, group);
  }

  /** Forgets every entry. */
  clear(): void {
    this.groups.clear();
  }
}

/** The size a buffer for `bytes` bytes gets (a multiple of 16, so that few sizes share a free list). */
function sizeClass(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 16) * 16);
}

/**
 * A tensor's storage on the direct path: the same shape of handle as gpu.js's `WebGPUBufferResult` (so gpu.js
 * takes it as a `WebGPUBuffer` argument when it translates a kernel), released into the pool.
 */
export class DirectBuffer {
  readonly type = 'WebGPUBuffer';
  readonly componentCount = 1;
  readonly output: number[];
  private deleted = false;

  constructor(
    private readonly owner: WebGPUDirect,
    readonly buffer: GPUBufferLike,
    readonly size: number,
  ) {
    this.output = [size];
  }

  /** The values (waits for every dispatch recorded so far). */
  toArray(): Promise<Float32Array> {
    if (this.deleted) return Promise.reject(new Error('WebGPU buffer was released'));
    return this.owner.read(this.buffer, this.size);
  }

  /** Gives the buffer back to the pool; the handle is unusable afterwards. */
  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    this.owner.release(this.buffer);
  }
}

/** What a dispatch needs of one kernel, built once. */
interface DirectKernel {
  readonly pipeline: unknown;
  readonly layout: unknown;
  readonly groups: readonly [number, number, number];
  /** gpu.js's parameter block with thread and argument dimensions filled in; scalars are written per call. */
  readonly block: Uint32Array;
  readonly scalarSlots: readonly { readonly index: number; readonly slot: number; readonly type: string }[];
  readonly arrayIndices: readonly number[];
  /** Starts every bind-group key of this kernel (its number among the kernels compiled, then a colon). */
  readonly keyPrefix: string;
  /** What the caller named the kernel (its spec key), for profiles. */
  readonly label: string;
}

/**
 * True when `METATAPE_WEBGPU_PROFILE=1` asks the direct path to keep every dispatch for
 * {@link WebGPUDirect.profile}. Off by default: recording then costs one branch per dispatch.
 */
export function webgpuProfileFromEnv(): boolean {
  return process.env.METATAPE_WEBGPU_PROFILE === '1';
}

/** One dispatch kept for a profile: enough to encode it again on its own. */
interface KeptDispatch {
  readonly kernel: DirectKernel;
  readonly group: unknown;
  /** The parameter block as written into the ring for this dispatch. */
  readonly block: Uint8Array;
}

/** Device milliseconds of one kernel (by label) over the dispatches a profile replayed. */
export interface KernelTime {
  /** The kernel's spec key (for a fused kernel, its kind and then its source). */
  readonly label: string;
  /** Dispatches of this kernel replayed. */
  readonly dispatches: number;
  /** Their device milliseconds together (wall time from submit to the queue's done, one submit each). */
  readonly ms: number;
  /** Output elements of one dispatch. */
  readonly outputs: number;
}

/** Running totals of the direct path. */
export interface DirectCounters {
  /** Queue submits. */
  submits: number;
  /** Bind groups created (a steady-state step creates few: most are found in the cache). */
  bindGroups: number;
  /** Compute pipelines compiled (one per kernel). */
  pipelines: number;
}

/**
 * Runs gpu.js WebGPU kernels on one device with pooled buffers, cached bind groups and batched submits,
 * synchronously: a result handle exists as soon as its dispatch is recorded. One per backend.
 */
export class WebGPUDirect {
  private readonly kernels = new WeakMap<object, DirectKernel>();
  /** Hand-written WGSL kernels ({@link runWgsl}) by key. */
  private readonly wgslKernels = new Map<string, DirectKernel>();
  private readonly pool: BufferPool;
  private readonly bindGroups = new BindGroupCache();
  private encoder: GPUCommandEncoderLike | undefined;
  private pass: GPUComputePassLike | undefined;
  private recorded = 0;
  /** When the open pass's first dispatch was recorded (`performance.now()`). */
  private passStart = 0;
  /** The pipeline last set on the open pass: setting it again costs a call into Dawn for nothing. */
  private passPipeline: unknown;
  /** The dynamic-offset argument of `setBindGroup`, reused (Dawn copies it at the call). */
  private readonly offsets = [0];
  private flushScheduled = false;
  private readonly staging: GPUBufferLike[] = [];
  private readonly ring: GPUBufferLike;
  private readonly ringHost = new ArrayBuffer(PARAM_RING_BYTES);
  private readonly ringU32 = new Uint32Array(this.ringHost);
  private readonly ringI32 = new Int32Array(this.ringHost);
  private readonly ringF32 = new Float32Array(this.ringHost);
  private ringUsed = 0;
  private readonly ringAlign: number;
  private readonly bufferIds = new WeakMap<GPUBufferLike, number>();
  private nextBufferId = 0;
  private lost = false;
  /** A validation error Dawn reported for a pipeline this made; thrown by the next read. */
  private failure: Error | undefined;
  readonly counters: DirectCounters = { submits: 0, bindGroups: 0, pipelines: 0 };
  /** Dispatches kept for {@link profile} (see {@link webgpuProfileFromEnv}); undefined unless profiling. */
  private kept: KeptDispatch[] | undefined;

  constructor(
    private readonly device: GPUDeviceLike,
    profiling = webgpuProfileFromEnv(),
  ) {
    if (profiling) this.kept = [];
    this.pool = new BufferPool(device);
    this.ringAlign = Math.max(16, device.limits.minUniformBufferOffsetAlignment);
    this.ring = device.createBuffer({ size: PARAM_RING_BYTES, usage: USAGE_UNIFORM | USAGE_COPY_DST });
    (device as { lost?: Promise<unknown> }).lost?.then(() => {
      this.lost = true;
    });
  }

  /** Bind-group lookups that found a cached group, and those that created one. */
  get bindGroupStats(): { hits: number; misses: number } {
    return { hits: this.bindGroups.hits, misses: this.bindGroups.misses };
  }

  /** Output-buffer requests served from the pool, and those that made a new buffer. */
  get poolStats(): { hits: number; misses: number } {
    return { hits: this.pool.hits, misses: this.pool.misses };
  }

  /**
   * Runs `kernelFn` (a gpu.js WebGPU kernel created with `output: [outSize]`) on `args` (device buffers and
   * numbers, in the kernel's argument order) into a fresh buffer of `outSize` floats. A kernel seen for the
   * first time is translated by gpu.js and compiled here, synchronously.
   */
  run(kernelFn: unknown, outSize: number, args: readonly unknown[], label = ''): DirectBuffer {
    const kernel = (kernelFn as KernelShortcut).kernel;
    if (!kernel) throw new Error('WebGPUDirect: not a gpu.js kernel function');
    let k = this.kernels.get(kernel);
    if (!k) {
      k = this.compile(kernel, outSize, args, label);
      this.kernels.set(kernel, k);
    }
    return this.record(k, outSize, args);
  }

  /**
   * Runs a hand-written WGSL kernel (`wgsl`, bound as gpu.js's kernels are: a uniform block it may ignore,
   * then `inputs` read-only, then the output) into a fresh buffer of `outSize` floats. Compiled once per key.
   */
  runWgsl(wgsl: WgslKernel, outSize: number, inputs: readonly DirectBuffer[]): DirectBuffer {
    let k = this.wgslKernels.get(wgsl.key);
    if (!k) {
      k = this.compileWgsl(wgsl, outSize);
      this.wgslKernels.set(wgsl.key, k);
    }
    return this.record(k, outSize, inputs);
  }

  /** A new tensor holding `values` (a new buffer, written at creation: no recorded work can see it early). */
  upload(values: Float32Array): DirectBuffer {
    const buffer = this.device.createBuffer({
      size: sizeClass(values.length * 4),
      usage: USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST,
      mappedAtCreation: true,
    });
    new Float32Array(buffer.getMappedRange(), 0, values.length).set(values);
    buffer.unmap();
    return new DirectBuffer(this, buffer, values.length);
  }

  /** Copies the first `size` floats of `buffer` to the host, after everything recorded before this call. */
  async read(buffer: GPUBufferLike, size: number): Promise<Float32Array> {
    const bytes = Math.max(4, size * 4);
    const staging = this.takeStaging(bytes);
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
    this.submit();
    try {
      await staging.mapAsync(MAP_READ, 0, bytes);
      if (this.failure) throw this.failure;
      const out = new Float32Array(size);
      out.set(new Float32Array(staging.getMappedRange(0, bytes), 0, size));
      staging.unmap();
      this.giveStaging(staging);
      return out;
    } catch (e) {
      staging.destroy();
      throw e;
    }
  }

  /** Takes back a buffer that no dispatch recorded from now on reads. */
  release(buffer: GPUBufferLike): void {
    this.pool.give(buffer);
    if (!this.encoder) this.destroyDoomed();
  }

  /**
   * Profiling only (see {@link webgpuProfileFromEnv}): forgets the dispatches kept so far, so that a profile
   * covers what is recorded from now on.
   */
  startProfile(): void {
    if (this.kept) this.kept.length = 0;
  }

  /**
   * Profiling only: runs every dispatch kept since {@link startProfile} again, one submit each, waiting for
   * the queue after each, and returns the device milliseconds per kernel label, most first. The dispatches
   * read and write the buffers they did (pooled buffers still exist; what they hold now does not change a
   * kernel's work, whose loops have fixed bounds), so this is a timing of the same shaders on the same sizes.
   * Wall time per submit includes the submit's own cost (tens of µs on lavapipe), alike for every kernel.
   * The replay writes outputs into buffers that may since hold other tensors: after a profile the backend's
   * values are garbage, so a profile ends the run that took it.
   */
  async profile(): Promise<KernelTime[]> {
    const kept = this.kept;
    const done = this.device.queue.onSubmittedWorkDone?.bind(this.device.queue);
    if (!kept || !done) throw new Error('WebGPUDirect: not profiling (METATAPE_WEBGPU_PROFILE=1)');
    this.flush();
    await done();
    const list = kept.splice(0);
    const byLabel = new Map<string, { ms: number; dispatches: number; outputs: number }>();
    for (const d of list) {
      this.device.queue.writeBuffer(this.ring, 0, d.block);
      const encoder = this.device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(d.kernel.pipeline);
      pass.setBindGroup(0, d.group, [0]);
      pass.dispatchWorkgroups(d.kernel.groups[0], d.kernel.groups[1], d.kernel.groups[2]);
      pass.end();
      const t0 = performance.now();
      this.device.queue.submit([encoder.finish()]);
      await done();
      const ms = performance.now() - t0;
      const e = byLabel.get(d.kernel.label) ?? { ms: 0, dispatches: 0, outputs: d.kernel.block[0]! };
      e.ms += ms;
      e.dispatches++;
      byLabel.set(d.kernel.label, e);
    }
    return [...byLabel.entries()].map(([label, e]) => ({ label, ...e })).sort((a, b) => b.ms - a.ms);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    this.endPass();
    if (this.encoder) this.submit();
  }

  /** Submits what is recorded and destroys every buffer this holds. */
  clear(): void {
    this.flush();
    this.pool.clear();
    this.bindGroups.clear();
    this.destroyDoomed();
    for (const b of [...this.staging, this.ring]) b.destroy();
    this.staging.length = 0;
  }

  private compile(
    kernel: GpujsWebGPUKernel,
    outSize: number,
    args: readonly unknown[],
    label: string,
  ): DirectKernel {
    // gpu.js translates synchronously in build() and compiles in _buildAsync; only the translation is wanted.
    kernel._buildAsync = () => Promise.resolve();
    kernel.build(...args);
    const layout = kernel.paramsLayout;
    const wgsl = kernel.compiledSource;
    if (!layout || wgsl === undefined) throw new Error('WebGPUDirect: gpu.js produced no WGSL');
    if (layout.bufferConstants.length > 0 || layout.randomSeedOffset !== null)
      throw new Error('WebGPUDirect: kernels with constant arrays or random numbers are not supported');
    if (layout.byteLength > MAX_BLOCK_BYTES)
      throw new Error(`WebGPUDirect: a ${layout.byteLength}-byte parameter block`);
    // gpu.js's bindings: its parameters (here at a dynamic offset in the ring), the arguments read-only, the
    // result writable.
    const { pipeline, layout: bindLayout } = this.pipelineOf(wgsl, layout.arrayArgs.length, label);
    const block = new Uint32Array(layout.byteLength / 4);
    const [groups, dispatchWidth] = this.workgroups(kernel.workgroupSize, outSize);
    block.set([outSize, 1, 1, dispatchWidth], 0);
    // Argument sizes are fixed per kernel (the kernel cache keys kernels by them): written once here.
    for (const a of layout.arrayArgs) {
      const size = (args[a.index] as DirectBuffer).size;
      block.set([size, 1, 1, size], a.dimsOffset / 4);
    }
    return {
      pipeline,
      layout: bindLayout,
      groups,
      block,
      scalarSlots: layout.scalarArgs.map((s) => ({ index: s.index, slot: s.offset / 4, type: s.type })),
      arrayIndices: layout.arrayArgs.map((a) => a.index),
      keyPrefix: `${this.counters.pipelines}:`,
      label,
    };
  }

  private compileWgsl(wgsl: WgslKernel, outSize: number): DirectKernel {
    const n = wgsl.inputs;
    // The shader ignores its block; the output size is kept where gpu.js's blocks have it, for profiles.
    const block = Uint32Array.of(outSize, 1, 1, 0);
    return {
      ...this.pipelineOf(wgsl.source, n, wgsl.key),
      groups: [wgsl.groups[0], wgsl.groups[1], wgsl.groups[2]],
      block,
      scalarSlots: [],
      arrayIndices: Array.from({ length: n }, (_, i) => i),
      keyPrefix: `${this.counters.pipelines}:`,
      label: wgsl.key,
    };
  }

  /**
   * A compute pipeline for `wgsl` with gpu.js's bindings (a uniform block at a dynamic offset in the ring,
   * `inputs` read-only arrays, the output writable) and its bind-group layout. A validation error is thrown by
   * the next read.
   */
  private pipelineOf(wgsl: string, inputs: number, what: string): { pipeline: unknown; layout: unknown } {
    const entries: unknown[] = [
      { binding: 0, visibility: STAGE_COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } },
    ];
    for (let i = 1; i <= inputs; i++)
      entries.push({ binding: i, visibility: STAGE_COMPUTE, buffer: { type: 'read-only-storage' } });
    entries.push({ binding: inputs + 1, visibility: STAGE_COMPUTE, buffer: { type: 'storage' } });
    const device = this.device;
    device.pushErrorScope('validation');
    const layout = device.createBindGroupLayout({ entries });
    const pipeline = device.createComputePipeline({
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module: device.createShaderModule({ code: wgsl }), entryPoint: 'main' },
    });
    device.popErrorScope().then((e) => {
      if (e) this.failure ??= new Error(`WebGPUDirect: ${e.message} (${what})\n--- WGSL ---\n${wgsl}`);
    });
    this.counters.pipelines++;
    return { pipeline, layout };
  }

  /** Workgroup counts for a 1-D output, folded into y past the per-dimension limit (as gpu.js does). */
  private workgroups(size: readonly number[], outSize: number): [[number, number, number], number] {
    const wx = size[0] ?? 64;
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    let gx = Math.ceil(outSize / wx);
    let gy = 1;
    if (gx > max) {
      gy = Math.ceil(gx / max);
      gx = Math.ceil(gx / gy);
    }
    if (gy > max)
      throw new Error(`WebGPUDirect: ${outSize} outputs need more workgroups than this device allows`);
    return [[gx, gy, 1], gx * wx];
  }

  private idOf(buffer: GPUBufferLike): number {
    let id = this.bufferIds.get(buffer);
    if (id === undefined) {
      id = this.nextBufferId++;
      this.bufferIds.set(buffer, id);
    }
    return id;
  }

  private record(k: DirectKernel, outSize: number, args: readonly unknown[]): DirectBuffer {
    if (this.lost)
      throw new Error('WebGPU device was lost; create the backend again to continue on a fresh device');
    const out = this.pool.take(outSize * 4);
    if (this.ringUsed + MAX_BLOCK_BYTES > PARAM_RING_BYTES) this.flush();
    // The parameter block: gpu.js's, with this call's scalars.
    const at = this.ringUsed;
    const base = at / 4;
    this.ringU32.set(k.block, base);
    for (const s of k.scalarSlots) {
      const v = Number(args[s.index]);
      if (s.type === 'Integer') this.ringI32[base + s.slot] = v;
      else if (s.type === 'Boolean') this.ringU32[base + s.slot] = v ? 1 : 0;
      else this.ringF32[base + s.slot] = v;
    }
    this.ringUsed = at + Math.ceil(k.block.byteLength / this.ringAlign) * this.ringAlign;
    let key = k.keyPrefix;
    for (const i of k.arrayIndices) key += `${this.idOf((args[i] as DirectBuffer).buffer)},`;
    key += this.idOf(out);
    const group = this.bindGroups.get(key) ?? this.bindGroup(k, key, args, out);
    const pass = this.openPass();
    if (this.passPipeline !== k.pipeline) {
      pass.setPipeline(k.pipeline);
      this.passPipeline = k.pipeline;
    }
    this.offsets[0] = at;
    pass.setBindGroup(0, group, this.offsets);
    pass.dispatchWorkgroups(k.groups[0], k.groups[1], k.groups[2]);
    if (this.kept)
      this.kept.push({
        kernel: k,
        group,
        block: new Uint8Array(this.ringHost.slice(at, at + k.block.byteLength)),
      });
    if (this.submitDue(++this.recorded)) this.flush();
    else this.scheduleFlush();
    return new DirectBuffer(this, out, outSize);
  }

  /** Whether a pass holding `recorded` dispatches is submitted now (see {@link SUBMIT_EVERY}). */
  private submitDue(recorded: number): boolean {
    if (recorded < SUBMIT_EVERY) return false;
    return recorded >= SUBMIT_MAX || performance.now() - this.passStart >= SUBMIT_AFTER_MS;
  }

  private bindGroup(k: DirectKernel, key: string, args: readonly unknown[], out: GPUBufferLike): unknown {
    const entries: BindGroupEntry[] = [
      { binding: 0, resource: { buffer: this.ring, offset: 0, size: k.block.byteLength } },
    ];
    k.arrayIndices.forEach((index, i) => {
      entries.push({ binding: 1 + i, resource: { buffer: (args[index] as DirectBuffer).buffer } });
    });
    entries.push({ binding: 1 + k.arrayIndices.length, resource: { buffer: out } });
    const group = this.device.createBindGroup({ layout: k.layout, entries });
    this.counters.bindGroups++;
    this.bindGroups.set(key, group);
    return group;
  }

  private openPass(): GPUComputePassLike {
    if (this.pass) return this.pass;
    this.encoder ??= this.device.createCommandEncoder();
    this.pass = this.encoder.beginComputePass();
    this.passPipeline = undefined;
    this.passStart = performance.now();
    return this.pass;
  }

  private endPass(): void {
    if (!this.pass) return;
    this.pass.end();
    this.pass = undefined;
  }

  private submit(): void {
    const encoder = this.encoder!;
    this.encoder = undefined;
    this.recorded = 0;
    // Queue order: this write lands after every earlier submit has run and before this one starts.
    if (this.ringUsed > 0)
      this.device.queue.writeBuffer(this.ring, 0, new Uint8Array(this.ringHost, 0, this.ringUsed));
    this.ringUsed = 0;
    this.device.queue.submit([encoder.finish()]);
    this.counters.submits++;
    this.destroyDoomed();
  }

  private destroyDoomed(): void {
    for (const b of this.pool.doomed) b.destroy();
    this.pool.doomed.length = 0;
  }

  /** Submits at the end of the current task, so recorded work never waits on a read that may not come. */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private takeStaging(bytes: number): GPUBufferLike {
    const i = this.staging.findIndex((s) => s.size >= bytes);
    if (i >= 0) return this.staging.splice(i, 1)[0]!;
    return this.device.createBuffer({
      size: Math.ceil(bytes / 256) * 256,
      usage: USAGE_MAP_READ | USAGE_COPY_DST,
    });
  }

  private giveStaging(buffer: GPUBufferLike): void {
    if (this.staging.length < 4) this.staging.push(buffer);
    else buffer.destroy();
  }
}
