/**
 * Second-order numerical gradient checks (float64, central differences along random directions) of every
 * layer and of the two few-shot networks: the places where TensorFlow 1 needed hand-written second
 * derivatives (conv, max-pool, BatchNorm) get theirs here from the primitives' rules alone.
 */
import { describe, expect, it } from 'vitest';
import {
  activation,
  batchNorm,
  checkGrads,
  conv2d,
  conv4,
  dense,
  GradCheckError,
  type Layer,
  Model,
  mamlMlp,
  maxPool2d,
  type Params,
  square,
  stopGradient,
  type Tensor,
} from '../../src/index.js';
import { f64, f64Params, perTaskParams } from './helpers.js';

interface Check {
  net: Model;
  x: Tensor;
  params: Params;
  batched?: boolean;
  /** Applied to the network's output (a smooth nonlinearity makes the second order non-trivial for piecewise-linear layers). */
  post?: (y: Tensor) => Tensor;
}

/** Checks the derivatives to order 2 with respect to the input and every parameter at once. */
function check({ net, x, params, batched = false, post = (y) => y }: Check): void {
  const names = Object.keys(params);
  const f = (xin: Tensor, ...ps: Tensor[]): Tensor => {
    const record: Params = {};
    names.forEach((n, i) => {
      record[n] = ps[i]!;
    });
    return post(net.apply(record, xin, { batched }));
  };
  expect(() =>
    checkGrads(f, [x, ...names.map((n) => params[n]!)], { order: 2, directions: 2 }),
  ).not.toThrow();
}

const model = (layers: Layer[], inputShape: number[]) => new Model(layers, inputShape);

describe('second-order gradient checks of the layers', () => {
  it('dense (tanh)', () => {
    const net = model([dense(3, { activation: 'tanh' })], [4]);
    check({ net, x: f64([5, 4], 2), params: f64Params(net) });
  });

  it('dense, batched with per-task kernels', () => {
    const net = model([dense(3, { activation: 'softplus' })], [4]);
    check({ net, x: f64([2, 3, 4], 2), params: perTaskParams(net, 2).stacked, batched: true });
  });

  for (const padding of ['same', 'valid'] as const) {
    for (const strides of [1, 2]) {
      it(`conv2d 3x3, '${padding}', stride ${strides}`, () => {
        const net = model([conv2d(3, { padding, strides, activation: 'tanh' })], [5, 5, 2]);
        check({ net, x: f64([2, 5, 5, 2], 3), params: f64Params(net, 7, 0.5) });
      });
    }
  }

  it('conv2d 2x3 kernel, strides [2, 1], batched with per-task kernels', () => {
    const net = model([conv2d(2, { kernelSize: [2, 3], strides: [2, 1], activation: 'sigmoid' })], [4, 4, 2]);
    check({ net, x: f64([2, 2, 4, 4, 2], 3), params: perTaskParams(net, 2).stacked, batched: true });
  });

  it('maxPool2d 2x2 (tiling windows)', () => {
    const net = model([maxPool2d()], [4, 4, 2]);
    check({ net, x: f64([2, 4, 4, 2], 5), params: {}, post: square });
  });

  it("maxPool2d 3x3, stride 2, 'same' (overlapping, gathered windows)", () => {
    const net = model([maxPool2d({ poolSize: 3, strides: 2, padding: 'same' })], [5, 5, 2]);
    check({ net, x: f64([2, 5, 5, 2], 5), params: {}, post: square });
  });

  it('batchNorm on feature vectors', () => {
    const net = model([batchNorm()], [3]);
    check({ net, x: f64([5, 3], 4, -2, 2), params: f64Params(net, 3) });
  });

  it('batchNorm on images, batched with per-task gamma/beta', () => {
    const net = model([batchNorm()], [2, 2, 3]);
    check({ net, x: f64([2, 3, 2, 2, 3], 4, -2, 2), params: perTaskParams(net, 2).stacked, batched: true });
  });

  it('is not vacuous: a layer that drops its input gradient fails the check', () => {
    const conv = conv2d(2, { activation: 'tanh' });
    const broken: Layer = {
      kind: 'broken',
      build: (s, p) => conv.build(s, p),
      apply: (p, x, ctx) => conv.apply(p, stopGradient(x), ctx),
    };
    const net = model([broken], [3, 3, 1]);
    expect(() => checkGrads((x) => net.apply(f64Params(net), x), [f64([1, 3, 3, 1])], { order: 1 })).toThrow(
      GradCheckError,
    );
  });

  it('conv → batchNorm → relu → maxPool block', () => {
    const net = model([conv2d(3), batchNorm(), activation('relu'), maxPool2d()], [4, 4, 2]);
    check({ net, x: f64([3, 4, 4, 2], 8), params: f64Params(net, 5, 0.7), post: square });
  });
});

describe('second-order gradient checks of the few-shot networks (tiny sizes)', () => {
  it('the MAML MLP (Dense → BatchNorm → ReLU blocks)', () => {
    const net = mamlMlp(6, 3, { hidden: [5, 4] });
    check({ net, x: f64([4, 6], 9), params: f64Params(net, 13, 0.8) });
  });

  it('the MAML MLP, batched with per-task fast weights', () => {
    const net = mamlMlp(5, 2, { hidden: [4, 3] });
    check({ net, x: f64([2, 3, 5], 9), params: perTaskParams(net, 2, 21).stacked, batched: true });
  });

  it('conv4 (8x8 input, 4 filters, stride-2 convs)', () => {
    const net = conv4([8, 8, 1], 3, { filters: 4, pooling: 'stride' });
    check({ net, x: f64([3, 8, 8, 1], 10), params: f64Params(net, 17, 0.6) });
  });

  it('conv4 (16x16 input, 4 filters, max-pooling), batched with per-task fast weights', () => {
    const net = conv4([16, 16, 1], 2, { filters: 4 });
    check({ net, x: f64([2, 2, 16, 16, 1], 10), params: perTaskParams(net, 2, 23).stacked, batched: true });
  });
});
