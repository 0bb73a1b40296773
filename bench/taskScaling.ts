/**
 * What splitting a meta-batch's tasks (`trainer.parallelism: tasks`) can gain at most: ms per meta-gradient
 * of the Omniglot 5-way 1-shot MLP (order 2, one inner step) on one thread for the first 32, 16, 8, 4, 2 and
 * 1 tasks of the shared fixture's first meta-batch, and the storage its replayed program keeps. Each of two
 * threads computes a 16-task slice, so two threads cost at least twice the 16-task figure in CPU time,
 * whatever the coordination costs. `METATAPE_MEMORY_PLAN=0` for the programs without their memory plan,
 * `METATAPE_REPLAY=0` for the op-by-op computation.
 * Usage: `taskset -c 1 node --initial-old-space-size=128 --import tsx bench/taskScaling.ts
 * [fixtureDir=/tmp/fix]` (write the fixture first:
 * `npx tsx -e "import('./bench/fair.ts').then(m=>m.writeFixture('/tmp/fix','omniglot'))"`).
 */
import { fromArray, type Tensor } from '../src/index.js';
import type { TaskBatch } from '../src/meta/tasks.js';
import { load, metaSetup } from './fairWorker.js';

const dir = process.argv[2] ?? '/tmp/fix';
const get = load(dir, 'omniglot');
const { model, learner } = metaSetup({ kind: 'omniglot', order: 2, innerSteps: 1 });
const init: Record<string, Tensor> = {};
for (const n of model.paramNames) init[n] = get(`param/${n}`);
const meta = learner.initMetaParams(init);

/** The first `n` tasks of the fixture's first meta-batch ([batches, tasks, ...] in the fixture). */
function firstTasks(field: keyof TaskBatch, n: number): Tensor {
  const t = get(`tasks/${field}`);
  const per = t.shape.slice(2).reduce((a, b) => a * b, 1);
  const data = t.dataSync() as Float32Array | Int32Array;
  return fromArray(data.slice(0, n * per), [n, ...t.shape.slice(2)]);
}

const rows: string[] = [
  '| tasks | ms per meta-gradient (median of 5 x 40) | ÷ 32 tasks | program storage, MB |',
  '|---:|---:|---:|---:|',
];
let full = 0;
for (const n of [32, 16, 8, 4, 2, 1]) {
  const batch: TaskBatch = {
    supportX: firstTasks('supportX', n),
    supportY: firstTasks('supportY', n),
    queryX: firstTasks('queryX', n),
    queryY: firstTasks('queryY', n),
  };
  for (let i = 0; i < 50; i++) learner.metaGradient(meta, batch);
  const ms: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 40; i++) learner.metaGradient(meta, batch);
    ms.push((performance.now() - t0) / 40);
  }
  ms.sort((a, b) => a - b);
  const median = ms[2]!;
  if (n === 32) full = median;
  const status = learner.replayStatus().find((r) => r.key.includes(`supportX:float32[${n},`));
  const mb = status?.storageBytes === undefined ? 'not replayed' : (status.storageBytes / 2 ** 20).toFixed(1);
  rows.push(`| ${n} | ${median.toFixed(2)} | ${(median / full).toFixed(2)} | ${mb} |`);
}
console.log(rows.join('\n'));
