/**
 * Forward mode through the layers and few-shot networks: order-2 checks by nested ForwardAccumulators
 * against central differences (as test/nn/gradcheck.test.ts does with nested tapes), and forward-over-reverse
 * Hessian-vector products of the networks' losses against reverse-over-reverse.
 */
import { describe, expect, it } from 'vitest';
import {
  batchNorm,
  checkGrads,
  conv2d,
  conv4,
  hvp,
  type Layer,
  Model,
  mamlMlp,
  maxPool2d,
  type Params,
  softmaxCrossEntropy,
  square,
  type Tensor,
  tensor,
} from '../../src/index.js';
import { flattenParams, unflattenParams } from '../../src/optim/flatParams.js';
import { f64, f64Params, perTaskParams } from '../nn/helpers.js';

function checkForward(net: Model, x: Tensor, params: Params, batched = false, post = (y: Tensor) => y): void {
  const names = Object.keys(params);
  const f = (xin: Tensor, ...ps: Tensor[]): Tensor => {
    const record: Params = {};
    names.forEach((n, i) => {
      record[n] = ps[i]!;
    });
    return post(net.apply(record, xin, { batched }));
  };
  expect(() =>
    checkGrads(f, [x, ...names.map((n) => params[n]!)], { order: 2, directions: 2, mode: 'forward' }),
  ).not.toThrow();
}

const model = (layers: Layer[], inputShape: number[]) => new Model(layers, inputShape);

describe('second-order forward-mode checks of the layers and networks', () => {
  for (const padding of ['same', 'valid'] as const) {
    it(`conv2d 3x3, '${padding}', stride 2`, () => {
      const net = model([conv2d(3, { padding, strides: 2, activation: 'tanh' })], [5, 5, 2]);
      checkForward(net, f64([2, 5, 5, 2], 3), f64Params(net, 7, 0.5));
    });
  }

  it("maxPool2d 3x3, stride 2, 'same'", () => {
    const net = model([maxPool2d({ poolSize: 3, strides: 2, padding: 'same' })], [5, 5, 2]);
    checkForward(net, f64([2, 5, 5, 2], 5), {}, false, square);
  });

  it('batchNorm on images, batched with per-task gamma/beta', () => {
    const net = model([batchNorm()], [2, 2, 3]);
    checkForward(net, f64([2, 3, 2, 2, 3], 4, -2, 2), perTaskParams(net, 2).stacked, true);
  });

  it('the MAML MLP (Dense → BatchNorm → ReLU blocks)', () => {
    const net = mamlMlp(6, 3, { hidden: [5, 4] });
    checkForward(net, f64([4, 6], 9), f64Params(net, 13, 0.8));
  });

  it('conv4 (8x8 input, 4 filters, stride-2 convs)', () => {
    const net = conv4([8, 8, 1], 3, { filters: 4, pooling: 'stride' });
    checkForward(net, f64([3, 8, 8, 1], 10), f64Params(net, 17, 0.6));
  });

  it('conv4 (16x16 input, 4 filters, max-pooling), batched with per-task fast weights', () => {
    const net = conv4([16, 16, 1], 2, { filters: 4 });
    checkForward(net, f64([2, 2, 16, 16, 1], 10), perTaskParams(net, 2, 23).stacked, true);
  });
});

describe('forward-over-reverse HVPs of the networks’ losses equal reverse-over-reverse', () => {
  const cases: [string, Model, Tensor][] = [
    ['MAML MLP', mamlMlp(6, 3, { hidden: [5, 4] }), f64([6, 6], 9)],
    ['conv4', conv4([8, 8, 1], 3, { filters: 4, pooling: 'stride' }), f64([3, 8, 8, 1], 10)],
  ];
  for (const [name, net, x] of cases) {
    it(name, () => {
      const { flat, layout } = flattenParams(f64Params(net, 5, 0.7));
      const labels = tensor(
        Array.from({ length: x.shape[0]! }, (_, i) => i % 3),
        undefined,
        'int32',
      );
      const loss = (w: Tensor) => softmaxCrossEntropy(net.apply(unflattenParams(w, layout), x), labels);
      const v = f64([flat.size], 3);
      const fwd = hvp(loss, flat, v).dataSync();
      const rev = hvp(loss, flat, v, { mode: 'reverse-over-reverse' }).dataSync();
      let scale = 1;
      for (const r of rev) scale = Math.max(scale, Math.abs(r));
      fwd.forEach((h, i) => {
        expect(Math.abs(h - rev[i]!)).toBeLessThan(1e-12 * scale);
      });
    });
  }
});
