/**
 * Tables and plots of the iMAML / MAML (order 2) / first-order MAML runs that run.sh made (issue 15):
 * `npx tsx experiments/imaml-vs-maml/aggregate.ts` reads the run folders under experiments/imaml-vs-maml/
 * (`<task>/<algorithm>-s<seed>/` and `memory-<task>/<algorithm>-k<innerSteps>/`) and writes results.md and
 * the memory and time plots beside it. Test metrics are means over seeds with a 95% Student-t interval
 * across seeds; time per iteration is CPU time of the training loop (resources.json), which other load on
 * the shared machine barely changes, and wall time, which it does.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type MeanCi, meanCiT } from '../../src/compare/stats.js';
import { linePlot, writeSvg } from '../../src/log/plots.js';

const HERE = join(process.cwd(), 'experiments/imaml-vs-maml');
const TASKS = ['sinusoid', 'omniglot'] as const;
const LABEL: Record<string, string> = {
  maml2: 'MAML, order 2',
  fomaml: 'first-order MAML',
  imaml: 'iMAML',
  maml2full: 'MAML, order 2, full per-task weights',
};

interface Resources {
  iterations: number;
  cpuSeconds: number;
  wallSeconds: number;
  peakTrainRssMb: number;
  trainRssMb: number;
}

interface Run {
  algorithm: string;
  /** Seed (accuracy runs) or inner steps (memory runs). */
  index: number;
  iterations: number;
  results: Record<string, number>;
  resources?: Resources;
}

function readJson<T>(path: string): T | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as T) : undefined;
}

/** The completed runs of one folder, named `<algorithm>-<letter><index>`. */
function runs(folder: string, letter: 's' | 'k'): Run[] {
  const dir = join(HERE, folder);
  if (!existsSync(dir)) return [];
  const out: Run[] = [];
  for (const name of readdirSync(dir).sort()) {
    const m = new RegExp(`^(\\w+)-${letter}(\\d+)$`).exec(name);
    const summary = readJson<{ results?: Record<string, number> }>(join(dir, name, 'summary.json'));
    const status = readJson<{ iteration?: number }>(join(dir, name, 'status.json'));
    if (!m || !summary?.results) continue;
    const resources = readJson<Resources>(join(dir, name, 'resources.json'));
    out.push({
      algorithm: m[1]!,
      index: Number(m[2]),
      iterations: status?.iteration ?? Number.NaN,
      results: summary.results,
      ...(resources ? { resources } : {}),
    });
  }
  return out;
}

const fmt = (v: number, digits = 4) => (Number.isFinite(v) ? v.toPrecision(digits) : '-');
const fmtCi = (m: MeanCi, digits = 4) =>
  Number.isFinite(m.ci95) ? `${fmt(m.mean, digits)} ± ${fmt(m.ci95, 2)}` : fmt(m.mean, digits);
const algorithms = (rs: Run[]) => [...new Set(rs.map((r) => r.algorithm))];
const msPerIt = (r: Run, what: 'cpuSeconds' | 'wallSeconds') =>
  r.resources ? (1000 * r.resources[what]) / r.resources.iterations : Number.NaN;

/** The accuracy table of one task: each test metric, then speed and memory, mean ± 95% CI over seeds. */
function accuracyTable(rs: Run[]): string {
  const keys = Object.keys(rs[0]?.results ?? {})
    .filter((k) => /^test\/\w+@K\d+\/\d+steps$/.test(k))
    .sort((a, b) => {
      const n = (k: string) => /@K(\d+)\/(\d+)/.exec(k)!.slice(1).map(Number) as [number, number];
      const [ka, sa] = n(a);
      const [kb, sb] = n(b);
      return ka - kb || sa - sb;
    });
  const head = [
    'algorithm',
    'seeds',
    'iterations',
    ...keys.map((k) => k.replace('test/', '')),
    'ms/it CPU',
    'ms/it wall',
    'train s',
    'peak RSS MB',
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const a of algorithms(rs)) {
    const g = rs.filter((r) => r.algorithm === a);
    const its = [...new Set(g.map((r) => r.iterations))].join(', ');
    const cells = [
      LABEL[a] ?? a,
      g.map((r) => r.index).join(','),
      its,
      ...keys.map((k) => fmtCi(meanCiT(g.map((r) => r.results[k]!)))),
      fmtCi(meanCiT(g.map((r) => msPerIt(r, 'cpuSeconds'))), 3),
      fmtCi(meanCiT(g.map((r) => msPerIt(r, 'wallSeconds'))), 3),
      fmtCi(meanCiT(g.map((r) => r.results.trainSeconds!)), 3),
      fmtCi(meanCiT(g.map((r) => r.results.peakRssMb!)), 3),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** Each seed's headline value with its interval over the evaluation tasks. */
function perSeedTable(rs: Run[], key: string): string {
  const lines = [`| algorithm | seed | ${key} ± 95% over test tasks |`, '|---|---|---|'];
  for (const r of rs) {
    lines.push(
      `| ${LABEL[r.algorithm] ?? r.algorithm} | ${r.index} | ${fmt(r.results[key]!)} ± ${fmt(r.results[`${key}/ci95`]!, 2)} |`,
    );
  }
  return lines.join('\n');
}

/** Memory and time against inner steps: one row per algorithm, one column per inner-step count. */
function memoryTable(rs: Run[], value: (r: Run) => number, digits = 4): string {
  const steps = [...new Set(rs.map((r) => r.index))].sort((a, b) => a - b);
  const lines = [
    `| algorithm | ${steps.map((k) => `${k} inner`).join(' | ')} |`,
    `|---|${steps.map(() => '---').join('|')}|`,
  ];
  for (const a of algorithms(rs)) {
    const cells = steps.map((k) => {
      const r = rs.find((x) => x.algorithm === a && x.index === k);
      return r ? fmt(value(r), digits) : '-';
    });
    lines.push(`| ${LABEL[a] ?? a} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

async function plot(rs: Run[], value: (r: Run) => number, file: string, title: string, yLabel: string) {
  const series = algorithms(rs).map((a) => {
    const g = rs
      .filter((r) => r.algorithm === a && Number.isFinite(value(r)))
      .sort((x, y) => x.index - y.index);
    return { name: LABEL[a] ?? a, x: g.map((r) => r.index), y: g.map(value) };
  });
  await writeSvg(join(HERE, file), linePlot({ series, title, xLabel: 'inner steps', yLabel }));
}

async function main(): Promise<void> {
  const parts: string[] = [
    '# iMAML vs MAML vs first-order MAML: the numbers',
    '',
    'Written by `npx tsx experiments/imaml-vs-maml/aggregate.ts` from the run folders here; see README.md for the commands.',
    '',
  ];
  for (const task of TASKS) {
    // One folder per meta-iteration budget: <task> (the config's) and <task>-<iterations>.
    const folders = existsSync(HERE)
      ? readdirSync(HERE)
          .filter((f) => new RegExp(`^${task}(-\\d+)?$`).test(f))
          .sort((a, b) => (Number(a.split('-')[1]) || 0) - (Number(b.split('-')[1]) || 0))
      : [];
    for (const folder of folders) {
      const acc = runs(folder, 's');
      if (!acc.length) continue;
      const keys = Object.keys(acc[0]!.results).filter((k) => /^test\/\w+@K\d+\/\d+steps$/.test(k));
      parts.push(
        `## ${task} (${folder}/): test metric, speed, memory (mean ± 95% t interval over seeds)`,
        '',
        accuracyTable(acc),
        '',
      );
      const headline = keys.at(-1);
      if (headline) parts.push(`Per seed (${headline}):`, '', perSeedTable(acc, headline), '');
    }
    const mem = runs(`memory-${task}`, 'k');
    if (mem.length) {
      const trainRss = (r: Run) => r.resources?.trainRssMb ?? Number.NaN;
      const peak = (r: Run) => r.resources?.peakTrainRssMb ?? Number.NaN;
      const cpuMs = (r: Run) => msPerIt(r, 'cpuSeconds');
      const its = [...new Set(mem.map((r) => r.iterations))].join(', ');
      parts.push(
        `## ${task}: memory and time against the number of inner steps (${its} meta-iterations per run)`,
        '',
        'Training RSS, MB: peak resident set size up to the last training iteration minus the resident size before setup (what the run added):',
        '',
        memoryTable(mem, trainRss),
        '',
        'Peak RSS of the process up to the last training iteration, MB:',
        '',
        memoryTable(mem, peak),
        '',
        'CPU milliseconds per meta-iteration (all but the first iteration):',
        '',
        memoryTable(mem, cpuMs),
        '',
        `![training RSS vs inner steps](memory-${task}.svg)`,
        `![CPU time per iteration vs inner steps](time-${task}.svg)`,
        '',
      );
      await plot(
        mem,
        trainRss,
        `memory-${task}.svg`,
        `${task}: training RSS vs inner steps`,
        'training RSS (MB)',
      );
      await plot(
        mem,
        cpuMs,
        `time-${task}.svg`,
        `${task}: CPU time per meta-iteration`,
        'CPU ms per iteration',
      );
    }
  }
  writeFileSync(join(HERE, 'results.md'), `${parts.join('\n')}\n`);
  process.stdout.write(`${parts.join('\n')}\n`);
}

await main();
