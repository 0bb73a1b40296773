import { basename, dirname } from 'node:path';
import { metricNames, selectMetric } from '../io/metricQuery.js';
import { readRunMetrics } from '../io/metrics.js';
import { type LineSeries, linePlot } from './plots.js';

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
