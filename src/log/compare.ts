import { mkdir, readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { metricNames, selectMetric } from '../io/metricQuery.js';
import { readRunMetrics } from '../io/metrics.js';
import { readStatus } from '../io/runFolder.js';
import { type LineSeries, linePlot, writeSvg } from './plots.js';

/** Options of {@link compareRuns}. */
export interface CompareOptions {
  runDirs: readonly string[];
  metric: string;
  /** Only rows of this split (long-format logs). */
  split?: string;
  /** Metrics log name inside each run (default `metrics`). */
  log?: string;
  logY?: boolean;
}

/** Result of {@link compareRuns}. */
export interface Comparison {
  svg: string;
  series: LineSeries[];
  /** Last value of each series, for a summary table. */
  final: { series: string; iteration: number; value: number }[];
}

/** Thrown when a run has no such metric; names the ones it has. */
export class CompareError extends Error {
  override readonly name = 'CompareError';
}

/** `<name>/<timestamp>` of a run folder, short enough for a legend. */
export function runLabel(runDir: string): string {
  return `${basename(dirname(runDir))}/${basename(runDir)}`;
}

/** Overlays one metric's curves from several runs in one SVG line plot. */
export async function compareRuns(o: CompareOptions): Promise<Comparison> {
  const series: LineSeries[] = [];
  for (const dir of o.runDirs) {
    const cols = await readRunMetrics(dir, o.log ?? 'metrics');
    const curves = selectMetric(cols, o.metric, o.split);
    if (curves.length === 0) {
      throw new CompareError(
        `${dir}: no metric '${o.metric}'${o.split ? ` for split '${o.split}'` : ''}; it has: ${metricNames(cols).join(', ') || '(none)'}`,
      );
    }
    for (const c of curves)
      series.push({ name: c.split ? `${runLabel(dir)} (${c.split})` : runLabel(dir), x: c.x, y: c.y });
  }
  const svg = await linePlot({
    series,
    title: o.metric,
    xLabel: 'iteration',
    yLabel: o.metric,
    ...(o.logY ? { logY: true } : {}),
  });
  const final = series.map((s) => ({
    series: s.name,
    iteration: s.x.at(-1) ?? 0,
    value: s.y.at(-1) ?? Number.NaN,
  }));
  return { svg, series, final };
}

/** One run's line of a cross-run table: its state, headline and cost figures from `summary.json`. */
export interface RunRow {
  run: string;
  state: string;
  headline?: { metric: string; value: number };
  lastIteration?: number;
  lastValue?: number;
  metaItPerSec?: number;
  peakRssMb?: number;
}

/**
 * Overlays `metric` of several runs into `svg` and returns a text table with, per run, its state, headline,
 * last value of the metric, speed and peak memory (from the run's `summary.json` when it finished).
 */
export async function overlayRuns(o: {
  runDirs: readonly string[];
  metric: string;
  svg: string;
  logY?: boolean;
}): Promise<{ rows: RunRow[]; table: string; markdown: string }> {
  const cmp = await compareRuns({ runDirs: o.runDirs, metric: o.metric, ...(o.logY ? { logY: true } : {}) });
  await mkdir(dirname(o.svg), { recursive: true });
  await writeSvg(o.svg, cmp.svg);
  const rows: RunRow[] = [];
  for (const dir of o.runDirs) {
    const status = await readStatus(dir);
    const results = await readFile(join(dir, 'summary.json'), 'utf8')
      .then((t) => (JSON.parse(t) as { results?: Record<string, number> }).results)
      .catch(() => undefined);
    const last = cmp.final.find((f) => f.series.startsWith(runLabel(dir)));
    rows.push({
      run: runLabel(dir),
      state: status?.state ?? '?',
      ...(status?.headline ? { headline: status.headline } : {}),
      ...(last ? { lastIteration: last.iteration, lastValue: last.value } : {}),
      ...(results?.metaItPerSec !== undefined ? { metaItPerSec: results.metaItPerSec } : {}),
      ...(results?.peakRssMb !== undefined ? { peakRssMb: results.peakRssMb } : {}),
    });
  }
  const f = (v: number | undefined) =>
    v === undefined || !Number.isFinite(v) ? '-' : Number.isInteger(v) ? String(v) : v.toPrecision(4);
  const header = ['RUN', 'STATE', 'HEADLINE', 'LAST ITER', o.metric.toUpperCase(), 'IT/S', 'PEAK RSS MB'];
  const cells = rows.map((r) => [
    r.run,
    r.state,
    r.headline ? `${r.headline.metric}=${f(r.headline.value)}` : '-',
    f(r.lastIteration),
    f(r.lastValue),
    f(r.metaItPerSec),
    f(r.peakRssMb),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((x, i) => x.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const table = [line(header), ...cells.map(line)].join('\n');
  const markdown = [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...cells.map((c) => `| ${c.join(' | ')} |`),
  ].join('\n');
  return { rows, table, markdown };
}
