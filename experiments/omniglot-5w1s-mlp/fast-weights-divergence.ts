// How far apart do two exact computations of the same training run drift? Trains the Omniglot MLP from one
// initialisation on one task stream twice, with full per-task Dense kernels and with low-rank fast weights
// (equal in exact arithmetic), and prints per iteration the loss difference, the relative difference of the
// first kernel's meta-gradient and the largest parameter difference.
//
//   npx tsx experiments/omniglot-5w1s-mlp/fast-weights-divergence.ts [float32|float64] [iterations] [sgd|adam]
import { loadConfig } from '../../src/config/load.js';
import { setup } from '../../src/meta/experiment.js';
import { outerOptimizer } from '../../src/meta/factories.js';
import { MetaLearner } from '../../src/meta/learner.js';
import { applyUpdates } from '../../src/optim/tree.js';

const [dtype = 'float32', n = '10', outer = 'adam'] = process.argv.slice(2);
const overrides = [`dtype=${dtype}`];
if (outer === 'sgd') overrides.push('trainer.outerOptimizer.kind=sgd', 'trainer.outerOptimizer.lr=0.1');
const config = await loadConfig('configs/omniglot-5w1s-mlp.yaml', overrides);
const s = await setup(config);
const runs = (['full', 'lowRank'] as const).map((fastWeights) => {
  const learner = new MetaLearner(s.learner.model, 'classification', { ...s.learner.options, fastWeights });
  const meta = learner.initMetaParams(learner.model.initParams(s.rngFor('init')));
  const tx = outerOptimizer(config);
  return { learner, meta, tx, state: tx.init(meta), rng: s.rngFor('tasks') };
});
console.log(
  `| iteration | loss (full) | loss difference | meta-gradient relative difference | max parameter difference |`,
);
console.log('|---|---|---|---|---|');
for (let it = 1; it <= Number(n); it++) {
  const out = runs.map((r) => {
    const batch = s.source.sample(r.rng, config.trainer.metaBatchSize, 'train', config.data.shots);
    const { loss, grads } = r.learner.metaGradient(r.meta, batch);
    const u = r.tx.update(grads, r.state, r.meta);
    r.meta = applyUpdates(r.meta, u.updates);
    r.state = u.state;
    return { loss: loss.item(), grad: grads['0.dense/kernel']!.dataSync() };
  });
  const [a, b] = out as [(typeof out)[0], (typeof out)[0]];
  let diff = 0;
  let norm = 0;
  a.grad.forEach((v, i) => {
    diff += (v - b.grad[i]!) ** 2;
    norm += v * v;
  });
  let paramDiff = 0;
  for (const name of Object.keys(runs[0]!.meta)) {
    const x = runs[0]!.meta[name]!.dataSync();
    const y = runs[1]!.meta[name]!.dataSync();
    x.forEach((v, i) => {
      paramDiff = Math.max(paramDiff, Math.abs(v - y[i]!));
    });
  }
  const e = (v: number) => v.toExponential(1);
  console.log(
    `| ${it} | ${a.loss.toFixed(6)} | ${e(Math.abs(a.loss - b.loss))} | ${e(Math.sqrt(diff / norm))} | ${e(paramDiff)} |`,
  );
}
