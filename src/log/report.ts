import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { metricNames, selectMetric } from '../io/metricQuery.js';
import { readRunMetrics } from '../io/metrics.js';
import { RUN_FILES, readStatus } from '../io/runFolder.js';
import { linePlot, writeSvg } from './plots.js';

/** What {@link writeRunReport} produced. */
export interface RunReport {
  /** The Markdown report. */
  markdown: string;
  /** Files written (report and plots). */
  files: string[];
}

function safeFileName(metric: string): string {
  return metric.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/**
 * Writes `<run>/report/`: one SVG per metric (all splits overlaid) and `report.md` with the run status, the
 * final value of each metric, the plots and the resolved config. Works on running, crashed and finished runs
 * alike (it reads the JSONL sidecar when the Arrow file is behind).
 */
export async function writeRunReport(runDir: string, outDir = join(runDir, 'report')): Promise<RunReport> {
  await mkdir(outDir, { recursive: true });
  const status = await readStatus(runDir);
  const cols = await readRunMetrics(runDir).catch(() => undefined);
  const files: string[] = [];
  const lines = [`# Run ${runDir}`, ''];
  if (status) {
    lines.push(`- state: **${status.state}**${status.message ? ` (${status.message})` : ''}`);
    lines.push(`- iteration: ${status.iteration ?? '?'} / ${status.iterations ?? '?'}`);
    if (status.headline) lines.push(`- ${status.headline.metric}: **${status.headline.value}**`);
    lines.push(`- started ${status.startedAt}, updated ${status.updatedAt}`, '');
  }
  if (cols) {
    lines.push('| metric | split | last iteration | last value |', '|---|---|---|---|');
    const plots: string[] = [];
    for (const metric of metricNames(cols)) {
      const curves = selectMetric(cols, metric);
      for (const c of curves) lines.push(`| ${metric} | ${c.split ?? ''} | ${c.x.at(-1)} | ${c.y.at(-1)} |`);
      const file = join(outDir, `${safeFileName(metric)}.svg`);
      await writeSvg(
        file,
        linePlot({
          series: curves.map((c) => ({ name: c.split ?? metric, x: c.x, y: c.y })),
          title: metric,
          xLabel: 'iteration',
          yLabel: metric,
        }),
      );
      files.push(file);
      plots.push(`![${metric}](${safeFileName(metric)}.svg)`);
    }
    lines.push('', ...plots, '');
  } else {
    lines.push('_No metrics logged yet._', '');
  }
  const config = await readFile(join(runDir, RUN_FILES.configYaml), 'utf8').catch(() => undefined);
  if (config) lines.push('## Config', '', '```yaml', config.trimEnd(), '```', '');
  const markdown = lines.join('\n');
  const md = join(outDir, 'report.md');
  await writeFileAtomic(md, markdown);
  files.push(md);
  return { markdown, files };
}

/** One cell of an evaluation: the metric after `steps` inner steps from `shots` support examples. */
export interface EvalCell {
  split: string;
  shots: number;
  steps: number;
  metric: string;
  mean: number;
  ci95: number;
  tasks: number;
}

/**
 * Writes an evaluation's report into `outDir`: `report.md` (a K × steps table of mean ± 95% CI, the layout of
 * a run's `summary.md`), `adaptation.svg` (metric against inner steps, one line per K, CI bands) and
 * `eval.json`.
 */
export async function writeEvalReport(
  outDir: string,
  cells: readonly EvalCell[],
  about: { runDir: string; checkpoint: string },
): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const shotsList = [...new Set(cells.map((c) => c.shots))];
  const stepsList = [...new Set(cells.map((c) => c.steps))].sort((a, b) => a - b);
  const metric = cells[0]?.metric ?? 'metric';
  const cell = (k: number, s: number) => cells.find((c) => c.shots === k && c.steps === s);
  const f = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(3));
  const lines = [
    `# Evaluation of ${about.runDir}`,
    '',
    `Checkpoint \`${about.checkpoint}\`; mean query ${metric} over ${cells[0]?.tasks ?? 0} fresh ${cells[0]?.split ?? 'test'} tasks per K, with 95% confidence intervals.`,
    '',
    `| K (shots) | ${stepsList.map((s) => `${s} steps`).join(' | ')} |`,
    `|---|${stepsList.map(() => '---').join('|')}|`,
    ...shotsList.map(
      (k) =>
        `| ${k} | ${stepsList
          .map((s) => {
            const c = cell(k, s);
            return c ? `${f(c.mean)} ± ${f(c.ci95)}` : '-';
          })
          .join(' | ')} |`,
    ),
    '',
    '![adaptation](adaptation.svg)',
    '',
  ];
  const svg = join(outDir, 'adaptation.svg');
  await writeSvg(
    svg,
    linePlot({
      series: shotsList.map((k) => {
        const cs = stepsList.flatMap((s) => cell(k, s) ?? []);
        return {
          name: `K = ${k}`,
          x: cs.map((c) => c.steps),
          y: cs.map((c) => c.mean),
          band: { lo: cs.map((c) => c.mean - c.ci95), hi: cs.map((c) => c.mean + c.ci95) },
        };
      }),
      title: `test ${metric} after adaptation (95% CI)`,
      xLabel: 'inner gradient steps',
      yLabel: metric,
    }),
  );
  const md = join(outDir, 'report.md');
  await writeFileAtomic(md, lines.join('\n'));
  const json = join(outDir, 'eval.json');
  await writeFileAtomic(json, `${JSON.stringify({ ...about, results: cells }, null, 2)}\n`);
  return [md, svg, json];
}
