// This file imports no op module (nothing from src/ops or the package entry): it shows that the tape works
// with nothing installed into it at import time (issue 15), on its own primitives only.
import { describe, expect, it } from 'vitest';
import { ForwardAccumulator } from '../../src/autodiff/forward.js';
import { checkGrads } from '../../src/autodiff/gradcheck.js';
import { GradientTape } from '../../src/autodiff/tape.js';
import { add, broadcastTo, mul, placeAt, reshape, stack, sumTo, take } from '../../src/autodiff/tapeMath.js';
import { getBackend } from '../../src/backends/registry.js';
import { Storage, Tensor } from '../../src/tensor/tensor.js';

function f64(values: number[], shape = [values.length]): Tensor {
  const b = getBackend();
  return new Tensor(new Storage(b, b.upload(Float64Array.from(values), shape, 'float64')), shape, 'float64');
}

const values = (t: Tensor | null): number[] => Array.from(t!.dataSync());

/** sum(x⁴) through stack/take/placeAt/broadcastTo, plus 2·sum(x³) through reshape/broadcastTo/sumTo. */
function poly(x: Tensor): Tensor {
  const sq = mul(x, x);
  const sqAgain = take(stack([x, sq], 1), 1, 1);
  const quartic = sumTo(mul(placeAt(sq, 0, 1, 2), broadcastTo(sqAgain, [2, 3])), []);
  const cube = mul(broadcastTo(reshape(sq, [1, 3]), [2, 3]), broadcastTo(x, [2, 3]));
  return add(quartic, sumTo(cube, []));
}

describe('the tape on its own primitives (src/autodiff/tapeMath.ts)', () => {
  const xs = [0.5, -1.25, 2];

  it('takes gradients that accumulate (x used several times) with no op module loaded', () => {
    const x = f64(xs);
    const tape = new GradientTape();
    const y = tape.record(() => {
      tape.watch(x);
      return poly(x);
    });
    expect(y.item()).toBeCloseTo(
      xs.reduce((s, v) => s + v ** 4 + 2 * v ** 3, 0),
      12,
    );
    const g = values(tape.gradient(y, x));
    g.forEach((gi, i) => {
      expect(gi).toBeCloseTo(4 * xs[i]! ** 3 + 6 * xs[i]! ** 2, 12);
    });
  });

  it('gives the same directional derivative in forward mode', () => {
    const x = f64(xs);
    const v = f64([1, -2, 0.5]);
    const acc = new ForwardAccumulator(x, v);
    const y = acc.record(() => poly(x));
    const want = xs.reduce((s, xi, i) => s + (4 * xi ** 3 + 6 * xi ** 2) * [1, -2, 0.5][i]!, 0);
    expect(acc.jvp(y)!.item()).toBeCloseTo(want, 12);
  });

  it('passes gradient checks to order 3 (reverse and forward), every rule written in the same primitives', () => {
    checkGrads(poly, [f64(xs)], { order: 3 });
    checkGrads(poly, [f64(xs)], { order: 3, mode: 'forward' });
  });

  it('builds Jacobians with its own stack', () => {
    const x = f64(xs);
    const tape = new GradientTape();
    const y = tape.record(() => {
      tape.watch(x);
      return mul(x, x);
    });
    const j = tape.jacobian(y, x);
    expect(j.shape).toEqual([3, 3]);
    expect(values(j).map((v) => v + 0)).toEqual([1, 0, 0, 0, -2.5, 0, 0, 0, 4]); // + 0: -0 is 0
  });

  it('rejects what it does not broadcast, naming the primitive and the shapes', () => {
    expect(() => add(f64([1, 2]), f64([1, 2, 3]))).toThrow('add: shapes [2] and [3] differ');
    expect(() => broadcastTo(f64([1, 2]), [3])).toThrow(/broadcastTo/);
    expect(() => take(f64([1, 2]), 0, 2)).toThrow('take: entry 2 of axis 0 out of range');
  });
});
