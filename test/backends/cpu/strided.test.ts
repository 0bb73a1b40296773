import { describe, expect, it } from 'vitest';
import { broadcastCopy, stridedCopy } from '../../../src/backends/cpu/strided.js';
import { broadcastStrides } from '../../../src/tensor/shape.js';

const size = (shape: readonly number[]): number => shape.reduce((x, y) => x * y, 1);

describe('broadcastCopy', () => {
  it('equals the per-element strided copy on every broadcast pattern of random shapes', () => {
    let seed = 7;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    let checked = 0;
    for (let trial = 0; trial < 400; trial++) {
      const rank = 1 + Math.floor(next() * 4);
      const out = Array.from({ length: rank }, () => Math.floor(next() * 5));
      // The source drops some leading axes and has 1 on a random subset of the rest.
      const lead = Math.floor(next() * rank);
      const src = out.slice(lead).map((d) => (next() < 0.5 ? 1 : d));
      const x = Float32Array.from({ length: size(src) }, (_, i) => i + 0.5);
      const strides = broadcastStrides(src, out);
      const want = new Float32Array(size(out));
      stridedCopy(x, 0, strides, out, want);
      const got = new Float32Array(size(out)).fill(Number.NaN);
      broadcastCopy(x, strides, out, got);
      expect({ src, out, got: Array.from(got) }).toEqual({ src, out, got: Array.from(want) });
      checked += want.length;
    }
    // The random shapes are not all empty.
    expect(checked).toBeGreaterThan(1000);
  });
});
