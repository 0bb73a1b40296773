import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  add,
  fromArray,
  mean,
  mul,
  setDefaultFloat,
  square,
  sub,
  sum,
  type Tensor,
  tensor,
  valueAndGrad,
  variable,
} from '../../src/index.js';
import type { Params } from '../../src/nn/params.js';
import {
  adam,
  adamw,
  applyUpdates,
  chain,
  clip,
  clipByGlobalNorm,
  type GradientTransformation,
  globalNorm,
  identity,
  ModelOptimizer,
  minimize,
  OptimizerError,
  scale,
  scaleByAdam,
  scaleByLearningRate,
  sgd,
  traceMomentum,
} from '../../src/optim/index.js';
import { rosen, values } from './problems.js';

beforeAll(() => setDefaultFloat('float64'));
afterAll(() => setDefaultFloat('float32'));

/** Runs `steps` pure updates of `tx` on `loss` from x0; returns the final x. */
function optimise(
  tx: GradientTransformation<unknown>,
  loss: (x: Tensor) => Tensor,
  x0: number[],
  steps: number,
): number[] {
  let params: Params = { x: tensor(x0) };
  let state = tx.init(params);
  const vg = valueAndGrad(loss);
  for (let i = 0; i < steps; i++) {
    const { grad } = vg(params.x!);
    const r = tx.update({ x: grad }, state, params);
    params = applyUpdates(params, r.updates);
    state = r.state;
  }
  return values(params.x!);
}

const parabola = (x: Tensor): Tensor => sum(square(sub(x, fromArray(PARABOLA_CENTRE, [2]))));
const PARABOLA_CENTRE = Float64Array.of(3, -2);

const OPTIMIZERS: {
  name: string;
  tx: () => GradientTransformation<unknown>;
  rosenSteps: number;
  parabolaSteps: number;
}[] = [
  { name: 'sgd', tx: () => sgd({ lr: 1e-3 }), rosenSteps: 20000, parabolaSteps: 6000 },
  {
    name: 'sgd + momentum',
    tx: () => sgd({ lr: 1e-3, momentum: 0.9 }),
    rosenSteps: 5000,
    parabolaSteps: 2000,
  },
  {
    name: 'sgd + nesterov',
    tx: () => sgd({ lr: 1e-3, momentum: 0.9, nesterov: true }),
    rosenSteps: 5000,
    parabolaSteps: 2000,
  },
  { name: 'adam', tx: () => adam({ lr: 0.02 }), rosenSteps: 3000, parabolaSteps: 2000 },
  { name: 'adamw', tx: () => adamw({ lr: 0.02, weightDecay: 1e-5 }), rosenSteps: 3000, parabolaSteps: 2000 },
  {
    name: 'chain(scaleByAdam, scaleByLearningRate)',
    tx: () => chain(scaleByAdam(), scaleByLearningRate(0.02)),
    rosenSteps: 3000,
    parabolaSteps: 2000,
  },
];

describe('first-order optimizers converge (float64)', () => {
  for (const o of OPTIMIZERS) {
    it(`${o.name} on a parabola`, () => {
      const x = optimise(o.tx(), parabola, [0, 0], o.parabolaSteps);
      expect(x[0]).toBeCloseTo(3, 3);
      expect(x[1]).toBeCloseTo(-2, 3);
    });
    it(`${o.name} on 2-D Rosenbrock from (-1.2, 1)`, () => {
      const x = optimise(o.tx(), rosen, [-1.2, 1], o.rosenSteps);
      expect(Math.abs(x[0]! - 1)).toBeLessThan(5e-3);
      expect(Math.abs(x[1]! - 1)).toBeLessThan(1e-2);
    });
  }
});

describe('update rules', () => {
  const g = (v: number[]): Params => ({ w: tensor(v) });

  it('adam matches the textbook bias-corrected formula over three steps', () => {
    const [b1, b2, eps, lr] = [0.9, 0.99, 1e-3, 0.1];
    const tx = adam({ lr, beta1: b1, beta2: b2, eps });
    let state = tx.init({ w: tensor([0, 0]) });
    let m = [0, 0];
    let v = [0, 0];
    const gs = [
      [1, -2],
      [0.5, 3],
      [-1, 0.25],
    ];
    gs.forEach((gr, i) => {
      const t = i + 1;
      const r = tx.update(g(gr), state);
      state = r.state;
      m = m.map((mi, j) => b1 * mi + (1 - b1) * gr[j]!);
      v = v.map((vi, j) => b2 * vi + (1 - b2) * gr[j]! ** 2);
      const expected = m.map(
        (mi, j) => (-lr * (mi / (1 - b1 ** t))) / (Math.sqrt(v[j]! / (1 - b2 ** t)) + eps),
      );
      values(r.updates.w!).forEach((u, j) => {
        expect(u).toBeCloseTo(expected[j]!, 12);
      });
    });
    expect(state.count).toBe(3);
  });

  it('adamw adds lr * weightDecay * p, and its mask exempts parameters', () => {
    const tx = adamw({ lr: 0.1, weightDecay: 0.5, mask: (name) => name !== 'b' });
    const params = { w: tensor([2]), b: tensor([2]) };
    const r = tx.update({ w: tensor([1]), b: tensor([1]) }, tx.init(params), params);
    const plain = adam({ lr: 0.1 }).update({ w: tensor([1]) }, adam().init({ w: tensor([0]) }));
    expect(values(r.updates.w!)[0]).toBeCloseTo(values(plain.updates.w!)[0]! - 0.1 * 0.5 * 2, 12);
    expect(values(r.updates.b!)[0]).toBeCloseTo(values(plain.updates.w!)[0]!, 12);
  });

  it('sgd: momentum, nesterov and weight decay follow PyTorch', () => {
    const params = { w: tensor([1]) };
    const tx = sgd({ lr: 0.1, momentum: 0.5, nesterov: true, weightDecay: 0.1 });
    let state = tx.init(params);
    let buf = 0;
    for (const gr of [2, -1, 4]) {
      const r = tx.update(g([gr]), state, params);
      state = r.state;
      const gd = gr + 0.1 * 1;
      buf = 0.5 * buf + gd;
      expect(values(r.updates.w!)[0]).toBeCloseTo(-0.1 * (gd + 0.5 * buf), 12);
    }
    expect(() => sgd({ lr: 0.1, nesterov: true })).toThrow(OptimizerError);
    expect(() => sgd({ lr: 0.1, weightDecay: 1 }).update(g([1]), { count: 0, trace: {} })).toThrow(
      OptimizerError,
    );
  });

  it('traceMomentum, scale and identity compose with chain', () => {
    const tx = chain(identity(), traceMomentum(0.5), scale(-2));
    let state = tx.init({ w: tensor([0]) });
    let r = tx.update(g([1]), state);
    state = r.state;
    expect(values(r.updates.w!)).toEqual([-2]);
    r = tx.update(g([1]), state);
    expect(values(r.updates.w!)).toEqual([-3]); // trace 1.5
  });

  it('clip bounds each element; clipByGlobalNorm rescales all tensors together', () => {
    const c = clip(1).update({ a: tensor([-3, 0.5, 2]) }, {});
    expect(values(c.updates.a!)).toEqual([-1, 0.5, 1]);
    const grads = { a: tensor([3, 0]), b: tensor([4]) }; // global norm 5
    const n = clipByGlobalNorm(1).update(grads, {});
    expect(globalNorm(n.updates).item()).toBeCloseTo(1, 12);
    values(n.updates.a!).forEach((v, i) => {
      expect(v).toBeCloseTo([0.6, 0][i]!, 12);
    });
    const untouched = clipByGlobalNorm(10).update(grads, {});
    expect(values(untouched.updates.b!)).toEqual([4]);
    expect(() => clip(0)).toThrow(OptimizerError);
  });

  it('applyUpdates names a missing key', () => {
    expect(() => applyUpdates({ w: tensor([1]) }, {})).toThrow(/'w'/);
  });
});

describe('ModelOptimizer and minimize train Variables', () => {
  it('fits a line with Adam through ModelOptimizer', () => {
    const xs = fromArray(Float64Array.of(0, 1, 2, 3), [4]);
    const ys = fromArray(Float64Array.of(1, 3, 5, 7), [4]); // y = 2x + 1
    const w = variable(0, { dtype: 'float64' });
    const b = variable(0, { dtype: 'float64' });
    const opt = new ModelOptimizer(adam({ lr: 0.05 }), { w, b });
    const lossFn = () => mean(square(sub(add(mul(xs, w), b), ys)));
    const first = opt.step(lossFn).item();
    for (let i = 0; i < 2000; i++) opt.step(lossFn);
    expect(lossFn().item()).toBeLessThan(first * 1e-6);
    expect(w.item()).toBeCloseTo(2, 3);
    expect(b.item()).toBeCloseTo(1, 3);
  });

  it('minimize takes one functional step and returns the next state', () => {
    const w = variable([1, -1], { dtype: 'float64' });
    const tx = sgd({ lr: 0.25 });
    let state = tx.init({ w });
    const r = minimize(tx, { w }, () => sum(square(w)), state);
    state = r.state;
    expect(r.loss.item()).toBe(2);
    expect(values(w)).toEqual([0.5, -0.5]);
    expect(state.count).toBe(1);
  });
});
