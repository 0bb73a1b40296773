/**
 * What one second-order MAML meta-iteration costs a backend: dispatches, compiles, uploads, reads and bytes
 * (the backend's counters, per iteration once warm) and milliseconds, for the sinusoid MLP and the Omniglot
 * 5-way 1-shot conv4, on each gpu.js mode with elementwise fusion off (one kernel per op, the baseline) and
 * on, timed interleaved in one process so that load on the machine hits both alike.
 */
import { type Backend, type BackendCounters, diffCounters } from '../src/backends/backend.js';
import { createGpujsBackend, type GpujsBackend, type GpujsMode } from '../src/backends/gpujs/index.js';
import { getBackend, useBackend } from '../src/backends/registry.js';
import { fromArray, Rng } from '../src/index.js';
import type { TaskBatch } from '../src/meta/tasks.js';
import { adam } from '../src/optim/adam.js';
import { applyUpdates } from '../src/optim/tree.js';
import { metaSetup } from './fairWorker.js';
import type { BenchRow } from './table.js';

/** The two meta-iterations measured. */
export const STEP_KINDS = ['sinusoid', 'conv4'] as const;
export type StepKind = (typeof STEP_KINDS)[number];

/** Tasks per meta-batch: the sinusoid paper's 25; conv4 kept small so a software GPU finishes (counts do not depend on it). */
export const STEP_TASKS: Record<StepKind, number> = { sinusoid: 25, conv4: 2 };

export interface StepRow {
  readonly kind: StepKind;
  readonly backend: string;
  readonly fusion: boolean;
  /** Per meta-iteration, warm. */
  readonly counters: BackendCounters;
  /** Median milliseconds per meta-iteration (meta-gradient, Adam update, loss read back). */
  readonly ms: number;
  /** The fastest timed meta-iteration: on a loaded machine, closer to the cost than the median. */
  readonly minMs: number;
}

function withBackend<T>(b: Backend, fn: () => T): T {
  const prev = getBackend();
  useBackend(b);
  try {
    return fn();
  } finally {
    useBackend(prev);
  }
}

function batchOf(kind: StepKind, rng: Rng): TaskBatch {
  const tasks = STEP_TASKS[kind];
  const floats = (shape: number[]) =>
    fromArray(
      Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniformIn(-1, 1)),
      shape,
    );
  if (kind === 'sinusoid')
    return {
      supportX: floats([tasks, 10, 1]),
      supportY: floats([tasks, 10, 1]),
      queryX: floats([tasks, 10, 1]),
      queryY: floats([tasks, 10, 1]),
    };
  const labels = () =>
    fromArray(
      Int32Array.from({ length: tasks * 5 }, (_, i) => i % 5),
      [tasks, 5],
    );
  return {
    supportX: floats([tasks, 5, 28, 28, 1]),
    supportY: labels(),
    queryX: floats([tasks, 5, 28, 28, 1]),
    queryY: labels(),
  };
}

/** One meta-iteration on `b` as a function: MAML order 2, one inner step, Adam outer step, loss read back. */
export function stepper(b: Backend, kind: StepKind): () => Promise<void> {
  return withBackend(b, () => {
    const rng = new Rng(1);
    const { model, learner } = metaSetup({ kind, order: 2, innerSteps: 1 });
    let meta = learner.initMetaParams(model.initParams(rng));
    const tx = adam({ lr: 1e-3 });
    let state = tx.init(meta);
    const batch = batchOf(kind, rng);
    return async () => {
      const loss = withBackend(b, () => {
        const g = learner.metaGradient(meta, batch);
        const u = tx.update(g.grads, state, meta);
        meta = applyUpdates(meta, u.updates);
        state = u.state;
        return g.loss;
      });
      await loss.data();
    };
  });
}

/**
 * Counters and time per meta-iteration of `kind` on `mode`, fusion off and on: three warm-up iterations each
 * (with fusion, a step's state update is a pending expression that the next step computes, and the kernel
 * that computes it depends on the step before: zeros for the first Adam moments, an array from then on, so
 * compiles settle at step four); counters over `iterations` more, then `iterations` timed rounds
 * alternating off and on.
 */
export async function measureSteps(
  mode: GpujsMode,
  kind: StepKind,
  iterations = kind === 'conv4' ? 3 : 9,
): Promise<StepRow[]> {
  const backends: GpujsBackend[] = [
    await createGpujsBackend(mode, { fusion: false }),
    await createGpujsBackend(mode, { fusion: true }),
  ];
  try {
    const steps = backends.map((b) => stepper(b, kind));
    const counters: BackendCounters[] = [];
    for (let k = 0; k < backends.length; k++) {
      const b = backends[k]!;
      for (let i = 0; i < 3; i++) await steps[k]!();
      const before = b.counters;
      for (let i = 0; i < iterations; i++) await steps[k]!();
      const d = diffCounters(b.counters, before);
      counters.push(perIteration(d, iterations));
    }
    const times: number[][] = backends.map(() => []);
    for (let i = 0; i < iterations; i++) {
      for (let k = 0; k < backends.length; k++) {
        const t0 = performance.now();
        await steps[k]!();
        times[k]!.push(performance.now() - t0);
      }
    }
    return backends.map((b, k) => ({
      kind,
      backend: b.name,
      fusion: b.fusion,
      counters: counters[k]!,
      ms: median(times[k]!),
      minMs: Math.min(...times[k]!),
    }));
  } finally {
    for (const b of backends) await b.destroy();
  }
}

function perIteration(c: BackendCounters, n: number): BackendCounters {
  return {
    dispatches: c.dispatches / n,
    compiles: c.compiles / n,
    uploads: c.uploads / n,
    reads: c.reads / n,
    bytesUploaded: c.bytesUploaded / n,
    bytesRead: c.bytesRead / n,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Bench-table rows: one per (step, mode, fusion), the ratio of the fused row against its unfused baseline. */
export function stepBenchRows(rows: readonly StepRow[]): BenchRow[] {
  return rows.map((r) => {
    const base = rows.find((x) => x.kind === r.kind && x.backend === r.backend && !x.fusion)!;
    const c = r.counters;
    return {
      figure: `MAML o2 ${r.kind} (${STEP_TASKS[r.kind]} tasks), ${r.backend}, fusion ${r.fusion ? 'on' : 'off'}`,
      work: `per meta-iteration: ${c.dispatches} dispatches, ${c.compiles} compiles, ${c.uploads} uploads (${c.bytesUploaded} B), ${c.reads} reads (${c.bytesRead} B)`,
      value: `${r.ms.toFixed(1)} ms/it (fastest ${r.minMs.toFixed(1)})`,
      ratio: r.fusion
        ? `${(base.counters.dispatches / c.dispatches).toFixed(2)}x fewer dispatches, ${(base.ms / r.ms).toFixed(2)}x faster`
        : 'baseline',
    };
  });
}

/** The header of the per-meta-iteration table that {@link formatStepRow} fills, as Markdown. */
export const STEP_TABLE_HEADER = [
  '| step | backend | fusion | dispatches | compiles | uploads | reads | bytes up | bytes read | ms/it median | ms/it fastest |',
  '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|',
].join('\n');

/** One row of the per-meta-iteration table (counters per warm iteration, then times). */
export function formatStepRow(r: StepRow): string {
  const c = r.counters;
  return `| ${r.kind} o2 | ${r.backend} | ${r.fusion ? 'on' : 'off'} | ${c.dispatches} | ${c.compiles} | ${c.uploads} | ${c.reads} | ${c.bytesUploaded} | ${c.bytesRead} | ${r.ms.toFixed(1)} | ${r.minMs.toFixed(1)} |`;
}
