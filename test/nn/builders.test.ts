import { describe, expect, it } from 'vitest';
import { conv4, dense, flatten, mamlMlp, mlp, Rng, randomUniform, sequential } from '../../src/index.js';
import { f64, f64Params } from './helpers.js';

describe('network builders', () => {
  it('mlp: widths, activations and parameter names', () => {
    const net = mlp(1, [40, 40], 1);
    expect(net.specs.map((s) => `${s.name}:${s.shape}`)).toEqual([
      '0.dense/kernel:1,40',
      '0.dense/bias:40',
      '1.dense/kernel:40,40',
      '1.dense/bias:40',
      '2.dense/kernel:40,1',
      '2.dense/bias:1',
    ]);
    expect(net.apply(net.initParams(new Rng(0)), randomUniform([7, 1], new Rng(1))).shape).toEqual([7, 1]);
  });

  it('mlp with batchNorm puts Dense → BatchNorm → activation in each hidden block', () => {
    const net = mlp(3, [4], 2, { batchNorm: true, activation: 'elu' });
    expect(net.layers.map((l) => l.kind)).toEqual(['dense', 'batchNorm', 'activation:elu', 'dense']);
    expect(net.batchNormState.layers).toEqual(['1.batchNorm']);
  });

  it('mamlMlp is 784-256-128-64-64 with BatchNorm, then `ways` logits', () => {
    const net = mamlMlp(784, 5);
    const kernels = net.specs.filter((s) => s.name.endsWith('/kernel')).map((s) => s.shape);
    expect(kernels).toEqual([
      [784, 256],
      [256, 128],
      [128, 64],
      [64, 64],
      [64, 5],
    ]);
    expect(net.specs.filter((s) => s.name.endsWith('/gamma')).length).toBe(4);
    expect(net.layers.slice(0, 3).map((l) => l.kind)).toEqual(['dense', 'batchNorm', 'activation:relu']);
  });

  it('conv4 (max-pooling) on Omniglot: 28 → 14 → 7 → 3 → 1, 64 filters', () => {
    const net = conv4([28, 28, 1], 5);
    expect(net.specs.filter((s) => s.name.endsWith('/kernel')).map((s) => s.shape)).toEqual([
      [3, 3, 1, 64],
      [3, 3, 64, 64],
      [3, 3, 64, 64],
      [3, 3, 64, 64],
      [64, 5],
    ]);
    expect(net.outputShape).toEqual([5]);
    // conv kernels + conv biases + BatchNorm gamma/beta + the classifier
    expect(net.paramCount).toBe(9 * 64 + 3 * (9 * 64 * 64) + 4 * 64 + 4 * 2 * 64 + (64 * 5 + 5));
  });

  it('conv4 (strided) reads out by a spatial mean, as MAML on Omniglot', () => {
    const net = conv4([28, 28, 1], 20, { pooling: 'stride', filters: 8 });
    expect(net.layers.filter((l) => l.kind === 'maxPool2d').length).toBe(0);
    expect(net.layers.at(-2)!.kind).toBe('globalAvgPool2d');
    const x = f64([2, 28, 28, 1]);
    expect(net.apply(f64Params(net, 1, 0.1), x).shape).toEqual([2, 20]);
  });

  it('conv4 runs a batched meta-batch', () => {
    const net = conv4([12, 12, 3], 4, { filters: 4, blocks: 3 });
    const y = net.apply(f64Params(net, 1, 0.2), f64([2, 3, 12, 12, 3]), { batched: true });
    expect(y.shape).toEqual([2, 3, 4]);
  });

  it('sequential wraps a layer list', () => {
    const net = sequential([flatten(), dense(2)], [2, 3]);
    expect(net.apply(f64Params(net), f64([4, 2, 3])).shape).toEqual([4, 2]);
  });

  it('initialisation is seeded', () => {
    const a = conv4([8, 8, 1], 2, { filters: 2, pooling: 'stride' }).initParams(new Rng(3));
    const b = conv4([8, 8, 1], 2, { filters: 2, pooling: 'stride' }).initParams(new Rng(3));
    for (const k of Object.keys(a))
      expect(Array.from(a[k]!.dataSync())).toEqual(Array.from(b[k]!.dataSync()));
  });
});
