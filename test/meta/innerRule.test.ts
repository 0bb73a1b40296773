import { describe, expect, it } from 'vitest';
import { fromArray, type Params, type Tensor } from '../../src/index.js';
import { optimizerRule, proximalRule, sgdRule } from '../../src/meta/innerRule.js';
import { adam, type GradientTransformation } from '../../src/optim/index.js';

const t = (v: number[]) => fromArray(Float64Array.from(v), [v.length]);
const values = (x: Tensor) => Array.from(x.dataSync());

describe('inner rules honour the step size they are given', () => {
  const fast = { w: t([1, 2]) };
  const grads = { w: t([0.5, -1]) };

  it('SGD: p - lr g, with a number or a learned tensor', () => {
    expect(values(sgdRule.step(fast, grads, undefined, () => 0.1).fast.w!)).toEqual([1 - 0.05, 2 + 0.1]);
    expect(values(sgdRule.step(fast, grads, undefined, () => t([0.1, 0.2])).fast.w!)).toEqual([0.95, 2.2]);
  });

  it('an optimizer built from the step size (Adam): the lr passed to step changes the update', () => {
    const make = (lr: number) => adam({ lr }) as GradientTransformation<unknown>;
    const rule = optimizerRule(make);
    const step = (lr: number) => values(rule.step(fast, grads, rule.init(fast), () => lr).fast.w!);
    const direct = (lr: number) => {
      const tx = make(lr);
      return values(tx.update(grads, tx.init(fast), fast).updates.w!).map((u, i) => values(fast.w)[i]! + u);
    };
    expect(step(0.1)).toEqual(direct(0.1));
    expect(step(0.01)).toEqual(direct(0.01));
    expect(step(0.1)).not.toEqual(step(0.01));
  });

  it('learned (tensor) step sizes are an error for optimizer rules, not silently ignored', () => {
    const rule = optimizerRule((lr) => adam({ lr }) as GradientTransformation<unknown>);
    expect(() => rule.step(fast, grads, rule.init(fast), () => t([0.1, 0.1]))).toThrow(/SGD inner rule/);
  });
});

describe('proximalRule (iMAML inner loop)', () => {
  it('adds lambda (phi - theta) to each gradient, theta being where init started', () => {
    const rule = proximalRule(sgdRule, 2);
    const theta = { w: t([1, 2]) };
    const g = { w: t([0.5, -1]) };
    let state = rule.init(theta);
    const one = rule.step(theta, g, state, () => 0.1);
    // At theta the pull is zero: plain SGD.
    expect(values(one.fast.w!)).toEqual([0.95, 2.1]);
    state = one.state;
    const two = rule.step(one.fast, g, state, () => 0.1);
    // phi - 0.1 (g + 2 (phi - theta)) with phi - theta = [-0.05, 0.1].
    const expected = [0.95 - 0.1 * (0.5 + 2 * -0.05), 2.1 - 0.1 * (-1 + 2 * 0.1)];
    for (const [i, v] of values(two.fast.w!).entries()) expect(v).toBeCloseTo(expected[i]!, 14);
  });

  it('minimises the proximal objective: on a zero loss gradient phi stays at theta', () => {
    const rule = proximalRule(sgdRule, 5);
    const theta = { w: t([3]) };
    let fast: Params = theta;
    let state = rule.init(theta);
    for (let s = 0; s < 3; s++) ({ fast, state } = rule.step(fast, { w: t([0]) }, state, () => 0.1));
    expect(values(fast.w!)).toEqual([3]);
  });
});
