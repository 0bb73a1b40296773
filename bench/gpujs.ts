/**
 * gpu.js backend benchmark: per-op time over sizes for the CPU backend and every available gpu.js mode, the
 * crossover sizes where a mode beats the CPU backend, and a second-order MAML meta-gradient step. `npm run
 * bench` calls {@link gpujsBench}; `npx tsx bench/gpujs-main.ts` prints it alone.
 */
import type { Backend, KernelTensor } from '../src/backends/backend.js';
import { CpuBackend } from '../src/backends/cpu/index.js';
import {
  createGpujsBackend,
  GPUJS_MODES,
  GpujsBackend,
  type GpujsMode,
  probeGpujsModes,
  releaseWebGPU,
} from '../src/backends/gpujs/index.js';
import { getBackend, useBackend } from '../src/backends/registry.js';
import {
  add,
  fromArray,
  GradientTape,
  matmul,
  mean,
  mul,
  Rng,
  square,
  sub,
  type Tensor,
  tanh,
} from '../src/index.js';
import type { Shape } from '../src/tensor/shape.js';
import { measureSteps, STEP_KINDS, stepBenchRows } from './gpujs-steps.js';
import { type BenchRow, fmtTime } from './table.js';

/** One measurement: milliseconds per op (median of timed batches) of one op at one size on one backend. */
export interface GpujsBenchRow {
  readonly op: string;
  /** Elements for elementwise ops and reductions, n of an n×n×n product for matmul, tasks for MAML. */
  readonly size: number;
  readonly backend: string;
  readonly ms: number;
  /** CPU backend time / this time (> 1: faster than the CPU backend). */
  readonly speedup: number;
}

/** Per op and mode, the smallest measured size at which the mode beat the CPU backend (null: never). */
export interface CrossoverRow {
  readonly op: string;
  readonly backend: string;
  readonly crossover: number | null;
}

export interface BenchOptions {
  /** Modes to measure (default: every available one). */
  readonly modes?: readonly GpujsMode[];
  /** Stop growing sizes for a backend once one op takes longer than this (ms). */
  readonly maxMsPerOp?: number;
  /** Time budget per measurement (ms). */
  readonly budgetMs?: number;
  readonly log?: (line: string) => void;
}

export const ELEMENTWISE_SIZES = [256, 4096, 65536, 262144, 1048576];
export const MATMUL_SIZES = [16, 32, 64, 128, 256, 512, 1024];
export const REDUCE_SIZES = [4096, 65536, 1048576];
export const MAML_TASKS = [4, 16];

interface OpDef {
  readonly op: string;
  readonly sizes: readonly number[];
  readonly inputs: (size: number) => Shape[];
  readonly run: (b: Backend, xs: KernelTensor[], size: number) => unknown;
}

const OPS: readonly OpDef[] = [
  {
    op: 'add',
    sizes: ELEMENTWISE_SIZES,
    inputs: (n) => [[n], [n]],
    run: (b, [x, y], n) => b.binary('add', x!, y!, [n]),
  },
  { op: 'tanh', sizes: ELEMENTWISE_SIZES, inputs: (n) => [[n]], run: (b, [x]) => b.unary('tanh', x!) },
  {
    op: 'add (row broadcast)',
    sizes: ELEMENTWISE_SIZES,
    inputs: (n) => [[n / 256, 256], [256]],
    run: (b, [x, y], n) => b.binary('add', x!, y!, [n / 256, 256]),
  },
  {
    op: 'matmul',
    sizes: MATMUL_SIZES,
    inputs: (n) => [
      [n, n],
      [n, n],
    ],
    run: (b, [x, y], n) => b.matmul(x!, y!, false, false, [n, n]),
  },
  { op: 'sum (all)', sizes: REDUCE_SIZES, inputs: (n) => [[n]], run: (b, [x]) => b.reduce('sum', x!, [0]) },
  {
    op: 'sum (rows of 256)',
    sizes: REDUCE_SIZES,
    inputs: (n) => [[n / 256, 256]],
    run: (b, [x]) => b.reduce('sum', x!, [1]),
  },
];

function randomArray(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.uniformIn(-1, 1));
}

/**
 * Milliseconds per call of `dispatch`: batches of calls, each batch ended by reading the last result (a read
 * is the only wait, and devices run in order, so it covers the whole batch); median over batches.
 */
async function timeOp(b: Backend, dispatch: () => KernelTensor, budgetMs: number): Promise<number> {
  const readAll = async (t: KernelTensor) => {
    await b.read(t);
    b.dispose?.(t.handle);
  };
  // Warm-up: compiles the kernel and fills caches.
  await readAll(dispatch());
  const t0 = performance.now();
  await readAll(dispatch());
  const once = Math.max(performance.now() - t0, 0.001);
  const perBatch = Math.max(1, Math.min(200, Math.floor(budgetMs / 5 / once)));
  const samples: number[] = [];
  const end = performance.now() + budgetMs;
  do {
    const outs: KernelTensor[] = [];
    const s = performance.now();
    for (let i = 0; i < perBatch; i++) outs.push(dispatch());
    await b.read(outs.at(-1)!);
    samples.push((performance.now() - s) / perBatch);
    for (const o of outs) b.dispose?.(o.handle);
  } while (performance.now() < end && samples.length < 25);
  samples.sort((x, y) => x - y);
  return samples[Math.floor(samples.length / 2)]!;
}

/** One MAML meta-step (an inner SGD step by a nested tape, outer loss, meta-gradient) of a 1-40-40-1 MLP. */
function metaStep(params: Tensor[], x: Tensor, y: Tensor): Tensor[] {
  const forward = (p: Tensor[], inp: Tensor) =>
    add(matmul(tanh(add(matmul(tanh(add(matmul(inp, p[0]!), p[1]!)), p[2]!), p[3]!)), p[4]!), p[5]!);
  const outer = new GradientTape();
  const loss = outer.record(() => {
    outer.watch(...params);
    const inner = new GradientTape();
    const innerLoss = inner.record(() => {
      inner.watch(...params);
      return mean(square(sub(forward(params, x), y)));
    });
    const grads = inner.gradient(innerLoss, params) as Tensor[];
    const adapted = params.map((p, i) => sub(p, mul(grads[i]!, 0.01)));
    return mean(square(sub(forward(adapted, x), y)));
  });
  return outer.gradient(loss, params) as Tensor[];
}

async function timeMaml(b: Backend, tasks: number, budgetMs: number): Promise<number> {
  const prev = getBackend();
  useBackend(b);
  try {
    const shapes: Shape[] = [[1, 40], [40], [40, 40], [40], [40, 1], [1]];
    const params = shapes.map((s, i) =>
      fromArray(
        randomArray(
          s.reduce((p, d) => p * d, 1),
          10 + i,
        ).map((v) => v * 0.3),
        s,
      ),
    );
    // Tasks batched along the rows: 10 shots per task, as in the sinusoid benchmark of the MAML paper.
    const x = fromArray(randomArray(tasks * 10, 3), [tasks * 10, 1]);
    const y = fromArray(randomArray(tasks * 10, 4), [tasks * 10, 1]);
    const step = async () => {
      const g = metaStep(params, x, y);
      await Promise.all(g.map((t) => t.data()));
    };
    await step();
    const samples: number[] = [];
    const end = performance.now() + budgetMs;
    do {
      const s = performance.now();
      await step();
      samples.push(performance.now() - s);
    } while (performance.now() < end && samples.length < 20);
    samples.sort((p, q) => p - q);
    return samples[Math.floor(samples.length / 2)]!;
  } finally {
    useBackend(prev);
  }
}

/** Runs the benchmark; rows of every (op, size, backend), CPU backend included. */
export async function gpujsBench(
  options: BenchOptions = {},
): Promise<{ rows: GpujsBenchRow[]; crossovers: CrossoverRow[] }> {
  const log = options.log ?? (() => undefined);
  const budgetMs = options.budgetMs ?? 300;
  const maxMs = options.maxMsPerOp ?? 1500;
  const probes = await probeGpujsModes();
  const modes = (options.modes ?? GPUJS_MODES).filter((m) => probes.find((p) => p.mode === m)?.available);
  const backends: Backend[] = [new CpuBackend()];
  for (const m of modes) backends.push(await createGpujsBackend(m));
  const rows: GpujsBenchRow[] = [];
  const cpuMs = new Map<string, number>();
  for (const def of OPS) {
    for (const b of backends) {
      for (const size of def.sizes) {
        const shapes = def.inputs(size);
        const xs = shapes.map((s, i): KernelTensor => {
          const n = s.reduce((p, d) => p * d, 1);
          return { handle: b.upload(randomArray(n, i + 1), s, 'float32'), shape: s, dtype: 'float32' };
        });
        const ms = await timeOp(
          b,
          () => ({ handle: def.run(b, xs, size), shape: [], dtype: 'float32' }),
          budgetMs,
        );
        for (const x of xs) b.dispose?.(x.handle);
        const key = `${def.op}|${size}`;
        if (b.name === 'cpu') cpuMs.set(key, ms);
        const base = cpuMs.get(key);
        rows.push({
          op: def.op,
          size,
          backend: b.name,
          ms,
          speedup: base !== undefined ? base / ms : Number.NaN,
        });
        log(
          `${def.op.padEnd(20)} ${String(size).padStart(8)} ${b.name.padEnd(18)} ${ms.toFixed(4).padStart(10)} ms`,
        );
        if (ms > maxMs) break;
      }
    }
  }
  for (const b of backends) {
    for (const tasks of MAML_TASKS) {
      const ms = await timeMaml(b, tasks, budgetMs * 3);
      const key = `maml|${tasks}`;
      if (b.name === 'cpu') cpuMs.set(key, ms);
      rows.push({
        op: 'MAML meta-gradient (2nd order)',
        size: tasks,
        backend: b.name,
        ms,
        speedup: cpuMs.get(key)! / ms,
      });
      log(`maml tasks=${tasks} ${b.name.padEnd(18)} ${ms.toFixed(3)} ms`);
    }
  }
  // Release GL contexts, worker pools and the Dawn instance, or Node would not exit after the benchmark.
  for (const b of backends) if (b instanceof GpujsBackend) await b.destroy();
  await releaseWebGPU();
  return { rows, crossovers: crossoversOf(rows) };
}

/** The smallest size at which each gpu.js backend beat the CPU backend for each op (and stayed ahead). */
export function crossoversOf(rows: readonly GpujsBenchRow[]): CrossoverRow[] {
  const out: CrossoverRow[] = [];
  const ops = [...new Set(rows.map((r) => r.op))];
  const names = [...new Set(rows.map((r) => r.backend))].filter((n) => n !== 'cpu');
  for (const op of ops) {
    for (const backend of names) {
      const mine = rows.filter((r) => r.op === op && r.backend === backend).sort((a, b) => a.size - b.size);
      let crossover: number | null = null;
      for (let i = mine.length - 1; i >= 0 && mine[i]!.speedup > 1; i--) crossover = mine[i]!.size;
      out.push({ op, backend, crossover });
    }
  }
  return out;
}

/** Markdown tables: ms per op by size (one column per backend, speedup vs cpu), then the crossovers. */
export function formatBench(rows: readonly GpujsBenchRow[], crossovers: readonly CrossoverRow[]): string {
  const names = [...new Set(rows.map((r) => r.backend))];
  const lines: string[] = [];
  for (const op of [...new Set(rows.map((r) => r.op))]) {
    lines.push(
      `\n### ${op}\n`,
      `| size | ${names.join(' | ')} |`,
      `|---:|${names.map(() => '---:').join('|')}|`,
    );
    for (const size of [...new Set(rows.filter((r) => r.op === op).map((r) => r.size))]) {
      const cells = names.map((n) => {
        const r = rows.find((x) => x.op === op && x.size === size && x.backend === n);
        if (!r) return '—';
        return n === 'cpu' ? `${fmt(r.ms)}` : `${fmt(r.ms)} (${r.speedup.toFixed(2)}×)`;
      });
      lines.push(`| ${size} | ${cells.join(' | ')} |`);
    }
  }
  lines.push(
    '\n### crossover (smallest size from which the mode beats the cpu backend)\n',
    '| op | backend | crossover |',
    '|---|---|---:|',
  );
  for (const c of crossovers) lines.push(`| ${c.op} | ${c.backend} | ${c.crossover ?? 'never (in range)'} |`);
  return lines.join('\n');
}

function fmt(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`;
}

/**
 * The section of `npm run bench`: per-op time of every available gpu.js mode against the CPU backend (ratio
 * > 1: faster than cpu), then each mode's crossover size per op, then what a second-order sinusoid and conv4
 * meta-iteration costs each GPU-like mode (dispatches, compiles, transfers, ms) with fusion off and on.
 */
export async function benchGpujs(options: BenchOptions = {}): Promise<BenchRow[]> {
  const { rows, crossovers } = await gpujsBench(options);
  const out: BenchRow[] = rows.map((r) => ({
    figure: `${r.op}, ${r.backend}`,
    work: r.op.startsWith('MAML')
      ? `${r.size} tasks`
      : r.op === 'matmul'
        ? `${r.size}×${r.size}×${r.size}`
        : `${r.size} elements`,
    value: fmtTime(r.ms),
    ratio: r.backend === 'cpu' ? 'baseline' : `${r.speedup.toFixed(2)}× cpu`,
  }));
  for (const c of crossovers) {
    out.push({
      figure: `crossover: ${c.op}, ${c.backend}`,
      work: 'smallest size beating cpu',
      value: c.crossover === null ? 'never' : String(c.crossover),
      ratio: '',
    });
  }
  // gpu.js's cpu mode (plain JS kernels) is left out: a conv4 meta-iteration on it takes minutes.
  const probes = await probeGpujsModes();
  const stepModes = (options.modes ?? GPUJS_MODES).filter(
    (m) => m !== 'cpu' && probes.find((p) => p.mode === m)?.available,
  );
  for (const mode of stepModes)
    for (const kind of STEP_KINDS) out.push(...stepBenchRows(await measureSteps(mode, kind)));
  await releaseWebGPU();
  return out;
}
