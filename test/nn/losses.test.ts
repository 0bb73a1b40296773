import { describe, expect, it } from 'vitest';
import {
  accuracy,
  binaryCrossEntropyWithLogits,
  checkGrads,
  mse,
  softmaxCrossEntropy,
  tensor,
} from '../../src/index.js';
import { f64 } from './helpers.js';

const t64 = (v: number[], shape: number[]) => tensor(Float64Array.from(v), shape);
const labels = (v: number[], shape = [v.length]) => tensor(Int32Array.from(v), shape, 'int32');

describe('losses and metrics', () => {
  it('mse (mean and per task)', () => {
    expect(mse(t64([1, 2, 3, 4], [2, 2]), t64([0, 2, 3, 2], [2, 2])).item()).toBeCloseTo(5 / 4, 12);
    expect(
      Array.from(mse(t64([1, 2, 3, 4], [2, 2]), t64([0, 2, 3, 2], [2, 2]), 'perTask').dataSync()),
    ).toEqual([0.5, 2]);
  });

  it('softmax cross-entropy matches a hand value, for integer labels and one-hot targets', () => {
    const logits = t64([1, 2, 3, 0, 0, 0], [2, 3]);
    const lse = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    const want = (lse - 3 + Math.log(3)) / 2;
    expect(softmaxCrossEntropy(logits, labels([2, 1])).item()).toBeCloseTo(want, 12);
    expect(softmaxCrossEntropy(logits, t64([0, 0, 1, 0, 1, 0], [2, 3])).item()).toBeCloseTo(want, 12);
  });

  it('softmax cross-entropy is finite and exact at logits of ±1e4 (float32 too)', () => {
    const big = [1e4, -1e4, 0];
    expect(softmaxCrossEntropy(t64(big, [1, 3]), labels([0])).item()).toBeCloseTo(0, 12);
    expect(softmaxCrossEntropy(t64(big, [1, 3]), labels([1])).item()).toBeCloseTo(2e4, 8);
    const f32 = tensor(big, [1, 3], 'float32');
    expect(softmaxCrossEntropy(f32, labels([2])).item()).toBeCloseTo(1e4, 2);
    expect(
      Number.isFinite(softmaxCrossEntropy(tensor([-1e4, 1e4], [1, 2], 'float32'), labels([0])).item()),
    ).toBe(true);
  });

  it('softmax cross-entropy has correct second derivatives', () => {
    expect(() =>
      checkGrads((l) => softmaxCrossEntropy(l, labels([0, 2, 1, 1])), [f64([4, 3], 2, -3, 3)], { order: 2 }),
    ).not.toThrow();
  });

  it('binary cross-entropy with logits: hand values, stability, gradients', () => {
    const x = t64([0, 2, -3], [3]);
    const z = t64([1, 0, 1], [3]);
    const want = (Math.log(2) + Math.log1p(Math.exp(2)) + Math.log1p(Math.exp(3))) / 3;
    expect(binaryCrossEntropyWithLogits(x, z).item()).toBeCloseTo(want, 12);
    expect(binaryCrossEntropyWithLogits(t64([1e4, -1e4], [2]), t64([1, 0], [2])).item()).toBe(0);
    expect(binaryCrossEntropyWithLogits(t64([-1e4], [1]), t64([1], [1])).item()).toBeCloseTo(1e4, 8);
    expect(() =>
      checkGrads((l) => binaryCrossEntropyWithLogits(l, z), [f64([3], 3, -3, 3)], { order: 2 }),
    ).not.toThrow();
  });

  it('accuracy (mean and per task)', () => {
    const logits = t64([0.1, 0.9, 0.8, 0.2, 0.3, 0.7, 0.6, 0.4], [2, 2, 2]);
    const y = labels([1, 0, 0, 0], [2, 2]);
    expect(accuracy(logits, y).item()).toBeCloseTo(0.75, 12);
    expect(Array.from(accuracy(logits, y, 'perTask').dataSync())).toEqual([1, 0.5]);
  });
});
