import { describe, expect, it } from 'vitest';
import { allocUninit, allocZeroed } from '../../../src/backends/cpu/alloc.js';
import type { DType, TypedArray } from '../../../src/tensor/dtype.js';

// Sizes on both sides of each allocator boundary: on-heap (<= 64 bytes), slab (<= 64 KiB), own buffer.
const SIZES = [0, 1, 16, 17, 100, 1000, 10_000, 16_384, 16_385, 40_000];
const DTYPES: DType[] = ['float32', 'float64', 'int32'];

describe('CPU storage allocator', () => {
  it('hands out arrays of the right type and length that never overlap, 16-byte aligned', () => {
    const live: { a: TypedArray; tag: number }[] = [];
    const bad: string[] = [];
    let tag = 1;
    // Enough rounds to fill several slabs.
    for (let round = 0; round < 8; round++)
      for (const dtype of DTYPES)
        for (const n of SIZES) {
          const a = allocUninit(dtype, n);
          const want =
            dtype === 'float32' ? 'Float32Array' : dtype === 'float64' ? 'Float64Array' : 'Int32Array';
          if (a.length !== n || a.constructor.name !== want || a.byteOffset % 16 !== 0)
            bad.push(`${dtype}[${n}]: ${a.constructor.name}[${a.length}] at byte ${a.byteOffset}`);
          a.fill(tag);
          live.push({ a, tag: tag++ });
        }
    // Every array still holds its own tag: no later allocation wrote into it.
    expect(bad).toEqual([]);
    const overwritten = live.filter(({ a, tag: t }) => !a.every((v) => v === t)).length;
    expect(overwritten).toBe(0);
  });

  it('allocZeroed is all zeros even where the slab memory was never cleared', () => {
    for (let round = 0; round < 10; round++)
      for (const dtype of DTYPES)
        for (const n of SIZES) {
          allocUninit(dtype, n).fill(7);
          const z = allocZeroed(dtype, n);
          expect(z.length).toBe(n);
          expect(z.every((v) => v === 0)).toBe(true);
        }
  });
});
