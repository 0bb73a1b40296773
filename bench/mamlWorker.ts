/**
 * Measures MAML meta-iterations per second in a fresh process (so that peak memory is this variant's own):
 * the paper's sinusoid setup (meta-batch 25, K = 10, 1-40-40-1 ReLU, one inner step, Adam outer step).
 * Usage: tsx bench/mamlWorker.ts <order 1|2> <batched|perTask> <iterations> [auto|full|lowRank]. Prints one
 * JSON line.
 */

import { dense, Model, Rng } from '../src/index.js';
import { peakRssMb } from '../src/log/peakRss.js';
import { type FastWeightsMode, MetaLearner } from '../src/meta/learner.js';
import { sinusoidSource } from '../src/meta/tasks.js';
import { adam } from '../src/optim/adam.js';
import { applyUpdates } from '../src/optim/tree.js';

const order = Number(process.argv[2] ?? 2) as 1 | 2;
const batched = (process.argv[3] ?? 'batched') === 'batched';
const iterations = Number(process.argv[4] ?? 300);
const fastWeights = (process.argv[5] ?? 'auto') as FastWeightsMode;

const model = new Model(
  [dense(40, { activation: 'relu' }), dense(40, { activation: 'relu' }), dense(1)],
  [1],
);
const rng = new Rng(0);
const learner = new MetaLearner(model, 'regression', {
  algorithm: 'maml',
  order,
  innerSteps: 1,
  innerLr: 0.01,
  batchedTasks: batched,
  fastWeights,
});
let meta = learner.initMetaParams(model.initParams(rng));
const tx = adam({ lr: 1e-3 });
let state = tx.init(meta);
const source = sinusoidSource({ shots: 10, queryShots: 10 });
const step = () => {
  const batch = source.sample(rng, 25, 'train');
  const { loss, grads } = learner.metaGradient(meta, batch);
  const u = tx.update(grads, state, meta);
  meta = applyUpdates(meta, u.updates);
  state = u.state;
  return loss.item();
};
for (let i = 0; i < Math.min(50, iterations); i++) step();
const runs: number[] = [];
for (let r = 0; r < 3; r++) {
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) step();
  runs.push((iterations * 1000) / (performance.now() - t0));
}
runs.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    order,
    batched,
    fastWeights,
    itPerSec: runs[1],
    maxRssMb: peakRssMb(),
  }),
);
