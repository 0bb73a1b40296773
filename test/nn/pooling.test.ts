import { describe, expect, it } from 'vitest';
import { GradientTape, globalAvgPool2d, Model, maxPool2d, sum, tensor, unstack } from '../../src/index.js';
import { f64, maxDiff } from './helpers.js';
import { flat, type Images, naiveMaxPool } from './reference.js';

const apply = (net: Model, x: ReturnType<typeof f64>, batched = false) => net.apply({}, x, { batched });

describe('maxPool2d', () => {
  it('takes the max of each 2x2 window (hand values)', () => {
    const net = new Model([maxPool2d()], [4, 4, 1]);
    const x = tensor(Float64Array.from([1, 5, 2, 0, 3, 4, 8, 1, 0, 0, 7, 6, 9, 2, 5, 5]), [1, 4, 4, 1]);
    expect(Array.from(apply(net, x).dataSync())).toEqual([5, 8, 9, 7]);
  });

  const cases = [
    { h: 5, w: 5, k: [2, 2], s: [2, 2], padding: 'valid' },
    { h: 5, w: 5, k: [2, 2], s: [2, 2], padding: 'same' },
    { h: 7, w: 6, k: [3, 3], s: [2, 2], padding: 'same' },
    { h: 7, w: 6, k: [3, 3], s: [2, 1], padding: 'valid' },
    { h: 4, w: 6, k: [2, 3], s: [2, 3], padding: 'valid' },
  ] as const;
  for (const c of cases) {
    it(`matches a naive loop: ${c.h}x${c.w}, pool ${c.k}, strides ${c.s}, '${c.padding}'`, () => {
      const net = new Model([maxPool2d({ poolSize: c.k, strides: c.s, padding: c.padding })], [c.h, c.w, 3]);
      const x = f64([2, c.h, c.w, 3], 4);
      const want = flat(naiveMaxPool(x.arraySync() as Images, [...c.k], [...c.s], c.padding));
      const y = apply(net, x);
      expect(y.shape).toEqual([2, ...net.outputShape]);
      expect(Array.from(y.dataSync())).toEqual(want);
    });
  }

  it('shares the gradient equally among tied maxima of a window', () => {
    const net = new Model([maxPool2d()], [2, 2, 1]);
    const x = tensor(Float64Array.from([3, 1, 3, 3]), [1, 2, 2, 1]);
    const tape = new GradientTape();
    const y = tape.record(() => {
      tape.watch(x);
      return sum(apply(net, x));
    });
    const [g] = tape.gradient(y, [x]);
    expect(Array.from(g!.dataSync())).toEqual([1 / 3, 0, 1 / 3, 1 / 3]);
  });

  it('pools a meta-batch as each task alone', () => {
    const net = new Model([maxPool2d({ poolSize: 3, strides: 2, padding: 'same' })], [5, 5, 2]);
    const x = f64([3, 2, 5, 5, 2], 8);
    const batched = unstack(apply(net, x, true));
    unstack(x).forEach((xt, t) => {
      expect(maxDiff(batched[t]!, apply(net, xt))).toBe(0);
    });
  });

  it('rejects a window larger than a valid-padded input, naming the layer', () => {
    expect(() => new Model([maxPool2d()], [1, 1, 4])).toThrow(
      /0\.maxPool2d: a 2x2 window does not fit a 1x1 input/,
    );
  });
});

describe('globalAvgPool2d', () => {
  it('averages over the spatial axes', () => {
    const net = new Model([globalAvgPool2d()], [2, 2, 2]);
    const x = tensor(Float64Array.from([1, 10, 2, 20, 3, 30, 4, 40]), [1, 2, 2, 2]);
    expect(Array.from(apply(net, x).dataSync())).toEqual([2.5, 25]);
    expect(apply(net, f64([3, 2, 2, 2, 2]), true).shape).toEqual([3, 2, 2]);
  });
});
