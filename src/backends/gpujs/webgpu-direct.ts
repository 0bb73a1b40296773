/**
 * Kernel dispatch on WebGPU without gpu.js's per-call runner. gpu.js still translates each kernel to WGSL; this
 * module builds the pipeline from that source and runs it on the same Dawn device. Per call, gpu.js's runner
 * makes a new output buffer, writes a parameter buffer, creates a bind group, and encodes and submits one pass
 * (on lavapipe about 12, 23 and 40 µs for the buffer, bind group and submit alone). Here instead:
 * - Tensors are regions of a few large arena buffers, reused by exact size (see {@link BufferArena}).
 * - Each kernel's WGSL is rewritten so that every array index adds the region's offset, read from the
 *   parameter block ({@link rewriteForArena}). A bind group binds whole arena buffers, so one is cached per
 *   kernel and combination of arena buffers, and a steady-state step creates none.
 * - Parameter blocks of many dispatches go to one uniform ring buffer, bound with a dynamic offset and written
 *   with one `writeBuffer` just before the submit.
 * - Dispatches are recorded into one open compute pass, submitted when a value is read, every
 *   {@link SUBMIT_EVERY} dispatches, or when the current task ends. The result handle exists at once, with no
 *   Promise: the queue runs work in order.
 *
 * Ordering. WebGPU runs the dispatches of a pass, and the submits of a queue, in order, each seeing the writes
 * of the ones before. A region is released only after every dispatch that reads it has been recorded, so the
 * next dispatch that writes it comes later in that order. `queue.writeBuffer` is the one operation that takes
 * effect before recorded but unsubmitted work: uploads therefore submit what is recorded first, and buffers are
 * destroyed only after the submit that may use them.
 */

/** Buffer usage and map-mode flags (WebGPU constants; the globals exist only once Dawn is installed). */
const USAGE_MAP_READ = 0x1;
const USAGE_COPY_SRC = 0x4;
const USAGE_COPY_DST = 0x8;
const USAGE_UNIFORM = 0x40;
const USAGE_STORAGE = 0x80;
const MAP_READ = 0x1;
const STAGE_COMPUTE = 0x4;

/** Dispatches recorded before the open pass is submitted even if nothing reads: lets the device start early. */
export const SUBMIT_EVERY = 32;
/** First size of the heap buffer; it doubles as needed, up to the device's binding limit. */
const HEAP_INITIAL_BYTES = 16 * 1024 * 1024;
/** Tensors of this many bytes or more get a buffer of their own rather than a heap region. */
const DEDICATED_FROM_BYTES = 8 * 1024 * 1024;
/** Regions start on this many bytes (a cache line: parallel writers of neighbouring tensors do not share one). */
const REGION_ALIGN = 64;
/** Released bytes of tensors with a buffer of their own kept for reuse; beyond this such buffers are destroyed. */
const DEDICATED_POOL_BYTES = 512 * 1024 * 1024;
/** Bytes of the uniform ring that the parameter blocks of one submit are written to. */
const PARAM_RING_BYTES = 256 * 1024;
/** Bind groups a kernel keeps (one per combination of arena buffers it has run on). */
const BIND_GROUPS_PER_KERNEL = 64;

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

/** One device buffer that regions are cut from: the shared heap, or a large tensor's own buffer. */
interface Chunk {
  readonly id: number;
  /** Replaced (with its contents copied) when the heap grows. */
  buffer: GPUBufferLike;
  /** Bytes handed out so far (bump pointer). */
  used: number;
  /** True for a buffer holding one large tensor. */
  readonly dedicated: boolean;
}

/** A tensor's place: `bytes` bytes from `offset` in `chunk`. */
interface Region {
  readonly chunk: Chunk;
  readonly offset: number;
  readonly bytes: number;
}

/**
 * Device memory for tensors: one heap buffer that small and medium tensors are regions of, and a buffer of its
 * own for each large tensor; both reused by exact (aligned) size. A training step allocates the same sizes
 * every iteration, so after the first one every request is a free-list hit. One heap (not several chunks)
 * means a kernel binds one buffer for all its heap tensors, whichever regions they got: its bind group and
 * its pipeline variant do not depend on where the allocator put things.
 */
export class BufferArena {
  private readonly free = new Map<number, Region[]>();
  private readonly dedicated = new Set<Chunk>();
  private nextId = 1;
  private dedicatedFreeBytes = 0;
  private readonly heap: Chunk;
  private readonly maxHeapBytes: number;
  /** Buffers that recorded work may still use; destroyed by the owner after its next submit. */
  readonly doomed: GPUBufferLike[] = [];
  /**
   * @param onGrow records, in queue order, the copy of the old heap's first `bytes` bytes into the new one (and
   *   disposes of the old buffer once recorded work no longer needs it).
   */
  constructor(
    private readonly device: GPUDeviceLike,
    private readonly onGrow: (from: GPUBufferLike, to: GPUBufferLike, bytes: number) => void,
  ) {
    const limit = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    this.maxHeapBytes = Math.floor(limit / REGION_ALIGN) * REGION_ALIGN;
    const first = Math.min(HEAP_INITIAL_BYTES, this.maxHeapBytes);
    this.heap = { id: 0, buffer: this.newBuffer(first), used: 0, dedicated: false };
  }

  /** Bytes of device memory held for tensors. */
  get bytes(): number {
    let n = this.heap.buffer.size;
    for (const c of this.dedicated) n += c.buffer.size;
    return n;
  }

  /** A region of at least `bytes` bytes. */
  take(bytes: number): Region {
    const size = Math.max(REGION_ALIGN, Math.ceil(bytes / REGION_ALIGN) * REGION_ALIGN);
    const reused = this.free.get(size)?.pop();
    if (reused) {
      if (reused.chunk.dedicated) this.dedicatedFreeBytes -= size;
      return reused;
    }
    if (size <= DEDICATED_FROM_BYTES && this.fitHeap(size)) {
      const region = { chunk: this.heap, offset: this.heap.used, bytes: size };
      this.heap.used += size;
      return region;
    }
    const chunk: Chunk = { id: this.nextId++, buffer: this.newBuffer(size), used: size, dedicated: true };
    this.dedicated.add(chunk);
    return { chunk, offset: 0, bytes: size };
  }

  /** Takes a region back for reuse (a dedicated buffer past the pool's cap is destroyed instead). */
  give(region: Region): void {
    if (region.chunk.dedicated) {
      if (this.dedicatedFreeBytes + region.bytes > DEDICATED_POOL_BYTES) {
        this.dedicated.delete(region.chunk);
        this.doomed.push(region.chunk.buffer);
        return;
      }
      this.dedicatedFreeBytes += region.bytes;
    }
    let list = this.free.get(region.bytes);
    if (!list) {
      list = [];
      this.free.set(region.bytes, list);
    }
    list.push(region);
  }

  /** Destroys every buffer. */
  clear(): void {
    this.heap.buffer.destroy();
    for (const c of this.dedicated) c.buffer.destroy();
    this.dedicated.clear();
    this.free.clear();
    this.dedicatedFreeBytes = 0;
  }

  /** True if the heap has (or can grow to have) `size` more bytes; grows it if needed. */
  private fitHeap(size: number): boolean {
    const heap = this.heap;
    const need = heap.used + size;
    if (need <= heap.buffer.size) return true;
    if (need > this.maxHeapBytes) return false;
    let grown = heap.buffer.size;
    while (grown < need) grown *= 2;
    grown = Math.min(grown, this.maxHeapBytes);
    const old = heap.buffer;
    heap.buffer = this.newBuffer(grown);
    // Regions keep their offsets: the old contents are copied into the new buffer, in queue order.
    this.onGrow(old, heap.buffer, heap.used);
    return true;
  }

  private newBuffer(bytes: number): GPUBufferLike {
    return this.device.createBuffer({ size: bytes, usage: USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST });
  }
}

/**
 * A tensor's storage on the direct path: the same shape of handle as gpu.js's `WebGPUBufferResult` (so gpu.js
 * takes it as a `WebGPUBuffer` argument when it translates a kernel), released into the arena.
 */
export class DirectBuffer {
  readonly type = 'WebGPUBuffer';
  readonly componentCount = 1;
  readonly output: number[];
  private deleted = false;

  constructor(
    private readonly owner: WebGPUDirect,
    readonly region: Region,
    readonly size: number,
  ) {
    this.output = [size];
  }

  /** The arena buffer that holds this tensor. */
  get buffer(): GPUBufferLike {
    return this.region.chunk.buffer;
  }

  /** The values (waits for every dispatch recorded so far). */
  toArray(): Promise<Float32Array> {
    if (this.deleted) return Promise.reject(new Error('WebGPU buffer was released'));
    return this.owner.read(this.region, this.size);
  }

  /** Gives the region back to the arena; the handle is unusable afterwards. */
  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    this.owner.release(this.region);
  }
}

/**
 * `wgsl` (a gpu.js kernel) rewritten for arena storage. gpu.js binds one storage array per argument and one for
 * the result; here `buffers` names, for each of those slots in binding order (the result last), which distinct
 * buffer it lives in (0, 1, ...; slots on one buffer share a binding). Every index `x[i]` becomes
 * `mt_bK[params.mt_off[s].c + u32(i)]` for slot `s` on buffer `K`, reading the region's offset from a field
 * appended to `Params` (after gpu.js's block, a multiple of 16 bytes). Each buffer is bound once, read_write:
 * WebGPU forbids binding one buffer writable and read-only in one dispatch, or writable twice with overlapping
 * ranges, and the heap holds a kernel's inputs and its output alike.
 */
export function rewriteForArena(wgsl: string, buffers: readonly number[]): string {
  const decl = /@group\(0\) @binding\((\d+)\) var<storage, (?:read|read_write)> (\w+) : array<f32>;\n?/g;
  const names: string[] = [];
  for (const m of wgsl.matchAll(decl)) names[Number(m[1]) - 1] = m[2]!;
  if (names.length !== buffers.length || names.some((n) => n === undefined) || names.at(-1) !== 'result')
    throw new Error('WebGPUDirect: unexpected storage bindings in gpu.js WGSL');
  const distinct = Math.max(...buffers) + 1;
  let bindings = '';
  for (let b = 0; b < distinct; b++)
    bindings += `@group(0) @binding(${b + 1}) var<storage, read_write> mt_b${b} : array<f32>;\n`;
  let first = true;
  let source = wgsl.replace(decl, () => {
    const out = first ? bindings : '';
    first = false;
    return out;
  });
  const structEnd = source.indexOf('\n}', source.indexOf('struct Params {'));
  if (structEnd < 0) throw new Error('WebGPUDirect: no Params struct in gpu.js WGSL');
  const vec4s = Math.ceil(names.length / 4);
  source = `${source.slice(0, structEnd)}\n  mt_off : array<vec4<u32>, ${vec4s}>,${source.slice(structEnd)}`;
  names.forEach((name, slot) => {
    source = offsetIndices(
      source,
      name,
      `mt_b${buffers[slot]}`,
      `params.mt_off[${slot >> 2}].${'xyzw'[slot & 3]}`,
    );
  });
  return source;
}

/** Rewrites every `name[e]` in `src` (not inside a longer identifier) to `target[offset + u32(e)]`. */
function offsetIndices(src: string, name: string, target: string, offset: string): string {
  let out = '';
  let i = 0;
  const open = `${name}[`;
  for (;;) {
    const at = src.indexOf(open, i);
    if (at < 0) return out + src.slice(i);
    const before = at > 0 ? src[at - 1]! : ' ';
    if (/[\w.]/.test(before)) {
      out += src.slice(i, at + open.length);
      i = at + open.length;
      continue;
    }
    let depth = 1;
    let j = at + open.length;
    for (; j < src.length && depth > 0; j++) {
      if (src[j] === '[') depth++;
      else if (src[j] === ']') depth--;
    }
    const inner = offsetIndices(src.slice(at + open.length, j - 1), name, target, offset);
    out += `${src.slice(i, at)}${target}[${offset} + u32(${inner})]`;
    i = j;
  }
}

/** One compiled form of a kernel: for one way its slots share buffers. */
interface Variant {
  readonly pipeline: unknown;
  readonly layout: unknown;
  /** Bind groups by the ids of the buffers bound; oldest first. */
  readonly bindGroups: Map<string, unknown>;
}

/** What a dispatch needs of one kernel, derived once from gpu.js's translation. */
interface DirectKernel {
  readonly wgsl: string;
  readonly groups: readonly [number, number, number];
  /** gpu.js's parameter block with thread and argument dimensions filled in; scalars are written per call. */
  readonly block: Uint32Array;
  /** Bytes of the whole parameter block: gpu.js's, then the offsets. */
  readonly blockBytes: number;
  readonly offsetsAt: number;
  readonly scalarSlots: readonly { readonly index: number; readonly slot: number; readonly type: string }[];
  readonly arrayIndices: readonly number[];
  /** Compiled variants by buffer pattern (`0,0,1`: slots 0 and 1 share a buffer, slot 2 has another). */
  readonly variants: Map<string, Variant>;
}

/** Running totals of the direct path. */
export interface DirectCounters {
  /** Queue submits. */
  submits: number;
  /** Bind groups created (flat once a step's kernels and buffers have all been seen). */
  bindGroups: number;
  /** Compute pipelines compiled (one per kernel, more only for kernels on large tensors' own buffers). */
  pipelines: number;
}

/**
 * Runs gpu.js WebGPU kernels on one device with arena storage, cached bind groups and batched submits,
 * synchronously: a result handle exists as soon as its dispatch is recorded. One per backend.
 */
export class WebGPUDirect {
  private readonly kernels = new WeakMap<object, DirectKernel>();
  private readonly arena: BufferArena;
  private encoder: GPUCommandEncoderLike | undefined;
  private pass: GPUComputePassLike | undefined;
  private recorded = 0;
  private flushScheduled = false;
  private readonly staging: GPUBufferLike[] = [];
  private readonly ring: GPUBufferLike;
  private readonly ringHost = new ArrayBuffer(PARAM_RING_BYTES);
  private ringUsed = 0;
  private readonly ringAlign: number;
  private readonly bufferIds = new WeakMap<GPUBufferLike, number>();
  private nextBufferId = 0;
  private lost = false;
  /** A validation error Dawn reported for a pipeline this made; thrown by the next read. */
  private failure: Error | undefined;
  readonly counters: DirectCounters = { submits: 0, bindGroups: 0, pipelines: 0 };

  constructor(private readonly device: GPUDeviceLike) {
    this.arena = new BufferArena(device, (from, to, bytes) => {
      this.endPass();
      this.encoder ??= this.device.createCommandEncoder();
      if (bytes > 0) this.encoder.copyBufferToBuffer(from, 0, to, 0, bytes);
      this.arena.doomed.push(from);
    });
    this.ringAlign = Math.max(16, device.limits.minUniformBufferOffsetAlignment);
    this.ring = device.createBuffer({ size: PARAM_RING_BYTES, usage: USAGE_UNIFORM | USAGE_COPY_DST });
    (device as { lost?: Promise<unknown> }).lost?.then(() => {
      this.lost = true;
    });
  }

  /** Bytes of device memory held for tensors. */
  get arenaBytes(): number {
    return this.arena.bytes;
  }

  /**
   * Runs `kernelFn` (a gpu.js WebGPU kernel created with `output: [outSize]`) on `args` (device buffers and
   * numbers, in the kernel's argument order) into a fresh region of `outSize` floats. A kernel seen for the
   * first time is translated by gpu.js and compiled here, synchronously.
   */
  run(kernelFn: unknown, outSize: number, args: readonly unknown[]): DirectBuffer {
    const kernel = (kernelFn as KernelShortcut).kernel;
    if (!kernel) throw new Error('WebGPUDirect: not a gpu.js kernel function');
    let k = this.kernels.get(kernel);
    if (!k) {
      k = this.translate(kernel, outSize, args);
      this.kernels.set(kernel, k);
    }
    return this.dispatch(k, outSize, args);
  }

  /** A new tensor holding `values`. */
  upload(values: Float32Array): DirectBuffer {
    const region = this.arena.take(values.length * 4);
    // writeBuffer takes effect before recorded work: submit that first, since it may still read the region's
    // previous tensor (or copy the heap it is in).
    if (this.encoder) this.flush();
    if (values.length > 0) this.device.queue.writeBuffer(region.chunk.buffer, region.offset, values);
    return new DirectBuffer(this, region, values.length);
  }

  /** Copies the first `size` floats of `region` to the host, after everything recorded before this call. */
  async read(region: Region, size: number): Promise<Float32Array> {
    const bytes = Math.max(4, size * 4);
    const staging = this.takeStaging(bytes);
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(region.chunk.buffer, region.offset, staging, 0, bytes);
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

  /** Takes back a region that no dispatch recorded from now on reads. */
  release(region: Region): void {
    this.arena.give(region);
    if (!this.encoder) this.destroyDoomed();
  }

  /** Submits everything recorded so far. */
  flush(): void {
    this.endPass();
    if (this.encoder) this.submit();
  }

  /** Submits what is recorded and destroys every buffer. */
  clear(): void {
    this.flush();
    this.arena.clear();
    this.destroyDoomed();
    for (const s of this.staging) s.destroy();
    this.staging.length = 0;
    this.ring.destroy();
  }

  private translate(kernel: GpujsWebGPUKernel, outSize: number, args: readonly unknown[]): DirectKernel {
    // gpu.js translates synchronously in build() and compiles in _buildAsync; only the translation is wanted.
    kernel._buildAsync = () => Promise.resolve();
    kernel.build(...args);
    const layout = kernel.paramsLayout;
    const wgsl = kernel.compiledSource;
    if (!layout || wgsl === undefined) throw new Error('WebGPUDirect: gpu.js produced no WGSL');
    if (layout.bufferConstants.length > 0 || layout.randomSeedOffset !== null)
      throw new Error('WebGPUDirect: kernels with constant arrays or random numbers are not supported');
    const slots = layout.arrayArgs.length + 1;
    const blockBytes = layout.byteLength + 16 * Math.ceil(slots / 4);
    const block = new Uint32Array(blockBytes / 4);
    const [groups, dispatchWidth] = this.workgroups(kernel.workgroupSize, outSize);
    block.set([outSize, 1, 1, dispatchWidth], 0);
    // Argument sizes are fixed per kernel (the kernel cache keys kernels by them): written once here.
    for (const a of layout.arrayArgs) {
      const n = (args[a.index] as DirectBuffer).size;
      block.set([n, 1, 1, n], a.dimsOffset / 4);
    }
    return {
      wgsl,
      groups,
      block,
      blockBytes,
      offsetsAt: layout.byteLength / 4,
      scalarSlots: layout.scalarArgs.map((s) => ({ index: s.index, slot: s.offset / 4, type: s.type })),
      arrayIndices: layout.arrayArgs.map((a) => a.index),
      variants: new Map(),
    };
  }

  private compile(k: DirectKernel, buffers: readonly number[]): Variant {
    const source = rewriteForArena(k.wgsl, buffers);
    const entries: unknown[] = [
      { binding: 0, visibility: STAGE_COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } },
    ];
    const distinct = Math.max(...buffers) + 1;
    for (let b = 1; b <= distinct; b++)
      entries.push({ binding: b, visibility: STAGE_COMPUTE, buffer: { type: 'storage' } });
    const device = this.device;
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code: source });
    const layout = device.createBindGroupLayout({ entries });
    const pipeline = device.createComputePipeline({
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
    });
    device.popErrorScope().then((e) => {
      if (e) this.failure ??= new Error(`WebGPUDirect: ${e.message}\n--- WGSL ---\n${source}`);
    });
    this.counters.pipelines++;
    return { pipeline, layout, bindGroups: new Map() };
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

  private dispatch(k: DirectKernel, outSize: number, args: readonly unknown[]): DirectBuffer {
    if (this.lost)
      throw new Error('WebGPU device was lost; create the backend again to continue on a fresh device');
    const out = this.arena.take(outSize * 4);
    const n = k.arrayIndices.length;
    // Which distinct buffer each slot is on (inputs, then the output), and the pattern and key they make.
    const bound: GPUBufferLike[] = [];
    const slotBuffer: number[] = [];
    const regions: Region[] = [];
    for (let i = 0; i <= n; i++) {
      const region = i < n ? (args[k.arrayIndices[i]!] as DirectBuffer).region : out;
      regions.push(region);
      const buffer = region.chunk.buffer;
      let b = bound.indexOf(buffer);
      if (b < 0) b = bound.push(buffer) - 1;
      slotBuffer.push(b);
    }
    const pattern = slotBuffer.join(',');
    let variant = k.variants.get(pattern);
    if (!variant) {
      variant = this.compile(k, slotBuffer);
      k.variants.set(pattern, variant);
    }
    let key = '';
    for (const b of bound) key += `${this.idOf(b)},`;
    const group = variant.bindGroups.get(key) ?? this.bindGroup(k, variant, key, bound);
    // The parameter block: gpu.js's (scalars filled in), then each slot's offset in floats.
    if (this.ringUsed + k.blockBytes > PARAM_RING_BYTES) this.flush();
    const at = this.ringUsed;
    const block = new Uint32Array(this.ringHost, at, k.blockBytes / 4);
    block.set(k.block);
    if (k.scalarSlots.length > 0) {
      const i32 = new Int32Array(this.ringHost, at, k.blockBytes / 4);
      const f32 = new Float32Array(this.ringHost, at, k.blockBytes / 4);
      for (const s of k.scalarSlots) {
        const v = Number(args[s.index]);
        if (s.type === 'Integer') i32[s.slot] = v;
        else if (s.type === 'Boolean') block[s.slot] = v ? 1 : 0;
        else f32[s.slot] = v;
      }
    }
    for (let i = 0; i <= n; i++) block[k.offsetsAt + i] = regions[i]!.offset / 4;
    this.ringUsed = at + Math.ceil(k.blockBytes / this.ringAlign) * this.ringAlign;
    const pass = this.openPass();
    pass.setPipeline(variant.pipeline);
    pass.setBindGroup(0, group, [at]);
    pass.dispatchWorkgroups(k.groups[0], k.groups[1], k.groups[2]);
    if (++this.recorded >= SUBMIT_EVERY) this.flush();
    else this.scheduleFlush();
    return new DirectBuffer(this, out, outSize);
  }

  private bindGroup(
    k: DirectKernel,
    variant: Variant,
    key: string,
    bound: readonly GPUBufferLike[],
  ): unknown {
    const entries: BindGroupEntry[] = [
      { binding: 0, resource: { buffer: this.ring, offset: 0, size: k.blockBytes } },
    ];
    bound.forEach((buffer, b) => {
      entries.push({ binding: 1 + b, resource: { buffer } });
    });
    const group = this.device.createBindGroup({ layout: variant.layout, entries });
    this.counters.bindGroups++;
    if (variant.bindGroups.size >= BIND_GROUPS_PER_KERNEL)
      variant.bindGroups.delete(variant.bindGroups.keys().next().value!);
    variant.bindGroups.set(key, group);
    return group;
  }

  private openPass(): GPUComputePassLike {
    if (this.pass) return this.pass;
    this.encoder ??= this.device.createCommandEncoder();
    this.pass = this.encoder.beginComputePass();
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
    for (const b of this.arena.doomed) b.destroy();
    this.arena.doomed.length = 0;
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
