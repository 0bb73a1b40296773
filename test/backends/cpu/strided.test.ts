import { describe, expect, it } from 'vitest';
import { nativeAddonReason } from '../../../src/backends/cpu/native/addon.js';
import { nativeElementwise } from '../../../src/backends/cpu/native/elementwise.js';
import {
  broadcastCopy,
  broadcastCopyJs,
  NATIVE_COPY_MIN_ELEMENTS,
  stridedCopy,
  stridedCopyJs,
} from '../../../src/backends/cpu/strided.js';
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

/** The copy element by element: out[i] = src[base + sum(index[d] * strides[d])], i row-major over out. */
function referenceCopy(
  src: Float32Array,
  base: number,
  strides: readonly number[],
  out: number[],
): Float32Array {
  const dst = new Float32Array(size(out));
  const idx = out.map(() => 0);
  for (let i = 0; i < dst.length; i++) {
    let p = base;
    for (let d = 0; d < out.length; d++) p += idx[d]! * strides[d]!;
    dst[i] = src[p]!;
    for (let d = out.length - 1; d >= 0; d--) {
      if (++idx[d]! < out[d]!) break;
      idx[d] = 0;
    }
  }
  return dst;
}

/** Bit patterns, so NaN payloads and the sign of zero count. */
const bitsOf = (x: Float32Array) => Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));

describe(`large float32 copies (from ${NATIVE_COPY_MIN_ELEMENTS} elements: native where built)`, () => {
  // CI builds the addon and sets METATAPE_REQUIRE_NATIVE=1: there a missing addon fails instead of skipping.
  const why = nativeElementwise === undefined ? ` (native part skipped: ${nativeAddonReason})` : '';
  let seed = 11;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  /** Source values with NaN, -0 and infinities mixed in. */
  const source = (n: number) =>
    Float32Array.from({ length: n }, (_, i) =>
      i % 97 === 3 ? Number.NaN : i % 89 === 5 ? -0 : i % 83 === 7 ? -Infinity : (i * 0.37) % 11,
    );

  it(`transpose, slice and broadcast copies equal the element-by-element copy${why}`, () => {
    let native = 0;
    for (let trial = 0; trial < 150; trial++) {
      const rank = 1 + Math.floor(next() * 4);
      const inShape = Array.from({ length: rank }, () => 1 + Math.floor(next() * 12));
      const inStrides = inShape.map((_, d) => size(inShape.slice(d + 1)));
      const kind = trial % 3;
      // Room past the input for the slices' offsets.
      let src = source(size(inShape) + 5);
      let base = 0;
      let strides: number[];
      let out: number[];
      if (kind === 0) {
        // transpose: a random permutation of the axes.
        const perm = inShape.map((_, d) => d).sort(() => next() - 0.5);
        out = perm.map((p) => inShape[p]!);
        strides = perm.map((p) => inStrides[p]!);
      } else if (kind === 1) {
        // slice: a random window, offset by `base`.
        const begin = inShape.map((d) => Math.floor(next() * d));
        out = inShape.map((d, i) => 1 + Math.floor(next() * (d - begin[i]!)));
        base = begin.reduce((s, b, i) => s + b * inStrides[i]!, 0) + (trial % 5);
        strides = inStrides;
      } else {
        // broadcastTo: size-1 axes of the input repeated, and a new leading axis.
        const lead = 1 + Math.floor(next() * 6);
        const ones = inShape.map((d) => (next() < 0.4 ? 1 : d));
        out = [lead, ...ones.map((d, i) => (d === 1 ? 1 + Math.floor(next() * 9) : inShape[i]!))];
        const srcStrides = ones.map((_, d) => size(ones.slice(d + 1)));
        // broadcastTo's source is exactly its input, of shape `ones`.
        src = source(size(ones));
        strides = [0, ...ones.map((d, i) => (d === 1 ? 0 : srcStrides[i]!))];
      }
      const want = referenceCopy(src, base, strides, out);
      const got = new Float32Array(want.length).fill(42);
      if (kind === 2 && base === 0) broadcastCopy(src, strides, out, got);
      else stridedCopy(src, base, strides, out, got);
      expect(bitsOf(got), `${kind} ${out} ${strides} ${base}`).toEqual(bitsOf(want));
      // The JS routines too, at every size (above the threshold the dispatch above takes the native copy).
      const js = new Float32Array(want.length).fill(42);
      stridedCopyJs(src, base, strides, out, js);
      expect(bitsOf(js)).toEqual(bitsOf(want));
      if (kind === 2) {
        broadcastCopyJs(src, strides, out, js.fill(42));
        expect(bitsOf(js)).toEqual(bitsOf(want));
      }
      if (nativeElementwise !== undefined && want.length > 0) {
        const direct = new Float32Array(want.length).fill(42);
        expect(nativeElementwise.copyStrided!(src, base, strides, out, direct)).toBe(true);
        expect(bitsOf(direct)).toEqual(bitsOf(want));
        if (want.length >= NATIVE_COPY_MIN_ELEMENTS) native++;
      }
    }
    // Enough of the copies are large enough for the native path, where it is built.
    if (nativeElementwise !== undefined) expect(native).toBeGreaterThan(30);
  });

  it.skipIf(nativeElementwise === undefined)(`native copy checks its geometry${why}`, () => {
    const e = nativeElementwise!;
    // A negative stride is left to the JS routine.
    expect(e.copyStrided!(new Float32Array(8), 7, [-1], [8], new Float32Array(8))).toBe(false);
    // Reaching past the source, or a shape that does not fill the output, throws instead of reading out of bounds.
    expect(() => e.copyStrided!(new Float32Array(8), 1, [1], [8], new Float32Array(8))).toThrow(
      /does not fit/,
    );
    expect(() => e.copyStrided!(new Float32Array(8), 0, [1], [4], new Float32Array(8))).toThrow(
      /does not fit/,
    );
    expect(() => e.copyStrided!(new Float32Array(8), 0, [2, 0], [5, 3], new Float32Array(15))).toThrow(
      /does not fit/,
    );
  });
});
