/**
 * The device kit's closing table (bench/device/run.sh): reads what the phases left in the output folder and the
 * conv4 run's folder, and prints one Markdown summary (also written to `<outDir>/summary.md`). Any input may be
 * missing, because a phase failed or ran out of time: its line then says so and the rest still prints.
 * Usage: `node summarize.mjs <outDir> <phases.tsv> [runDir]`.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** One phase of run.sh as it recorded it: `name<TAB>exit<TAB>seconds<TAB>limit` per line. */
export interface Phase {
  readonly name: string;
  /** The phase's exit status; 124 or 137 when `timeout` stopped it, -1 when it was skipped (no time left). */
  readonly exit: number;
  readonly seconds: number;
  readonly limit: number;
}

/** Parses run.sh's phase log; malformed lines are skipped rather than failing the summary. */
export function parsePhases(tsv: string): Phase[] {
  return tsv
    .split('\n')
    .map((l) => l.split('\t'))
    .filter((f) => f.length === 4 && f.slice(1).every((x) => Number.isFinite(Number(x))))
    .map(([name, exit, seconds, limit]) => ({
      name: name!,
      exit: Number(exit),
      seconds: Number(seconds),
      limit: Number(limit),
    }));
}

/** What a phase's exit status means, in words. */
export function phaseStatus(p: Phase): string {
  if (p.exit === 0) return 'ok';
  if (p.exit === -1) return 'skipped (no time left)';
  if (p.exit === 124 || p.exit === 137) return `stopped at its ${p.limit} s limit`;
  return `failed (exit ${p.exit})`;
}

/** Meta-training speed from the run's logging windows. */
export interface Throughput {
  /** Iterations in the windows left out as warm-up (kernel compiles, first uploads). */
  readonly warmupIterations: number;
  /** Meta-iterations per second over the warm-up windows. */
  readonly warmupItPerSec: number;
  /** Iterations in the windows counted as steady state. */
  readonly steadyIterations: number;
  /** Meta-iterations per second over the steady-state windows: their iterations over their summed time. */
  readonly steadyItPerSec: number;
}

/**
 * Steady-state meta-iterations per second from a run's `metrics.jsonl`: each train row closes a logging window
 * with its mean `itPerSec` over the iterations since the row before; windows that end at or before iteration
 * `warmup` are left out (they hold the compiles), the rest are pooled as iterations over time, so a short last
 * window weighs what it took. Undefined when no window ends after `warmup`.
 */
export function steadyState(metricsJsonl: string, warmup: number): Throughput | undefined {
  const rows = metricsJsonl
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { iteration?: unknown; split?: unknown; itPerSec?: unknown })
    .filter((r) => r.split === 'train' && typeof r.iteration === 'number' && typeof r.itPerSec === 'number');
  let previous = 0;
  const sums = { warm: { n: 0, s: 0 }, steady: { n: 0, s: 0 } };
  for (const r of rows) {
    const iteration = r.iteration as number;
    const n = iteration - previous;
    previous = iteration;
    if (n <= 0 || (r.itPerSec as number) <= 0) continue;
    const bucket = iteration <= warmup ? sums.warm : sums.steady;
    bucket.n += n;
    bucket.s += n / (r.itPerSec as number);
  }
  if (sums.steady.n === 0) return undefined;
  return {
    warmupIterations: sums.warm.n,
    warmupItPerSec: sums.warm.s > 0 ? sums.warm.n / sums.warm.s : Number.NaN,
    steadyIterations: sums.steady.n,
    steadyItPerSec: sums.steady.n / sums.steady.s,
  };
}

/** One cell of a run's evaluation table (`summary.json`). */
export interface Score {
  readonly shots: number;
  readonly steps: number;
  readonly mean: number;
  readonly ci95: number;
  readonly tasks: number;
}

/** Every (shots, steps) score of a run's `summary.json`. */
export function scoresOf(summaryJson: string): Score[] {
  const s = JSON.parse(summaryJson) as {
    table?: { shots: number; scores: { steps: number; mean: number; ci95: number; tasks: number }[] }[];
  };
  return (s.table ?? []).flatMap((t) =>
    t.scores.map((c) => ({ shots: t.shots, steps: c.steps, mean: c.mean, ci95: c.ci95, tasks: c.tasks })),
  );
}

/**
 * The lines of `metatape doctor`'s report that matter on a device: the verdict on the target backend, the
 * WebGPU adapter, and the kernels' timings and counters on `backend`.
 */
export function doctorHighlights(doctorText: string, backend: string): string[] {
  const lines = doctorText.split('\n');
  const out: string[] = [];
  const adapter = lines.find((l) => /^gpujs:webgpu\s/.test(l));
  if (adapter) out.push(adapter.replace(/\s+/g, ' ').trim());
  const counters = lines.findIndex((l) => l.startsWith('COUNTERS'));
  if (counters >= 0)
    for (const l of lines.slice(counters + 1)) {
      if (!l.startsWith('  ')) break;
      if (l.trim().startsWith(`${backend} `)) out.push(l.trim());
    }
  const verdict = lines.find((l) => l.startsWith('backend '));
  if (verdict) out.push(verdict.trim());
  return out;
}

/** The rows of a Markdown table (lines starting with `|`, header and rule included). */
export function tableLines(markdown: string): string[] {
  return markdown.split('\n').filter((l) => l.startsWith('|'));
}

/** Everything the summary is made of; each part is undefined where its phase left nothing. */
export interface SummaryInputs {
  /** The GPU in words (nvidia-smi's CSV line), or where the kit ran without one. */
  readonly device: string;
  readonly phases: readonly Phase[];
  readonly doctor: readonly string[] | undefined;
  readonly steps: readonly string[] | undefined;
  /** The conv4 run: its configuration as run, speed and test scores. */
  readonly conv4:
    | {
        readonly backend: string;
        readonly metaBatch: number;
        readonly iterations: number;
        readonly throughput: Throughput | undefined;
        /** metaItPerSec of the whole training loop, warm-up included (undefined if the run did not finish). */
        readonly overallItPerSec: number | undefined;
        readonly scores: readonly Score[];
      }
    | undefined;
}

const fmt = (x: number, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

/** The summary as Markdown. */
export function formatSummary(s: SummaryInputs): string {
  const out: string[] = [`# metatape device check on ${s.device}`, ''];
  out.push('| phase | result | seconds |', '|---|---|---:|');
  for (const p of s.phases) out.push(`| ${p.name} | ${phaseStatus(p)} | ${p.seconds} |`);
  out.push('', '## doctor', '');
  if (s.doctor && s.doctor.length > 0) out.push(...s.doctor.map((l) => `    ${l}`));
  else out.push('(no doctor report)');
  out.push('', '## Counters per warm second-order meta-iteration', '');
  if (s.steps && s.steps.length > 2) out.push(...s.steps);
  else out.push('(no rows measured)');
  out.push('');
  const c = s.conv4;
  if (!c) {
    out.push('## conv4 Omniglot 5-way 1-shot', '', '(no run folder)');
    return `${out.join('\n')}\n`;
  }
  out.push(
    `## conv4 Omniglot 5-way 1-shot, second-order MAML, meta-batch ${c.metaBatch}, ${c.iterations} iterations on ${c.backend}`,
    '',
    '| figure | value |',
    '|---|---|',
  );
  const t = c.throughput;
  if (t) {
    out.push(
      `| meta-it/s, steady state (${t.steadyIterations} iterations after the first ${t.warmupIterations}) | **${fmt(t.steadyItPerSec)}** |`,
      `| meta-it/s, first ${t.warmupIterations} iterations (compiles, warm-up) | ${fmt(t.warmupItPerSec)} |`,
    );
  } else out.push('| meta-it/s, steady state | n/a (no logging window after the warm-up) |');
  out.push(
    `| meta-it/s, whole training loop | ${c.overallItPerSec === undefined ? 'n/a (run did not finish)' : fmt(c.overallItPerSec)} |`,
  );
  for (const sc of c.scores)
    out.push(
      `| test accuracy, ${sc.shots}-shot, ${sc.steps} steps (${sc.tasks} tasks) | ${fmt(100 * sc.mean, 1)}% ± ${fmt(100 * sc.ci95, 1)}% |`,
    );
  if (c.scores.length === 0) out.push('| test accuracy | n/a (no evaluation) |');
  return `${out.join('\n')}\n`;
}

function readIf(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/** Reads the inputs from the output folder, the phase log and the run folder. */
export function collect(outDir: string, phasesPath: string, runDir: string | undefined): SummaryInputs {
  const setup = readIf(join(outDir, 'setup.txt')) ?? '';
  // nvidia-smi's CSV: a header line, then "name, driver_version, memory.total".
  const smi = setup.split('\n').findIndex((l) => l.startsWith('name, driver_version'));
  const device =
    smi >= 0 ? (setup.split('\n')[smi + 1] ?? '').trim() : 'a machine without nvidia-smi (LOCAL=1)';
  const doctor = readIf(join(outDir, 'doctor.txt'));
  const steps = readIf(join(outDir, 'steps.md'));
  let conv4: SummaryInputs['conv4'];
  const config = runDir ? readIf(join(runDir, 'config.json')) : undefined;
  if (runDir && config) {
    const cfg = JSON.parse(config) as {
      backend: string;
      trainer: { metaBatchSize: number; iterations: number };
      logging: { every: number };
    };
    const metrics = readIf(join(runDir, 'metrics.jsonl')) ?? '';
    const summary = readIf(join(runDir, 'summary.json'));
    const results = summary
      ? (JSON.parse(summary) as { results?: Record<string, number> }).results
      : undefined;
    conv4 = {
      backend: cfg.backend,
      metaBatch: cfg.trainer.metaBatchSize,
      iterations: cfg.trainer.iterations,
      // The first logging window holds the compiles: fused kernels settle by the fourth step.
      throughput: steadyState(metrics, Math.max(cfg.logging.every, 4)),
      overallItPerSec: results?.metaItPerSec,
      scores: summary ? scoresOf(summary) : [],
    };
  }
  return {
    device,
    phases: parsePhases(readIf(phasesPath) ?? ''),
    doctor: doctor === undefined ? undefined : doctorHighlights(doctor, 'gpujs:webgpu'),
    steps: steps === undefined ? undefined : tableLines(steps),
    conv4,
  };
}

const [outDir, phasesPath, runDir] = process.argv.slice(2);
if (/summarize\.[cm]?[jt]s$/.test(process.argv[1] ?? '') && outDir && phasesPath) {
  const text = formatSummary(collect(outDir, phasesPath, runDir));
  writeFileSync(join(outDir, 'summary.md'), text);
  process.stdout.write(text);
}
