/**
 * Memory plans for kernel programs (src/backends/cpu/kernelProgram.ts): where a recorded computation's dead
 * intermediates can live so that they share memory.
 *
 * A program keeps every array its kernels use, so a recorded Omniglot MLP meta-gradient holds 38 MB (22 MB
 * for a 16-task slice), where the op-by-op computation frees intermediates as it goes. Most of them are dead
 * long before the program ends: a kernel program runs its kernels in a fixed order, so an array is needed
 * only from the first kernel that uses it to the last, and two arrays whose spans do not overlap can share
 * memory. Packed that way, a program touches less memory per run: more of it stays in cache, and two
 * programs running at once on two cores (task slices) compete less for the cache they share.
 *
 * Only arrays that JavaScript gave back (recycled) by the end of the recording are planned: those are dead to
 * everything but the program. Results, and anything JavaScript kept (a cache, say), keep storage of their own.
 */
import type { TypedArray } from '../../tensor/dtype.js';

/** An array allocated while a program recorded, and whether JavaScript gave it back by the recording's end. */
export interface RecordedAllocation {
  array: TypedArray;
  dead: boolean;
}

/** Where each allocation of a recording goes when the computation is recorded again. */
export interface MemoryPlan {
  /** Per allocation, in order: its byte offset in the arena, or -1 to allocate it as usual. */
  offsets: number[];
  /** Per allocation: its element type and length (`kindOf`), which the second recording must repeat. */
  kinds: number[];
  /** Bytes of the arena the planned allocations share. */
  arenaBytes: number;
  /** Bytes the planned allocations took one by one. */
  plannedBytes: number;
}

/** Planned arrays start on cache-line boundaries (SIMD loads need 16 bytes; 64 keeps two from sharing a line). */
const ALIGN = 64;

/** An array's element type and length as one number. */
export function kindOf(a: TypedArray): number {
  return a.length * 4 + (a instanceof Float32Array ? 0 : a instanceof Float64Array ? 1 : 2);
}

interface Span {
  index: number;
  start: number;
  end: number;
  bytes: number;
  first: number;
  last: number;
}

/**
 * The plan for a recording's allocations (`allocations`, in order), given the arrays its kernels used:
 * `kernelArrays` is every kernel's arrays in program order, kernel `k`'s from `kernelEnds[k - 1]` (0 for the
 * first) to `kernelEnds[k]`.
 */
export function planMemory(
  allocations: readonly RecordedAllocation[],
  kernelArrays: readonly object[],
  kernelEnds: readonly number[],
): MemoryPlan {
  // The dead allocations, by the buffer they live in, sorted by where they start in it.
  const byBuffer = new Map<ArrayBufferLike, Span[]>();
  const spans: Span[] = [];
  allocations.forEach(({ array, dead }, index) => {
    if (!dead) return;
    const span = {
      index,
      start: array.byteOffset,
      end: array.byteOffset + array.byteLength,
      bytes: array.byteLength,
      first: Number.POSITIVE_INFINITY,
      last: -1,
    };
    spans.push(span);
    let list = byBuffer.get(array.buffer);
    if (list === undefined) {
      list = [];
      byBuffer.set(array.buffer, list);
    }
    list.push(span);
  });
  for (const list of byBuffer.values()) list.sort((a, b) => a.start - b.start);
  // Each kernel extends the span of every planned allocation whose memory any of its arrays overlaps.
  let from = 0;
  kernelEnds.forEach((to, k) => {
    for (let j = from; j < to; j++) {
      const a = kernelArrays[j];
      if (!ArrayBuffer.isView(a)) continue;
      const list = byBuffer.get(a.buffer);
      if (list === undefined) continue;
      const lo = a.byteOffset;
      const hi = lo + a.byteLength;
      // The first span that ends after lo (spans in one buffer never overlap), then every one starting before hi.
      let left = 0;
      let right = list.length;
      while (left < right) {
        const mid = (left + right) >> 1;
        if (list[mid]!.end <= lo) left = mid + 1;
        else right = mid;
      }
      for (let i = left; i < list.length && list[i]!.start < hi; i++) {
        const s = list[i]!;
        if (k < s.first) s.first = k;
        if (k > s.last) s.last = k;
      }
    }
    from = to;
  });
  // Largest first, each at the lowest offset where it overlaps no placed span that is alive with it.
  const offsets = allocations.map(() => -1);
  const placed: { offset: number; span: Span }[] = [];
  let arenaBytes = 0;
  let plannedBytes = 0;
  for (const s of [...spans].sort((a, b) => b.bytes - a.bytes || a.index - b.index)) {
    plannedBytes += s.bytes;
    // An array no kernel used still needs storage; alive nowhere, it may share any.
    const busy =
      s.last < 0
        ? []
        : placed.filter((p) => p.span.last >= 0 && p.span.first <= s.last && s.first <= p.span.last);
    busy.sort((a, b) => a.offset - b.offset);
    let offset = 0;
    for (const p of busy) {
      if (offset + s.bytes <= p.offset) break;
      offset = Math.max(offset, roundUp(p.offset + p.span.bytes));
    }
    offsets[s.index] = offset;
    placed.push({ offset, span: s });
    arenaBytes = Math.max(arenaBytes, roundUp(offset + s.bytes));
  }
  return { offsets, kinds: allocations.map((a) => kindOf(a.array)), arenaBytes, plannedBytes };
}

const roundUp = (n: number): number => Math.ceil(n / ALIGN) * ALIGN;
