import type { DeviceArray } from './device-array.js';

/**
 * The inverse of an index list for `scatterAdd`, in compressed sparse row form packed into one float array:
 * `table[0..dim]` are row offsets (row `d` owns `table[dim + 1 + table[d] .. dim + 1 + table[d + 1]]`) and the
 * rows hold the positions `t` with `indices[t] === d`, in increasing `t`. The table has `dim + 1 + n` entries
 * whatever the values (positions of out-of-range indices are left out and the tail stays 0), so its size, which
 * gpu.js bakes into a kernel, depends only on the shapes.
 */
export interface InverseIndex {
  /** Offsets, then positions; exact in float32 for every count below 2^24. */
  readonly table: Float32Array;
  /** The longest row: the loop bound of the kernel that sums each row. */
  readonly maxDegree: number;
}

/**
 * Builds the {@link InverseIndex} of `indices` (integer values) over `[0, dim)` by a counting sort: O(n + dim)
 * host work. Indices outside `[0, dim)` scatter nowhere, as in the device kernels (the ops layer rejects them
 * on the host before they get here).
 */
export function buildInverseIndex(indices: ArrayLike<number>, dim: number): InverseIndex {
  const n = indices.length;
  const table = new Float32Array(dim + 1 + n);
  const counts = new Int32Array(dim);
  for (let t = 0; t < n; t++) {
    const d = indices[t]!;
    if (d >= 0 && d < dim) counts[d]!++;
  }
  let maxDegree = 0;
  let at = 0;
  const next = new Int32Array(dim);
  for (let d = 0; d < dim; d++) {
    table[d] = at;
    next[d] = at;
    at += counts[d]!;
    if (counts[d]! > maxDegree) maxDegree = counts[d]!;
  }
  table[dim] = at;
  // Positions are visited in increasing t, so each row lists its contributions in index order and the kernel
  // adds them in the order the CPU backend does.
  for (let t = 0; t < n; t++) {
    const d = indices[t]!;
    if (d >= 0 && d < dim) table[dim + 1 + next[d]!++] = t;
  }
  return { table, maxDegree };
}

/** An inverse index as the scatter kernel binds it: its table on the device and the table's longest row. */
export interface DeviceInverseIndex {
  readonly table: DeviceArray;
  readonly maxDegree: number;
}

/**
 * The device inverse indices of a backend, one per index tensor storage and scatter length `dim`, built on the
 * first scatter through that tensor and uploaded once. Index tensors never change after upload (every kernel
 * output is a fresh array), so a storage handle's identity is its version. Entries go with their handle: the
 * map holds handles weakly, and {@link InverseIndexCache.release} frees the device tables when the backend
 * frees the handle's own storage.
 */
export class InverseIndexCache {
  private readonly byHandle = new WeakMap<object, Map<number, DeviceInverseIndex>>();
  private builds_ = 0;

  constructor(private readonly upload: (table: Float32Array) => DeviceArray) {}

  /** Inverse indices built (and uploaded) so far; flat in a steady-state training step. */
  get builds(): number {
    return this.builds_;
  }

  /**
   * The inverse index of the index storage `handle` over `[0, dim)`, building it from `values` (the indices on
   * the host, asked for only on a miss) the first time; undefined when the host values are not available.
   */
  get(
    handle: object,
    dim: number,
    values: () => ArrayLike<number> | undefined,
  ): DeviceInverseIndex | undefined {
    let byDim = this.byHandle.get(handle);
    const hit = byDim?.get(dim);
    if (hit) return hit;
    const host = values();
    if (host === undefined) return undefined;
    const { table, maxDegree } = buildInverseIndex(host, dim);
    const entry = { table: this.upload(table), maxDegree };
    this.builds_++;
    if (!byDim) {
      byDim = new Map();
      this.byHandle.set(handle, byDim);
    }
    byDim.set(dim, entry);
    return entry;
  }

  /** Frees the device tables built for `handle` (called when the handle's storage is freed). */
  release(handle: object): void {
    const byDim = this.byHandle.get(handle);
    if (!byDim) return;
    for (const e of byDim.values()) e.table.dispose();
    this.byHandle.delete(handle);
  }
}
