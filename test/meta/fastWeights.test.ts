import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import {
  dense,
  fromArray,
  type Layer,
  Model,
  mamlMlp,
  matmul,
  mlp,
  Rng,
  slice,
  type Tensor,
  withDefaultFloat,
} from '../../src/index.js';
import { materialize } from '../../src/meta/fastWeights.js';
import { type LearnerOptions, MetaLearner } from '../../src/meta/learner.js';
import { sinusoidSource, type TaskBatch } from '../../src/meta/tasks.js';
import type { Params } from '../../src/nn/params.js';
import { checkMetaGradient, randomEpisodes } from './fixtures.js';

// Low-rank fast weights are an exact rewrite of MAML's inner SGD step on Dense kernels, so every meta-gradient
// they give must equal the one through full per-task kernel copies, to float64 rounding.

const f64 = (t: Tensor) => fromArray(Float64Array.from(t.dataSync()), t.shape);

/** The batch-norm MLP of the Omniglot experiment at a small size: 5 ways, 2 tasks unless told. */
function classification(
  options: Partial<LearnerOptions>,
  fastWeights: LearnerOptions['fastWeights'],
  tasks = 2,
) {
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
  const batch = randomEpisodes(rng, { tasks, support: 5, query: 10, features: 16, ways: 5 }, true);
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
  const batch = mapBatch(sinusoidSource({ shots: 4, queryShots: 6 }).sample(rng, 3, 'train'), f64);
  return { learner, meta, batch };
}

function mapBatch(b: TaskBatch, f: (t: Tensor) => Tensor): TaskBatch {
  return { supportX: f(b.supportX), supportY: f(b.supportY), queryX: f(b.queryX), queryY: f(b.queryY) };
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

  it('auto keeps wide kernels low-rank and small ones full, and never for Meta-SGD or one small task', () => {
    const model = mamlMlp(784, 5);
    const learner = new MetaLearner(model, 'classification', {
      algorithm: 'maml',
      order: 2,
      innerSteps: 1,
      innerLr: 0.4,
    });
    const meta = learner.initMetaParams(model.initParams(new Rng(0)));
    const x = fromArray(new Float32Array(32 * 5 * 784), [32, 5, 784]);
    const y = fromArray(new Int32Array(32 * 5), [32, 5]);
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
    expect(metaSgdFast.params['0.dense/kernel']!.shape).toEqual([32, 784, 256]);
    // One task: copies of the 64x64 kernel are 4,096 elements, too few for low rank to pay; 784x256 still does.
    const one = learner.adapt(meta, slice(x, [0, 0, 0], [1, 5, 784]), slice(y, [0, 0], [1, 5]), 1, 'none');
    expect([...one.kernelDeltas.keys()]).toEqual(['0.dense/kernel', '3.dense/kernel']);
  });

  it('auto mixes low-rank and full kernels in one network and gives the same meta-gradient', () => {
    withDefaultFloat('float64', () => {
      // One step on 5 examples: the 16x8 kernel is low-rank (5 x 24 < 128, and 128 tasks make its copies
      // 16,384 elements), 8x8 and 8x5 stay full.
      const auto = classification({ innerSteps: 1 }, 'auto', 128);
      const full = classification({ innerSteps: 1 }, 'full', 128);
      const fast = auto.learner.adapt(auto.meta, auto.batch.supportX, auto.batch.supportY, 1, 'none');
      expect([...fast.kernelDeltas.keys()]).toEqual(['0.dense/kernel']);
      const a = auto.learner.metaGradient(auto.meta, auto.batch);
      const b = full.learner.metaGradient(full.meta, full.batch);
      for (const n of Object.keys(full.meta))
        expect(maxAbsDiff(a.grads[n]!, b.grads[n]!), n).toBeLessThan(1e-12);
    });
  });

  it('a Dense layer applied twice in one pass (shared weights) adapts by the sum of both uses', () => {
    withDefaultFloat('float64', () => {
      const d = dense(6, { activation: 'tanh' });
      const twice: Layer = {
        kind: 'twice',
        build: (shape, prefix) => d.build(shape, prefix),
        apply: (params, x, ctx) => d.apply(params, d.apply(params, x, ctx), ctx),
      };
      const model = new Model([dense(6, { activation: 'tanh' }), twice, dense(1)], [1]);
      const make = (fastWeights: LearnerOptions['fastWeights']) =>
        new MetaLearner(model, 'regression', {
          algorithm: 'maml',
          order: 2,
          innerSteps: 2,
          innerLr: 0.05,
          fastWeights,
        });
      const rng = new Rng(2);
      const meta: Params = Object.fromEntries(
        Object.entries(model.initParams(rng)).map(([n, p]) => [n, f64(p)]),
      );
      const b = sinusoidSource({ shots: 2, queryShots: 4 }).sample(rng, 2, 'train');
      const batch = mapBatch(b, f64);
      const low = make('lowRank').adapt(meta, batch.supportX, batch.supportY, 2, 'none');
      // Two uses per step, 2 support rows each, 2 steps: two terms of rank 4.
      expect(low.kernelDeltas.get('1.twice/kernel')!.map((t) => t.u.shape)).toEqual([
        [2, 4, 6],
        [2, 4, 6],
      ]);
      const a = make('full').metaGradient(meta, batch);
      const c = make('lowRank').metaGradient(meta, batch);
      for (const n of Object.keys(meta)) expect(maxAbsDiff(a.grads[n]!, c.grads[n]!), n).toBeLessThan(1e-12);
    });
  });

  it('a kernel declared low-rank whose layer never reports its product is an error, not a silent skip', () => {
    const custom: Layer = {
      kind: 'custom',
      build: () => ({
        specs: [
          { name: 'custom/kernel', shape: [1, 1], init: 'ones', fanIn: 1, fanOut: 1, lowRankUpdates: true },
        ],
        outputShape: [1],
      }),
      apply: (params, x) => matmul(x, params['custom/kernel']!),
    };
    const model = new Model([custom], [1]);
    const learner = new MetaLearner(model, 'regression', {
      algorithm: 'maml',
      order: 2,
      innerSteps: 1,
      innerLr: 0.1,
      fastWeights: 'lowRank',
    });
    const b = sinusoidSource({ shots: 2, queryShots: 2 }).sample(new Rng(0), 2, 'train');
    expect(() => learner.metaGradient(model.initParams(new Rng(0)), b)).toThrow(
      /kernel 'custom\/kernel' is declared lowRankUpdates but its layer never reported its product; use trainer.fastWeights: full/,
    );
  });

  it('MAML++ evaluated with more steps than it learned step sizes for reuses the last one', () => {
    withDefaultFloat('float64', () => {
      for (const fw of ['full', 'lowRank'] as const) {
        const { learner, meta, batch } = classification({ innerSteps: 1, learnInnerLr: true }, fw);
        const fast = learner.adapt(meta, batch.supportX, batch.supportY, 3, 'none');
        expect(Number.isFinite(learner.apply(fast, batch.queryX).dataSync()[0]!)).toBe(true);
      }
    });
  });

  it('fastWeights: lowRank with Meta-SGD or an inner optimizer is a config error naming the fields', async () => {
    // Caught by the config schema, before any learner or run folder exists.
    await expect(
      loadConfig('configs/sinusoid-quick.yaml', ['trainer.fastWeights=lowRank', 'trainer.algorithm=metasgd']),
    ).rejects.toThrow(
      'trainer.fastWeights: got "lowRank"; low-rank fast weights need the plain SGD inner step with a scalar step size, not trainer.algorithm: metasgd; use auto or full',
    );
    await expect(
      loadConfig('configs/sinusoid-quick.yaml', [
        'trainer.fastWeights=lowRank',
        'trainer.innerOptimizer.kind=adam',
      ]),
    ).rejects.toThrow(/not trainer.innerOptimizer.kind: adam/);
  });

  it('the second-order meta-gradient through low-rank kernels matches finite differences (float64)', () => {
    withDefaultFloat('float64', () => {
      const { learner, meta, batch } = classification({ innerSteps: 2 }, 'lowRank');
      checkMetaGradient(learner, meta, batch, { order: 2, directions: 2, eps: 1e-5 });
    });
  });
});
