import { describe, expect, it } from 'vitest';
import {
  BatchNormState,
  batchNorm,
  LayerError,
  Model,
  mean,
  type Params,
  tensor,
  unstack,
  variance,
} from '../../src/index.js';
import { f64, maxDiff, perTaskParams } from './helpers.js';

const EPS = 1e-3;
const ones = (c: number) => tensor(new Float64Array(c).fill(1), [c]);
const zeros = (c: number) => tensor(new Float64Array(c), [c]);
const identity = (c: number): Params => ({ '0.batchNorm/gamma': ones(c), '0.batchNorm/beta': zeros(c) });

describe('batchNorm', () => {
  it('normalises each channel with the batch statistics (hand values)', () => {
    const net = new Model([batchNorm()], [2]);
    // channel 0: [1, 3] (mean 2, var 1); channel 1: [10, 10] (mean 10, var 0)
    const x = tensor(Float64Array.from([1, 10, 3, 10]), [2, 2]);
    const params = {
      '0.batchNorm/gamma': tensor(Float64Array.from([2, 1]), [2]),
      '0.batchNorm/beta': tensor(Float64Array.from([0.5, -1]), [2]),
    };
    const y = Array.from(net.apply(params, x).dataSync());
    const s = 1 / Math.sqrt(1 + EPS);
    expect(y[0]).toBeCloseTo(0.5 - 2 * s, 12);
    expect(y[2]).toBeCloseTo(0.5 + 2 * s, 12);
    expect(y[1]).toBe(-1);
    expect(y[3]).toBe(-1);
  });

  it('takes statistics over batch and spatial axes, per channel', () => {
    const net = new Model([batchNorm({ epsilon: 0 })], [3, 3, 4]);
    const y = net.apply(identity(4), f64([5, 3, 3, 4], 2, -3, 5));
    expect(maxDiff(mean(y, { axis: [0, 1, 2] }), zeros(4))).toBeLessThan(1e-12);
    expect(maxDiff(variance(y, { axis: [0, 1, 2] }), ones(4))).toBeLessThan(1e-12);
  });

  it('in batched mode normalises each task with its own statistics (never across tasks)', () => {
    const net = new Model([batchNorm()], [2, 2, 3]);
    const { stacked, each } = perTaskParams(net, 3);
    const x = f64([3, 4, 2, 2, 3], 6, -2, 4);
    const batched = unstack(net.apply(stacked, x, { batched: true }));
    unstack(x).forEach((xt, t) => {
      expect(maxDiff(batched[t]!, net.apply(each[t]!, xt))).toBeLessThan(1e-12);
    });
  });

  it('keeps running statistics outside the params, updated only when asked', () => {
    const net = new Model([batchNorm({ momentum: 0.5, useRunningStats: true })], [2]);
    const x = tensor(Float64Array.from([1, 10, 3, 14]), [2, 2]); // batch mean [2, 12], var [1, 4]
    expect(net.batchNormState.layers).toEqual(['0.batchNorm']);
    net.apply(identity(2), x);
    expect(Array.from(net.batchNormState.get('0.batchNorm', 'float64').mean.dataSync())).toEqual([0, 0]);
    net.apply(identity(2), x, { updateRunningStats: true });
    const s = net.batchNormState.get('0.batchNorm', 'float64');
    expect(Array.from(s.mean.dataSync())).toEqual([1, 6]);
    expect(Array.from(s.variance.dataSync())).toEqual([1, 2.5]);
    // Not training: the running statistics normalise.
    const y = net.apply(identity(2), tensor(Float64Array.from([1, 6]), [1, 2]), { training: false });
    expect(Array.from(y.dataSync())).toEqual([0, 0]);
    // Training (the default, as MAML adapts): batch statistics even with useRunningStats.
    const yb = net.apply(identity(2), x);
    expect(yb.dataSync()[0]).toBeCloseTo(-1 / Math.sqrt(1 + EPS), 12);
  });

  it('without useRunningStats always uses batch statistics (MAML at meta-test)', () => {
    const net = new Model([batchNorm()], [1]);
    const x = tensor(Float64Array.from([0, 2]), [2, 1]);
    const y = net.apply(identity(1), x, { training: false });
    expect(y.dataSync()[0]).toBeCloseTo(-1 / Math.sqrt(1 + EPS), 12);
  });

  it('a batched update folds in the mean of the tasks’ statistics', () => {
    const net = new Model([batchNorm({ momentum: 0 })], [1]);
    const x = tensor(Float64Array.from([0, 2, 10, 10]), [2, 2, 1]); // task means 1, 10; vars 1, 0
    net.apply(identity(1), x, { batched: true, updateRunningStats: true });
    const s = net.batchNormState.get('0.batchNorm', 'float64');
    expect(Array.from(s.mean.dataSync())).toEqual([5.5]);
    expect(Array.from(s.variance.dataSync())).toEqual([0.5]);
  });

  it('state round-trips through a record and clones independently', () => {
    const net = new Model([batchNorm({ momentum: 0 })], [2]);
    net.apply(identity(2), tensor(Float64Array.from([1, 10, 3, 14]), [2, 2]), { updateRunningStats: true });
    const copy = net.batchNormState.clone();
    net.batchNormState.reset();
    expect(Array.from(copy.get('0.batchNorm', 'float64').mean.dataSync())).toEqual([2, 12]);
    const restored = new BatchNormState();
    restored.declare('0.batchNorm', 2);
    restored.loadParams(copy.toParams('float64'));
    expect(Array.from(restored.get('0.batchNorm', 'float64').variance.dataSync())).toEqual([1, 4]);
    expect(() => restored.loadParams({})).toThrow(/0\.batchNorm: running statistics missing/);
  });

  it('errors name the layer', () => {
    const net = new Model([batchNorm()], [3]);
    expect(() => net.apply(identity(3), f64([2, 4]))).toThrow(LayerError);
    expect(() => new BatchNormState().get('nope', 'float32')).toThrow(/nope: no BatchNorm layer/);
  });
});
