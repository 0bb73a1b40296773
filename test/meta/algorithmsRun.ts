import { experimentConfigSchema } from '../../src/config/schema.js';
import { Rng, withDefaultFloat } from '../../src/index.js';
import { seedFor } from '../../src/meta/experiment.js';
import { buildModel, buildSource, learnerOptions, outerOptimizer } from '../../src/meta/factories.js';
import { MetaLearner } from '../../src/meta/learner.js';
import { applyUpdates } from '../../src/optim/tree.js';

/** Trainer settings of each variant the regression test runs (one per registered algorithm and mode). */
export const VARIANTS: Record<string, Record<string, unknown>> = {
  maml: { algorithm: 'maml', order: 2, innerSteps: 2 },
  fomaml: { algorithm: 'maml', order: 1, innerSteps: 2 },
  anil: { algorithm: 'anil', order: 2, innerSteps: 2 },
  metasgd: { algorithm: 'metasgd', order: 2, innerSteps: 2 },
  mamlpp: { algorithm: 'maml', order: 2, innerSteps: 2, learnInnerLr: true, multiStepLoss: true },
  reptile: { algorithm: 'reptile', innerSteps: 3, reptileOuterLr: 0.5 },
  pretrain: { algorithm: 'pretrain' },
  momentum: { algorithm: 'maml', order: 2, innerSteps: 2, innerOptimizer: { kind: 'momentum' } },
  adam: { algorithm: 'maml', order: 1, innerSteps: 2, innerOptimizer: { kind: 'adam' } },
  lowRank: { algorithm: 'maml', order: 2, innerSteps: 2, fastWeights: 'lowRank' },
  perTask: { algorithm: 'maml', order: 2, innerSteps: 1, batchedTasks: false },
};

/** The meta-loss of each of `iterations` sinusoid meta-updates of a variant (float64, seed 0, 4 tasks). */
export async function metaLosses(trainer: Record<string, unknown>, iterations = 3): Promise<number[]> {
  const config = experimentConfigSchema.parse({
    name: 'regression',
    dtype: 'float64',
    data: { kind: 'sinusoid', shots: 5, queryShots: 5 },
    model: { kind: 'mlp', hidden: [20, 20] },
    trainer: { iterations, metaBatchSize: 4, innerLr: 0.02, ...trainer },
  });
  const source = await buildSource(config, { flatImages: true });
  return withDefaultFloat('float64', () => {
    const learner = new MetaLearner(buildModel(config, source), source.kind, learnerOptions(config));
    const outer = outerOptimizer(config);
    let meta = learner.initMetaParams(learner.model.initParams(new Rng(seedFor(0, 'init'))));
    let state = outer.init(meta);
    const rng = new Rng(seedFor(0, 'tasks'));
    const out: number[] = [];
    for (let i = 1; i <= iterations; i++) {
      const batch = source.sample(rng, config.trainer.metaBatchSize, 'train');
      const { loss, grads } = learner.metaGradient(meta, batch, i / iterations);
      out.push(loss.item());
      // The last meta-gradient too (its weighted sum), so a change in the final update shows.
      if (i === iterations)
        out.push(
          Object.keys(grads)
            .sort()
            .reduce(
              (acc, n, j) => acc + (j + 1) * Array.from(grads[n]!.dataSync()).reduce((a, b) => a + b, 0),
              0,
            ),
        );
      const u = outer.update(grads, state, meta);
      meta = applyUpdates(meta, u.updates);
      state = u.state;
    }
    return out;
  });
}
