/**
 * Omniglot-sized MAML: meta-iterations per second of the paper's 5-way 1-shot MLP (784-256-128-64-64 with
 * batch norm, meta-batch 32, one inner step, Adam outer step) for each order, with Dense fast weights as full
 * per-task copies (the baseline, `trainer.fastWeights: full`) and as exact low-rank updates (`lowRank`, what
 * `auto` picks for this network), all in this process. The images are random: speed does not depend on them.
 */
import { mamlMlp, Rng } from '../src/index.js';
import { type FastWeightsMode, MetaLearner } from '../src/meta/learner.js';
import { adam } from '../src/optim/adam.js';
import { applyUpdates } from '../src/optim/tree.js';
import { randomEpisodes } from '../test/meta/fixtures.js';
import { type BenchRow, timeIt } from './table.js';

const TASKS = 32;
const WAYS = 5;
const PIXELS = 784;

/** Milliseconds per meta-iteration (meta-gradient, Adam update, values read back). */
function msPerIteration(order: 1 | 2, fastWeights: FastWeightsMode, iterations: number): number {
  const rng = new Rng(0);
  const model = mamlMlp(PIXELS, WAYS);
  const learner = new MetaLearner(model, 'classification', {
    algorithm: 'maml',
    order,
    innerSteps: 1,
    innerLr: 0.4,
    fastWeights,
  });
  let meta = learner.initMetaParams(model.initParams(rng));
  const tx = adam({ lr: 1e-3 });
  let state = tx.init(meta);
  const batch = randomEpisodes(rng, {
    tasks: TASKS,
    support: WAYS,
    query: WAYS,
    features: PIXELS,
    ways: WAYS,
  });
  return timeIt(
    () => {
      const { loss, grads } = learner.metaGradient(meta, batch);
      const u = tx.update(grads, state, meta);
      meta = applyUpdates(meta, u.updates);
      state = u.state;
      loss.item();
    },
    iterations,
    3,
  );
}

export function benchOmniglot(options: { iterations?: number } = {}): BenchRow[] {
  const n = options.iterations ?? 40;
  const rows: BenchRow[] = [];
  for (const order of [2, 1] as const) {
    const full = msPerIteration(order, 'full', Math.max(4, n >> 3));
    const low = msPerIteration(order, 'lowRank', n);
    const work = `MAML order ${order}, Omniglot 5w1s MLP, 32 tasks`;
    rows.push({
      figure: `${(1000 / full).toFixed(2)} it/s`,
      work: `${work}, full per-task kernels`,
      value: `${full.toFixed(1)} ms/it`,
      ratio: 'baseline',
    });
    rows.push({
      figure: `${(1000 / low).toFixed(2)} it/s`,
      work: `${work}, low-rank fast weights`,
      value: `${low.toFixed(1)} ms/it`,
      ratio: `${(full / low).toFixed(2)}x full`,
    });
  }
  return rows;
}
