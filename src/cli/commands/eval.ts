import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { trainingConfigHash } from '../../config/hash.js';
import { parseConfigText } from '../../config/load.js';
import type { ExperimentConfig } from '../../config/schema.js';
import { newestGoodCheckpoint } from '../../io/checkpointFiles.js';
import { MetricsLog } from '../../io/metrics.js';
import { RUN_FILES, resolveRunDir } from '../../io/runFolder.js';
import { acquireRunLock } from '../../io/runLock.js';
import { createLogger } from '../../log/logger.js';
import { createProgress } from '../../log/progress.js';
import { writeEvalReport } from '../../log/report.js';
import { UsageError } from '../errors.js';
import type { GlobalArgs } from '../globals.js';
import { loadEvaluator } from '../modules.js';
import { formatNumber, formatTable, println } from '../print.js';

function intList(flag: string, v: unknown): number[] | undefined {
  if (v === undefined) return undefined;
  const parts = String(v)
    .split(',')
    .map((s) => Number(s.trim()));
  if (parts.some((n) => !Number.isInteger(n) || n < 0))
    throw new UsageError(`${flag}: got ${JSON.stringify(v)}; expected integers like 1,5,10`);
  return parts;
}

/** A checkpoint file given where a run was expected: its run folder is two levels up. */
async function checkpointFile(ref: string): Promise<string | undefined> {
  const st = await stat(ref).catch(() => undefined);
  return st?.isFile() && ref.endsWith('.ckpt') ? resolve(ref) : undefined;
}

/** `metatape eval <run or checkpoint>`: evaluate a trained initialisation on fresh held-out tasks. */
export function registerEval(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command(
    'eval <run>',
    'Evaluate a trained run on held-out tasks (mean ± 95% CI per shots × inner steps)',
    (b) =>
      b
        .positional('run', {
          type: 'string',
          demandOption: true,
          describe: 'Run folder, run name (its newest run) or checkpoint file',
        })
        .option('dir', { type: 'string', describe: 'Report folder (default <run>/eval/iter-<N>)' })
        .option('checkpoint', { type: 'string', describe: 'Checkpoint file (default: the newest)' })
        .option('tasks', { type: 'number', describe: 'Number of tasks (default: config eval.tasks)' })
        .option('steps', {
          type: 'string',
          describe: 'Inner steps, comma-separated (default: config eval.steps)',
        })
        .option('shots', {
          type: 'string',
          describe: 'Support shots, comma-separated (default: config eval.shots)',
        })
        .option('split', {
          choices: ['val', 'test'] as const,
          default: 'test' as const,
          describe: 'Task split',
        }),
    async (argv) => {
      if (argv.tasks !== undefined && !(Number.isInteger(argv.tasks) && argv.tasks >= 1))
        throw new UsageError(`--tasks: got ${argv.tasks}; expected an integer >= 1`);
      const givenCkpt =
        (await checkpointFile(argv.run)) ?? (argv.checkpoint ? resolve(argv.checkpoint) : undefined);
      const runDir =
        givenCkpt && !argv.checkpoint ? dirname(dirname(givenCkpt)) : await resolveRunDir(argv.out, argv.run);
      const configFile = join(runDir, RUN_FILES.configJson);
      const configText = await readFile(configFile, 'utf8').catch(() => {
        throw new UsageError(`${runDir} has no ${RUN_FILES.configJson}; is ${argv.run} inside a run folder?`);
      });
      const config = parseConfigText(configText, configFile);
      const steps = intList('--steps', argv.steps);
      const shots = intList('--shots', argv.shots);
      const newest = givenCkpt ? undefined : await newestGoodCheckpoint(runDir);
      const checkpointPath = givenCkpt ?? newest?.path;
      if (!checkpointPath) throw new UsageError(`${runDir} has no checkpoints; pass --checkpoint FILE`);
      // Eval appends to the run's eval.arrow and log: not while another process writes the folder.
      const lock = await acquireRunLock(runDir, 'eval');
      try {
        await evaluateInto(runDir, checkpointPath, config, newest?.skipped ?? [], { ...argv, steps, shots });
      } finally {
        await lock.release();
      }
    },
  );
}

interface EvalArgs {
  logLevel?: string | undefined;
  split: 'val' | 'test';
  tasks?: number | undefined;
  steps: number[] | undefined;
  shots: number[] | undefined;
  dir?: string | undefined;
}

async function evaluateInto(
  runDir: string,
  checkpointPath: string,
  config: ExperimentConfig,
  skipped: readonly { path: string; reason: string }[],
  argv: EvalArgs,
): Promise<void> {
  const { steps, shots } = argv;
  const { evaluateRun } = await loadEvaluator();
  const logger = createLogger({
    file: join(runDir, RUN_FILES.log),
    base: { command: 'eval' },
    ...(argv.logLevel ? { level: argv.logLevel } : {}),
  });
  for (const s of skipped)
    logger.warn(
      { checkpoint: s.path, reason: s.reason },
      `skipped a damaged checkpoint: ${s.path}: ${s.reason}`,
    );
  const summary = await evaluateRun({
    config,
    runDir,
    checkpointPath,
    configHash: trainingConfigHash(config),
    request: {
      split: argv.split,
      ...(argv.tasks !== undefined ? { tasks: argv.tasks } : {}),
      ...(steps ? { steps } : {}),
      ...(shots ? { shots } : {}),
    },
    logger,
    createProgress: (o) => createProgress({ ...o, logger }),
    signal: new AbortController().signal,
  });
  const log = await MetricsLog.open(runDir, { name: 'eval', keepUpTo: Number.MAX_SAFE_INTEGER });
  const iteration = Number(/iter-(\d+)\.ckpt$/.exec(checkpointPath)?.[1] ?? 0);
  log.append(
    summary.results.map((r) => ({
      iteration,
      split: r.split,
      metric: r.metric,
      value: r.mean,
      ci95: r.ci95,
      shots: r.shots,
      steps: r.steps,
      tasks: r.tasks,
      checkpoint: checkpointPath,
    })),
  );
  await log.flush();
  const reportDir = argv.dir ?? join(runDir, 'eval', `iter-${String(iteration).padStart(7, '0')}`);
  const files = await writeEvalReport(reportDir, summary.results, { runDir, checkpoint: checkpointPath });
  println(
    formatTable(
      ['SPLIT', 'SHOTS', 'STEPS', 'METRIC', 'MEAN', '±95%', 'TASKS'],
      summary.results.map((r) => [
        r.split,
        String(r.shots),
        String(r.steps),
        r.metric,
        formatNumber(r.mean),
        formatNumber(r.ci95),
        String(r.tasks),
      ]),
    ),
  );
  println(`report: ${files[0]}`);
}
