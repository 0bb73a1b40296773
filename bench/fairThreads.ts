/**
 * `npm run bench -- threads`: the Omniglot MLP order-2 meta-iteration (the `omniglot` row of bench/fair.ts) at
 * 1 and 2 threads, metatape (`trainer.threads` with `trainer.parallelism` tasks and kernels) against
 * PyTorch (`torch.set_num_threads`). Every process is pinned to the same two cores (`taskset -c 0,1`), and the
 * runs of a round are interleaved (metatape 1, metatape 2 with tasks split, metatape 2 with kernels split where
 * the native kernels are loaded, PyTorch 1, PyTorch 2), each a fresh process on
 * the shared fixture; speedups are medians of the per-round ratios (paired), so a load change between rounds
 * cancels. The BLAS PyTorch maps is reported: Debian's serial OpenBLAS keeps its matmuls on one thread, so its
 * second thread helps only ATen's own kernels.
 *
 * Knobs (environment): BENCH_ROUNDS (default 3), BENCH_ITERS_SCALE, BENCH_CORES (default "0,1"; "none" to not
 * pin), BENCH_NO_TORCH=1, BENCH_PYTHON, as in bench/fair.ts; BENCH_NODE_FLAGS (space-separated flags for the
 * metatape processes, e.g. `--single-threaded-gc` to keep V8's GC helpers off the second core).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernelThreadsUnavailable } from '../src/backends/cpu/kernelThreads.js';
import type { ProgramSchedule } from '../src/backends/cpu/native/addon.js';
import { COMPUTE_HEAP_FLAG } from '../src/meta/workerHeap.js';
import { baseline, baselineWhy, blasEnv, cpuModel, median, writeFixture } from './fair.js';
import type { BenchRow } from './table.js';
import type { perIteration } from './threadProbe.js';

const here = dirname(fileURLToPath(import.meta.url));
const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3';
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const ITERS = Math.max(1, Math.round(40 * Number(process.env.BENCH_ITERS_SCALE ?? 1)));
const JOB = 'omniglot:2:1';

interface Measure {
  msPerIt: number;
  losses: number[];
  gradNorm0: number;
  peakRssMb: number;
  /** CPU ms per iteration on the main thread and on all threads (Linux only). */
  threadCpuMs?: { main: number; total: number };
  /** Per thread, per iteration (bench/threadProbe.ts). */
  perThread?: ReturnType<typeof perIteration>;
  /** How the slices ran (`MetaGradientThreads.via`). */
  via?: string;
  /** With kernels on 2 threads: the replayed program's schedule. */
  schedule?: ProgramSchedule;
  /** With 2 threads on the native kernels: coreRoundTrip before and after. */
  roundTripNs?: number[];
}

function pinPrefix(): string[] {
  const cores = process.env.BENCH_CORES ?? '0,1';
  if (cores === 'none' || cpus().length < 2) return [];
  try {
    execFileSync('taskset', ['-c', cores, 'true'], { stdio: 'ignore' });
    return ['taskset', '-c', cores];
  } catch {
    return [];
  }
}

/** Environment for `threads` threads: OpenMP and BLAS pools sized to match (metatape ignores them). */
/**
 * Warm-up iterations before the timed ones, the same for every run of both tools (BENCH_THREADS_WARMUP):
 * past the point where metatape's meta-iterations stop getting faster, as bench/fair.ts's warm-ups are. With
 * both cores busy, V8's optimizing compiler has no core of its own: in means of 100 iterations, 2-thread
 * runs settled after 300-1000 iterations, 1-thread ones after 100-200 (compare `BENCH_THREADS_WARMUP=300`).
 */
const WARMUP = Math.max(0, Number(process.env.BENCH_THREADS_WARMUP ?? 1000));

const threadEnv = (base: NodeJS.ProcessEnv, threads: number): NodeJS.ProcessEnv => ({
  ...blasEnv(base),
  BENCH_WARMUP: String(WARMUP),
  OMP_NUM_THREADS: String(threads),
  OPENBLAS_NUM_THREADS: String(threads),
  MKL_NUM_THREADS: String(threads),
  BENCH_TORCH_THREADS: String(threads),
});

function spawnJson(pin: string[], cmd: string, args: string[], env: NodeJS.ProcessEnv): Measure {
  const full = [...pin, cmd, ...args];
  const r = spawnSync(full[0]!, full.slice(1), { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${full.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Measure;
}

const la = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

const fmt = (x: number) => (x >= 10 ? x.toFixed(1) : x.toFixed(2));
const span = (xs: number[]) => (xs.length > 1 ? ` (${fmt(Math.min(...xs))}-${fmt(Math.max(...xs))})` : '');

/** Largest |difference| between two runs' first meta-losses, at iteration 0 and over all recorded. */
function lossDiff(a: Measure[], b: Measure[]): { at0: number; all: number } {
  let at0 = 0;
  let all = 0;
  for (const x of a)
    for (const y of b)
      x.losses.forEach((l, i) => {
        const d = Math.abs(l - (y.losses[i] ?? Number.NaN));
        all = Math.max(all, d);
        if (i === 0) at0 = Math.max(at0, d);
      });
  return { at0, all };
}

export function benchFairThreads(): BenchRow[] {
  const pin = pinPrefix();
  const torch = baseline();
  const dir = mkdtempSync(join(tmpdir(), 'metatape-bench-threads-'));
  const before = la();
  const mt: Record<1 | 2, Measure[]> = { 1: [], 2: [] };
  // trainer.parallelism: kernels (src/backends/cpu/kernelThreads.ts), where the native kernels are loaded.
  const mtKernels: Measure[] = [];
  const kernels = kernelThreadsUnavailable();
  const pt: Record<1 | 2, Measure[]> = { 1: [], 2: [] };
  try {
    writeFixture(dir, 'omniglot');
    const flags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    // COMPUTE_HEAP_FLAG: the main thread's heap as the CLI has it (bin/metatape.js); workers get theirs anyway.
    const worker = [
      COMPUTE_HEAP_FLAG,
      ...flags,
      '--import',
      'tsx',
      join(here, 'fairWorker.ts'),
      dir,
      JOB,
      String(ITERS),
    ];
    const torchArgs = [join(here, 'reference', 'fair_torch.py'), dir, JOB, String(ITERS)];
    for (let r = 0; r < ROUNDS; r++) {
      for (const t of [1, 2] as const)
        mt[t].push(
          spawnJson(pin, process.execPath, [...worker, String(t), 'tasks'], threadEnv(process.env, t)),
        );
      if (kernels === undefined)
        mtKernels.push(
          spawnJson(pin, process.execPath, [...worker, '2', 'kernels'], threadEnv(process.env, 2)),
        );
      if (torch)
        for (const t of [1, 2] as const)
          pt[t].push(spawnJson(pin, PYTHON, torchArgs, threadEnv(torch.env, t)));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const rate = (m: Measure) => 1000 / m.msPerIt;
  const speedup = (runs: Record<1 | 2, Measure[]>) => runs[2].map((m, i) => rate(m) / rate(runs[1][i]!));
  const work = `MAML order 2, Omniglot 5w1s MLP + batch norm, 32 tasks, 1 inner step, low-rank fast kernels, ${ITERS} it/round`;
  const rows: BenchRow[] = [
    {
      figure: 'setup',
      work: `${cpuModel()} x${cpus().length}; ${pin.length ? `every run pinned with \`${pin.join(' ')}\`` : 'not pinned'}${process.env.BENCH_NODE_FLAGS ? `; node ${process.env.BENCH_NODE_FLAGS}` : ''}`,
      value: `${ROUNDS} rounds, each metatape 1, 2 threads then PyTorch 1, 2 threads, fresh processes, ${WARMUP} warm-up iterations each; medians (min-max)`,
      ratio: 'speedup = 2-thread / 1-thread rate, median of per-round ratios',
    },
  ];
  const d = lossDiff(mt[1], mt[2]);
  // Where the CPU goes: with one thread, V8's GC helpers already run beside the main thread.
  const cpu = (runs: Measure[]) => {
    const c = runs.map((m) => m.threadCpuMs).filter((x) => x !== undefined);
    return c.length
      ? `; CPU ms/it main thread ${fmt(median(c.map((x) => x.main)))}, all threads ${fmt(median(c.map((x) => x.total)))}`
      : '';
  };
  // Where each thread's CPU goes, and how often each isolate collects (medians over rounds).
  const threadsLine = (runs: Measure[]) => {
    const p = runs.map((m) => m.perThread).filter((x) => x !== undefined);
    if (!p.length) return '';
    const med = (f: (x: (typeof p)[number]) => number) => fmt(median(p.map(f)));
    const gc = (f: (x: (typeof p)[number]) => { scavenges: number; markCompacts: number }) =>
      `${med((x) => f(x).scavenges)} scavenges + ${med((x) => f(x).markCompacts)} mark-compacts`;
    const workers = p[0]!.workers.map(
      (_, i) =>
        `worker ${i + 1} ${med((x) => x.workers[i]?.cpuMs ?? 0)} ms, ${gc((x) => x.workers[i] ?? { scavenges: 0, markCompacts: 0 })}`,
    );
    return `; per it: main ${med((x) => x.main.cpuMs)} ms CPU, ${gc((x) => x.main)}${workers.map((w) => `; ${w}`).join('')}; rest of the process ${med((x) => x.restCpuMs)} ms`;
  };
  // The replayed program's schedule (plan against in order, in ms of kernel time), and what two threads pay
  // to hand each other work (ns, before and after each run): the speed-up moves with it.
  const scheduleLine = (runs: Measure[]) => {
    const s = runs.map((m) => m.schedule).filter((x) => x !== undefined);
    const trips = runs.flatMap((m) => m.roundTripNs ?? []);
    const plan = s.length
      ? `; schedule: ${s[0]!.last}, planned ${fmt(median(s.map((x) => x.plannedMs)))} ms against ${fmt(median(s.map((x) => x.serialMs)))} ms in order`
      : '';
    return `${plan}${trips.length ? `; core-to-core round trip ${fmt(median(trips))} ns${span(trips)}` : ''}`;
  };
  const viaText = (runs: Measure[]) =>
    runs[0]?.via === 'programs'
      ? ', each a recorded kernel program, run at once on 2 threads'
      : runs[0]?.via === 'workers'
        ? ', each on a worker thread'
        : '';
  for (const t of [1, 2] as const) {
    const rates = mt[t].map(rate);
    rows.push({
      figure: `${fmt(median(rates))} it/s${span(rates)}`,
      work: `metatape, trainer.threads ${t}${t === 2 ? `, parallelism tasks (the meta-batch cut into 2 slices${viaText(mt[2])})` : ''}: ${work}`,
      value:
        t === 1
          ? `peak RSS ${Math.max(...mt[t].map((m) => m.peakRssMb)).toFixed(0)} MB${cpu(mt[t])}${threadsLine(mt[t])}`
          : `peak RSS ${Math.max(...mt[t].map((m) => m.peakRssMb)).toFixed(0)} MB${cpu(mt[t])}${threadsLine(mt[t])}; meta-loss vs 1 thread max |diff| ${d.at0.toExponential(1)} at it 0, ${d.all.toExponential(1)} over its 0-4${scheduleLine(mt[t])}`,
      ratio: t === 1 ? '1.00x' : `${fmt(median(speedup(mt)))}x${span(speedup(mt))}`,
    });
  }
  if (kernels === undefined) {
    const rates = mtKernels.map(rate);
    const vs1 = mtKernels.map((m, i) => rate(m) / rate(mt[1][i]!));
    const dk = lossDiff(mt[1], mtKernels);
    rows.push({
      figure: `${fmt(median(rates))} it/s${span(rates)}`,
      work: `metatape, trainer.threads 2, parallelism kernels (one meta-gradient, replayed on this thread and the kernel executor by the program's schedule): same job`,
      value: `peak RSS ${Math.max(...mtKernels.map((m) => m.peakRssMb)).toFixed(0)} MB${cpu(mtKernels)}; meta-loss vs 1 thread max |diff| ${dk.at0.toExponential(1)} at it 0, ${dk.all.toExponential(1)} over its 0-4${scheduleLine(mtKernels)}`,
      ratio: `${fmt(median(vs1))}x${span(vs1)}`,
    });
  }
  // Round by round: each 2-thread way's speed-up beside the round trip its run measured (the larger of before
  // and after): where the host puts the two virtual CPUs moves both.
  const perRound = (name: string, runs: Measure[]) => {
    const trips = runs.map((m) => Math.max(...(m.roundTripNs ?? [Number.NaN])));
    if (trips.every(Number.isNaN)) return;
    const vs1 = runs.map((m, i) => rate(m) / rate(mt[1][i]!));
    rows.push({
      figure: `${name}, per round`,
      work: 'speed-up over 1 thread @ core-to-core round trip',
      value: vs1.map((v, i) => `${fmt(v)}x @ ${trips[i]!.toFixed(0)} ns`).join(', '),
      ratio: '',
    });
  };
  perRound('tasks', mt[2]);
  if (kernels === undefined) {
    perRound('kernels', mtKernels);
  } else
    rows.push({ figure: 'kernels skipped', work: `parallelism kernels: ${kernels}`, value: '', ratio: '' });
  if (torch) {
    for (const t of [1, 2] as const) {
      const rates = pt[t].map(rate);
      rows.push({
        figure: `${fmt(median(rates))} it/s${span(rates)}`,
        work: `PyTorch ${torch.info.torch}, set_num_threads(${t}): same job`,
        value: `peak RSS ${Math.max(...pt[t].map((m) => m.peakRssMb)).toFixed(0)} MB; BLAS mapped: ${torch.info.blas.join(', ') || 'none found'}`,
        ratio: t === 1 ? '1.00x' : `${fmt(median(speedup(pt)))}x${span(speedup(pt))}`,
      });
    }
    // The better of metatape's two ways to use 2 threads, paired with PyTorch's 2 threads round by round.
    const best2 = mt[2].map((m, i) => Math.max(rate(m), mtKernels[i] ? rate(mtKernels[i]!) : 0));
    const vs = best2.map((r, i) => r / rate(pt[2][i]!));
    rows.push({
      figure: `${fmt(median(vs))}x${span(vs)}`,
      work: `metatape (the faster of tasks and kernels) / PyTorch at 2 threads (paired per round)`,
      value: `at 1 thread: ${fmt(median(mt[1].map((m, i) => rate(m) / rate(pt[1][i]!))))}x`,
      ratio: '',
    });
  } else
    rows.push({ figure: 'PyTorch absent', work: baselineWhy, value: 'metatape figures alone', ratio: '' });
  rows.push({ figure: 'load average', work: `before ${before}`, value: `after ${la()}`, ratio: '' });
  return rows;
}
