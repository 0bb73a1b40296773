import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromArray, setDefaultFloat, type Tensor, tensor } from '../../src/index.js';
import type { Params } from '../../src/nn/params.js';
import {
  adam,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  constantSchedule,
  cosineDecaySchedule,
  type FlatState,
  flattenState,
  type GradientTransformation,
  OptimizerError,
  sgd,
  stepSchedule,
  unflattenState,
  warmupSchedule,
} from '../../src/optim/index.js';
import { values } from './problems.js';

beforeAll(() => setDefaultFloat('float64'));
afterAll(() => setDefaultFloat('float32'));

describe('learning-rate schedules', () => {
  it('constant', () => {
    expect([0, 10, 1e6].map(constantSchedule(0.3))).toEqual([0.3, 0.3, 0.3]);
  });
  it('step decay', () => {
    const s = stepSchedule({ init: 0.1, stepSize: 100, gamma: 0.5 });
    expect([0, 99, 100, 250].map(s)).toEqual([0.1, 0.1, 0.05, 0.025]);
    expect(() => stepSchedule({ init: 1, stepSize: 0 })).toThrow(OptimizerError);
  });
  it('cosine decay reaches the floor and stays', () => {
    const s = cosineDecaySchedule({ init: 1, decaySteps: 100, alpha: 0.1 });
    expect(s(0)).toBeCloseTo(1, 12);
    expect(s(50)).toBeCloseTo(0.55, 12);
    expect(s(100)).toBeCloseTo(0.1, 12);
    expect(s(500)).toBeCloseTo(0.1, 12);
  });
  it('linear warm-up then the wrapped schedule from its own step 0', () => {
    const s = warmupSchedule(cosineDecaySchedule({ init: 1, decaySteps: 10 }), {
      warmupSteps: 4,
      initValue: 0.2,
    });
    expect(s(0)).toBeCloseTo(0.2, 12);
    expect(s(2)).toBeCloseTo(0.6, 12);
    expect(s(4)).toBeCloseTo(1, 12);
    expect(s(9)).toBeCloseTo(0.5, 12);
  });
  it('optimizers read the schedule at their update count', () => {
    const tx = sgd({ lr: stepSchedule({ init: 1, stepSize: 2, gamma: 0.1 }) });
    let state = tx.init({ w: tensor([0]) });
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = tx.update({ w: tensor([1]) }, state);
      seen.push(-values(r.updates.w!)[0]!);
      state = r.state;
    }
    seen.forEach((v, i) => {
      expect(v).toBeCloseTo([1, 1, 0.1, 0.1, 0.01][i]!, 12);
    });
  });
});

/** Round-trips tensors through host arrays, as a checkpoint would. */
function throughHost(flat: FlatState): FlatState {
  const arrays: Record<string, Tensor> = {};
  for (const [k, t] of Object.entries(flat.arrays))
    arrays[k] = fromArray(Float64Array.from(t.dataSync()), t.shape);
  return { arrays, meta: JSON.parse(JSON.stringify(flat.meta)) };
}

describe('optimizer state serialisation', () => {
  const grad = (i: number): Params => ({
    'dense0/kernel': tensor([[Math.sin(i), Math.cos(i)]]),
    bias: tensor([0.1 * i]),
  });

  function resumeMatches(make: () => GradientTransformation<unknown>): void {
    const p0: Params = { 'dense0/kernel': tensor([[1, 2]]), bias: tensor([0]) };
    const tx = make();
    let params = p0;
    let state = tx.init(params);
    for (let i = 0; i < 3; i++) {
      const r = tx.update(grad(i), state, params);
      params = applyUpdates(params, r.updates);
      state = r.state;
    }
    const flat = flattenState(state);
    const resumedTx = make();
    let resumed = unflattenState<typeof state>(throughHost(flat));
    let params2 = params;
    for (let i = 3; i < 6; i++) {
      const a = tx.update(grad(i), state, params);
      params = applyUpdates(params, a.updates);
      state = a.state;
      const b = resumedTx.update(grad(i), resumed, params2);
      params2 = applyUpdates(params2, b.updates);
      resumed = b.state;
    }
    for (const k of Object.keys(params)) expect(values(params2[k]!)).toEqual(values(params[k]!));
  }

  it('adam: names the slots and resumes bit-exactly', () => {
    const tx = adam({ lr: 0.1 });
    const state = tx.init({ 'dense0/kernel': tensor([[1, 2]]) });
    const flat = flattenState(state);
    expect(Object.keys(flat.arrays).sort()).toEqual(['mu/dense0/kernel', 'nu/dense0/kernel']);
    expect(flat.meta).toMatchObject({ count: 0, mu: { 'dense0/kernel': { $tensor: 'mu/dense0/kernel' } } });
    resumeMatches(() => adam({ lr: 0.1 }));
  });
  it('chained sgd with momentum and a schedule resumes bit-exactly', () => {
    resumeMatches(() =>
      chain(
        clipByGlobalNorm(1),
        sgd({ lr: cosineDecaySchedule({ init: 0.1, decaySteps: 10 }), momentum: 0.9 }),
      ),
    );
  });
  it('rejects what it cannot serialise and reports missing arrays', () => {
    expect(() => flattenState({ f: () => 1 })).toThrow(OptimizerError);
    expect(() => flattenState({ count: Number.NaN })).toThrow(OptimizerError);
    expect(() => unflattenState({ arrays: {}, meta: { m: { $tensor: 'm' } } })).toThrow(/missing array 'm'/);
  });
});
