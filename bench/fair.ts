/**
 * The paired benchmark behind `npm run bench -- maml | omniglot | matmul`: metatape against PyTorch (Debian's
 * python3-torch run by /usr/bin/python3, linked against serial OpenBLAS), both pinned to the same core
 * (`taskset -c 1` where available), one thread each, interleaved round-robin (metatape round 1, PyTorch round
 * 1, metatape round 2, ...), each round a fresh process, on identical tasks and initial weights (a fixture
 * written once to a temp dir that both read), with the first meta-losses compared. Reports paired medians,
 * ranges (min-max), peak RSS (VmHWM), the load average before and after, the CPU model, and the BLAS library
 * the PyTorch process actually mapped.
 *
 * The Omniglot row's meta-losses agree at iteration 0 (same weights, same episodes) and its meta-gradients
 * agree in norm; later losses drift apart by ~1e-2 because Adam's first steps are gradient signs, and the
 * biases in front of batch norm have gradients that are exactly zero in exact arithmetic (float noise in both).
 * Matmul jobs take a time budget in ms instead of an iteration count.
 *
 * Knobs (environment): BENCH_ROUNDS (default 3), BENCH_ITERS_SCALE (multiplies every iteration count, default
 * 1), BENCH_CORE (default 1; "none" to not pin), BENCH_NO_TORCH=1 (metatape alone), BENCH_PYTHON (default
 * /usr/bin/python3).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeBlasStatus } from '../src/backends/cpu/native/blas.js';
import { Rng } from '../src/index.js';
import { sinusoidSource } from '../src/meta/tasks.js';
import { COMPUTE_HEAP_FLAG } from '../src/meta/workerHeap.js';
import { randomEpisodes } from '../test/meta/fixtures.js';
import { type MemorySample, type MetaJob, metaSetup } from './fairWorker.js';
import type { BenchRow } from './table.js';

const here = dirname(fileURLToPath(import.meta.url));
const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3';
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const SCALE = Number(process.env.BENCH_ITERS_SCALE ?? 1);
const BATCHES = 8;

/** Serial OpenBLAS shipped by Debian's libopenblas0-serial (what the torch process is forced onto). */
const SERIAL_OPENBLAS = [
  '/usr/lib/x86_64-linux-gnu/openblas-serial/libopenblas.so.0',
  '/usr/lib/aarch64-linux-gnu/openblas-serial/libopenblas.so.0',
];

export interface Baseline {
  env: NodeJS.ProcessEnv;
  info: { torch: string; threads: number; blas: string[]; openblasCore: string | null };
  note: string;
}

interface Measure {
  msPerIt?: number;
  cpuMsPerIt?: number;
  memory?: MemorySample[];
  gflops?: number;
  losses?: number[];
  gradNorm0?: number;
  peakRssMb: number;
}

function pinPrefix(): string[] {
  const core = process.env.BENCH_CORE ?? '1';
  if (core === 'none') return [];
  const wanted = Number(core);
  if (!(wanted < cpus().length)) return [];
  try {
    execFileSync('taskset', ['-c', String(wanted), 'true'], { stdio: 'ignore' });
    return ['taskset', '-c', String(wanted)];
  } catch {
    return [];
  }
}

const PIN = pinPrefix();

const ONE_THREAD = { OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };

/**
 * The environment both tools' processes start from: the parent's, with OPENBLAS_CORETYPE and
 * OPENBLAS_L2_SIZE removed. This machine type sets them (Haswell kernels, a 512 KiB L2), which slows
 * OpenBLAS down; PyTorch and metatape's native matmul (`npm run setup:native`) load the same library, so
 * both get it at its best.
 */
export function blasEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env = { ...base };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  return env;
}

/** Which matmul metatape's workers run: the native BLAS (library, core) or why not, in their environment. */
function metatapeMatmul(): string {
  const probe =
    "import('./src/backends/cpu/native/blas.ts').then((m) => console.log(JSON.stringify(m.nativeBlasStatus)))";
  const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', probe], {
    encoding: 'utf8',
    env: blasEnv({ ...process.env, ...ONE_THREAD }),
    cwd: join(here, '..'),
  });
  if (r.status !== 0) return `unknown (${r.stderr.trim().split('\n')[0]})`;
  const s = JSON.parse(r.stdout.trim()) as NativeBlasStatus;
  return s.active ? `native BLAS ${s.library} (${s.config})` : `WebAssembly SIMD (native BLAS ${s.reason})`;
}

function spawnJson(cmd: string, args: string[], env: NodeJS.ProcessEnv): Measure {
  const full = [...PIN, cmd, ...args];
  const r = spawnSync(full[0]!, full.slice(1), { encoding: 'utf8', env, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${full.join(' ')} failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as Measure;
}

let baselineCache: Baseline | null | undefined;
export let baselineWhy = '';

/** PyTorch on serial OpenBLAS, or null with the reason in `baselineWhy`. */
export function baseline(): Baseline | null {
  if (baselineCache !== undefined) return baselineCache;
  baselineCache = null;
  const install =
    'install it with `sudo bash bench/install-baseline.sh` (apt: python3-torch libopenblas0-serial)';
  if (process.env.BENCH_NO_TORCH === '1') {
    baselineWhy = 'PyTorch skipped (BENCH_NO_TORCH=1)';
    return null;
  }
  if (!existsSync(PYTHON)) {
    baselineWhy = `no ${PYTHON}: ${install}`;
    return null;
  }
  const env = blasEnv({ ...process.env, ...ONE_THREAD });
  const serial = SERIAL_OPENBLAS.find((p) => existsSync(p));
  let note = '';
  if (serial) {
    env.LD_PRELOAD = [serial, env.LD_PRELOAD].filter(Boolean).join(':');
    note = `LD_PRELOAD=${serial}`;
  } else note = 'serial OpenBLAS not found (libopenblas0-serial): torch uses whatever libblas.so.3 is';
  try {
    const info = spawnJson(PYTHON, [join(here, 'reference', 'fair_torch.py'), '-', 'info'], env);
    baselineCache = { env, info: info as unknown as Baseline['info'], note };
  } catch (err) {
    baselineWhy = `PyTorch not usable with ${PYTHON} (${(err as Error).message.split('\n')[0]}): ${install}`;
  }
  return baselineCache;
}

/** Writes the shared fixture of `kind` (initial weights, BATCHES task batches) as `<kind>.json` + `.bin`. */
export function writeFixture(dir: string, kind: MetaJob['kind']): void {
  if (existsSync(join(dir, `${kind}.json`))) return;
  const { model } = metaSetup({ kind, order: 2, innerSteps: 1 });
  const rng = new Rng(0);
  const params = model.initParams(rng);
  const chunks: Float32Array[] = [];
  const manifest: Record<string, { shape: number[]; offset: number; int?: boolean }> = {};
  let offset = 0;
  const put = (key: string, data: ArrayLike<number>, shape: number[], int = false) => {
    manifest[key] = { shape, offset, ...(int ? { int } : {}) };
    chunks.push(Float32Array.from(data));
    offset += data.length;
  };
  for (const n of model.paramNames) put(`param/${n}`, params[n]!.dataSync(), [...params[n]!.shape]);
  const source = sinusoidSource({ shots: 10, queryShots: 10 });
  const batches = Array.from({ length: BATCHES }, () =>
    kind === 'sinusoid'
      ? source.sample(rng, 25, 'train')
      : randomEpisodes(rng, { tasks: 32, support: 5, query: 5, features: 784, ways: 5 }),
  );
  // conv4 reads the same 784 pixels as [28, 28, 1] NHWC images.
  const shapeOf = (t: { shape: readonly number[] }) =>
    kind === 'conv4' && t.shape.length === 3 ? [...t.shape.slice(0, 2), 28, 28, 1] : [...t.shape];
  for (const k of ['supportX', 'supportY', 'queryX', 'queryY'] as const) {
    const first = batches[0]![k];
    const size = first.size;
    const all = new Float32Array(size * BATCHES);
    batches.forEach((b, i) => {
      all.set(b[k].dataSync(), i * size);
    });
    put(`tasks/${k}`, all, [BATCHES, ...shapeOf(first)], first.dtype === 'int32');
  }
  const bin = new Float32Array(offset);
  let o = 0;
  for (const c of chunks) {
    bin.set(c, o);
    o += c.length;
  }
  writeFileSync(join(dir, `${kind}.bin`), bin);
  writeFileSync(join(dir, `${kind}.json`), JSON.stringify(manifest));
}

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface Paired {
  mt: Measure[];
  pt: Measure[];
}

/** Round-robin: metatape round r, then PyTorch round r, for ROUNDS rounds, each a fresh process. */
function pairedRun(
  dir: string,
  job: string,
  iterations: number,
  warmup: number | undefined,
  torch: Baseline | null,
): Paired {
  const warm = warmup === undefined ? {} : { BENCH_WARMUP: String(warmup) };
  const mt: Measure[] = [];
  const pt: Measure[] = [];
  // The heap the CLI runs with (bin/metatape.js), so the row times what `metatape run` does.
  const tsxArgs = [
    COMPUTE_HEAP_FLAG,
    '--import',
    'tsx',
    join(here, 'fairWorker.ts'),
    dir,
    job,
    String(iterations),
  ];
  for (let r = 0; r < ROUNDS; r++) {
    mt.push(spawnJson(process.execPath, tsxArgs, blasEnv({ ...process.env, ...ONE_THREAD, ...warm })));
    if (torch)
      pt.push(
        spawnJson(PYTHON, [join(here, 'reference', 'fair_torch.py'), dir, job, String(iterations)], {
          ...torch.env,
          ...warm,
        }),
      );
  }
  return { mt, pt };
}

const range = (xs: number[], f: (x: number) => string) =>
  xs.length > 1 ? ` (${f(Math.min(...xs))}-${f(Math.max(...xs))})` : '';

function metaRow(work: string, p: Paired): BenchRow {
  const rate = (m: Measure) => 1000 / m.msPerIt!;
  const fmt = (x: number) => (x >= 10 ? x.toFixed(1) : x.toFixed(2));
  const mtRates = p.mt.map(rate);
  const mtMed = median(mtRates);
  const mtMem = Math.max(...p.mt.map((m) => m.peakRssMb));
  // metatape's rate from CPU time too: the figure to compare across runs on a loaded machine.
  const cpuRates = p.mt.filter((m) => m.cpuMsPerIt).map((m) => 1000 / m.cpuMsPerIt!);
  const cpu = cpuRates.length ? `; metatape CPU-time ${fmt(median(cpuRates))} it/s` : '';
  let ratio = 'PyTorch not run';
  let value = `peak RSS ${mtMem.toFixed(0)} MB${cpu}`;
  if (p.pt.length > 0) {
    const ptRates = p.pt.map(rate);
    const ptMed = median(ptRates);
    const ptMem = Math.max(...p.pt.map((m) => m.peakRssMb));
    // Same fixture, so every round of both tools starts from the same weights and sees the same tasks.
    let diff0 = 0;
    let diff = 0;
    let gradRel = 0;
    for (const m of p.pt)
      for (const a of p.mt) {
        (m.losses ?? []).forEach((l, i) => {
          const d = Math.abs(l - (a.losses?.[i] ?? Number.NaN));
          diff = Math.max(diff, d);
          if (i === 0) diff0 = Math.max(diff0, d);
        });
        gradRel = Math.max(gradRel, Math.abs(m.gradNorm0! - a.gradNorm0!) / m.gradNorm0!);
      }
    value = `PyTorch ${fmt(ptMed)} it/s${range(ptRates, fmt)}; peak RSS ${mtMem.toFixed(0)} / ${ptMem.toFixed(0)} MB${cpu}; meta-loss max |diff| ${diff0.toExponential(1)} at it 0, ${diff.toExponential(1)} over its 0-4; meta-grad norm rel diff ${gradRel.toExponential(1)}`;
    ratio = `${(mtMed / ptMed).toFixed(2)}x`;
  }
  return { figure: `${fmt(mtMed)} it/s${range(mtRates, fmt)}`, work, value, ratio };
}

function matmulRow(size: string, p: Paired): BenchRow {
  const fmt = (x: number) => x.toFixed(1);
  const mt = p.mt.map((m) => m.gflops!);
  const mtMem = Math.max(...p.mt.map((m) => m.peakRssMb));
  let value = `peak RSS ${mtMem.toFixed(0)} MB`;
  let ratio = 'PyTorch not run';
  if (p.pt.length > 0) {
    const pt = p.pt.map((m) => m.gflops!);
    const ptMem = Math.max(...p.pt.map((m) => m.peakRssMb));
    value = `PyTorch mm ${fmt(median(pt))} GFLOP/s${range(pt, fmt)}; peak RSS ${mtMem.toFixed(0)} / ${ptMem.toFixed(0)} MB`;
    ratio = `${(median(mt) / median(pt)).toFixed(2)}x`;
  }
  return {
    figure: `${fmt(median(mt))} GFLOP/s${range(mt, fmt)}`,
    work: `matmul float32 ${size}`,
    value,
    ratio,
  };
}

export function cpuModel(): string {
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return m[1]!;
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? 'unknown CPU';
}

const la = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/** Header rows: machine, pinning, rounds, PyTorch and its BLAS. */
function contextRows(torch: Baseline | null): BenchRow[] {
  const rows: BenchRow[] = [
    {
      figure: 'setup',
      work: `${cpuModel()} x${cpus().length}; ${PIN.length ? `both pinned with \`${PIN.join(' ')}\`` : 'not pinned (no taskset or one core)'}; one thread each`,
      value: `${ROUNDS} rounds round-robin, fresh process per round; medians (min-max)`,
      ratio: 'ratio = metatape / PyTorch (paired medians)',
    },
    { figure: 'metatape matmul', work: metatapeMatmul(), value: '', ratio: '' },
  ];
  if (torch)
    rows.push({
      figure: `torch ${torch.info.torch}`,
      work: `${PYTHON}, ${torch.info.threads} thread; ${torch.note}`,
      value: `BLAS mapped: ${torch.info.blas.join(', ') || 'none found in /proc/self/maps'}`,
      ratio: `OpenBLAS core: ${torch.info.openblasCore ?? 'n/a'}`,
    });
  else rows.push({ figure: 'PyTorch absent', work: baselineWhy, value: 'metatape figures alone', ratio: '' });
  return rows;
}

/** A row: the worker job, timed iterations, what it is, and warm-up iterations for both tools (scaled). */
type Job = { job: string; iterations: number; work: string; warmup?: number };

function runSection(jobs: Job[]): BenchRow[] {
  const torch = baseline();
  const dir = mkdtempSync(join(tmpdir(), 'metatape-bench-'));
  const before = la();
  const rows = contextRows(torch);
  try {
    for (const j of jobs) {
      const kind = j.job.split(':')[0]!;
      const iterations = Math.max(1, Math.round(j.iterations * SCALE));
      if (kind !== 'matmul') writeFixture(dir, kind as MetaJob['kind']);
      const warmup = j.warmup === undefined ? undefined : Math.max(1, Math.round(j.warmup * SCALE));
      const p = pairedRun(dir, j.job, iterations, warmup, torch);
      const after = warmup === undefined ? '' : ` after ${warmup} warm-up`;
      rows.push(
        kind === 'matmul' ? matmulRow(j.work, p) : metaRow(`${j.work}, ${iterations} it/round${after}`, p),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  rows.push({ figure: 'load average', work: `before ${before}`, value: `after ${la()}`, ratio: '' });
  return rows;
}

const SIN = 'sinusoid 1-40-40-1, K=10, 25 tasks batched, alpha 0.01, Adam 1e-3';

export function benchFairMaml(): BenchRow[] {
  return runSection([
    // Warm-ups past the point where V8 stops optimizing metatape's per-iteration code (about 1000
    // one-step and 400 ten-step iterations on this machine type), the same count for PyTorch.
    { job: 'sinusoid:2:1', iterations: 600, warmup: 1000, work: `MAML order 2, 1 inner step, ${SIN}` },
    { job: 'sinusoid:1:1', iterations: 1000, warmup: 1200, work: `MAML order 1, 1 inner step, ${SIN}` },
    {
      job: 'sinusoid:2:10',
      iterations: 100,
      warmup: 400,
      work: `MAML order 2, 10 inner steps, ${SIN}`,
    },
  ]);
}

export function benchFairOmniglot(): BenchRow[] {
  return runSection([
    {
      job: 'omniglot:2:1',
      // 100 timed iterations (about a second): 40 left a round at the mercy of one collection.
      iterations: 100,
      warmup: 60,
      work: 'MAML order 2, Omniglot 5w1s MLP 784-256-128-64-64-5 + batch norm, 32 tasks, 1 inner step (alpha 0.4), low-rank fast kernels in both (synthetic episodes)',
    },
    ...CONV4,
  ]);
}

const CONV4: Job[] = [
  {
    job: 'conv4:2:1',
    iterations: 3,
    work: 'MAML order 2, Omniglot 5w1s conv4 (64 filters, 3x3 same, BN, ReLU, 2x2 max-pool; 28x28x1), 32 tasks, 1 inner step (alpha 0.4), full per-task kernels (PyTorch: grouped conv)',
  },
];

export function benchFairConv4(): BenchRow[] {
  return runSection(CONV4);
}

export function benchFairMatmul(): BenchRow[] {
  return runSection([
    { job: 'matmul:40x40x10', iterations: 800, work: '[40,40] x [40,10]' },
    { job: 'matmul:256x256x256', iterations: 1000, work: '256^3' },
    { job: 'matmul:1024x1024x1024', iterations: 2000, work: '1024^3' },
  ]);
}

/**
 * Memory over a long run (`npm run bench -- memory`), metatape alone: RSS, the live JS heap and ArrayBuffers
 * (tensor storage) after a full GC, sampled after the warm-up and then every `every` iterations. A leak shows
 * as growth of the heap or of ArrayBuffers; RSS also moves with the allocator's free pages. Rows: each series,
 * with its last sample against its first.
 */
export function benchFairMemory(): BenchRow[] {
  const jobs = [
    { job: 'sinusoid:2:1', iterations: 10_000, every: 1000, work: `MAML order 2, 1 inner step, ${SIN}` },
    {
      job: 'omniglot:2:1',
      iterations: 300,
      every: 30,
      work: 'MAML order 2, Omniglot 5w1s MLP + batch norm, 32 tasks, low-rank fast kernels',
    },
  ];
  const dir = mkdtempSync(join(tmpdir(), 'metatape-bench-'));
  const before = la();
  const rows: BenchRow[] = [
    {
      figure: 'setup',
      work: `${cpuModel()} x${cpus().length}; ${PIN.length ? `pinned with \`${PIN.join(' ')}\`` : 'not pinned'}; node --expose-gc`,
      value: 'after a full GC at each sample; MB',
      ratio: 'last / first sample; min-max',
    },
  ];
  try {
    for (const j of jobs) {
      const kind = j.job.split(':')[0] as MetaJob['kind'];
      writeFixture(dir, kind);
      const iterations = Math.max(1, Math.round(j.iterations * SCALE));
      const every = Math.max(1, Math.round(j.every * SCALE));
      const m = spawnJson(
        process.execPath,
        [
          COMPUTE_HEAP_FLAG,
          '--expose-gc',
          '--import',
          'tsx',
          join(here, 'fairWorker.ts'),
          dir,
          j.job,
          String(iterations),
        ],
        blasEnv({ ...process.env, ...ONE_THREAD, BENCH_MEMORY_EVERY: String(every) }),
      );
      const samples = m.memory ?? [];
      if (samples.length < 2) throw new Error(`${j.job}: the worker returned no memory samples`);
      const its = samples.map((x) => x.it);
      const series = (figure: string, f: (x: MemorySample) => number, digits: number) => {
        const v = samples.map(f);
        rows.push({
          figure,
          work: `${j.work}; it ${its[0]}..${its.at(-1)} every ${every}`,
          value: v.map((x) => x.toFixed(digits)).join(' '),
          ratio: `last/first ${(v.at(-1)! / v[0]!).toFixed(3)}x; range ${Math.min(...v).toFixed(digits)}-${Math.max(...v).toFixed(digits)}`,
        });
      };
      series('RSS', (x) => x.rssMb, 0);
      series('JS heap used', (x) => x.heapUsedMb, 1);
      series('ArrayBuffers', (x) => x.arrayBuffersMb, 1);
      rows.push({
        figure: 'peak RSS',
        work: j.work,
        value: `${m.peakRssMb.toFixed(0)} MB (VmHWM)`,
        ratio: `${(1000 / m.msPerIt!).toFixed(1)} it/s incl. sampling`,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  rows.push({ figure: 'load average', work: `before ${before}`, value: `after ${la()}`, ratio: '' });
  return rows;
}
