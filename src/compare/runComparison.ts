import { mkdir, readFile, stat } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { canonicalJson, trainingConfigHash } from '../config/hash.js';
import { loadConfig } from '../config/load.js';
import type { OverrideInput } from '../config/overrides.js';
import type { ExperimentConfig } from '../config/schema.js';
import { writeFileAtomic } from '../io/atomic.js';
import { latestCheckpoint } from '../io/checkpointFiles.js';
import { readStatus, writeResolvedConfig } from '../io/runFolder.js';
import { aggregate, type ComparisonSummary, chooseMetric } from './aggregate.js';
import { ComparisonError, readVariants, VARIANTS_DIR, type VariantRecord } from './collect.js';
import type { Variant } from './plan.js';
import { type ComparisonContext, writeComparisonReport } from './report.js';
import { runWorkers, type WorkerJob, type WorkerResult, workerLogPath } from './workers.js';

/** What was asked for, stored as `plan.json` so `metatape report` can rebuild the header later. */
export interface ComparisonPlan {
  config: string;
  overrides: string[];
  /** The methods compared, in the order asked (`o1`, `o2`, or `maml`, `fomaml`, ...; the first is the baseline). */
  methods?: string[];
  orders: number[];
  innerSteps: number[];
  seeds: number[];
  jobs: number;
  cores: number;
  createdAt: string;
}

/** Options of {@link runComparison}. */
export interface RunComparisonOptions {
  configPath: string;
  /** Overrides applied to every variant (flags, `--set`), before the variant's own. */
  overrides: readonly OverrideInput[];
  variants: readonly Variant[];
  /** The comparison folder; variants go to `<dir>/variants/<id>/`. */
  dir: string;
  jobs: number;
  plan: Omit<ComparisonPlan, 'jobs' | 'cores' | 'createdAt'>;
  logLevel?: string;
  /** Progress lines (the CLI sends them to stderr). */
  onMessage?: (line: string) => void;
  /** Headline choice (default: training K, most test steps). */
  prefer?: { shots?: number; steps?: number };
}

/** Outcome of {@link runComparison}. */
export interface ComparisonOutcome {
  records: VariantRecord[];
  summary: ComparisonSummary;
  files: string[];
  workers: WorkerResult[];
  /** Variants skipped because an earlier invocation completed them. */
  reused: string[];
}

const overrideText = (o: OverrideInput) => (typeof o === 'string' ? o : o.assignment);

/**
 * The resolved config of one variant: the base config with the variant's algorithm and order (where it
 * sets them), inner steps and seed.
 */
export async function variantConfig(
  configPath: string,
  overrides: readonly OverrideInput[],
  v: Variant,
): Promise<ExperimentConfig> {
  const cfg = await loadConfig(configPath, [
    ...overrides,
    ...(v.algorithm ? [`trainer.algorithm=${v.algorithm}`] : []),
    ...(v.order ? [`trainer.order=${v.order}`] : []),
    `trainer.innerSteps=${v.innerSteps}`,
    `seed=${v.seed}`,
  ]);
  return { ...cfg, name: `${cfg.name}--${v.id}` };
}

/** What must match for an existing variant folder to count as this variant: training state, length, evaluation. */
function identity(cfg: ExperimentConfig): string {
  return canonicalJson([trainingConfigHash(cfg), cfg.trainer.iterations, cfg.eval]);
}

/** Refuses to mix variants of different configs in one comparison folder (a reused `--dir`). */
async function checkSameVariant(dir: string, cfg: ExperimentConfig): Promise<void> {
  const stored = await readFile(join(dir, 'config.json'), 'utf8')
    .then((t) => JSON.parse(t) as ExperimentConfig)
    .catch(() => undefined);
  if (stored && identity(stored) !== identity(cfg)) {
    throw new ComparisonError(
      `${dir} was trained with a different config (training settings, iterations or evaluation); use a new --dir`,
    );
  }
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

/**
 * Runs every variant as its own worker process (completed variants of an earlier, interrupted invocation
 * in the same folder are kept; ones with a checkpoint are resumed), then aggregates and writes the report.
 */
export async function runComparison(o: RunComparisonOptions): Promise<ComparisonOutcome> {
  // Resolve and validate every variant's config before starting any work.
  const configs = await Promise.all(o.variants.map((v) => variantConfig(o.configPath, o.overrides, v)));
  await mkdir(join(o.dir, VARIANTS_DIR), { recursive: true });
  const plan: ComparisonPlan = {
    ...o.plan,
    jobs: o.jobs,
    cores: availableParallelism(),
    createdAt: new Date().toISOString(),
  };
  await writeFileAtomic(join(o.dir, 'plan.json'), `${JSON.stringify(plan, null, 2)}\n`);
  const jobs: WorkerJob[] = [];
  const reused: string[] = [];
  const level = o.logLevel ? ['--log-level', o.logLevel] : [];
  for (const [i, v] of o.variants.entries()) {
    const dir = join(o.dir, VARIANTS_DIR, v.id);
    await checkSameVariant(dir, configs[i]!);
    const status = await readStatus(dir);
    if (status?.state === 'completed' && (await exists(join(dir, 'summary.json')))) {
      reused.push(v.id);
      continue;
    }
    const ckpt = await latestCheckpoint(dir);
    if (ckpt && ckpt.iteration < configs[i]!.trainer.iterations) {
      jobs.push({ id: v.id, args: ['resume', dir, ...level], logFile: workerLogPath(dir) });
      continue;
    }
    await mkdir(dir, { recursive: true });
    await writeResolvedConfig(dir, configs[i]);
    jobs.push({
      id: v.id,
      args: ['run', join(dir, 'config.json'), '--run-dir', dir, ...level],
      logFile: workerLogPath(dir),
    });
  }
  if (reused.length > 0) o.onMessage?.(`reusing ${reused.length} completed variant(s): ${reused.join(' ')}`);
  let done = 0;
  const workers = await runWorkers(jobs, o.jobs, {
    onStart: (j) => o.onMessage?.(`start ${j.id} (${j.args[0]})`),
    onEnd: (r) => {
      done++;
      const how =
        r.code === 0
          ? 'done'
          : `FAILED (${r.signal ?? `exit ${r.code}`}, see ${join(o.dir, VARIANTS_DIR, r.id, 'worker.log')})`;
      o.onMessage?.(`[${done}/${jobs.length}] ${r.id} ${how} in ${r.seconds.toFixed(1)} s`);
    },
  });
  const { records, summary, files } = await rebuildComparisonReport(o.dir, o.prefer);
  return { records, summary, files, workers, reused };
}

/** Reads a comparison folder's variants (metrics from their Arrow files) and rewrites its report. */
export async function rebuildComparisonReport(
  dir: string,
  prefer: { shots?: number; steps?: number } = {},
): Promise<{ records: VariantRecord[]; summary: ComparisonSummary; files: string[] }> {
  const records = await readVariants(dir);
  const choice = chooseMetric(records, prefer);
  if (!choice)
    throw new ComparisonError(`${dir}: no variant has finished (no summary.json in ${VARIANTS_DIR}/*/)`);
  const plan = await readFile(join(dir, 'plan.json'), 'utf8')
    .then((t) => JSON.parse(t) as ComparisonPlan)
    .catch(() => undefined);
  const summary = aggregate(records, choice, plan?.methods);
  const first = await readFile(join(records[0]!.dir, 'config.json'), 'utf8')
    .then((t) => JSON.parse(t) as ExperimentConfig)
    .catch(() => undefined);
  const context: ComparisonContext = {
    ...(plan ? { config: plan.config, overrides: plan.overrides, jobs: plan.jobs, cores: plan.cores } : {}),
    ...(first ? { iterations: first.trainer.iterations, evalTasks: first.eval.tasks } : {}),
  };
  const files = await writeComparisonReport(dir, records, summary, context);
  return { records, summary, files };
}

/** The override texts, for `plan.json`. */
export function overrideTexts(list: readonly OverrideInput[]): string[] {
  return list.map(overrideText);
}
