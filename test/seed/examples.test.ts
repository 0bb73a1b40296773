import { describe, expect, it } from 'vitest';
import { cubic } from '../../experiments/seed/01-cubic.js';
import { twoVariables } from '../../experiments/seed/02-two-variables.js';
import { linearLayer } from '../../experiments/seed/03-linear-layer.js';
import { unwatched } from '../../experiments/seed/04-unwatched.js';

describe("the seed article's examples", () => {
  it('1: x³ at 3 gives 27 and 18', () => {
    expect(cubic()).toEqual({ dydx: 27, d2ydx2: 18 });
  });
  it('2: x²y + y³ at (2, 1)', () => {
    expect(twoVariables()).toEqual({ grads: [4, 7], d2fdx2: 2, d2fdy2: 6 });
  });
  it('3: linear layer gradients and gradients of gradients match the analytic values', () => {
    const r = linearLayer();
    const w1 = 0.5;
    const w2 = -0.25;
    const e1 = 2 * w1 + 0.1 - 3;
    const e2 = 2 * w2 + 0.2 - 5;
    expect(r.loss).toBeCloseTo((e1 * e1 + e2 * e2) / 2, 5);
    expect(r.dW[0]![0]).toBeCloseTo(2 * e1, 5);
    expect(r.dW[0]![1]).toBeCloseTo(2 * e2, 5);
    expect(r.db[0]).toBeCloseTo(e1, 5);
    expect(r.db[1]).toBeCloseTo(e2, 5);
    expect(r.d2W_dW).toEqual([[4, 4]]);
    expect(r.d2W_db).toEqual([2, 2]);
    expect(r.d2b_dW).toEqual([[2, 2]]);
    expect(r.d2b_db).toEqual([1, 1]);
  });
  it('4: an unwatched source gives null, zeros only on request', () => {
    expect(unwatched()).toEqual({ unwatched: null, asZeros: 0, watched: 6 });
  });
});
