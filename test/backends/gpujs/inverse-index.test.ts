/**
 * scatterAdd through a cached inverse index: the host-side table against a plain scan of the indices, and the
 * backend's kernel against the CPU backend, including how much work it does (its loop steps must follow the
 * most contributions any output receives, not the number of indices) and when it builds a table (once per
 * index tensor and scatter length, never again in a steady state).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { KernelTensor } from '../../../src/backends/backend.js';
import { DeviceArray } from '../../../src/backends/gpujs/device-array.js';
import { createGpujsBackend, type GpujsBackend } from '../../../src/backends/gpujs/index.js';
import { buildInverseIndex, InverseIndexCache } from '../../../src/backends/gpujs/inverse-index.js';
import type { TypedArray } from '../../../src/tensor/dtype.js';
import { type Shape, sizeOf } from '../../../src/tensor/shape.js';
import { cpu, expectClose, modesUnderTest, put, randomValues, rng } from './harness.js';

/** The rows of a table, read back as position lists. */
function rowsOf(table: Float32Array, dim: number): number[][] {
  return Array.from({ length: dim }, (_, d) =>
    Array.from(table.subarray(dim + 1 + table[d]!, dim + 1 + table[d + 1]!)),
  );
}

describe('buildInverseIndex', () => {
  it('lists, for each output, the positions that name it in index order, skipping out-of-range ones', () => {
    const r = rng(3);
    const dim = 7;
    const indices = Array.from({ length: 40 }, () => Math.floor(r() * (dim + 3)) - 1);
    const { table, maxDegree } = buildInverseIndex(indices, dim);
    expect(table.length).toBe(dim + 1 + indices.length);
    const expected = Array.from({ length: dim }, (_, d) => indices.flatMap((v, t) => (v === d ? [t] : [])));
    expect(rowsOf(table, dim)).toEqual(expected);
    expect(maxDegree).toBe(Math.max(...expected.map((row) => row.length)));
    expect(indices.some((v) => v < 0 || v >= dim)).toBe(true);
  });

  it('gives a convolution window index at most kernel-size contributions per padded pixel', () => {
    // 'same' 3x3 windows over 5x5, in the 7x7 padded image.
    const idx: number[] = [];
    for (let oy = 0; oy < 5; oy++)
      for (let ox = 0; ox < 5; ox++)
        for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) idx.push((oy + ky) * 7 + ox + kx);
    const { table, maxDegree } = buildInverseIndex(idx, 49);
    expect(maxDegree).toBe(9);
    // Corners of the padded image belong to one window, the interior to nine.
    expect(rowsOf(table, 49)[0]).toEqual([0]);
    expect(rowsOf(table, 49)[3 * 7 + 3]!.length).toBe(9);
  });

  it('has no rows to sum when nothing is in range', () => {
    expect(buildInverseIndex([5, -1, 9], 3).maxDegree).toBe(0);
  });
});

describe('InverseIndexCache', () => {
  it('builds once per handle and length, and frees the device tables with the handle', () => {
    const uploaded: DeviceArray[] = [];
    const cache = new InverseIndexCache((table) => {
      const a = DeviceArray.ready(table.length, table);
      uploaded.push(a);
      return a;
    });
    const handle = {};
    let asked = 0;
    const values = () => {
      asked++;
      return [0, 2, 2];
    };
    const a = cache.get(handle, 3, values);
    expect(cache.get(handle, 3, values)).toBe(a);
    const b = cache.get(handle, 4, values);
    expect(b).not.toBe(a);
    expect([cache.builds, asked, uploaded.length]).toEqual([2, 2, 2]);
    expect(cache.get({}, 3, () => undefined)).toBeUndefined();
    cache.release(handle);
    expect(uploaded.every((u) => u.isReleased)).toBe(true);
    cache.get(handle, 3, values);
    expect(cache.builds).toBe(3);
  });
});

/** scatterAdd on a gpu.js backend and on the float64 CPU backend, same (float32) inputs. */
async function scatterBoth(
  b: GpujsBackend,
  updates: Float32Array,
  uShape: Shape,
  indices: KernelTensor,
  hostIndices: Int32Array,
  axis: number,
  outShape: Shape,
): Promise<{ got: TypedArray; ref: TypedArray }> {
  const u = put(b, updates, uShape);
  const got = await b.read({
    handle: b.scatterAdd(u, indices, axis, outShape),
    shape: outShape,
    dtype: 'float32',
  });
  const cu = put(cpu, updates, uShape, 'float64');
  const ci = put(cpu, hostIndices, [hostIndices.length], 'int32');
  const ref = cpu.readSync({
    handle: cpu.scatterAdd(cu, ci, axis, outShape),
    shape: outShape,
    dtype: 'float64',
  });
  return { got, ref };
}

/** Each output sums at most `terms` updates of |u| <= 2; a float32 sum is within (terms)·u·Σ|u| of exact. */
const tolFor = (terms: number) => ({ rtol: 4 * 2 ** -24, atol: (terms + 2) * 2 ** -24 * 2 * terms });

for (const mode of modesUnderTest()) {
  describe(`gpujs:${mode} scatterAdd through the inverse index`, () => {
    const opened: GpujsBackend[] = [];
    afterAll(async () => {
      for (const b of opened) await b.destroy();
    });
    const fresh = async () => {
      const b = await createGpujsBackend(mode);
      opened.push(b);
      return b;
    };

    it('sums a conv patch gradient with kernel-size loop steps per output and builds its table once', async () => {
      const b = await fresh();
      const r = rng(11);
      // 'same' 3x3 windows over a 6x6 image with 3 channels and 2 images: updates [2, 36*9, 3] into [2, 64, 3].
      const idx: number[] = [];
      for (let oy = 0; oy < 6; oy++)
        for (let ox = 0; ox < 6; ox++)
          for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) idx.push((oy + ky) * 8 + ox + kx);
      const host = Int32Array.from(idx);
      const indices = put(b, host, [36, 9], 'int32');
      const outShape = [2, 64, 3];
      const n = sizeOf(outShape);
      for (let k = 0; k < 2; k++) {
        const before = b.stats;
        const updates = randomValues(r, 2 * idx.length * 3);
        const { got, ref } = await scatterBoth(b, updates, [2, idx.length, 3], indices, host, 1, outShape);
        expectClose(got, ref, tolFor(9), `conv patch scatter, call ${k}`);
        const after = b.stats;
        expect(after.scatterLoopSteps - before.scatterLoopSteps).toBe(n * 9);
        expect(after.inverseIndexBuilds - before.inverseIndexBuilds).toBe(k === 0 ? 1 : 0);
      }
    });

    it('accumulates duplicates and skips out-of-range indices as the CPU does, per scatter length', async () => {
      const b = await fresh();
      const r = rng(12);
      const host = Int32Array.from({ length: 30 }, () => Math.floor(r() * 5));
      const indices = put(b, host, [30], 'int32');
      for (const dim of [5, 7]) {
        const updates = randomValues(r, 30 * 4);
        const { got, ref } = await scatterBoth(b, updates, [30, 4], indices, host, 0, [dim, 4]);
        expectClose(got, ref, tolFor(30), `scatter of 30 indices into ${dim} rows`);
      }
      expect(b.stats.inverseIndexBuilds).toBe(2);
    });

    it('gives the same result for indices computed on the device', async () => {
      const b = await fresh();
      const r = rng(13);
      const host = Int32Array.from({ length: 12 }, () => Math.floor(r() * 4));
      // host + 1 - 1 on the device: no upload-time copy of these values exists.
      const shifted = put(
        b,
        Int32Array.from(host, (v) => v + 1),
        [12],
        'int32',
      );
      const one = put(b, Int32Array.of(1), [1], 'int32');
      const indices: KernelTensor = {
        handle: b.binary('sub', shifted, one, [12]),
        shape: [12],
        dtype: 'int32',
      };
      const updates = randomValues(r, 12 * 3);
      const { got, ref } = await scatterBoth(b, updates, [12, 3], indices, host, 0, [4, 3]);
      expectClose(got, ref, tolFor(12), 'scatter through device-computed indices');
    });
  });
}
