import { add } from '../ops/elementwise.js';
import { matmul } from '../ops/linalg.js';
import { reshape } from '../ops/shape.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { type ActivationName, activationFn } from './activations.js';
import { expectInput, LayerError } from './errors.js';
import type { Initializer } from './init.js';
import { type ApplyContext, alignParam, type Layer, type ParamSpec, param } from './layer.js';
import type { Params } from './params.js';
import {
  extractWindows,
  type Padding,
  pair,
  type Size2,
  type WindowGeometry,
  windowGeometry,
} from './windows.js';

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Window size, default 3 (3x3). */
  kernelSize?: Size2;
  /** Default 1. */
  strides?: Size2;
  /** Default `'same'`. */
  padding?: Padding;
  activation?: ActivationName;
  useBias?: boolean;
  kernelInit?: Initializer;
  biasInit?: Initializer;
}

/**
 * A 2-D convolution (cross-correlation, as in TensorFlow) over NHWC images with a kernel `[kh, kw, cin,
 * filters]` and an optional bias `[filters]`.
 *
 * It is a composite, so every derivative order comes from the primitives: pad, then im2col as ONE gather
 * with a cached int32 index tensor (giving `[B, outH*outW, kh*kw, cin]`), then one matmul against the kernel
 * reshaped to `[kh*kw*cin, filters]`. In batched mode (`[T, N, H, W, cin]`) the task axis is merged into the
 * patch batch; a per-task kernel `[T, kh, kw, cin, filters]` then makes it one batched matmul
 * `[T, N*outH*outW, K] x [T, K, filters]` for the whole meta-batch.
 */
export function conv2d(filters: number, options: Conv2dOptions = {}): Layer {
  if (!Number.isInteger(filters) || filters <= 0)
    throw new LayerError('conv2d', `filters must be a positive integer, got ${filters}`);
  const act = activationFn(options.activation ?? 'linear');
  const useBias = options.useBias ?? true;
  const padding = options.padding ?? 'same';
  const k = pair('conv2d', 'kernelSize', options.kernelSize ?? 3);
  const s = pair('conv2d', 'strides', options.strides ?? 1);
  let name = 'conv2d';
  let inShape: number[] = [];
  let geom: WindowGeometry | undefined;
  return {
    kind: 'conv2d',
    build(inputShape, prefix) {
      name = prefix;
      if (inputShape.length !== 3) {
        throw new LayerError(prefix, `expects per-example images [H,W,C], got ${fmtShape(inputShape)}`);
      }
      const [h, w, cin] = inputShape as [number, number, number];
      inShape = [h, w, cin];
      geom = windowGeometry(prefix, h, w, k, s, padding);
      const fanIn = k[0] * k[1] * cin;
      const fanOut = k[0] * k[1] * filters;
      const specs: ParamSpec[] = [
        {
          name: `${prefix}/kernel`,
          shape: [k[0], k[1], cin, filters],
          init: options.kernelInit ?? 'glorotUniform',
          fanIn,
          fanOut,
        },
      ];
      if (useBias)
        specs.push({
          name: `${prefix}/bias`,
          shape: [filters],
          init: options.biasInit ?? 'zeros',
          fanIn,
          fanOut,
        });
      return { specs, outputShape: [geom.outH, geom.outW, filters] };
    },
    apply(params: Params, x: Tensor, ctx: ApplyContext) {
      if (!geom) throw new LayerError(name, 'apply() before build(); wrap the layer in a Model');
      expectInput(name, x.shape, inShape, ctx.batched);
      const kernel = param(params, `${name}/kernel`);
      const taps = geom.kh * geom.kw * inShape[2]!;
      const lead = x.shape.slice(0, ctx.batched ? 2 : 1);
      const images = lead.reduce((a, b) => a * b, 1);
      const pixels = geom.outH * geom.outW;
      const patches = extractWindows(reshape(x, [images, ...inShape]), geom);
      let y: Tensor;
      if (kernel.rank === 4) {
        // Shared kernel: every patch of every image (and task) in one [rows, K] x [K, filters] product.
        y = matmul(reshape(patches, [images * pixels, taps]), reshape(kernel, [taps, filters]));
      } else if (kernel.rank === 5 && ctx.batched && kernel.shape[0] === lead[0]) {
        const t = lead[0]!;
        y = matmul(reshape(patches, [t, (images / t) * pixels, taps]), reshape(kernel, [t, taps, filters]));
      } else {
        throw new LayerError(
          name,
          `kernel of shape ${fmtShape(kernel.shape)} does not fit input ${fmtShape(x.shape)}${ctx.batched ? ' (batched: kernel [T,kh,kw,cin,out] or shared)' : ''}`,
        );
      }
      y = reshape(y, [...lead, geom.outH, geom.outW, filters]);
      if (useBias) y = add(y, alignParam(param(params, `${name}/bias`), 1, y.rank));
      return act(y);
    },
  };
}
