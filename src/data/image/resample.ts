/**
 * Separable, antialiased image resampling for single-channel images, following Pillow's `ImagingResample`:
 * when shrinking, the filter is stretched by the scale factor so every input pixel contributes (no aliasing).
 */
import { DataConfigError } from '../errors.js';

/**
 * The resampling filters, defined as Pillow's: `box` averages the input pixels whose centres fall in each
 * output pixel (`BOX`), `triangle` is `BILINEAR`, and `lanczos3` is `LANCZOS` (what MAML asks for).
 */
export type ResampleFilter = 'box' | 'triangle' | 'lanczos3';

const FILTERS: Record<ResampleFilter, { support: number; fn: (x: number) => number }> = {
  // Half-open on the left as in Pillow, so that every input pixel lands in exactly one output pixel.
  box: { support: 0.5, fn: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  triangle: { support: 1, fn: (x) => Math.max(0, 1 - Math.abs(x)) },
  lanczos3: { support: 3, fn: (x) => (x > -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

function sinc(x: number): number {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

/** Precomputed taps for resampling one axis from `inSize` to `outSize`; reusable for every image. */
export interface AxisWeights {
  inSize: number;
  outSize: number;
  /** Taps per output pixel (the widest); shorter rows are zero-padded. */
  taps: number;
  /** First input index of each output pixel. */
  start: Int32Array;
  /** Normalised weights, `outSize * taps`. */
  weights: Float32Array;
}

/**
 * Computes the taps that map an axis of `inSize` pixels to `outSize` pixels with `filter`.
 *
 * @throws DataConfigError on non-positive sizes.
 */
export function axisWeights(inSize: number, outSize: number, filter: ResampleFilter): AxisWeights {
  if (!(Number.isInteger(inSize) && inSize > 0 && Number.isInteger(outSize) && outSize > 0)) {
    throw new DataConfigError(`resample: sizes must be positive integers, got ${inSize} -> ${outSize}`);
  }
  const { support: baseSupport, fn } = FILTERS[filter];
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = baseSupport * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const weights = new Float32Array(outSize * taps);
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    const lo = Math.max(Math.floor(center - support + 0.5), 0);
    const hi = Math.min(Math.floor(center + support + 0.5), inSize);
    const row = new Float64Array(taps);
    let sum = 0;
    for (let i = lo; i < hi && i - lo < taps; i++) {
      const w = fn((i - center + 0.5) / filterScale);
      row[i - lo] = w;
      sum += w;
    }
    start[o] = lo;
    for (let k = 0; k < taps; k++) weights[o * taps + k] = sum === 0 ? 0 : row[k]! / sum;
  }
  return { inSize, outSize, taps, start, weights };
}

/** A reusable resampler between two fixed image sizes. */
export interface Resampler {
  /**
   * Resamples a row-major `inH x inW` image into `out` (row-major `outH x outW`). Values are not clamped:
   * Lanczos can overshoot the input range slightly.
   */
  resize(src: ArrayLike<number>, out: Float32Array): Float32Array;
}

/** Builds a resampler from `inW x inH` to `outW x outH` with one filter on both axes. */
export function createResampler(
  inW: number,
  inH: number,
  outW: number,
  outH: number,
  filter: ResampleFilter,
): Resampler {
  const wx = axisWeights(inW, outW, filter);
  const wy = axisWeights(inH, outH, filter);
  // Horizontal pass first: it shrinks each row, so the vertical pass touches fewer pixels.
  const tmp = new Float32Array(inH * outW);
  return {
    resize(src, out) {
      for (let y = 0; y < inH; y++) {
        const rowBase = y * inW;
        for (let x = 0; x < outW; x++) {
          const s = wx.start[x]!;
          const wBase = x * wx.taps;
          const n = Math.min(wx.taps, inW - s);
          let acc = 0;
          for (let k = 0; k < n; k++) acc += src[rowBase + s + k]! * wx.weights[wBase + k]!;
          tmp[y * outW + x] = acc;
        }
      }
      for (let y = 0; y < outH; y++) {
        const s = wy.start[y]!;
        const wBase = y * wy.taps;
        const n = Math.min(wy.taps, inH - s);
        for (let x = 0; x < outW; x++) {
          let acc = 0;
          for (let k = 0; k < n; k++) acc += tmp[(s + k) * outW + x]! * wy.weights[wBase + k]!;
          out[y * outW + x] = acc;
        }
      }
      return out;
    },
  };
}
