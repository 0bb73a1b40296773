import { max, mean } from '../ops/reduce.js';
import { reshape, slice } from '../ops/shape.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { expectInput, LayerError } from './errors.js';
import type { Layer } from './layer.js';
import {
  extractWindows,
  isPadded,
  type Padding,
  pair,
  type Size2,
  type WindowGeometry,
  windowGeometry,
} from './windows.js';

/** Options of {@link maxPool2d}. */
export interface MaxPool2dOptions {
  /** Window size, default 2. */
  poolSize?: Size2;
  /** Default: the pool size (non-overlapping windows). */
  strides?: Size2;
  /** Default `'valid'` (as MAML's conv4). */
  padding?: Padding;
}

/**
 * Max-pooling over NHWC images (and `[T, N, H, W, C]` when batched; it has no parameters).
 *
 * A composite of differentiable primitives, so it has derivatives of every order. Non-overlapping windows
 * that tile the (cropped) image are a crop, a reshape to `[B, outH, kh, outW, kw, C]` and a `max` over the two
 * window axes; any other geometry extracts the windows with one gather (padding with -Infinity, so padding
 * never wins) and takes the `max` over the window axis.
 *
 * Ties: `max` shares the gradient equally among the elements of a window that attain the maximum
 * (TensorFlow's reduce_max rule, not tf.nn.max_pool's "first one wins"), so a window of equal values passes
 * 1/k of the gradient to each of its k maxima.
 */
export function maxPool2d(options: MaxPool2dOptions = {}): Layer {
  const k = pair('maxPool2d', 'poolSize', options.poolSize ?? 2);
  const s = pair('maxPool2d', 'strides', options.strides ?? k);
  const padding = options.padding ?? 'valid';
  let name = 'maxPool2d';
  let inShape: number[] = [];
  let geom: WindowGeometry | undefined;
  return {
    kind: 'maxPool2d',
    build(inputShape, prefix) {
      name = prefix;
      if (inputShape.length !== 3)
        throw new LayerError(prefix, `expects per-example images [H,W,C], got ${fmtShape(inputShape)}`);
      inShape = [...inputShape];
      geom = windowGeometry(prefix, inShape[0]!, inShape[1]!, k, s, padding);
      return { specs: [], outputShape: [geom.outH, geom.outW, inShape[2]!] };
    },
    apply(_params, x, ctx) {
      if (!geom) throw new LayerError(name, 'apply() before build(); wrap the layer in a Model');
      expectInput(name, x.shape, inShape, ctx.batched);
      const lead = x.shape.slice(0, ctx.batched ? 2 : 1);
      const images = lead.reduce((a, b) => a * b, 1);
      const c = inShape[2]!;
      const y = poolImages(reshape(x, [images, ...inShape]), geom);
      return reshape(y, [...lead, geom.outH, geom.outW, c]);
    },
  };
}

function poolImages(x: Tensor, g: WindowGeometry): Tensor {
  const [b, , , c] = x.shape as [number, number, number, number];
  if (g.kh === g.sh && g.kw === g.sw && !isPadded(g)) {
    // Tiling windows: no index tensor and no copy beyond the crop (a no-op when the size divides evenly).
    const cropped = slice(x, [0, 0, 0, 0], [b, g.outH * g.kh, g.outW * g.kw, c]);
    return max(reshape(cropped, [b, g.outH, g.kh, g.outW, g.kw, c]), { axis: [2, 4] });
  }
  return max(extractWindows(x, g, Number.NEGATIVE_INFINITY), { axis: 2 });
}

/**
 * Global average pooling: the mean over the spatial axes of NHWC images, `[.., H, W, C] -> [.., C]` (the
 * readout of MAML's strided conv4 on Omniglot).
 */
export function globalAvgPool2d(): Layer {
  let name = 'globalAvgPool2d';
  let inShape: number[] = [];
  return {
    kind: 'globalAvgPool2d',
    build(inputShape, prefix) {
      name = prefix;
      if (inputShape.length !== 3)
        throw new LayerError(prefix, `expects per-example images [H,W,C], got ${fmtShape(inputShape)}`);
      inShape = [...inputShape];
      return { specs: [], outputShape: [inShape[2]!] };
    },
    apply(_params, x, ctx) {
      expectInput(name, x.shape, inShape, ctx.batched);
      return mean(x, { axis: [-3, -2] });
    },
  };
}
