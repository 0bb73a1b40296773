import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { dense, Model, Rng } from '../../src/index.js';
import { MetaLearner } from '../../src/meta/learner.js';
import { sinusoidSource } from '../../src/meta/tasks.js';
import { adam } from '../../src/optim/adam.js';
import { applyUpdates } from '../../src/optim/tree.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function liveBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe('meta-training memory', () => {
  it('stays flat across meta-iterations (second order, batched)', () => {
    const model = new Model(
      [dense(40, { activation: 'relu' }), dense(40, { activation: 'relu' }), dense(1)],
      [1],
    );
    const rng = new Rng(0);
    const learner = new MetaLearner(model, 'regression', {
      algorithm: 'maml',
      order: 2,
      innerSteps: 2,
      innerLr: 0.01,
    });
    let meta = learner.initMetaParams(model.initParams(rng));
    const tx = adam({ lr: 1e-3 });
    let state = tx.init(meta);
    const source = sinusoidSource({ shots: 10, queryShots: 10 });
    const step = () => {
      const { grads, loss } = learner.metaGradient(meta, source.sample(rng, 25, 'train'));
      const u = tx.update(grads, state, meta);
      meta = applyUpdates(meta, u.updates);
      state = u.state;
      loss.item();
    };
    for (let i = 0; i < 30; i++) step();
    const early = liveBytes();
    for (let i = 0; i < 300; i++) step();
    const late = liveBytes();
    // Live memory after 300 more iterations is within 5% (plus 1 MB of slack for JIT/IC growth).
    expect(late).toBeLessThan(early * 1.05 + 2 ** 20);
  });
});
