import { afterAll, describe, expect, it } from 'vitest';
import { kernelThreadsUnavailable } from '../../src/backends/cpu/kernelThreads.js';
import { setDefaultFloat } from '../../src/backends/registry.js';
import { type ExperimentConfig, experimentConfigSchema } from '../../src/config/schema.js';
import type { MetaGradient } from '../../src/meta/algorithms/types.js';
import { learnerRecipe, workerLearner } from '../../src/meta/setup.js';
import { sinusoidSource, type TaskBatch } from '../../src/meta/tasks.js';
import { MetaGradientThreads, resolveThreads, splitTasks, ThreadError } from '../../src/meta/threads.js';
import { Rng } from '../../src/tensor/random.js';
import { taskSlice } from './fixtures.js';

const source = sinusoidSource({ shots: 5, queryShots: 5 });

function config(trainer: Record<string, unknown>): ExperimentConfig {
  return experimentConfigSchema.parse({
    name: 'threads',
    dtype: 'float64',
    data: { kind: 'sinusoid', shots: 5 },
    model: { kind: 'mlp', hidden: [12, 12] },
    trainer: { metaBatchSize: 5, iterations: 1, innerSteps: 2, ...trainer },
  });
}

const flat = (g: MetaGradient): Record<string, number[]> => {
  const out: Record<string, number[]> = { loss: [g.loss.item()], metric: [g.metric.item()] };
  for (const [n, t] of Object.entries(g.grads)) out[n] = Array.from(t.dataSync());
  return out;
};

function maxRelDiff(a: Record<string, number[]>, b: Record<string, number[]>): number {
  expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
  let worst = 0;
  for (const [n, xs] of Object.entries(a)) {
    const ys = b[n]!;
    expect(ys.length).toBe(xs.length);
    const scale = Math.max(1e-12, ...xs.map(Math.abs));
    xs.forEach((x, i) => {
      worst = Math.max(worst, Math.abs(x - ys[i]!) / scale);
    });
  }
  return worst;
}

const pools: MetaGradientThreads[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  setDefaultFloat('float32');
});

type Via = 'workers' | 'programs';

/** Task slices as kernel programs need the native kernels; where they are not built, those tests say so. */
const nativeMissing = kernelThreadsUnavailable();
const VIAS: Via[] = nativeMissing === undefined ? ['workers', 'programs'] : ['workers'];
if (nativeMissing !== undefined)
  console.log(`threads.test.ts: task slices as kernel programs not tested (${nativeMissing})`);

const learnerOf = (cfg: ExperimentConfig) =>
  workerLearner({ config: cfg, kind: 'regression', inputShape: [1], outputDim: 1 });

/**
 * A pool of `threads` running its slices `via` workers or kernel programs, and a learner of the same config
 * that computes whole meta-batches on this thread (the pool's own learner cuts them into slices with programs).
 */
async function pool(cfg: ExperimentConfig, threads: number, via: Via = 'workers') {
  const own = await learnerOf(cfg);
  const p = await MetaGradientThreads.start(own, learnerRecipe(cfg, source), threads, { via });
  pools.push(p);
  return { learner: await learnerOf(cfg), p, own };
}

describe('splitTasks and resolveThreads', () => {
  it('splits into contiguous slices, larger first, never more slices than tasks', () => {
    expect(splitTasks(5, 2)).toEqual([
      [0, 3],
      [3, 2],
    ]);
    expect(splitTasks(32, 2)).toEqual([
      [0, 16],
      [16, 16],
    ]);
    expect(splitTasks(2, 4)).toEqual([
      [0, 1],
      [1, 1],
    ]);
    expect(splitTasks(7, 1)).toEqual([[0, 7]]);
  });

  it('caps threads at the meta-batch and rejects non-positive counts', () => {
    expect(resolveThreads(4, 3)).toBe(3);
    expect(resolveThreads('auto', 1)).toBe(1);
    expect(resolveThreads('auto', 1000)).toBeGreaterThanOrEqual(1);
    expect(() => resolveThreads(0, 4)).toThrow(ThreadError);
  });
});

describe('MetaGradientThreads', () => {
  // Every algorithm's meta-gradient is a mean over tasks, so any split gives the same numbers in float64 up to
  // summation order. An uneven split (5 tasks over 2 and 3 threads) checks the slice weights.
  const cases: [string, Record<string, unknown>][] = [
    ['maml order 2', { algorithm: 'maml', order: 2 }],
    ['maml order 1', { algorithm: 'maml', order: 1 }],
    ['mamlpp (learned step sizes, multi-step loss)', { algorithm: 'mamlpp' }],
    ['metasgd', { algorithm: 'metasgd' }],
    ['anil', { algorithm: 'anil' }],
    ['reptile', { algorithm: 'reptile' }],
    ['pretrain', { algorithm: 'pretrain' }],
  ];
  const byVia = VIAS.flatMap((via) =>
    cases.map(([name, trainer]): [string, Via, Record<string, unknown>] => [name, via, trainer]),
  );
  it.each(byVia)('%s: 2 threads (%s) give the 1-thread meta-gradient', async (_, via, trainer) => {
    setDefaultFloat('float64');
    const cfg = config(trainer);
    const why = (await learnerOf(cfg)).taskSlicesUnavailable();
    if (via === 'programs' && why !== undefined) {
      // Not replayed (MAML++'s annealed loss): programs refuse it, and auto takes workers.
      await expect(
        MetaGradientThreads.start(await learnerOf(cfg), learnerRecipe(cfg, source), 2, { via }),
      ).rejects.toThrow(/cannot run as kernel programs: no kernel replay/);
      const auto = await MetaGradientThreads.start(await learnerOf(cfg), learnerRecipe(cfg, source), 2);
      pools.push(auto);
      expect(auto.via).toBe('workers');
      return;
    }
    const { learner, p } = await pool(cfg, 2, via);
    expect(p.via).toBe(via);
    const rng = new Rng(7);
    const meta = learner.initMetaParams(learner.model.initParams(rng));
    const batch: TaskBatch = source.sample(rng, 5, 'train');
    const one = flat(learner.metaGradient(meta, batch, 0.5));
    const two = flat(p.metaGradient(meta, batch, 0.5));
    // Float64 rounding, amplified only where Reptile's theta - mean(phi) cancels.
    expect(maxRelDiff(one, two)).toBeLessThan(1e-9);
    await p.close();
  });

  it.each(VIAS)(
    'is bitwise reproducible for a fixed thread count; 3 threads (%s) differ from 1 by float rounding only',
    async (via) => {
      setDefaultFloat('float32');
      const cfg = { ...config({ algorithm: 'maml', order: 2 }), dtype: 'float32' as const };
      const { learner, p } = await pool(cfg, 3, via);
      const rng = new Rng(3);
      const meta = learner.initMetaParams(learner.model.initParams(rng));
      const batch = source.sample(rng, 5, 'train');
      const a = flat(p.metaGradient(meta, batch));
      const b = flat(p.metaGradient(meta, batch));
      expect(b).toEqual(a);
      const one = flat(learner.metaGradient(meta, batch));
      const d = maxRelDiff(one, a);
      expect(d).toBeLessThan(1e-5);
      await p.close();
    },
  );

  it.each(VIAS)(
    "2 threads (%s) give, bit for bit, the slices' meta-gradients computed on the main thread, summed in float64",
    async (via) => {
      // Which thread computes a slice must not change a bit: every slice runs on a worker or a kernel thread,
      // and the result equals the main thread's learner run on the same slices and combined in slice order.
      setDefaultFloat('float32');
      const cfg = { ...config({ algorithm: 'maml', order: 2 }), dtype: 'float32' as const };
      const { learner, p, own } = await pool(cfg, 2, via);
      const rng = new Rng(11);
      const meta = learner.initMetaParams(learner.model.initParams(rng));
      const batch = source.sample(rng, 5, 'train');
      const slices = splitTasks(5, 2);
      const parts = slices.map(([start, count]) =>
        flat(learner.metaGradient(meta, taskSlice(batch, start, count))),
      );
      const w = slices.map(([, count]) => count / 5);
      const expected: Record<string, number[]> = {};
      for (const k of Object.keys(parts[0]!))
        expected[k] = parts[0]![k]!.map((x, j) => Math.fround(w[0]! * x + w[1]! * parts[1]![k]![j]!));
      // Recorded, checked against the slices op by op, then replayed: each time the same numbers.
      for (let i = 0; i < 3; i++) expect(flat(p.metaGradient(meta, batch))).toEqual(expected);
      if (via === 'programs')
        expect(own.replayStatus().map((r) => [r.state, r.slices])).toEqual([['replaying', 2]]);
      await p.close();
    },
  );

  it('surfaces a failing job as a ThreadError naming the worker; the pool stays usable', async () => {
    setDefaultFloat('float64');
    const cfg = config({ algorithm: 'maml' });
    const learner = await workerLearner({ config: cfg, kind: 'regression', inputShape: [1], outputDim: 1 });
    // The worker builds a deeper network than the main thread has parameters for: only its slice fails.
    const wider = { ...cfg, model: { ...cfg.model, hidden: [12, 12, 12] } } as ExperimentConfig;
    const p = await MetaGradientThreads.start(learner, learnerRecipe(wider, source), 2, { via: 'workers' });
    pools.push(p);
    const rng = new Rng(1);
    const meta = learner.initMetaParams(learner.model.initParams(rng));
    const batch = source.sample(rng, 4, 'train');
    expect(() => p.metaGradient(meta, batch)).toThrow(/worker 1 failed: \w*Error/);
    expect(() => p.metaGradient(meta, batch)).toThrow(/worker 1 failed/);
    // A single task runs on the main thread alone.
    const single = source.sample(rng, 1, 'train');
    expect(Number.isFinite(p.metaGradient(meta, single).loss.item())).toBe(true);
    await p.close();
    expect(() => p.metaGradient(meta, batch)).toThrow(/closed/);
  });

  it('refuses an algorithm whose tasks are coupled (iMAML)', async () => {
    const cfg = config({ algorithm: 'imaml' });
    const learner = await workerLearner({ config: cfg, kind: 'regression', inputShape: [1], outputDim: 1 });
    await expect(MetaGradientThreads.start(learner, learnerRecipe(cfg, source), 2)).rejects.toThrow(
      /imaml couples the tasks/,
    );
    await expect(MetaGradientThreads.start(learner, learnerRecipe(cfg, source), 1)).resolves.toBeDefined();
  });

  it('reports a worker that cannot build its learner', async () => {
    const learner = await workerLearner({
      config: config({}),
      kind: 'regression',
      inputShape: [1],
      outputDim: 1,
    });
    const recipe = {
      module: new URL('../../src/meta/setup.ts', import.meta.url).href,
      exportName: 'nope',
      arg: 0,
    };
    await expect(MetaGradientThreads.start(learner, recipe, 2, { via: 'workers' })).rejects.toThrow(
      /worker 1 did not start: .*no exported function nope/,
    );
  });
});
