/**
 * metatape's side of the paired benchmark (bench/fair.ts): one job in a fresh process, on the shared fixture
 * (initial weights and task batches written once, read by this worker and bench/reference/fair_torch.py).
 * Usage: tsx bench/fairWorker.ts <fixtureDir> <job> <iterations> [threads]. Prints one JSON line:
 * { msPerIt, cpuMsPerIt, updateCpuMsPerIt (the outer Adam update's part of cpuMsPerIt, with BENCH_UPDATE_CPU=1), threadCpuMs, perThread
 * (CPU ms and GC counts per iteration of the main thread, each worker and the rest of the process:
 * bench/threadProbe.ts), losses (first meta-losses), peakRssMb, via (how the pool ran: `MetaGradientThreads.via`),
 * with 2 threads on the native kernels roundTripNs (coreRoundTrip before and after), and with kernels schedule (the
 * replayed program's, src/backends/cpu/native/schedule.c) } or, for
 * matmul jobs, { gflops, peakRssMb }. BENCH_WORKER_OLD_SPACE_MB sets the workers' initial old generation
 * (`ThreadOptions.workerOldSpaceMb`). With BENCH_MEMORY_EVERY=N, meta jobs add `memory`: a {@link MemorySample} after the
 * warm-up and after every N timed iterations (after a full GC when node runs with --expose-gc), to show memory
 * stays flat.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { setCpuKernelThreads } from '../src/backends/cpu/kernelThreads.js';
import { matmulKernel } from '../src/backends/cpu/matmul.js';
import { nativeAddon } from '../src/backends/cpu/native/addon.js';
import { conv4, dense, fromArray, Model, mamlMlp, type Tensor } from '../src/index.js';
import { peakRssMb } from '../src/log/peakRss.js';
import { type FastWeightsMode, MetaLearner } from '../src/meta/learner.js';
import type { TaskBatch } from '../src/meta/tasks.js';
import { MetaGradientThreads } from '../src/meta/threads.js';
import { outerStep } from '../src/meta/trainIteration.js';
import type { Params } from '../src/nn/params.js';
import { adam } from '../src/optim/adam.js';
import { countGc, perIteration, serveProbe, snapshot } from './threadProbe.js';

interface Entry {
  shape: number[];
  offset: number;
  int?: boolean;
}
type Manifest = Record<string, Entry>;

/** A fixture's tensors by key (`param/<name>`, `tasks/<field>`), as bench/fair.ts wrote them. */
export function load(dir: string, name: string): (key: string) => Tensor {
  const manifest = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Manifest;
  const buf = readFileSync(join(dir, `${name}.bin`));
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  return (key) => {
    const e = manifest[key];
    if (!e) throw new Error(`fixture ${name} has no ${key}`);
    const size = e.shape.reduce((a, b) => a * b, 1);
    const v = all.slice(e.offset, e.offset + size);
    return e.int ? fromArray(Int32Array.from(v), e.shape) : fromArray(v, e.shape);
  };
}

export interface MetaJob {
  kind: 'sinusoid' | 'omniglot' | 'conv4';
  order: 1 | 2;
  innerSteps: number;
}

export function parseJob(job: string): MetaJob | { kind: 'matmul'; size: number[] } {
  const [kind, a, b] = job.split(':');
  if (kind === 'matmul') return { kind, size: a!.split('x').map(Number) };
  return { kind: kind as MetaJob['kind'], order: Number(a) as 1 | 2, innerSteps: Number(b ?? 1) };
}

/** Model, learner and loss kind of a job: the one place that says what metatape runs. */
export function metaSetup(job: MetaJob): { model: Model; learner: MetaLearner } {
  const model =
    job.kind === 'sinusoid'
      ? new Model([dense(40, { activation: 'relu' }), dense(40, { activation: 'relu' }), dense(1)], [1])
      : job.kind === 'conv4'
        ? conv4([28, 28, 1], 5)
        : mamlMlp(784, 5);
  const learner = new MetaLearner(model, job.kind === 'sinusoid' ? 'regression' : 'classification', {
    algorithm: 'maml',
    order: job.order,
    innerSteps: job.innerSteps,
    innerLr: job.kind === 'sinusoid' ? 0.01 : 0.4,
    fastWeights: (process.env.BENCH_FAST_WEIGHTS ?? 'auto') as FastWeightsMode,
  });
  return { model, learner };
}

/**
 * CPU time (ms) of this process's main thread and of all its threads (worker threads, V8's GC and compiler
 * helpers), from /proc (Linux; undefined elsewhere). The share not on the main thread shows how much of a
 * second core a run already uses.
 */
function threadCpuMs(): { main: number; total: number } | undefined {
  try {
    const tick = 1000 / 100; // USER_HZ is 100 on Linux
    let main = 0;
    let total = 0;
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ms = (Number(fields[11]) + Number(fields[12])) * tick;
      total += ms;
      if (tid === String(process.pid)) main = ms;
    }
    return { main, total };
  } catch {
    return undefined;
  }
}

/** The learner of a job, as worker threads build it (the recipe of `threads` > 1). */
export function jobLearner(job: MetaJob): MetaLearner {
  serveProbe();
  return metaSetup(job).learner;
}

/** Memory of this process at one point of a run, in MB. */
export interface MemorySample {
  /** Meta-iterations done so far, warm-up included. */
  it: number;
  rssMb: number;
  /** Live JS heap (after a full GC when one could be forced). */
  heapUsedMb: number;
  /** ArrayBuffers: tensor storage, slabs included. */
  arrayBuffersMb: number;
}

function memorySample(it: number): MemorySample {
  // A full GC first, so that the figures are live memory rather than garbage awaiting collection.
  // Twice: array buffers freed by the first are swept concurrently and only counted free after the second.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  const mb = (b: number) => b / 2 ** 20;
  return { it, rssMb: mb(m.rss), heapUsedMb: mb(m.heapUsed), arrayBuffersMb: mb(m.arrayBuffers) };
}

async function runMeta(
  dir: string,
  job: MetaJob,
  iterations: number,
  threads: number,
  parallelism: 'tasks' | 'kernels',
): Promise<void> {
  countGc();
  const { model, learner } = metaSetup(job);
  // `trainer.parallelism: kernels` as the trainer sets it up (src/meta/experiment.ts): one meta-gradient on
  // this thread, its kernels queued to an executor and split over `threads` threads. BENCH_KERNEL_QUEUE=0:
  // split inside each call only (the kernels mode before the queue), to compare.
  const kernels = parallelism === 'kernels' && threads > 1;
  if (kernels) setCpuKernelThreads(threads, { queue: process.env.BENCH_KERNEL_QUEUE !== '0' });
  const recipe = { module: import.meta.url, exportName: 'jobLearner', arg: job };
  // BENCH_WORKER_OLD_SPACE_MB: the workers' initial old generation (ThreadOptions.workerOldSpaceMb).
  const oldSpace = process.env.BENCH_WORKER_OLD_SPACE_MB;
  const pool = await MetaGradientThreads.start(learner, recipe, kernels ? 1 : threads, {
    ...(oldSpace === undefined ? {} : { workerOldSpaceMb: Number(oldSpace) }),
  });
  // Worker threads, where the pool's slices run on them (with kernel programs there are none).
  const workers = pool.via === 'workers' ? pool.threads : 0;
  const get = load(dir, job.kind);
  const init: Params = {};
  for (const n of model.paramNames) init[n] = get(`param/${n}`);
  let meta = learner.initMetaParams(init);
  const batchCount = get('tasks/supportX').shape[0]!;
  const split = (t: Tensor): Tensor[] => {
    const out: Tensor[] = [];
    const per = t.shape.slice(1);
    const size = per.reduce((a, b) => a * b, 1);
    const data = t.dataSync() as Float32Array | Int32Array;
    for (let i = 0; i < batchCount; i++) out.push(fromArray(data.slice(i * size, (i + 1) * size), per));
    return out;
  };
  const [sx, sy, qx, qy] = ['supportX', 'supportY', 'queryX', 'queryY'].map((k) => split(get(`tasks/${k}`)));
  const batches: TaskBatch[] = sx!.map((_, i) => ({
    supportX: sx![i]!,
    supportY: sy![i]!,
    queryX: qx![i]!,
    queryY: qy![i]!,
  }));
  const tx = adam({ lr: 1e-3 });
  let state = tx.init(meta);
  let it = 0;
  let gradNorm0 = 0;
  // CPU time of the outer optimizer's update alone (Adam's moments and the parameter step), so that a change
  // to those kernels shows apart from the meta-gradient's noise. Only with BENCH_UPDATE_CPU=1: two
  // getrusage calls per iteration are several percent of a sinusoid iteration, which PyTorch's side does
  // not pay.
  const timeUpdate = process.env.BENCH_UPDATE_CPU === '1';
  let updateCpuUs = 0;
  const step = (): number => {
    const { loss, grads } = pool.metaGradient(meta, batches[it++ % batches.length]!);
    if (it === 1)
      for (const n of model.paramNames)
        for (const g of grads[n]!.dataSync() as Float32Array) gradNorm0 += g * g;
    const c0 = timeUpdate ? process.cpuUsage() : undefined;
    // The trainer's outer update (src/meta/trainIteration.ts), storage recycling included.
    ({ meta, optState: state } = outerStep(tx, grads, { meta, optState: state }));
    if (c0) {
      const c = process.cpuUsage(c0);
      updateCpuUs += c.user + c.system;
    }
    return loss.item();
  };
  const losses: number[] = [];
  // BENCH_WARMUP: set by bench/fair.ts for both tools alike. V8 keeps optimizing the per-iteration code for
  // about 1000 sinusoid meta-iterations (background compiles share the one pinned core), so a short warm-up
  // times the JIT rather than the steady state a real run spends its hours in.
  const warm = Number(process.env.BENCH_WARMUP ?? Math.max(5, Math.ceil(iterations / 5)));
  for (let i = 0; i < warm; i++) losses.push(step());
  // Two threads on the native kernels (kernels, or task slices as programs): what two threads pay to hand
  // each other work, before and after (it moves with where the host puts them).
  const twoNative = threads > 1 && nativeAddon !== undefined;
  const roundTrip0 = twoNative ? nativeAddon?.coreRoundTrip() : undefined;
  const probe0 = await snapshot(workers);
  const cpu0 = threadCpuMs();
  const every = Number(process.env.BENCH_MEMORY_EVERY ?? 0);
  const memory: MemorySample[] = every > 0 ? [memorySample(warm)] : [];
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  updateCpuUs = 0;
  for (let i = 0; i < iterations; i++) {
    step();
    if (every > 0 && (i + 1) % every === 0) memory.push(memorySample(warm + i + 1));
  }
  const msPerIt = (performance.now() - t0) / iterations;
  const cpu1 = threadCpuMs();
  const probe1 = await snapshot(workers);
  const threadCpu =
    cpu0 && cpu1
      ? { main: (cpu1.main - cpu0.main) / iterations, total: (cpu1.total - cpu0.total) / iterations }
      : undefined;
  // With kernels on two threads: how the replayed program ran (src/backends/cpu/native/schedule.c).
  const schedule = kernels ? learner.replayStatus()[0]?.schedule : undefined;
  const roundTripNs = twoNative ? [roundTrip0, nativeAddon?.coreRoundTrip()] : undefined;
  const via = pool.via;
  await pool.close();
  // CPU time (user + system) as well: on a loaded machine it moves far less than wall time.
  const cpu = process.cpuUsage(c0);
  const updateCpuMsPerIt = timeUpdate ? updateCpuUs / 1000 / iterations : undefined;
  console.log(
    JSON.stringify({
      msPerIt,
      cpuMsPerIt: (cpu.user + cpu.system) / 1000 / iterations,
      updateCpuMsPerIt,
      losses: losses.slice(0, 5),
      gradNorm0: Math.sqrt(gradNorm0),
      peakRssMb: peakRssMb(),
      ...(threadCpu ? { threadCpuMs: threadCpu } : {}),
      perThread: perIteration(probe0, probe1, iterations),
      ...(every > 0 ? { memory } : {}),
      via,
      ...(schedule ? { schedule } : {}),
      ...(roundTripNs ? { roundTripNs } : {}),
    }),
  );
}

/** GFLOP/s of metatape's float32 matmul kernel on [m,k] x [k,n], timed for at least `minMs`. */
function runMatmul(size: number[], minMs: number): void {
  const [m, k, n] = size as [number, number, number];
  const a = Float32Array.from({ length: m * k }, () => Math.random() * 2 - 1);
  const b = Float32Array.from({ length: k * n }, () => Math.random() * 2 - 1);
  const out = new Float32Array(m * n);
  const macs = m * k * n;
  const run = (reps: number) => {
    for (let i = 0; i < reps; i++) matmulKernel(a, [m, k], b, [k, n], false, false, out, [m, n]);
  };
  run(Math.max(2, Math.ceil(1e7 / macs)));
  let reps = Math.max(1, Math.ceil(1e6 / macs));
  let total = 0;
  let done = 0;
  while (total < minMs) {
    const t0 = performance.now();
    run(reps);
    total += performance.now() - t0;
    done += reps;
    if (total < minMs / 4) reps *= 2;
  }
  console.log(JSON.stringify({ gflops: (2 * macs * done) / (total * 1e6), peakRssMb: peakRssMb() }));
}

const [dir, jobName, iters, threads, parallelism] = process.argv.slice(2);
// Worker threads import this module for jobLearner and see the same argv: only the main thread runs a job.
// Only when started as this file: bundled into another entry (bench/device's kit bundles bench/gpujs-main.ts,
// which imports metaSetup), import.meta.url is the bundle's, which equals argv[1], so the name decides.
const startedAsWorker = /^fairWorker\.[cm]?[jt]s$/.test(basename(process.argv[1] ?? ''));
if (
  isMainThread &&
  startedAsWorker &&
  import.meta.url === pathToFileURL(process.argv[1] ?? '').href &&
  dir &&
  jobName
) {
  const job = parseJob(jobName);
  if (job.kind === 'matmul') runMatmul(job.size, Number(iters ?? 500));
  else
    await runMeta(
      dir,
      job,
      Number(iters ?? 50),
      Number(threads ?? 1),
      parallelism === 'kernels' ? 'kernels' : 'tasks',
    );
}
