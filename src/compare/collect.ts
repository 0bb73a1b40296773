import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readRunMetrics } from '../io/metrics.js';
import { readStatus } from '../io/runFolder.js';

/** Sub-folder of a comparison that holds one run folder per variant. */
export const VARIANTS_DIR = 'variants';

/** One evaluation cell of a run's `summary.json`. */
export interface ScoreCell {
  steps: number;
  mean: number;
  ci95: number;
  tasks: number;
}

/** What a comparison needs from one variant's run folder. */
export interface VariantRecord {
  id: string;
  dir: string;
  /** The method of the comparison the variant belongs to (its id without `-k<steps>-s<seed>`). */
  method: string;
  /** `trainer.algorithm` (absent in configs older than the algorithm registry: MAML). */
  algorithm?: string;
  order: number;
  innerSteps: number;
  seed: number;
  /** Support size K the variant trained with (`data.shots`). */
  trainShots: number;
  /** `status.json` state (`missing` when the worker never started). */
  state: string;
  /** Name of the test metric (`mse` or `accuracy`). */
  metric?: string;
  /** `summary.json` results: `test/mse@K10/5steps`, `metaItPerSec`, `peakRssMb`, ... */
  results?: Record<string, number>;
  /** `summary.json` evaluation table: per K, the metric after each number of inner steps. */
  table?: { shots: number; scores: ScoreCell[] }[];
  /** The training loop's CPU and wall time (`resources.json`, written by the CLI around the trainer). */
  resources?: {
    cpuItPerSec: number;
    wallItPerSec: number;
    cpuSeconds: number;
    iterations: number;
    /** Peak RSS during training above the RSS before setup (absent in older runs). */
    trainRssMb?: number;
  };
  /** Meta-training curve (train rows of `metrics.arrow`). */
  curve: { x: number[]; y: number[] };
}

/** The method of a variant id (what precedes `-k<inner steps>-s<seed>`; see `variantId` in plan.ts). */
export function methodOfId(id: string): string {
  return id.replace(/-k\d+-s\d+$/, '');
}

/** A folder is not a comparison (no `variants/` with run folders). */
export class ComparisonError extends Error {
  override readonly name = 'ComparisonError';
}

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Reads one variant's run folder (config, status, summary, metrics); missing pieces stay undefined. */
export async function readVariant(dir: string, id: string): Promise<VariantRecord | undefined> {
  const config = await readJson<{
    seed: number;
    data: { shots: number };
    trainer: { algorithm?: string; order: number; innerSteps: number };
  }>(join(dir, 'config.json'));
  if (!config) return undefined;
  const status = await readStatus(dir);
  const summary = await readJson<{
    metric: string;
    results: Record<string, number>;
    table: { shots: number; scores: ScoreCell[] }[];
  }>(join(dir, 'summary.json'));
  const resources = await readJson<VariantRecord['resources']>(join(dir, 'resources.json'));
  const curve = { x: [] as number[], y: [] as number[] };
  const cols = await readRunMetrics(dir).catch(() => undefined);
  if (cols) {
    // The Arrow file is the source of truth; only the per-window training rows make the learning curve.
    cols.iteration?.forEach((it, i) => {
      const loss = cols.metaLoss?.[i];
      if (cols.split?.[i] === 'train' && typeof loss === 'number') {
        curve.x.push(Number(it));
        curve.y.push(loss);
      }
    });
  }
  return {
    id,
    dir,
    method: methodOfId(id),
    ...(config.trainer.algorithm ? { algorithm: config.trainer.algorithm } : {}),
    order: config.trainer.order,
    innerSteps: config.trainer.innerSteps,
    seed: config.seed,
    trainShots: config.data.shots,
    state: status?.state ?? 'missing',
    ...(summary ? { metric: summary.metric, results: summary.results, table: summary.table } : {}),
    ...(resources ? { resources } : {}),
    curve,
  };
}

/** Reads every variant of a comparison folder, sorted by inner steps, method, seed. */
export async function readVariants(compareDir: string): Promise<VariantRecord[]> {
  let names: string[];
  try {
    names = (await readdir(join(compareDir, VARIANTS_DIR), { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    throw new ComparisonError(`${compareDir}: not a comparison folder (no ${VARIANTS_DIR}/ inside)`);
  }
  const records: VariantRecord[] = [];
  for (const name of names) {
    const r = await readVariant(join(compareDir, VARIANTS_DIR, name), name);
    if (r) records.push(r);
  }
  if (records.length === 0) throw new ComparisonError(`${compareDir}: ${VARIANTS_DIR}/ holds no run folders`);
  return records.sort(
    (a, b) => a.innerSteps - b.innerSteps || a.method.localeCompare(b.method) || a.seed - b.seed,
  );
}
