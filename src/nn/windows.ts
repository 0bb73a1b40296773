import type { Backend } from '../backends/backend.js';
import { fromArray } from '../ops/creation.js';
import { outsideReleaseScopes } from '../ops/releaseScope.js';
import { gather, pad, reshape } from '../ops/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { LayerError } from './errors.js';

/** Padding of a sliding-window layer: TensorFlow's `'same'` (output ceil(in / stride)) or `'valid'` (no padding). */
export type Padding = 'same' | 'valid';

/** A window size or stride: one number for both spatial axes, or `[height, width]`. */
export type Size2 = number | readonly [number, number];

/** The geometry of a 2-D sliding window over an `[H, W]` image. */
export interface WindowGeometry {
  inH: number;
  inW: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  outH: number;
  outW: number;
  /** Rows/columns of padding before and after (TensorFlow puts the odd one after). */
  padTop: number;
  padBottom: number;
  padLeft: number;
  padRight: number;
}

/** `[h, w]` of a {@link Size2}, checked to be positive integers. */
export function pair(layer: string, what: string, v: Size2): [number, number] {
  const p: [number, number] = typeof v === 'number' ? [v, v] : [v[0], v[1]];
  if (!p.every((d) => Number.isInteger(d) && d > 0))
    throw new LayerError(layer, `${what} must be positive integers, got ${JSON.stringify(v)}`);
  return p;
}

/** Output size and padding of a window of `[kh, kw]` moving by `[sh, sw]` over `[inH, inW]` (TensorFlow's rules). */
export function windowGeometry(
  layer: string,
  inH: number,
  inW: number,
  k: [number, number],
  s: [number, number],
  padding: Padding,
): WindowGeometry {
  const [kh, kw] = k;
  const [sh, sw] = s;
  const axis = (n: number, kk: number, ss: number): [number, number, number] => {
    if (padding === 'valid') {
      if (n < kk)
        throw new LayerError(
          layer,
          `a ${kh}x${kw} window does not fit a ${inH}x${inW} input with 'valid' padding`,
        );
      return [Math.floor((n - kk) / ss) + 1, 0, 0];
    }
    const out = Math.ceil(n / ss);
    const total = Math.max((out - 1) * ss + kk - n, 0);
    return [out, Math.floor(total / 2), total - Math.floor(total / 2)];
  };
  const [outH, padTop, padBottom] = axis(inH, kh, sh);
  const [outW, padLeft, padRight] = axis(inW, kw, sw);
  return { inH, inW, kh, kw, sh, sw, outH, outW, padTop, padBottom, padLeft, padRight };
}

/** Whether the geometry pads at all. */
export function isPadded(g: WindowGeometry): boolean {
  return g.padTop + g.padBottom + g.padLeft + g.padRight > 0;
}

// Index tensors depend only on the geometry, and a network sees a handful of input shapes, so each is built
// once per backend and reused by every forward (and, through gather/scatterAdd, every backward) pass.
const indexCache = new WeakMap<Backend, Map<string, Tensor>>();

/**
 * The int32 im2col index tensor `[outH * outW, kh * kw]`: entry `(p, q)` is the flat position, in the padded
 * `[H + pads, W + pads]` image, of tap `q = ky * kw + kx` of output pixel `p = oy * outW + ox`.
 */
export function windowIndices(g: WindowGeometry, backend: Backend): Tensor {
  const key = [g.inH, g.inW, g.kh, g.kw, g.sh, g.sw, g.padTop, g.padBottom, g.padLeft, g.padRight].join(',');
  let byKey = indexCache.get(backend);
  if (!byKey) {
    byKey = new Map();
    indexCache.set(backend, byKey);
  }
  const hit = byKey.get(key);
  if (hit) return hit;
  const wp = g.inW + g.padLeft + g.padRight;
  const taps = g.kh * g.kw;
  const idx = new Int32Array(g.outH * g.outW * taps);
  let o = 0;
  for (let oy = 0; oy < g.outH; oy++) {
    for (let ox = 0; ox < g.outW; ox++) {
      for (let ky = 0; ky < g.kh; ky++) {
        const row = (oy * g.sh + ky) * wp + ox * g.sw;
        for (let kx = 0; kx < g.kw; kx++) idx[o++] = row + kx;
      }
    }
  }
  const shape = [g.outH * g.outW, taps];
  // Uploaded to the input's backend (not the current one) so the gather never mixes backends; outside
  // release scopes, as the cache outlives the scope that first asks.
  const t = outsideReleaseScopes(() => fromArray(idx, shape, backend));
  byKey.set(key, t);
  return t;
}

/**
 * Extracts the sliding windows of a batch of NHWC images `[B, H, W, C]` as `[B, outH * outW, kh * kw, C]`
 * with one pad and one gather. Padding uses `padValue` (0 for convolution, -Infinity for max-pooling). Both
 * ops are differentiable to every order: gather's gradient is scatterAdd and pad's is slice, and vice versa.
 */
export function extractWindows(x: Tensor, g: WindowGeometry, padValue = 0): Tensor {
  const [b, , , c] = x.shape as [number, number, number, number];
  const padded = pad(
    x,
    [
      [0, 0],
      [g.padTop, g.padBottom],
      [g.padLeft, g.padRight],
      [0, 0],
    ],
    padValue,
  );
  const hp = g.inH + g.padTop + g.padBottom;
  const wp = g.inW + g.padLeft + g.padRight;
  return gather(reshape(padded, [b, hp * wp, c]), windowIndices(g, x.backend), 1);
}
