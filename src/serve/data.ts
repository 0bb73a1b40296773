import { readdir, readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { readVariants, VARIANTS_DIR } from '../compare/collect.js';
import { type MetricColumns, readRunMetrics } from '../io/metrics.js';
import { isStaleRunning } from '../io/processes.js';
import { RUN_FILES, type RunStatus, readStatus } from '../io/runFolder.js';

/** A run folder found under the served root. */
export interface RunEntry {
  kind: 'run';
  /** Path relative to the served root, with `/` separators (the id the page uses). */
  path: string;
  name: string;
  state: string;
  /** `running` in status.json but its process is gone (same host only). */
  stale: boolean;
  iteration?: number;
  iterations?: number;
  headline?: { metric: string; value: number };
  startedAt?: string;
  updatedAt?: string;
  /** A few config fields worth a column: algorithm, order, inner steps, seed, data kind. */
  config?: Record<string, unknown>;
  /** The comparison this run is a variant of, if any. */
  comparison?: string;
}

/** A comparison folder (`variants/` inside) found under the served root. */
export interface ComparisonEntry {
  kind: 'comparison';
  path: string;
  variants: number;
  completed: number;
  running: number;
  reported: boolean;
  /** The best group: `method` is `o1`/`o2` or an algorithm variant (absent in comparisons made before it). */
  headline?: { metric: string; value: number; method?: string; order: number; innerSteps: number };
}

/** A path asked for by the page lies outside the served root, or is not a run. */
export class ServeError extends Error {
  override readonly name = 'ServeError';
  constructor(
    message: string,
    readonly status = 404,
  ) {
    super(message);
  }
}

async function subdirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
      .map((e) => e.name)
      .sort();
  } catch {
    return [];
  }
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

async function readJson<T>(path: string): Promise<T | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** `/`-separated path of `abs` relative to `root` ('' for the root itself). */
export function relPath(root: string, abs: string): string {
  return relative(root, abs).split(sep).join('/');
}

/** Resolves a page-supplied relative path inside `root`; anything reaching outside it is refused. */
export function insideRoot(root: string, rel: string): string {
  const abs = resolve(root, rel);
  const r = relative(root, abs);
  if (r.startsWith('..') || isAbsolute(r))
    throw new ServeError(`path outside the served folder: ${rel}`, 403);
  return abs;
}

/** Whether a `running` status is stale: its process is gone (only decidable on the host that wrote it). */
export function isStale(status: RunStatus | undefined): boolean {
  return isStaleRunning(status);
}

function configSummary(config: unknown): Record<string, unknown> | undefined {
  if (!config || typeof config !== 'object') return undefined;
  const c = config as {
    name?: string;
    seed?: number;
    backend?: string;
    data?: { kind?: string; shots?: number };
    trainer?: { algorithm?: string; order?: number; innerSteps?: number; iterations?: number };
  };
  return {
    algorithm: c.trainer?.algorithm,
    order: c.trainer?.order,
    innerSteps: c.trainer?.innerSteps,
    iterations: c.trainer?.iterations,
    seed: c.seed,
    data: c.data?.kind,
    shots: c.data?.shots,
    backend: c.backend,
  };
}

async function runEntry(root: string, dir: string, comparison?: string): Promise<RunEntry> {
  const status = await readStatus(dir);
  const config = await readJson<{ name?: string }>(join(dir, RUN_FILES.configJson));
  const summary = configSummary(config);
  const rel = relPath(root, dir);
  return {
    kind: 'run',
    path: rel,
    name: config?.name ?? rel.split('/').slice(-2, -1)[0] ?? rel,
    state: status?.state ?? 'unknown',
    stale: isStale(status),
    ...(status?.iteration !== undefined ? { iteration: status.iteration } : {}),
    ...(status?.iterations !== undefined ? { iterations: status.iterations } : {}),
    ...(status?.headline ? { headline: status.headline } : {}),
    ...(status?.startedAt ? { startedAt: status.startedAt } : {}),
    ...(status?.updatedAt ? { updatedAt: status.updatedAt } : {}),
    ...(summary ? { config: summary } : {}),
    ...(comparison !== undefined ? { comparison } : {}),
  };
}

async function isRunDir(dir: string): Promise<boolean> {
  return (await exists(join(dir, RUN_FILES.status))) || (await exists(join(dir, RUN_FILES.configJson)));
}

interface ComparisonJson {
  choice?: { metric: string; key: string };
  groups?: { method?: string; order: number; innerSteps: number; final: { mean: number } }[];
}

/**
 * Walks `root` (a few levels deep) for run folders and comparison folders. A folder with `status.json` or
 * `config.json` is a run (not descended into); one with `variants/` is a comparison whose variants are runs.
 */
export async function discover(
  root: string,
  maxDepth = 5,
): Promise<{ runs: RunEntry[]; comparisons: ComparisonEntry[] }> {
  const runs: RunEntry[] = [];
  const comparisons: ComparisonEntry[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (await isRunDir(dir)) {
      runs.push(await runEntry(root, dir));
      return;
    }
    const children = await subdirs(dir);
    if (children.includes(VARIANTS_DIR)) {
      const rel = relPath(root, dir);
      const variants: RunEntry[] = [];
      for (const v of await subdirs(join(dir, VARIANTS_DIR))) {
        const vdir = join(dir, VARIANTS_DIR, v);
        if (await isRunDir(vdir)) variants.push(await runEntry(root, vdir, rel));
      }
      const cmp = await readJson<ComparisonJson>(join(dir, 'comparison.json'));
      let headline: ComparisonEntry['headline'];
      if (cmp?.choice && cmp.groups?.length) {
        const best = [...cmp.groups]
          .filter((g) => Number.isFinite(g.final?.mean))
          .sort((a, b) =>
            cmp.choice!.metric === 'accuracy' ? b.final.mean - a.final.mean : a.final.mean - b.final.mean,
          )[0];
        if (best)
          headline = {
            metric: cmp.choice.key,
            value: best.final.mean,
            ...(best.method ? { method: best.method } : {}),
            order: best.order,
            innerSteps: best.innerSteps,
          };
      }
      comparisons.push({
        kind: 'comparison',
        path: rel,
        variants: variants.length,
        completed: variants.filter((v) => v.state === 'completed').length,
        running: variants.filter((v) => v.state === 'running' && !v.stale).length,
        reported: await exists(join(dir, 'report.md')),
        ...(headline ? { headline } : {}),
      });
      runs.push(...variants);
    }
    if (depth >= maxDepth) return;
    for (const c of children) if (c !== VARIANTS_DIR) await walk(join(dir, c), depth + 1);
  };
  await walk(root, 0);
  const time = (r: RunEntry) => r.startedAt ?? '';
  runs.sort((a, b) => (time(a) < time(b) ? 1 : time(a) > time(b) ? -1 : a.path.localeCompare(b.path)));
  return { runs, comparisons };
}

/** Last `lines` lines of a text file ('' when it is missing). Reads at most the last 256 KiB. */
export async function tail(path: string, lines: number): Promise<string> {
  try {
    const buf = await readFile(path);
    const text = buf.subarray(Math.max(0, buf.length - 256 * 1024)).toString('utf8');
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n');
  } catch {
    return '';
  }
}

/** Everything the run page shows. */
export interface RunDetail extends RunEntry {
  status?: RunStatus;
  configText?: string;
  summary?: unknown;
  resources?: unknown;
  summaryMd?: string;
  metrics?: MetricColumns;
  metricsError?: string;
  plots: string[];
  logTail: string;
}

/** Reads one run folder for the run page. */
export async function runDetail(root: string, rel: string): Promise<RunDetail> {
  const dir = insideRoot(root, rel);
  if (!(await isRunDir(dir))) throw new ServeError(`not a run folder: ${rel}`);
  const entry = await runEntry(root, dir);
  const files = await readdir(dir).catch(() => [] as string[]);
  const status = await readStatus(dir);
  const configText = await readFile(join(dir, RUN_FILES.configYaml), 'utf8').catch(() => undefined);
  const summary = await readJson<unknown>(join(dir, 'summary.json'));
  const resources = await readJson<unknown>(join(dir, 'resources.json'));
  const summaryMd = await readFile(join(dir, 'summary.md'), 'utf8').catch(() => undefined);
  let metrics: MetricColumns | undefined;
  let metricsError: string | undefined;
  try {
    metrics = await readRunMetrics(dir);
  } catch (err) {
    metricsError = (err as Error).message;
  }
  const logFile = files.includes(RUN_FILES.log) ? RUN_FILES.log : files.find((f) => f.endsWith('.log'));
  return {
    ...entry,
    ...(status ? { status } : {}),
    ...(configText !== undefined ? { configText } : {}),
    ...(summary !== undefined ? { summary } : {}),
    ...(resources !== undefined ? { resources } : {}),
    ...(summaryMd !== undefined ? { summaryMd } : {}),
    ...(metrics ? { metrics } : {}),
    ...(metricsError ? { metricsError } : {}),
    plots: files.filter((f) => f.endsWith('.svg')).sort(),
    logTail: logFile ? await tail(join(dir, logFile), 60) : '',
  };
}

/** Everything the comparison page shows: the aggregate and each variant's curve and numbers. */
export async function comparisonDetail(root: string, rel: string): Promise<unknown> {
  const dir = insideRoot(root, rel);
  if (!(await exists(join(dir, VARIANTS_DIR)))) throw new ServeError(`not a comparison folder: ${rel}`);
  const records = await readVariants(dir);
  const aggregate = await readJson<unknown>(join(dir, 'comparison.json'));
  const files = await readdir(dir).catch(() => [] as string[]);
  return {
    path: rel,
    aggregate,
    plots: files.filter((f) => f.endsWith('.svg')).sort(),
    variants: records.map((r) => ({
      id: r.id,
      path: relPath(root, r.dir),
      method: r.method,
      order: r.order,
      innerSteps: r.innerSteps,
      seed: r.seed,
      state: r.state,
      metric: r.metric,
      results: r.results,
      resources: r.resources,
      table: r.table,
      curve: r.curve,
    })),
  };
}

/** Size and modification time of the files a live run changes, as one string (changes when they do). */
export async function runStamp(dir: string): Promise<string> {
  const parts: string[] = [];
  for (const f of ['metrics.jsonl', 'metrics.arrow', RUN_FILES.status]) {
    const s = await stat(join(dir, f)).catch(() => undefined);
    parts.push(s ? `${s.size}:${s.mtimeMs}` : '-');
  }
  return parts.join('|');
}
