import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { fromArray, mamlMlp, Rng, setDefaultFloat, withDefaultFloat } from '../../src/index.js';
import { readRunMetrics } from '../../src/io/metrics.js';
import { seedFor, setup } from '../../src/meta/experiment.js';
import { MetaLearner } from '../../src/meta/learner.js';
import { hasSharedOmniglot, sharedTitle } from '../data/shared.js';
import { checkMetaGradient, randomEpisodes } from './fixtures.js';
import { runConfig, usePreparedOmniglot } from './omniglotPrepared.js';

// The runs use a dataset generated from the small Omniglot fixture (see omniglotPrepared.ts), so they need no
// shared folder; the same run on the real Omniglot is an extra at the end of the file.
const omniglot = usePreparedOmniglot('fixture');

/** 5-way 1-shot, 3 iterations of 4 tasks, on the prepared data in `root`; checks the run's outputs. */
async function runFewIterations(root: string): Promise<void> {
  const r = await runConfig('omniglot-5w1s-mlp.yaml', [
    `data.root=${root}`,
    'trainer.metaBatchSize=4',
    'trainer.iterations=3',
    'eval.tasks=10',
    'logging.every=1',
    'logging.checkpointEvery=3',
  ]);
  try {
    expect(r.summary).toMatchObject({ iteration: 3, interrupted: false });
    const metrics = await readRunMetrics(r.run.dir);
    expect(metrics.iteration).toEqual([1, 2, 3]);
    for (const l of metrics.metaLoss as number[]) expect(Number.isFinite(l)).toBe(true);
    const summary = JSON.parse(readFileSync(join(r.run.dir, 'summary.json'), 'utf8'));
    expect(summary.table[0].scores.map((s: { steps: number }) => s.steps)).toEqual([0, 1, 3]);
    expect(summary.results['test/accuracy@K1/3steps']).toBeGreaterThanOrEqual(0);
    expect(summary.results['test/accuracy@K1/3steps']).toBeLessThanOrEqual(1);
  } finally {
    await r.cleanup();
  }
}

describe('omniglot MLP configs', () => {
  it('state the MAML reference settings', async () => {
    const c = await loadConfig('configs/omniglot-5w1s-mlp.yaml');
    expect(c.model).toEqual({
      kind: 'maml-mlp',
      hidden: [256, 128, 64, 64],
      activation: 'relu',
      batchNorm: true,
    });
    expect(c.data).toMatchObject({ ways: 5, shots: 1, queryShots: 1, augmentRotations: true, split: 'maml' });
    expect(c.trainer).toMatchObject({
      algorithm: 'maml',
      order: 2,
      innerSteps: 1,
      innerLr: 0.4,
      metaBatchSize: 32,
      iterations: 60000,
      outerOptimizer: { kind: 'adam', lr: 0.001 },
    });
    expect(c.eval).toMatchObject({ tasks: 600, steps: [1, 3], shots: [1] });
    const c5 = await loadConfig('configs/omniglot-5w5s-mlp.yaml');
    expect(c5.data).toMatchObject({ ways: 5, shots: 5, queryShots: 5 });
    const c20 = await loadConfig('configs/omniglot-20w1s-mlp.yaml');
    expect(c20.data).toMatchObject({ ways: 20, shots: 1 });
    expect(c20.trainer).toMatchObject({ innerSteps: 5, innerLr: 0.1, metaBatchSize: 16 });
  });

  it('order 1 and order 2 share the initialisation, the task stream and the test episodes', async () => {
    const cfg = (order: number) =>
      loadConfig('configs/omniglot-5w1s-mlp.yaml', [
        `data.root=${omniglot.root()}`,
        `trainer.order=${order}`,
      ]);
    const [a, b] = [await setup(await cfg(1)), await setup(await cfg(2))];
    const pa = a.learner.model.initParams(a.rngFor('init'));
    const pb = b.learner.model.initParams(b.rngFor('init'));
    for (const n of Object.keys(pa)) expect(pa[n]!.dataSync()).toEqual(pb[n]!.dataSync());
    for (const purpose of ['tasks', 'eval/test/1']) {
      const ta = a.source.sample(a.rngFor(purpose), 3, purpose === 'tasks' ? 'train' : 'test');
      const tb = b.source.sample(b.rngFor(purpose), 3, purpose === 'tasks' ? 'train' : 'test');
      expect(ta.supportX.dataSync()).toEqual(tb.supportX.dataSync());
      expect(ta.queryY.dataSync()).toEqual(tb.queryY.dataSync());
    }
    expect(seedFor(0, 'eval/test/1')).not.toBe(seedFor(1, 'eval/test/1'));
  });

  it('a float64 run samples float64 episodes (dtype: float64)', async () => {
    try {
      const s = await setup(
        await loadConfig('configs/omniglot-5w1s-mlp.yaml', [`data.root=${omniglot.root()}`, 'dtype=float64']),
      );
      const batch = s.source.sample(s.rngFor('tasks'), 2, 'train');
      expect([batch.supportX.dtype, batch.queryX.dtype]).toEqual(['float64', 'float64']);
      const meta = s.learner.initMetaParams(s.learner.model.initParams(s.rngFor('init')));
      expect(Number.isFinite(s.learner.metaGradient(meta, batch).loss.item())).toBe(true);
    } finally {
      setDefaultFloat('float32');
    }
  });

  it('5-way 1-shot runs end to end for a few iterations', async () => {
    await runFewIterations(omniglot.root());
  });
});

describe('second-order MAML through the batch-norm MLP', () => {
  // The Omniglot MLP normalises with per-task batch statistics of 5 support examples; the exact meta-gradient
  // differentiates through those statistics twice. A small copy (16 inputs, 8-8 hidden, 5 ways, alpha = 0.4)
  // against central differences in float64, for the training setting (1 step) and the test setting (3).
  for (const steps of [1, 3]) {
    it(`matches finite differences with ${steps} inner step(s) (float64)`, () => {
      withDefaultFloat('float64', () => {
        const model = mamlMlp(16, 5, { hidden: [8, 8] });
        const rng = new Rng(11);
        const learner = new MetaLearner(model, 'classification', {
          algorithm: 'maml',
          order: 2,
          innerSteps: steps,
          innerLr: 0.4,
        });
        const init = learner.initMetaParams(model.initParams(rng));
        const names = Object.keys(init);
        const meta = Object.fromEntries(
          names.map((n) => [n, fromArray(Float64Array.from(init[n]!.dataSync()), init[n]!.shape)]),
        );
        const batch = randomEpisodes(rng, { tasks: 2, support: 5, query: 10, features: 16, ways: 5 }, true);
        checkMetaGradient(learner, meta, batch, { order: 1, directions: 3, eps: 1e-6 });
        const first = new MetaLearner(model, 'classification', { ...learner.options, order: 1 });
        const g1 = first.metaGradient(meta, batch).grads['0.dense/kernel']!.dataSync();
        const g2 = learner.metaGradient(meta, batch).grads['0.dense/kernel']!.dataSync();
        expect(Math.max(...g1.map((v, i) => Math.abs(v - g2[i]!)))).toBeGreaterThan(1e-4);
      });
    });
  }
});

describe.skipIf(!hasSharedOmniglot)(sharedTitle('MLP training on the real Omniglot'), () => {
  const real = usePreparedOmniglot('full');
  it('5-way 1-shot runs end to end for a few iterations', async () => {
    await runFewIterations(real.root());
  });
});
