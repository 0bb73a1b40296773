/**
 * Reruns every committed experiment config for a few meta-iterations at two commits and compares what the two
 * runs wrote, value for value: the evidence that a refactor did not change behaviour (issue 15: "a bit-for-bit
 * rerun of 100 iterations of each committed experiment config", before and after the algorithm refactor).
 *
 * ```
 * npx tsx bench/rerun-configs.ts --base d7f23e9 [--head HEAD] [--iterations 100] [--omniglot DIR]
 *     [--eval-tasks 20] [--omniglot-batch 4] [--work DIR] [--markdown FILE] [--reuse] [config.yaml ...]
 * ```
 *
 * Each commit's tree is exported with `git archive` into `<work>/<sha>/` (node_modules symlinked to this
 * checkout's): a plain copy of the commit, so nothing is registered in the shared `.git` and nothing needs
 * cleaning up, and uncommitted edits here never leak into either side. Both sides run the same config file
 * (this checkout's copy) with the same overrides, one process at a time, base then head for each config:
 *
 * - `--iterations N`, `logging.every=1` (every iteration's meta-loss is a metrics row), `eval.tasks` and
 *   `eval.evalTasksDuringTraining` capped (`--eval-tasks`), `--backend cpu`;
 * - Omniglot configs read the prepared Arrow files from `--omniglot` (`metatape datasets prepare omniglot
 *   --from ../shared/datasets/omniglot --dir DIR`) and, so that each run takes seconds, a meta-batch of
 *   `--omniglot-batch` tasks (0 keeps the config's).
 *
 * `--reuse` compares the runs already in `<work>/runs/` for a config instead of running it again (to split a
 * long list over several processes, then print one table of all).
 *
 * Compared: every metrics row (`metrics.jsonl`) and every summary result, except the wall-clock, speed and
 * memory fields, which no two runs share; and the final checkpoint byte for byte, its `createdAt` masked.
 * Default configs: `configs/*.yaml` and the committed run configs `experiments/**\/config.yaml`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { parse } from 'yaml';

/** Fields that measure the machine rather than the computation (time, speed, memory). */
const VOLATILE = /(seconds|secs?$|persec|itpersec|rss|time|createdat|updatedat|pid|host)/i;

interface Options {
  base: string;
  head: string;
  iterations: number;
  omniglot: string | undefined;
  evalTasks: number;
  omniglotBatch: number;
  work: string;
  markdown: string | undefined;
  reuse: boolean;
  configs: string[];
}

/** One config's verdict. */
interface Row {
  config: string;
  iterations: string;
  identical: string;
  maxAbsDiff: number;
  values: number;
  checkpoint: string;
  note: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    base: '',
    head: 'HEAD',
    iterations: 100,
    omniglot: undefined,
    evalTasks: 20,
    omniglotBatch: 4,
    work: '/tmp/metatape-rerun',
    markdown: undefined,
    reuse: false,
    configs: [],
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    const count = () => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 0) throw new Error(`${a} needs a non-negative integer`);
      return n;
    };
    if (a === '--base') o.base = value();
    else if (a === '--head') o.head = value();
    else if (a === '--iterations') o.iterations = count();
    else if (a === '--omniglot') o.omniglot = resolve(value());
    else if (a === '--eval-tasks') o.evalTasks = count();
    else if (a === '--omniglot-batch') o.omniglotBatch = count();
    else if (a === '--work') o.work = resolve(value());
    else if (a === '--markdown') o.markdown = resolve(value());
    else if (a === '--reuse') o.reuse = true;
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else o.configs.push(a);
  }
  if (!o.base) throw new Error('--base <commit> is required (e.g. --base d7f23e9)');
  if (o.iterations < 1) throw new Error('--iterations must be at least 1');
  if (o.evalTasks < 1) throw new Error('--eval-tasks must be at least 1');
  return o;
}

function git(...args: string[]): string {
  return execFileSync('git', args, { encoding: 'utf8' }).trim();
}

/** The commit's tree in `<work>/<sha>/`, with this checkout's node_modules linked in. */
function exportTree(commit: string, work: string): string {
  const sha = git('rev-parse', '--verify', `${commit}^{commit}`);
  const dir = join(work, sha.slice(0, 12));
  if (!existsSync(join(dir, 'package.json'))) {
    mkdirSync(dir, { recursive: true });
    const archive = spawnSync('git', ['archive', '--format=tar', sha], { maxBuffer: 1 << 30 });
    if (archive.status !== 0) throw new Error(`git archive ${sha} failed: ${archive.stderr}`);
    const untar = spawnSync('tar', ['-x', '-C', dir], { input: archive.stdout });
    if (untar.status !== 0) throw new Error(`tar failed: ${untar.stderr}`);
  }
  if (!existsSync(join(dir, 'node_modules')))
    symlinkSync(realpathSync('node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** configs/*.yaml and the run configs committed under experiments/. */
function defaultConfigs(): string[] {
  const configs = readdirSync('configs')
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => join('configs', f));
  const runs = git('ls-files', 'experiments').split('\n');
  return [...configs, ...runs.filter((f) => basename(f) === 'config.yaml')].sort();
}

/** The overrides both sides get. */
function overrides(configPath: string, o: Options): string[] {
  const config = parse(readFileSync(configPath, 'utf8')) as {
    data?: { kind?: string };
    eval?: Record<string, unknown>;
  };
  const flags = ['--iterations', String(o.iterations), '--backend', 'cpu'];
  flags.push('--set', 'logging.every=1', '--set', `eval.tasks=${o.evalTasks}`);
  flags.push('--set', `eval.evalTasksDuringTraining=${o.evalTasks}`);
  if (config.data?.kind === 'omniglot') {
    if (!o.omniglot) throw new Error(`${configPath} is an Omniglot config: pass --omniglot DIR`);
    flags.push('--set', `data.root=${o.omniglot}`);
    if (o.omniglotBatch > 0) flags.push('--set', `trainer.metaBatchSize=${o.omniglotBatch}`);
  }
  return flags;
}

/** Runs `metatape run` from `tree`; the error text on failure. */
function runAt(tree: string, configPath: string, runDir: string, flags: string[]): string | undefined {
  // A clean environment for both sides: no METATAPE_* setting from the caller changes either run.
  rmSync(runDir, { recursive: true, force: true });
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('METATAPE_')));
  const r = spawnSync(
    'npx',
    ['tsx', 'src/cli/main.ts', 'run', configPath, '--run-dir', runDir, '--log-level', 'warn', ...flags],
    { cwd: tree, env, encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  if (r.status === 0) return undefined;
  const lines = `${r.stderr}\n${r.stdout}`.trim().split('\n');
  return lines.find((l) => /error/i.test(l))?.slice(0, 160) ?? `exit ${r.status}`;
}

/** The deterministic values of a run: metrics rows and summary results, keyed by where they come from. */
function values(runDir: string): Map<string, number | string> {
  const out = new Map<string, number | string>();
  const add = (prefix: string, record: Record<string, unknown>) => {
    for (const [k, v] of Object.entries(record)) {
      if (VOLATILE.test(k)) continue;
      if (typeof v === 'number' || typeof v === 'string') out.set(`${prefix}${k}`, v);
      else if (v === null) out.set(`${prefix}${k}`, 'null');
    }
  };
  const rows = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n');
  for (const [i, line] of rows.entries()) add(`metrics[${i}].`, JSON.parse(line) as Record<string, unknown>);
  const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as {
    results?: Record<string, unknown>;
  };
  add('summary.', summary.results ?? {});
  return out;
}

/**
 * The last checkpoint's bytes with its creation time masked (same length, so offsets stay put) and without
 * the header's sha256 (bytes 16-48 of the layout in src/io/checkpoint.ts), which covers that time.
 */
function checkpoint(runDir: string): Buffer | undefined {
  const dir = join(runDir, 'checkpoints');
  if (!existsSync(dir)) return undefined;
  const last = readdirSync(dir)
    .filter((f) => f.endsWith('.ckpt'))
    .sort()
    .at(-1);
  if (!last) return undefined;
  const bytes = readFileSync(join(dir, last));
  const text = bytes.toString('latin1').replace(/"createdAt":"[^"]*"/, (m) => 'x'.repeat(m.length));
  const masked = Buffer.from(text, 'latin1');
  masked.fill(0, 16, 48);
  return masked;
}

function compare(config: string, baseDir: string, headDir: string, o: Options): Row {
  const a = values(baseDir);
  const b = values(headDir);
  let maxAbsDiff = 0;
  let common = 0;
  const differing: string[] = [];
  // A field one side writes and the other does not is a change of format, not of numbers: listed apart.
  const onlyIn = (m: Map<string, unknown>, other: Map<string, unknown>) => [
    ...new Set(
      [...m.keys()].filter((k) => !other.has(k)).map((k) => k.replace(/^metrics\[\d+\]/, 'metrics')),
    ),
  ];
  const onlyBase = onlyIn(a, b);
  const onlyHead = onlyIn(b, a);
  for (const [key, x] of a) {
    if (!b.has(key)) continue;
    common++;
    const y = b.get(key);
    if (x === y || (Number.isNaN(x) && Number.isNaN(y))) continue;
    differing.push(key);
    if (typeof x === 'number' && typeof y === 'number') maxAbsDiff = Math.max(maxAbsDiff, Math.abs(x - y));
    else maxAbsDiff = Number.POSITIVE_INFINITY;
  }
  const ca = checkpoint(baseDir);
  const cb = checkpoint(headDir);
  const ckpt = ca && cb ? (ca.equals(cb) ? 'identical' : 'differs') : 'missing';
  const rows = readFileSync(join(headDir, 'metrics.jsonl'), 'utf8').trim().split('\n').length;
  return {
    config,
    iterations: `${o.iterations} (${rows} rows)`,
    identical: differing.length === 0 && ckpt !== 'differs' ? 'yes' : 'no',
    maxAbsDiff,
    values: common,
    checkpoint: ckpt,
    note: [
      differing.length ? `${differing.length} values differ, first ${differing[0]}` : '',
      onlyBase.length ? `only in base: ${onlyBase.join(', ')}` : '',
      onlyHead.length ? `only in head: ${onlyHead.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('; '),
  };
}

function table(rows: Row[]): string {
  const lines = [
    '| config | iterations | identical? | max abs diff | values compared | final checkpoint | note |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const r of rows)
    lines.push(
      `| ${r.config} | ${r.iterations} | ${r.identical} | ${r.maxAbsDiff} | ${r.values} | ${r.checkpoint} | ${r.note} |`,
    );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const configs = o.configs.length ? o.configs : defaultConfigs();
  const base = exportTree(o.base, o.work);
  const head = exportTree(o.head, o.work);
  const rows: Row[] = [];
  for (const config of configs) {
    const path = resolve(config);
    const id = relative('.', path)
      .replace(/[/\\]/g, '__')
      .replace(/\.yaml$/, '');
    const flags = overrides(path, o);
    const dirs = [join(o.work, 'runs', basename(base), id), join(o.work, 'runs', basename(head), id)];
    const started = performance.now();
    const done = o.reuse && dirs.every((d) => existsSync(join(d, 'summary.json')));
    const errors = done
      ? [undefined, undefined]
      : [runAt(base, path, dirs[0]!, flags), runAt(head, path, dirs[1]!, flags)];
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    const row: Row =
      errors[0] || errors[1]
        ? {
            config,
            iterations: String(o.iterations),
            identical: 'not run',
            maxAbsDiff: Number.NaN,
            values: 0,
            checkpoint: '',
            note: `base: ${errors[0] ?? 'ok'}; head: ${errors[1] ?? 'ok'}`,
          }
        : compare(config, dirs[0]!, dirs[1]!, o);
    rows.push(row);
    process.stderr.write(`${config}: ${row.identical} (${seconds} s for both)\n`);
  }
  const header =
    `Base ${git('rev-parse', '--short', o.base)} vs head ${git('rev-parse', '--short', o.head)}, ` +
    `${o.iterations} meta-iterations each, eval tasks capped at ${o.evalTasks}` +
    (o.omniglotBatch ? `, Omniglot meta-batch ${o.omniglotBatch}` : '');
  const text = `${header}\n\n${table(rows)}\n`;
  process.stdout.write(text);
  if (o.markdown) writeFileSync(o.markdown, text);
  if (rows.some((r) => r.identical !== 'yes')) process.exitCode = 1;
}

await main();
