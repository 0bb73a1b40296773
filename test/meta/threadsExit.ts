/**
 * Child process of test/meta/threadsRun.test.ts: starts a 2-thread pool, computes one meta-gradient and never
 * closes the pool. The process must still exit by itself (workers are unref'd), printing the loss.
 */
import { experimentConfigSchema } from '../../src/config/schema.js';
import { learnerRecipe, workerLearner } from '../../src/meta/setup.js';
import { sinusoidSource } from '../../src/meta/tasks.js';
import { MetaGradientThreads } from '../../src/meta/threads.js';
import { Rng } from '../../src/tensor/random.js';

const config = experimentConfigSchema.parse({
  name: 'exit',
  data: { kind: 'sinusoid', shots: 5 },
  model: { kind: 'mlp', hidden: [8] },
  trainer: { iterations: 1, metaBatchSize: 4 },
});
const source = sinusoidSource({ shots: 5, queryShots: 5 });
const learner = await workerLearner({ config, kind: 'regression', inputShape: [1], outputDim: 1 });
const pool = await MetaGradientThreads.start(learner, learnerRecipe(config, source), 2);
const rng = new Rng(0);
const meta = learner.initMetaParams(learner.model.initParams(rng));
console.log(pool.metaGradient(meta, source.sample(rng, 4, 'train')).loss.item());
