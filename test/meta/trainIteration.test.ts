/**
 * The trainer's meta-iteration (`trainIteration`): one read per iteration on top of what the meta-gradient
 * itself reads (nothing for MAML, iMAML's CG scalars), the numbers of synchronous reads, a NaN stops it, and
 * with iMAML it runs on a backend that reads only asynchronously (gpu.js webasm with worker threads, as
 * WebGPU), taking exactly the steps of the synchronous webasm mode.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/backends/backend.js';
import { createGpujsBackend, type GpujsBackend, GpujsSyncReadError } from '../../src/backends/gpujs/index.js';
import { getBackend, setDefaultFloat, useBackend } from '../../src/backends/registry.js';
import { activation, adam, dense, Model, Rng } from '../../src/index.js';
import { MetaLearner } from '../../src/meta/learner.js';
import { findNonFinite, NonFiniteError } from '../../src/meta/nonFinite.js';
import { sinusoidSource } from '../../src/meta/tasks.js';
import { type TrainState, trainIteration } from '../../src/meta/trainIteration.js';
import { applyUpdates } from '../../src/optim/tree.js';
import type { Params } from '../../src/tensor/params.js';

type Algo = 'maml' | 'imaml';

function learnerFor(algorithm: Algo, innerLr = 0.01): MetaLearner {
  const model = new Model([dense(16), activation('relu'), dense(1)], [1]);
  return new MetaLearner(model, 'regression', {
    algorithm,
    order: 2,
    innerSteps: 2,
    innerLr,
    imaml: { lambda: 1, cgSteps: 3 },
  });
}

const source = sinusoidSource({ shots: 5, queryShots: 5 });
const outer = adam({ lr: 1e-3 });

async function values(p: Params): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const [k, t] of Object.entries(p)) out[k] = Array.from(await t.data());
  return out;
}

/** `iterations` meta-iterations from seeded parameters and tasks; the losses, metrics and final parameters. */
async function train(algorithm: Algo, iterations: number, reads?: number[]) {
  const learner = learnerFor(algorithm);
  const meta0 = learner.initMetaParams(learner.model.initParams(new Rng(1)));
  let state: TrainState<unknown> = { meta: meta0, optState: outer.init(meta0) };
  const rng = new Rng(2);
  const losses: number[] = [];
  for (let i = 1; i <= iterations; i++) {
    const batch = source.sample(rng, 4, 'train');
    const before = getBackend().counters!.reads;
    const r = await trainIteration(
      (m, b, p) => learner.metaGradientAsync(m, b, p),
      outer,
      state,
      batch,
      i,
      i / iterations,
    );
    reads?.push(getBackend().counters!.reads - before);
    losses.push(r.loss, r.metric);
    state = r;
  }
  return { losses, meta: await values(state.meta) };
}

/** The same iterations as the trainer ran them before: sync meta-gradient, a read for the check, one for the metric. */
async function trainAsBefore(algorithm: Algo, iterations: number) {
  const learner = learnerFor(algorithm);
  let meta = learner.initMetaParams(learner.model.initParams(new Rng(1)));
  let optState: unknown = outer.init(meta);
  const rng = new Rng(2);
  const losses: number[] = [];
  for (let i = 1; i <= iterations; i++) {
    const batch = source.sample(rng, 4, 'train');
    const { loss, metric, grads } = learner.metaGradient(meta, batch, i / iterations);
    const check = await findNonFinite(loss, grads);
    const { updates, state } = outer.update(grads, optState as never, meta);
    meta = applyUpdates(meta, updates);
    optState = state;
    losses.push(check.loss, (await metric.data())[0]!);
  }
  return { losses, meta: await values(meta) };
}

describe('trainIteration on the CPU backend', () => {
  for (const algorithm of ['maml', 'imaml'] as const) {
    it(`${algorithm}: the numbers and parameters of the loop it replaced`, async () => {
      setDefaultFloat('float32');
      expect(await train(algorithm, 4)).toEqual(await trainAsBefore(algorithm, 4));
    });
  }

  it('reads once per MAML iteration; iMAML adds its CG reads (at most 2 per CG step + 1)', async () => {
    const maml: number[] = [];
    await train('maml', 3, maml);
    expect(maml).toEqual([1, 1, 1]);
    const imaml: number[] = [];
    await train('imaml', 3, imaml);
    for (const n of imaml) {
      expect(n).toBeGreaterThan(1);
      expect(n).toBeLessThanOrEqual(1 + 2 * 3 + 1);
    }
  });

  it('throws a NonFiniteError naming the iteration, before updating', async () => {
    const learner = learnerFor('maml', 1e30);
    const meta = learner.initMetaParams(learner.model.initParams(new Rng(1)));
    const batch = source.sample(new Rng(2), 4, 'train');
    const run = trainIteration(
      (m, b, p) => learner.metaGradientAsync(m, b, p),
      outer,
      { meta, optState: outer.init(meta) },
      batch,
      7,
      1,
    );
    await expect(run).rejects.toThrow(NonFiniteError);
    await expect(run).rejects.toThrow(/iteration 7/);
  });
});

describe('iMAML meta-training on a backend that reads only asynchronously', () => {
  let threaded: GpujsBackend | undefined;
  let plain: GpujsBackend | undefined;
  afterAll(async () => {
    await threaded?.destroy();
    await plain?.destroy();
  });
  async function on<T>(b: Backend, fn: () => Promise<T>): Promise<T> {
    const prev = getBackend();
    useBackend(b);
    setDefaultFloat('float32');
    try {
      return await fn();
    } finally {
      useBackend(prev);
    }
  }

  it('runs (the sync meta-gradient throws there) and takes the steps of the synchronous webasm mode', async () => {
    threaded = await createGpujsBackend('webasm', { webasmThreads: true });
    plain = await createGpujsBackend('webasm');
    expect(threaded.isAsync).toBe(true);
    const sync = await on(plain, () => train('imaml', 3));
    const reads: number[] = [];
    const viaAsync = await on(threaded, async () => {
      const learner = learnerFor('imaml');
      const meta = learner.initMetaParams(learner.model.initParams(new Rng(1)));
      expect(() => learner.metaGradient(meta, source.sample(new Rng(2), 4, 'train'))).toThrow(
        GpujsSyncReadError,
      );
      return train('imaml', 3, reads);
    });
    expect(viaAsync).toEqual(sync);
    for (const n of reads) expect(n).toBeLessThanOrEqual(1 + 2 * 3 + 1);
  });
});
