import { allocArray, type DType, type TypedArray } from '../../tensor/dtype.js';
import { syncKernels } from './kernelQueue.js';
import type { MemoryPlan, RecordedAllocation } from './programMemory.js';

/**
 * Node's Buffer, when present: `Buffer.allocUnsafeSlow` hands out an unpooled ArrayBuffer without zeroing it,
 * several times cheaper than a zero-filled typed array of tens of kilobytes (which every op result used to be).
 * Declared locally because this project compiles without Node's typings in the library.
 */
const NodeBuffer = (
  globalThis as { Buffer?: { allocUnsafeSlow(size: number): { buffer: ArrayBuffer; byteOffset: number } } }
).Buffer;

/** Up to this many bytes V8 keeps a typed array's elements on the JS heap: cheaper than any slab. */
export const ON_HEAP_MAX_BYTES = 64;

/** Size of the slabs op results are carved from. */
const SLAB_BYTES = 256 * 1024;

/**
 * Largest result carved from a slab; larger ones get an ArrayBuffer of their own. A live array keeps its
 * whole slab alive, so this bounds what one long-lived small array can pin (a slab, 256 KiB) while covering
 * the tensors of the MAML hot paths (a sinusoid activation is 40 KB).
 */
const SLAB_MAX_BYTES = SLAB_BYTES / 4;

let slab: ArrayBuffer | undefined;
let slabUsed = SLAB_BYTES;

/**
 * Allocates storage for `size` elements of `dtype` whose contents are unspecified: only for a kernel that
 * overwrites every element before anyone reads it.
 *
 * Why slabs: creating an ArrayBuffer costs about 0.7 us (a malloc, a backing store, external-memory
 * accounting, later a sweep), several times the work of a small elementwise op, and the sinusoid MAML step
 * makes hundreds of them. Results of up to {@link SLAB_MAX_BYTES} are instead consecutive, 16-byte aligned
 * views into a shared 256 KiB ArrayBuffer (about 0.15 us each). A slab is never reused or written through
 * another view: it is freed by the garbage collector once every array carved from it is unreachable, so
 * lifetimes stay the garbage collector's and no op can see another's data. The cost is memory: a long-lived
 * array holds its slab (at most 256 KiB) alive. Storage never leaves the backend (reads copy), so nobody
 * sees the shared `.buffer`.
 */
export function allocUninit(dtype: DType, size: number): TypedArray {
  const bytes = dtype === 'float64' ? size * 8 : size * 4;
  if (NodeBuffer === undefined || bytes <= ON_HEAP_MAX_BYTES) return allocArray(dtype, size);
  if (recordingFree !== undefined) {
    const key = poolKey(dtype, size);
    if (recordingPlan !== undefined) {
      const planned = takePlanned(recordingPlan, key, dtype, size);
      if (planned !== undefined) return planned;
    } else if (recordingLog === undefined) {
      const list = recordingFree.get(key);
      if (list !== undefined && list.length > 0) return list.pop()!;
    }
    const out = allocFresh(dtype, size, bytes);
    recordingLog?.push(out);
    return out;
  }
  return allocFresh(dtype, size, bytes);
}

/** {@link allocUninit} from the free lists or new memory (Node's Buffer present). */
function allocFresh(dtype: DType, size: number, bytes: number): TypedArray {
  const nodeBuffer = NodeBuffer!;
  if (freeBytes > 0) {
    const list = freeLists.get(poolKey(dtype, size));
    if (list !== undefined && list.length > 0) {
      freeBytes -= bytes;
      return list.pop()!;
    }
  }
  let buffer: ArrayBuffer;
  let byteOffset: number;
  if (bytes > SLAB_MAX_BYTES) {
    ({ buffer, byteOffset } = nodeBuffer.allocUnsafeSlow(bytes));
  } else {
    if (slab === undefined || slabUsed + bytes > SLAB_BYTES) {
      slab = nodeBuffer.allocUnsafeSlow(SLAB_BYTES).buffer;
      slabUsed = 0;
    }
    buffer = slab;
    byteOffset = slabUsed;
    // 16-byte steps keep every view aligned for float64 and for SIMD copies.
    slabUsed += (bytes + 15) & ~15;
  }
  if (dtype === 'float32') return new Float32Array(buffer, byteOffset, size);
  if (dtype === 'float64') return new Float64Array(buffer, byteOffset, size);
  return new Int32Array(buffer, byteOffset, size);
}

/** Zero-filled storage from the same allocator as {@link allocUninit}. */
export function allocZeroed(dtype: DType, size: number): TypedArray {
  const out = allocUninit(dtype, size);
  // A pooled array may still be read by a queued kernel (kernelQueue.ts).
  syncKernels();
  // On-heap arrays come zeroed already.
  if (out.byteLength > ON_HEAP_MAX_BYTES) out.fill(0);
  return out;
}

// --- Recycling (release scopes, src/ops/releaseScope.ts) ---------------------------------------------------

/**
 * Most bytes the free lists hold. A MAML iteration's intermediates (the Omniglot MLP's are about 40 MB) are
 * recycled whole; past this, recycled arrays are left to the garbage collector.
 */
const FREE_MAX_BYTES = 256 * 1024 * 1024;

/** Arrays handed back by {@link recycleArray}, by dtype and length: the next request of that kind reuses one. */
const freeLists = new Map<number, TypedArray[]>();
let freeBytes = 0;

/** One key per (dtype, length): a MAML iteration asks for the same few dozen kinds every time. */
function poolKey(dtype: DType, size: number): number {
  return size * 4 + (dtype === 'float32' ? 0 : dtype === 'float64' ? 1 : 2);
}

/**
 * Takes back `array`, which nothing reads or writes any more, so that {@link allocUninit} can hand it out
 * again. Why: an op result in a fresh ArrayBuffer is new external memory, and about 40 MB of it per Omniglot
 * meta-iteration made V8 run a full mark-compact every two or three iterations and its GC helper threads
 * take a quarter of the CPU time; reused arrays are also already mapped and warm in cache. Only arrays of
 * more than {@link ON_HEAP_MAX_BYTES} are kept (smaller ones are cheaper to allocate than to track).
 */
export function recycleArray(array: TypedArray): void {
  const bytes = array.byteLength;
  if (bytes <= ON_HEAP_MAX_BYTES || (anyPinned && pinned.has(array))) return;
  const dtype =
    array instanceof Float32Array ? 'float32' : array instanceof Float64Array ? 'float64' : 'int32';
  const key = poolKey(dtype, array.length);
  const lists = recordingFree ?? freeLists;
  if (recordingFree === undefined && freeBytes + bytes > FREE_MAX_BYTES) return;
  let list = lists.get(key);
  if (list === undefined) {
    list = [];
    lists.set(key, list);
  }
  list.push(array);
  if (recordingFree === undefined) freeBytes += bytes;
}

// --- Kernel programs (src/backends/cpu/kernelProgram.ts) ----------------------------------------------------

/**
 * While a kernel program records: the arrays recycled since it began, which only the recording reuses. A
 * recorded kernel runs again at every replay, so an array it uses must never serve anyone else: recycled
 * into the shared free lists, it could become another tensor's storage and be overwritten by the replay.
 */
let recordingFree: Map<number, TypedArray[]> | undefined;
/** Arrays some kernel program uses: never recycled again. */
const pinned = new WeakSet<object>();
let anyPinned = false;

/** A memory plan being followed by a recording: the arena its planned allocations are views of. */
interface PlanInUse {
  plan: MemoryPlan;
  arena: ArrayBuffer;
  /** Allocations so far. */
  next: number;
  /** The planned arrays handed out, by allocation index. */
  views: (TypedArray | undefined)[];
  /** The recording asked for an allocation the plan does not have: it did not repeat the first. */
  diverged: boolean;
}

/** While a recording logs its allocations (the first of a planned recording): each one, in order. */
let recordingLog: TypedArray[] | undefined;
/** While a recording follows a memory plan (the second): the plan. */
let recordingPlan: PlanInUse | undefined;

/** The next allocation of a planned recording: its view of the arena, or undefined to allocate as usual. */
function takePlanned(p: PlanInUse, key: number, dtype: DType, size: number): TypedArray | undefined {
  const k = p.next++;
  if (p.diverged || k >= p.plan.kinds.length || p.plan.kinds[k] !== key) {
    p.diverged = true;
    return undefined;
  }
  const offset = p.plan.offsets[k]!;
  if (offset < 0) return undefined;
  const view =
    dtype === 'float32'
      ? new Float32Array(p.arena, offset, size)
      : dtype === 'float64'
        ? new Float64Array(p.arena, offset, size)
        : new Int32Array(p.arena, offset, size);
  p.views[k] = view;
  return view;
}

/**
 * @internal Recycling goes to a pool of the recording's own from now on (kernelProgram.ts). `log`: record
 * every allocation and reuse none (the first recording of a memory plan); `plan`: hand out the planned
 * allocations as views of one arena (the second).
 */
export function beginRecordingPool(options: { log?: boolean; plan?: MemoryPlan } = {}): void {
  recordingFree = new Map();
  recordingLog = options.log === true ? [] : undefined;
  recordingPlan =
    options.plan === undefined
      ? undefined
      : {
          plan: options.plan,
          arena: new ArrayBuffer(Math.max(ALIGNED_ARENA_MIN, options.plan.arenaBytes)),
          next: 0,
          views: [],
          diverged: false,
        };
}

/** Smallest arena (an ArrayBuffer of 0 bytes has no address to view). */
const ALIGNED_ARENA_MIN = 64;

/** What a recording's pool saw (for a memory plan): its allocations in order, and which were given back. */
export interface RecordingPoolReport {
  allocations: RecordedAllocation[];
  /** With a plan: the arena and its views (none when the recording did not follow the plan to the end). */
  planned?: { arena: ArrayBuffer; views: TypedArray[] };
}

/**
 * @internal Ends the recording's pool; `pin`: the arrays of the program recorded, never recycled from now on
 * (the program's own pool is dropped: its arrays are the program's). With a plan, its views are pinned too.
 */
export function endRecordingPool(pin: readonly object[] | undefined): RecordingPoolReport {
  const given = new Set<TypedArray>();
  for (const list of recordingFree?.values() ?? []) for (const a of list) given.add(a);
  const log = recordingLog ?? [];
  const report: RecordingPoolReport = {
    allocations: log.map((array) => ({ array, dead: given.has(array) })),
  };
  const p = recordingPlan;
  // The plan held only if the recording made the same allocations and gave back every planned one.
  if (p !== undefined && !p.diverged && p.next === p.plan.kinds.length) {
    const views = p.views.filter((v): v is TypedArray => v !== undefined);
    if (views.every((v) => given.has(v))) report.planned = { arena: p.arena, views };
  }
  recordingFree = undefined;
  recordingLog = undefined;
  recordingPlan = undefined;
  if (pin !== undefined) pinArrays(pin);
  return report;
}

/** @internal Arrays a kernel program uses: never recycled from now on. */
export function pinArrays(arrays: readonly object[]): void {
  for (const a of arrays) pinned.add(a);
  anyPinned = true;
}

/** Bytes held for reuse now (for tests and diagnostics). */
export function recycledBytes(): number {
  return freeBytes;
}
