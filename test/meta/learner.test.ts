import { describe, expect, it } from 'vitest';
import { dense, fromArray, Model, Rng, type Tensor, tensor, withDefaultFloat } from '../../src/index.js';
import { optimizerRule } from '../../src/meta/factories.js';
import { type LearnerOptions, MetaLearner } from '../../src/meta/learner.js';
import { sinusoidSource, type TaskBatch } from '../../src/meta/tasks.js';
import { adam, type GradientTransformation, sgd } from '../../src/optim/index.js';
import { checkMetaGradient } from './fixtures.js';

const f64 = (v: number[], shape: number[]) => fromArray(Float64Array.from(v), shape);

function tinyBatch(): TaskBatch {
  // One task: support (x=1.5, y=2), query (x=-0.5, y=1).
  return {
    supportX: f64([1.5], [1, 1, 1]),
    supportY: f64([2], [1, 1, 1]),
    queryX: f64([-0.5], [1, 1, 1]),
    queryY: f64([1], [1, 1, 1]),
  };
}

function scalarModel(): Model {
  return new Model([dense(1, { useBias: false })], [1]);
}

describe('MAML meta-gradients', () => {
  const alpha = 0.1;
  const w = 0.7;
  const [xs, ys, xq, yq] = [1.5, 2, -0.5, 1];
  const wAdapted = w - alpha * 2 * xs * (w * xs - ys);
  const residual = wAdapted * xq - yq;

  for (const order of [1, 2] as const) {
    it(`order ${order} equals the meta-gradient derived by hand on f(x) = w x`, () => {
      withDefaultFloat('float64', () => {
        const learner = new MetaLearner(scalarModel(), 'regression', {
          algorithm: 'maml',
          order,
          innerSteps: 1,
          innerLr: alpha,
        });
        const meta = { '0.dense/kernel': f64([w], [1, 1]) };
        const { loss, grads } = learner.metaGradient(meta, tinyBatch());
        expect(loss.item()).toBeCloseTo(residual * residual, 12);
        const expected = order === 2 ? 2 * xq * residual * (1 - 2 * alpha * xs * xs) : 2 * xq * residual;
        expect(grads['0.dense/kernel']!.item()).toBeCloseTo(expected, 12);
      });
    });
  }

  it('orders 1 and 2 differ where they must (non-zero curvature of the support loss)', () => {
    withDefaultFloat('float64', () => {
      const make = (order: 1 | 2) =>
        new MetaLearner(scalarModel(), 'regression', {
          algorithm: 'maml',
          order,
          innerSteps: 1,
          innerLr: alpha,
        })
          .metaGradient({ '0.dense/kernel': f64([w], [1, 1]) }, tinyBatch())
          .grads['0.dense/kernel']!.item();
      expect(Math.abs(make(1) - make(2))).toBeGreaterThan(0.05);
    });
  });

  function mlpSetup(options: Partial<LearnerOptions>) {
    const model = new Model(
      [dense(8, { activation: 'tanh' }), dense(8, { activation: 'tanh' }), dense(1)],
      [1],
    );
    const rng = new Rng(3);
    const learner = new MetaLearner(model, 'regression', {
      algorithm: 'maml',
      order: 2,
      innerSteps: 2,
      innerLr: 0.05,
      ...options,
    });
    const meta = learner.initMetaParams(model.initParams(rng));
    const batch = sinusoidSource({ shots: 5, queryShots: 5 }).sample(rng, 3, 'train');
    return { learner, meta, batch };
  }

  it('the second-order meta-gradient of a 2-step inner loop matches finite differences (float64)', () => {
    withDefaultFloat('float64', () => {
      const { learner, meta, batch } = mlpSetup({});
      const names = Object.keys(meta);
      const cast64 = (t: Tensor) => fromArray(Float64Array.from(t.dataSync()), t.shape);
      const m64 = Object.fromEntries(names.map((n) => [n, cast64(meta[n]!)]));
      const b64: TaskBatch = {
        supportX: cast64(batch.supportX),
        supportY: cast64(batch.supportY),
        queryX: cast64(batch.queryX),
        queryY: cast64(batch.queryY),
      };
      checkMetaGradient(learner, m64, b64, { order: 1, directions: 3 });
    });
  });

  it('batched tasks and the per-task loop give the same meta-gradient', () => {
    const { learner, meta, batch } = mlpSetup({});
    const loop = new MetaLearner(learner.model, 'regression', { ...learner.options, batchedTasks: false });
    const a = learner.metaGradient(meta, batch);
    const b = loop.metaGradient(meta, batch);
    expect(a.loss.item()).toBeCloseTo(b.loss.item(), 5);
    for (const n of Object.keys(meta)) {
      const x = a.grads[n]!.dataSync();
      const y = b.grads[n]!.dataSync();
      x.forEach((v, i) => {
        expect(v).toBeCloseTo(y[i]!, 4);
      });
    }
  });

  for (const variant of [
    { algorithm: 'maml', order: 2 },
    { algorithm: 'maml', order: 1 },
    { algorithm: 'anil', order: 2 },
    { algorithm: 'metasgd', order: 2 },
    { algorithm: 'maml', order: 2, learnInnerLr: true, multiStepLoss: true },
    { algorithm: 'reptile', order: 1 },
    { algorithm: 'pretrain', order: 1 },
  ] as Partial<LearnerOptions>[]) {
    it(`every meta-parameter receives a non-zero meta-gradient: ${JSON.stringify(variant)}`, () => {
      const { learner, meta, batch } = mlpSetup(variant);
      const { grads } = learner.metaGradient(meta, batch, 0.5);
      for (const n of Object.keys(meta)) {
        if (variant.algorithm === 'anil' && !learner.adaptedNames.includes(n) && n.startsWith('innerLr'))
          continue;
        const g = grads[n]!.dataSync();
        const norm = Math.sqrt(Array.from(g).reduce((s: number, v: number) => s + v * v, 0));
        expect(norm, `gradient of ${n}`).toBeGreaterThan(0);
        expect(Number.isFinite(norm)).toBe(true);
      }
    });
  }

  for (const [name, tx] of [
    ['Adam', adam({ lr: 0.05, epsRoot: 1e-12 })],
    ['SGD with momentum', sgd({ lr: 0.05, momentum: 0.9 })],
  ] as const) {
    it(`a second-order meta-gradient through ${name} inner steps matches finite differences (float64)`, () => {
      withDefaultFloat('float64', () => {
        const { learner, meta, batch } = mlpSetup({
          innerRule: optimizerRule(tx as GradientTransformation<unknown>),
        });
        // Adam's first steps are close to lr * sign(g): strongly curved, so a smaller step keeps the central
        // difference's own error below the tolerance.
        checkMetaGradient(learner, meta, batch, { order: 1, directions: 3, eps: 1e-7 });
      });
    });
  }

  it('ANIL adapts only the head', () => {
    const { learner } = mlpSetup({ algorithm: 'anil' });
    expect(learner.adaptedNames).toEqual(['2.dense/kernel', '2.dense/bias']);
  });

  it('inputs: tensor() helper sanity', () => {
    expect(tensor([1]).shape).toEqual([1]);
  });
});
