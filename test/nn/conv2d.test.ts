import { describe, expect, it } from 'vitest';
import {
  conv2d,
  getBackend,
  LayerError,
  Model,
  type Tensor,
  tensor,
  unstack,
  windowGeometry,
} from '../../src/index.js';
import { windowIndices } from '../../src/nn/windows.js';
import { f64, f64Params, maxDiff, perTaskParams } from './helpers.js';
import { flat, type Images, naiveConv2d } from './reference.js';

type Case = {
  h: number;
  w: number;
  cin: number;
  f: number;
  k: [number, number];
  s: [number, number];
  padding: 'same' | 'valid';
};

const CASES: Case[] = [
  { h: 5, w: 5, cin: 2, f: 3, k: [3, 3], s: [1, 1], padding: 'same' },
  { h: 5, w: 5, cin: 2, f: 3, k: [3, 3], s: [1, 1], padding: 'valid' },
  { h: 6, w: 7, cin: 3, f: 2, k: [3, 3], s: [2, 2], padding: 'same' },
  { h: 7, w: 6, cin: 1, f: 4, k: [3, 3], s: [2, 2], padding: 'valid' },
  { h: 6, w: 5, cin: 2, f: 3, k: [2, 4], s: [1, 2], padding: 'same' },
  { h: 4, w: 4, cin: 2, f: 2, k: [1, 1], s: [1, 1], padding: 'valid' },
];

function reference(x: Tensor, kernel: Tensor, bias: Tensor, c: Case): number[] {
  return flat(
    naiveConv2d(
      x.arraySync() as Images,
      kernel.arraySync() as number[][][][],
      bias.arraySync() as number[],
      c.s,
      c.padding,
    ),
  );
}

describe('conv2d forward', () => {
  for (const c of CASES) {
    it(`matches a naive loop: ${c.h}x${c.w}x${c.cin} -> ${c.f}, kernel ${c.k}, strides ${c.s}, '${c.padding}'`, () => {
      const net = new Model(
        [conv2d(c.f, { kernelSize: c.k, strides: c.s, padding: c.padding })],
        [c.h, c.w, c.cin],
      );
      const params = f64Params(net);
      const x = f64([2, c.h, c.w, c.cin], 3);
      const y = net.apply(params, x);
      const want = reference(x, params['0.conv2d/kernel']!, params['0.conv2d/bias']!, c);
      expect(y.shape).toEqual([2, ...net.outputShape]);
      const got = Array.from(y.dataSync());
      expect(got.length).toBe(want.length);
      got.forEach((v, i) => {
        expect(v).toBeCloseTo(want[i]!, 12);
      });
    });
  }

  it('computes a hand-checkable 3x3 box sum with zero padding', () => {
    const net = new Model([conv2d(1, { useBias: false })], [3, 3, 1]);
    const x = tensor(Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]), [1, 3, 3, 1]);
    const y = net.apply({ '0.conv2d/kernel': tensor(new Float64Array(9).fill(1), [3, 3, 1, 1]) }, x);
    // Each output is the sum of the (zero-padded) 3x3 neighbourhood: corners 4 cells, edges 6, centre 9.
    expect(Array.from(y.dataSync())).toEqual([12, 21, 16, 27, 45, 33, 24, 39, 28]);
  });

  it('runs a meta-batch with per-task kernels exactly as each task alone', () => {
    const c = CASES[2]!;
    const net = new Model(
      [conv2d(c.f, { kernelSize: c.k, strides: c.s, padding: c.padding, activation: 'tanh' })],
      [c.h, c.w, c.cin],
    );
    const { stacked, each } = perTaskParams(net, 3);
    const x = f64([3, 2, c.h, c.w, c.cin], 5);
    const batched = unstack(net.apply(stacked, x, { batched: true }));
    unstack(x).forEach((xt, t) => {
      expect(maxDiff(batched[t]!, net.apply(each[t]!, xt))).toBeLessThan(1e-12);
    });
  });

  it('runs a meta-batch with a shared kernel as each task alone', () => {
    const net = new Model([conv2d(2)], [4, 4, 2]);
    const params = f64Params(net);
    const x = f64([3, 2, 4, 4, 2], 9);
    const batched = unstack(net.apply(params, x, { batched: true }));
    unstack(x).forEach((xt, t) => {
      expect(maxDiff(batched[t]!, net.apply(params, xt))).toBeLessThan(1e-12);
    });
  });

  it('names the layer and the shapes on a wrong input', () => {
    const net = new Model([conv2d(2)], [4, 4, 2]);
    const params = f64Params(net);
    expect(() => net.apply(params, f64([1, 4, 4, 3]))).toThrow(LayerError);
    expect(() => net.apply(params, f64([1, 4, 4, 3]))).toThrow(
      /0\.conv2d: expected an input of shape \[N,4,4,2\], got \[1,4,4,3\]/,
    );
    expect(() => new Model([conv2d(2, { padding: 'valid', kernelSize: 5 })], [4, 4, 2])).toThrow(
      /does not fit a 4x4 input/,
    );
  });
});

describe('window indices', () => {
  it('are built once per geometry and backend, and index the padded image', () => {
    const g = windowGeometry('t', 3, 3, [2, 2], [1, 1], 'valid');
    const a = windowIndices(g, getBackend());
    expect(windowIndices(windowGeometry('u', 3, 3, [2, 2], [1, 1], 'valid'), getBackend())).toBe(a);
    expect(a.arraySync()).toEqual([
      [0, 1, 3, 4],
      [1, 2, 4, 5],
      [3, 4, 6, 7],
      [4, 5, 7, 8],
    ]);
    // TensorFlow puts the odd padding row/column after: 4 -> 2 with a 3x3 window at stride 2 pads 0 before, 1 after.
    const s = windowGeometry('t', 4, 4, [3, 3], [2, 2], 'same');
    expect([s.outH, s.padTop, s.padBottom]).toEqual([2, 0, 1]);
  });
});
