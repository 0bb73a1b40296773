/**
 * Two threads on one meta-gradient, three ways, in one process: the Omniglot 5-way 1-shot MLP's order-2
 * meta-gradient (32 tasks, the bench fixture's first meta-batch, its loss read every iteration as the trainer
 * reads it) on one thread, with its big kernels split over two threads (`setCpuKernelThreads(2)`), and with
 * every kernel queued to an executor thread (`setCpuKernelThreads(2, { queue: true })`, what
 * `trainer.parallelism: kernels` runs; there the replayed meta-gradient runs on this thread and the executor
 * by its program's schedule, src/backends/cpu/native/schedule.c). The modes alternate round by round in the same process (same heap,
 * same JIT state), so the per-round ratios are paired; the queue's figures (executor busy time, this thread's
 * time in syncs, the parts and kernels it ran meanwhile) say where the time went.
 *
 * Usage: `taskset -c 0,1 node --initial-old-space-size=128 --import tsx bench/kernelQueue.ts [rounds=9]
 * [fixtureDir=/tmp/fix]` (the heap flag is the CLI's, bin/metatape.js; write the fixture first:
 * `npx tsx -e "import('./bench/fair.ts').then(m=>m.writeFixture('/tmp/fix','omniglot'))"`). Needs the native
 * addon (`npm run setup:native`).
 */
import { loadavg } from 'node:os';
import { kernelQueueStats } from '../src/backends/cpu/kernelQueue.js';
import { kernelThreadsUnavailable, setCpuKernelThreads } from '../src/backends/cpu/kernelThreads.js';
import { fromArray, type Tensor } from '../src/index.js';
import type { TaskBatch } from '../src/meta/tasks.js';
import { load, metaSetup } from './fairWorker.js';

const why = kernelThreadsUnavailable();
if (why !== undefined) {
  console.log(`bench/kernelQueue.ts: skipped, ${why}`);
  process.exit(0);
}
const rounds = Number(process.argv[2] ?? 9);
const get = load(process.argv[3] ?? '/tmp/fix', 'omniglot');
const { model, learner } = metaSetup({ kind: 'omniglot', order: 2, innerSteps: 1 });
const init: Record<string, Tensor> = {};
for (const n of model.paramNames) init[n] = get(`param/${n}`);
const meta = learner.initMetaParams(init);
/** The first meta-batch of the fixture ([batches, tasks, ...] there). */
const first = (field: keyof TaskBatch): Tensor => {
  const t = get(`tasks/${field}`);
  const per = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return fromArray((t.dataSync() as Float32Array | Int32Array).slice(0, per), t.shape.slice(1));
};
const batch: TaskBatch = {
  supportX: first('supportX'),
  supportY: first('supportY'),
  queryX: first('queryX'),
  queryY: first('queryY'),
};

const MODES = {
  '1 thread': () => setCpuKernelThreads(1),
  '2 threads, kernels split': () => setCpuKernelThreads(2),
  '2 threads, kernels queued, replay scheduled': () => setCpuKernelThreads(2, { queue: true }),
} as const;
type Mode = keyof typeof MODES;
const ITERS = 100;
const ms: Record<Mode, number[]> = {
  '1 thread': [],
  '2 threads, kernels split': [],
  '2 threads, kernels queued, replay scheduled': [],
};
const step = () => learner.metaGradient(meta, batch).loss.item();
const before = loadavg();
for (const mode of Object.keys(MODES) as Mode[]) {
  MODES[mode]();
  for (let i = 0; i < 150; i++) step();
}
let queue = { iterations: 0, busyMs: 0, syncMs: 0, helped: 0, ranHere: 0 };
for (let r = 0; r < rounds; r++)
  for (const mode of Object.keys(MODES) as Mode[]) {
    MODES[mode]();
    for (let i = 0; i < 10; i++) step();
    const s0 = kernelQueueStats();
    const t0 = performance.now();
    for (let i = 0; i < ITERS; i++) step();
    ms[mode].push((performance.now() - t0) / ITERS);
    const s1 = kernelQueueStats();
    if (s0 && s1)
      queue = {
        iterations: queue.iterations + ITERS,
        busyMs: queue.busyMs + s1.busyMs - s0.busyMs,
        syncMs: queue.syncMs + s1.syncMs - s0.syncMs,
        helped: queue.helped + s1.helped - s0.helped,
        ranHere: queue.ranHere + s1.ranHere - s0.ranHere,
      };
  }
setCpuKernelThreads(1);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const one = ms['1 thread'];
console.log(
  `Omniglot 5w1s MLP, order 2, 32 tasks: ms per meta-gradient, ${rounds} rounds of ${ITERS}, paired`,
);
console.log('| mode | median ms (min-max) | ÷ 1 thread, median of rounds (min-max) |');
console.log('|---|---:|---:|');
for (const mode of Object.keys(MODES) as Mode[]) {
  const ratios = ms[mode].map((v, i) => one[i]! / v);
  console.log(
    `| ${mode} | ${median(ms[mode]).toFixed(2)} (${Math.min(...ms[mode]).toFixed(2)}-${Math.max(...ms[mode]).toFixed(2)}) | ${median(ratios).toFixed(2)}x (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}) |`,
  );
}
const per = (v: number) => (v / queue.iterations).toFixed(2);
console.log(
  `queued, per meta-gradient: executor busy ${per(queue.busyMs)} ms, this thread in syncs ${per(queue.syncMs)} ms, ` +
    `helping with ${per(queue.helped)} kernel parts and running ${per(queue.ranHere)} whole kernels`,
);
console.log(
  `load average before ${before.map((x) => x.toFixed(2)).join(' ')}, after ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
