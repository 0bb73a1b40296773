import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { encodeArrow, type MetricRow } from '../io/metrics.js';
import { type LineSeries, linePlot, writeSvg } from '../log/plots.js';
import type { ComparisonSummary, VariantGroup } from './aggregate.js';
import type { VariantRecord } from './collect.js';
import type { MeanCi } from './stats.js';

/** Files of a comparison report, relative to the comparison folder. */
export const COMPARISON_FILES = {
  markdown: 'report.md',
  json: 'comparison.json',
  arrow: 'comparison.arrow',
  learningCurves: 'learning-curves.svg',
  adaptation: 'test-vs-adaptation-steps.svg',
  finalVsInner: 'metric-vs-inner-steps.svg',
  speed: 'speed-vs-inner-steps.svg',
  memory: 'memory-vs-inner-steps.svg',
} as const;

/** How the variants were run (for the report's header). */
export interface ComparisonContext {
  /** Base config file and the overrides applied to every variant. */
  config?: string;
  overrides?: string[];
  jobs?: number;
  cores?: number;
  iterations?: number;
  evalTasks?: number;
}

/** Four significant digits, `-` for missing. */
export function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '-';
  return Number.isInteger(v) ? String(v) : v.toPrecision(4);
}

/** `mean ± ci` (or just the mean when there is no interval). */
export function fmtCi(m: MeanCi): string {
  return Number.isFinite(m.ci95) ? `${fmt(m.mean)} ± ${fmt(m.ci95)}` : fmt(m.mean);
}

/** How a method is shown: `order 1` for `--orders`' `o1`, else its name (`fomaml`, `imaml`). */
export function methodLabel(method: string): string {
  const m = /^o([12])$/.exec(method);
  return m ? `order ${m[1]}` : method;
}

/** True when a comparison's methods are orders of one algorithm (`--orders`), not `--algorithms`. */
function byOrders(s: ComparisonSummary): boolean {
  return s.groups.every((g) => /^o[12]$/.test(g.method));
}

const label = (g: Pick<VariantGroup, 'method' | 'innerSteps'>) =>
  `${methodLabel(g.method)}, ${g.innerSteps} inner`;

/** Rows of the main table: one per (method, inner steps). */
export function groupRows(s: ComparisonSummary): string[][] {
  return s.groups.map((g) => [
    methodLabel(g.method),
    String(g.innerSteps),
    `${g.completed}/${g.total}`,
    fmtCi(g.final),
    fmtCi(g.msPerIt),
    fmtCi(g.cpuItPerSec),
    fmtCi(g.itPerSec),
    fmtCi(g.peakRssMb),
    fmtCi(g.trainRssMb),
    fmt(g.trainSeconds.mean),
  ]);
}

/** Header of {@link groupRows}. */
export function groupHeader(s: ComparisonSummary): string[] {
  const c = s.choice;
  return [
    'method',
    'inner steps',
    'seeds',
    `test ${c.metric} (K=${c.shots}, ${c.steps} steps) ±95%`,
    'ms/it wall ±95%',
    'it/CPU-s ±95%',
    'it/s wall ±95%',
    'peak RSS MB ±95%',
    'training RSS MB ±95%',
    'train s',
  ];
}

/** Rows of the ratio table: each method over the baseline (order 2 over order 1) per number of inner steps. */
export function ratioRows(s: ComparisonSummary): string[][] {
  return s.ratios.map((r) => [
    String(r.innerSteps),
    `${r.method}/${r.baseline}`,
    fmt(r.metric),
    fmtCi(r.metricDiff),
    fmt(r.msPerIt),
    fmt(r.cpuItPerSec),
    fmt(r.itPerSec),
    fmt(r.peakRssMb),
    fmt(r.trainRssMb),
    fmt(r.trainSeconds),
  ]);
}

/** Header of {@link ratioRows}. */
export function ratioHeader(s: ComparisonSummary): string[] {
  return [
    'inner steps',
    'ratio',
    `${s.choice.metric} ratio`,
    `${s.choice.metric} difference (paired) ±95%`,
    'ms/it ratio',
    'it/CPU-s ratio',
    'it/s wall ratio',
    'peak RSS ratio',
    'training RSS ratio',
    'train time ratio',
  ];
}

function mdTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}

function bandOf(values: readonly MeanCi[]): LineSeries['band'] {
  const ok = values.every((v) => Number.isFinite(v.ci95));
  return ok ? { lo: values.map((v) => v.mean - v.ci95), hi: values.map((v) => v.mean + v.ci95) } : undefined;
}

function byMethod(s: ComparisonSummary, pick: (g: VariantGroup) => MeanCi, suffix = ''): LineSeries[] {
  return [...new Set(s.groups.map((g) => g.method))].map((method) => {
    const gs = s.groups.filter((g) => g.method === method);
    const values = gs.map(pick);
    const band = bandOf(values);
    return {
      name: `${methodLabel(method)}${suffix}`,
      x: gs.map((g) => g.innerSteps),
      y: values.map((v) => v.mean),
      ...(band ? { band } : {}),
    };
  });
}

/** One Arrow row per variant: what pandas, Polars or DuckDB need to redo the analysis. */
export function variantRows(records: readonly VariantRecord[], s: ComparisonSummary): MetricRow[] {
  return records.map((r) => {
    const row: MetricRow = {
      iteration: r.curve.x.at(-1) ?? 0,
      variant: r.id,
      method: r.method,
      algorithm: r.algorithm ?? 'maml',
      order: r.order,
      innerSteps: r.innerSteps,
      seed: r.seed,
      state: r.state,
      metaItPerSec: r.results?.metaItPerSec ?? null,
      cpuItPerSec: r.resources?.cpuItPerSec ?? null,
      trainRssMb: r.resources?.trainRssMb ?? null,
      peakRssMb: r.results?.peakRssMb ?? null,
      trainSeconds: r.results?.trainSeconds ?? null,
      finalMetaLoss: r.curve.y.at(-1) ?? null,
    };
    for (const t of r.table ?? []) {
      for (const c of t.scores) {
        row[`test_${r.metric}_K${t.shots}_${c.steps}steps`] = c.mean;
        row[`test_${r.metric}_K${t.shots}_${c.steps}steps_ci95`] = c.ci95;
      }
    }
    row.headline = s.choice.key in (r.results ?? {}) ? r.results![s.choice.key]! : null;
    return row;
  });
}

/**
 * Writes a comparison's report into `dir`: `report.md`, five SVG plots, `comparison.json` (the aggregate)
 * and `comparison.arrow` (one row per variant). Returns the files written.
 */
export async function writeComparisonReport(
  dir: string,
  records: readonly VariantRecord[],
  s: ComparisonSummary,
  context: ComparisonContext = {},
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  const svg = async (name: string, plot: Promise<string>) => {
    const path = join(dir, name);
    await writeSvg(path, plot);
    files.push(path);
  };
  const c = s.choice;
  await svg(
    COMPARISON_FILES.learningCurves,
    linePlot({
      series: s.groups.map((g) => ({
        name: label(g),
        x: g.curve.x,
        y: g.curve.y,
        members: records
          .filter((r) => r.method === g.method && r.innerSteps === g.innerSteps)
          .map((r) => ({ x: r.curve.x, y: r.curve.y, label: `seed ${r.seed}` })),
      })),
      title: 'meta-training loss: each seed (faint) and the mean over seeds (bold)',
      xLabel: 'meta-iteration',
      yLabel: 'meta-loss (query, after adaptation)',
      logY: c.metric === 'mse',
    }),
  );
  await svg(
    COMPARISON_FILES.adaptation,
    linePlot({
      series: s.groups.map((g) => {
        const band = bandOf(g.adaptation.map((a) => a.value));
        return {
          name: label(g),
          x: g.adaptation.map((a) => a.steps),
          y: g.adaptation.map((a) => a.value.mean),
          ...(band ? { band } : {}),
        };
      }),
      title: `test ${c.metric} at K = ${c.shots} vs inner steps at test (95% CI over seeds)`,
      xLabel: 'inner gradient steps at test time',
      yLabel: `test ${c.metric}`,
    }),
  );
  await svg(
    COMPARISON_FILES.finalVsInner,
    linePlot({
      series: byMethod(s, (g) => g.final),
      title: `test ${c.metric} (K = ${c.shots}, ${c.steps} steps) vs inner steps in training`,
      xLabel: 'inner steps during meta-training',
      yLabel: `test ${c.metric}`,
    }),
  );
  await svg(
    COMPARISON_FILES.speed,
    linePlot({
      series: [
        ...byMethod(s, (g) => g.cpuItPerSec, ' · CPU'),
        // The second family without its band: six overlapping bands hide each other.
        ...byMethod(s, (g) => g.itPerSec, ' · wall').map(({ band: _b, ...l }) => l),
      ].filter((l) => l.y.some((v) => Number.isFinite(v))),
      title: 'meta-iterations per CPU second and per wall-clock second (95% CI over seeds)',
      xLabel: 'inner steps during meta-training',
      yLabel: 'meta-iterations per second',
    }),
  );
  await svg(
    COMPARISON_FILES.memory,
    linePlot({
      series: [
        ...byMethod(s, (g) => g.peakRssMb, ' · peak'),
        ...byMethod(s, (g) => g.trainRssMb, ' · training').map(({ band: _b, ...l }) => l),
      ].filter((l) => l.y.some((v) => Number.isFinite(v))),
      title: 'process peak RSS and training RSS above the runtime (95% CI over seeds)',
      xLabel: 'inner steps during meta-training',
      yLabel: 'resident set size (MB)',
    }),
  );

  const seeds = [...new Set(records.map((r) => r.seed))].sort((a, b) => a - b);
  const orders = byOrders(s);
  const methods = [...new Set(s.groups.map((g) => g.method))];
  const lines = [
    orders ? '# First- vs second-order MAML' : `# ${methods.join(' vs ')}`,
    '',
    ...(context.config
      ? [
          `Base config \`${context.config}\`${context.overrides?.length ? ` with ${context.overrides.map((o) => `\`${o}\``).join(', ')}` : ''}.`,
        ]
      : []),
    `${orders ? `Orders ${[...new Set(records.map((r) => r.order))].join(', ')}` : `Methods ${methods.join(', ')} (\`--algorithms\`)`}; inner steps ${[...new Set(records.map((r) => r.innerSteps))].join(', ')}; seeds ${seeds.join(', ')}.`,
    `Each seed fixes the initialisation and the stream of training tasks, so ${orders ? 'both orders' : 'every method'} sees exactly the same`,
    `tasks in the same order; each variant ran in its own process${context.jobs ? ` (${context.jobs} at a time${context.cores ? ` on ${context.cores} cores` : ''})` : ''}, so its peak memory is its own.`,
    '',
    `Test ${c.metric}: mean over ${context.evalTasks ?? 'the configured number of'} fresh test tasks per seed at K = ${c.shots} after ${c.steps} inner steps;`,
    'the ± is a 95% Student-t interval across seeds. Speed is meta-iterations per CPU second of the training loop',
    '(user + system time of the worker process, first logging window and evaluation excluded), which other load',
    'on the machine barely affects, and per wall-clock second over the whole training run, which it does',
    '(ms/it is its inverse).',
    'Memory is the process peak resident set size (the Node runtime included), and the training RSS: the peak up',
    'to the last training iteration minus the resident size before setup, i.e. what the run itself added.',
    '',
    '## Results',
    '',
    ...mdTable(groupHeader(s), groupRows(s)),
    '',
    orders ? '## Second order over first order' : `## Against ${methods[0]}`,
    '',
    ...mdTable(ratioHeader(s), ratioRows(s)),
    '',
    'The paired difference compares two methods seed by seed (same initialisation and tasks); an interval that',
    'excludes 0 means they differ beyond seed-to-seed noise.',
    '',
    '## Plots',
    '',
    `![learning curves](${COMPARISON_FILES.learningCurves})`,
    `![test metric vs adaptation steps](${COMPARISON_FILES.adaptation})`,
    `![test metric vs inner steps](${COMPARISON_FILES.finalVsInner})`,
    `![speed vs inner steps](${COMPARISON_FILES.speed})`,
    `![memory vs inner steps](${COMPARISON_FILES.memory})`,
    '',
    '## Per seed',
    '',
    ...mdTable(
      [
        'variant',
        'state',
        `test ${c.metric} ±95% (tasks)`,
        'ms/it wall',
        'it/CPU-s',
        'it/s wall',
        'peak RSS MB',
        'training RSS MB',
        'train s',
      ],
      records.map((r) => {
        const cell = r.table?.find((t) => t.shots === c.shots)?.scores.find((x) => x.steps === c.steps);
        return [
          r.id,
          r.state,
          cell ? `${fmt(cell.mean)} ± ${fmt(cell.ci95)}` : '-',
          fmt(r.results?.metaItPerSec ? 1000 / r.results.metaItPerSec : undefined),
          fmt(r.resources?.cpuItPerSec),
          fmt(r.results?.metaItPerSec),
          fmt(r.results?.peakRssMb),
          fmt(r.resources?.trainRssMb),
          fmt(r.results?.trainSeconds),
        ];
      }),
    ),
    '',
    `Data: \`${COMPARISON_FILES.json}\` (this aggregate), \`${COMPARISON_FILES.arrow}\` (one row per variant) and each`,
    `variant's \`variants/<id>/metrics.arrow\`. Rebuild this report with \`metatape report <this folder>\`.`,
    '',
  ];
  const md = join(dir, COMPARISON_FILES.markdown);
  await writeFileAtomic(md, lines.join('\n'));
  files.push(md);
  const json = join(dir, COMPARISON_FILES.json);
  const { groups, ...rest } = s;
  await writeFileAtomic(
    json,
    `${JSON.stringify({ ...rest, context, groups: groups.map(({ curve: _c, ...g }) => g) }, null, 2)}\n`,
  );
  files.push(json);
  const arrow = join(dir, COMPARISON_FILES.arrow);
  await writeFileAtomic(
    arrow,
    encodeArrow(variantRows(records, s), { int32: ['order', 'innerSteps', 'seed'] }),
  );
  files.push(arrow);
  return files;
}
