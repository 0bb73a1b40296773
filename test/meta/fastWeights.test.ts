import { describe, expect, it } from 'vitest';
import { fromArray, mamlMlp, mlp, Rng, type Tensor, withDefaultFloat } from '../../src/index.js';
import { materialize } from '../../src/meta/fastWeights.js';
import { type LearnerOptions, MetaLearner } from '../../src/meta/learner.js';
import { sinusoidSource, type TaskBatch } from '../../src/meta/tasks.js';
import type { Params } from '../../src/nn/params.js';
import { checkMetaGradient, randomEpisodes } from './fixtures.js';

// Low-rank fast weights are an exact rewrite of MAML's inner SGD step on Dense kernels, so every meta-gradient
// they give must equal the one through full per-task kernel copies, to float64 rounding.

const f64 = (t: Tensor) => fromArray(Float64Array.from(t.dataSync()), t.shape);

/** The batch-norm MLP of the Omniglot experiment at a small size: 5 ways, 2 tasks. */
function classification(options: Partial<LearnerOptions>, fastWeights: LearnerOptions['fastWeights']) {
  const model = mamlMlp(16, 5, { hidden: [8, 8] });
  const rng = new Rng(5);
  const learner = new MetaLearner(model, 'classification', {
    algorithm: 'maml',
    order: 2,
    innerSteps: 2,
    innerLr: 0.4,
    ...options,
    fastWeights,
  });
  const init = learner.initMetaParams(model.initParams(rng));
  const meta: Params = Object.fromEntries(Object.entries(init).map(([n, p]) => [n, f64(p)]));
  const batch = randomEpisodes(rng, { tasks: 2, support: 5, query: 10, features: 16, ways: 5 }, true);
  return { learner, meta, batch };
}

/** The sinusoid network with 3 tasks of 4 support points (40-wide hidden kernels, so rank 4 per step). */
function regression(options: Partial<LearnerOptions>, fastWeights: LearnerOptions['fastWeights']) {
  const model = mlp(1, [40, 40], 1);
  const rng = new Rng(9);
  const learner = new MetaLearner(model, 'regression', {
    algorithm: 'maml',
    order: 2,
    innerSteps: 2,
    innerLr: 0.01,
    ...options,
    fastWeights,
  });
  const init = learner.initMetaParams(model.initParams(rng));
  const meta: Params = Object.fromEntries(Object.entries(init).map(([n, p]) => [n, f64(p)]));
  const b = sinusoidSource({ shots: 4, queryShots: 6 }).sample(rng, 3, 'train');
  const batch: TaskBatch = {
    supportX: f64(b.supportX),
    supportY: f64(b.supportY),
    queryX: f64(b.queryX),
    queryY: f64(b.queryY),
  };
  return { learner, meta, batch };
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

const variants: [string, Partial<LearnerOptions>][] = [
  ['MAML order 2, 1 step', { innerSteps: 1 }],
  ['MAML order 2, 3 steps', { innerSteps: 3 }],
  ['MAML order 1, 2 steps', { order: 1 }],
  ['ANIL order 2', { algorithm: 'anil' }],
  ['MAML++ (learned step sizes, multi-step loss)', { learnInnerLr: true, multiStepLoss: true }],
  ['Reptile', { algorithm: 'reptile', order: 1 }],
  ['the per-task loop', { batchedTasks: false }],
];

describe('low-rank fast weights', () => {
  for (const [problem, setup] of [
    ['batch-norm classifier', classification],
    ['sinusoid regressor', regression],
  ] as const) {
    for (const [name, options] of variants) {
      it(`${problem}: ${name} gives the meta-gradient of full per-task kernels (float64)`, () => {
        withDefaultFloat('float64', () => {
          const full = setup(options, 'full');
          const low = setup(options, 'lowRank');
          const a = full.learner.metaGradient(full.meta, full.batch, 0.5);
          const b = low.learner.metaGradient(low.meta, low.batch, 0.5);
          expect(Math.abs(a.loss.item() - b.loss.item())).toBeLessThan(1e-12);
          for (const n of Object.keys(full.meta)) {
            const scale = Math.max(1, ...Array.from(a.grads[n]!.dataSync(), Math.abs));
            expect(maxAbsDiff(a.grads[n]!, b.grads[n]!) / scale, n).toBeLessThan(1e-11);
          }
        });
      });
    }
  }

  it('keep adapted Dense kernels shared, with one factor pair per step, and materialize to the full kernels', () => {
    withDefaultFloat('float64', () => {
      const low = classification({}, 'lowRank');
      const full = classification({}, 'full');
      const { supportX, supportY } = low.batch;
      const a = low.learner.adapt(low.meta, supportX, supportY, 3, 'none');
      const b = full.learner.adapt(full.meta, supportX, supportY, 3, 'none');
      const kernels = low.learner.model.specs.filter((s) => s.name.endsWith('/kernel')).map((s) => s.name);
      expect(kernels.length).toBe(3);
      expect([...a.kernelDeltas.keys()].sort()).toEqual([...kernels].sort());
      expect(b.kernelDeltas.size).toBe(0);
      for (const k of kernels) {
        expect(a.params[k]!.shape).toEqual(low.meta[k]!.shape);
        const terms = a.kernelDeltas.get(k)!;
        expect(terms.length).toBe(3);
        expect(terms[0]!.u.shape.slice(0, 2)).toEqual([2, 5]);
      }
      const m = materialize(a);
      for (const n of Object.keys(b.params)) expect(maxAbsDiff(m[n]!, b.params[n]!), n).toBeLessThan(1e-12);
      const qa = low.learner.apply(a, low.batch.queryX);
      const qb = full.learner.apply(b, full.batch.queryX);
      expect(maxAbsDiff(qa, qb)).toBeLessThan(1e-12);
    });
  });

  it('auto keeps wide kernels low-rank and small ones full, and never for Meta-SGD', () => {
    const model = mamlMlp(784, 5);
    const learner = new MetaLearner(model, 'classification', {
      algorithm: 'maml',
      order: 2,
      innerSteps: 1,
      innerLr: 0.4,
    });
    const meta = learner.initMetaParams(model.initParams(new Rng(0)));
    const x = fromArray(new Float32Array(2 * 5 * 784), [2, 5, 784]);
    const y = fromArray(new Int32Array(10), [2, 5]);
    // Rank 5 after one step: factors (5 x (in + out)) are smaller than every hidden kernel, not than 64 x 5.
    const fast = learner.adapt(meta, x, y, 1, 'none');
    expect([...fast.kernelDeltas.keys()]).toEqual([
      '0.dense/kernel',
      '3.dense/kernel',
      '6.dense/kernel',
      '9.dense/kernel',
    ]);
    const metaSgd = new MetaLearner(model, 'classification', { ...learner.options, algorithm: 'metasgd' });
    const metaSgdFast = metaSgd.adapt(metaSgd.initMetaParams(meta), x, y, 1, 'none');
    expect(metaSgdFast.kernelDeltas.size).toBe(0);
    expect(metaSgdFast.params['0.dense/kernel']!.shape).toEqual([2, 784, 256]);
  });

  it('the second-order meta-gradient through low-rank kernels matches finite differences (float64)', () => {
    withDefaultFloat('float64', () => {
      const { learner, meta, batch } = classification({ innerSteps: 2 }, 'lowRank');
      checkMetaGradient(learner, meta, batch, { order: 2, directions: 2, eps: 1e-5 });
    });
  });
});
