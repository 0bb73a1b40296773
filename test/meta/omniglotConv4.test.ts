import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { readRunMetrics } from '../../src/io/metrics.js';
import { readStatus } from '../../src/io/runFolder.js';
import { hasSharedOmniglot, sharedTitle } from '../data/shared.js';
import { runConfig, usePreparedOmniglot } from './omniglotPrepared.js';

// The conv4 configs are for a GPU (60,000 iterations of 32 tasks); here the 5-way 1-shot one runs end to end
// on the CPU at tiny scale (8 filters, 2 tasks per meta-batch, 3 iterations, 4 test tasks): data, model,
// second-order meta-gradients through conv/BatchNorm, checkpoints, evaluation, summary and plots. The data is
// generated from the small Omniglot fixture (see omniglotPrepared.ts); the real Omniglot is an extra run.

const omniglot = usePreparedOmniglot('fixture');

describe('omniglot conv4 configs', () => {
  it('state the MAML reference settings', async () => {
    const c = await loadConfig('configs/omniglot-5w1s-conv4.yaml');
    expect(c.model).toEqual({ kind: 'conv4', filters: 64, pooling: 'stride' });
    expect(c.data).toMatchObject({ ways: 5, shots: 1, queryShots: 1, augmentRotations: true, split: 'maml' });
    expect(c.trainer).toMatchObject({
      order: 2,
      innerSteps: 1,
      innerLr: 0.4,
      metaBatchSize: 32,
      iterations: 60000,
    });
    const c20 = await loadConfig('configs/omniglot-20w1s-conv4.yaml');
    expect(c20.data.kind === 'omniglot' && c20.data.ways).toBe(20);
    expect(c20.trainer).toMatchObject({ innerSteps: 5, innerLr: 0.1, metaBatchSize: 16 });
    const c5 = await loadConfig('configs/omniglot-5w5s-conv4.yaml');
    expect(c5.data).toMatchObject({ ways: 5, shots: 5, queryShots: 5 });
  });

  it('5-way 1-shot runs end to end for 3 iterations at tiny scale', async () => {
    await runTiny(omniglot.root());
  });
});

describe.skipIf(!hasSharedOmniglot)(sharedTitle('conv4 training on the real Omniglot'), () => {
  const real = usePreparedOmniglot('full');
  it('5-way 1-shot runs end to end for 3 iterations at tiny scale', async () => {
    await runTiny(real.root());
  });
});

/** 3 iterations of 2 tasks with 8 filters on the prepared data in `root`; checks the run's outputs. */
async function runTiny(root: string): Promise<void> {
  const r = await runConfig('omniglot-5w1s-conv4.yaml', [
    `data.root=${root}`,
    'backend=cpu',
    'model.filters=8',
    'trainer.metaBatchSize=2',
    'trainer.iterations=3',
    'eval.tasks=4',
    'eval.steps=[1,3]',
    'logging.every=1',
    'logging.checkpointEvery=3',
  ]);
  try {
    expect(r.summary.interrupted).toBe(false);
    expect(r.summary.iteration).toBe(3);
    expect(await readStatus(r.run.dir)).toMatchObject({ state: 'completed', iteration: 3 });
    const m = await readRunMetrics(r.run.dir);
    expect(m.iteration).toEqual([1, 2, 3]);
    for (const l of m.metaLoss as number[]) expect(Number.isFinite(l)).toBe(true);
    const summary = JSON.parse(readFileSync(join(r.run.dir, 'summary.json'), 'utf8'));
    expect(summary.metric).toBe('accuracy');
    expect(summary.table[0].scores.map((s: { steps: number }) => s.steps)).toEqual([0, 1, 3]);
    for (const s of summary.table[0].scores) {
      expect(s.tasks).toBe(4);
      expect(s.mean).toBeGreaterThanOrEqual(0);
      expect(s.mean).toBeLessThanOrEqual(1);
    }
    expect(existsSync(join(r.run.dir, 'summary.md'))).toBe(true);
    expect(existsSync(join(r.run.dir, 'training-curve.svg'))).toBe(true);
  } finally {
    await r.cleanup();
  }
}
