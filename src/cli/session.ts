import { join } from 'node:path';
import { trainingConfigHash } from '../config/hash.js';
import type { ExperimentConfig } from '../config/schema.js';
import { prepareCheckpointPath } from '../io/checkpointFiles.js';
import { MetricsLog } from '../io/metrics.js';
import {
  createRunFolder,
  RUN_FILES,
  type RunFolder,
  readStatus,
  writeResolvedConfig,
  writeStatus,
  writeStatusSync,
} from '../io/runFolder.js';
import { acquireRunLock, type RunLock } from '../io/runLock.js';
import { createLogger, type Logger } from '../log/logger.js';
import { createProgress } from '../log/progress.js';
import type { ExperimentSummary, ResumePoint, RunExperiment } from './contracts.js';
import { TrainingClock } from './cpuClock.js';
import { loadTrainer } from './modules.js';

/** Options of {@link executeRun}. */
export interface ExecuteRunOptions {
  /** Continue in this existing run folder instead of creating a new one. */
  existing?: RunFolder;
  resumeFrom?: ResumePoint;
  logLevel?: string;
  /** Called with the run folder as soon as it exists (the CLI prints it). */
  onStart?: (run: RunFolder, logger: Logger) => void;
  /** Use this trainer instead of loading `src/meta/experiment.ts` (tests, notebooks, custom algorithms). */
  trainer?: RunExperiment;
  /** Logger output stream (default stderr); tests pass a sink. */
  logStream?: NodeJS.WritableStream;
}

/** Result of {@link executeRun}. */
export interface ExecuteRunResult {
  run: RunFolder;
  summary: ExperimentSummary;
}

/**
 * Runs one experiment end to end around the trainer: run folder, resolved config, logger, metrics log,
 * `status.json` (running → completed / interrupted / failed), Ctrl-C handling, final metrics flush.
 * The trainer itself is loaded lazily (see modules.ts) and does all the math.
 */
export async function executeRun(
  config: ExperimentConfig,
  options: ExecuteRunOptions = {},
): Promise<ExecuteRunResult> {
  // Load the trainer first: if it is missing there is no point in creating an empty run folder.
  const runExperiment = options.trainer ?? (await loadTrainer()).runExperiment;
  const run = options.existing ?? (await createRunFolder(config.output.dir, config.name));
  // Before anything is written: a second process training into this folder stops here.
  const lock = await acquireRunLock(run.dir, options.resumeFrom ? 'resume' : 'run');
  try {
    return await trainInFolder(config, run, runExperiment, lock, options);
  } finally {
    await lock.release();
  }
}

async function trainInFolder(
  config: ExperimentConfig,
  run: RunFolder,
  runExperiment: RunExperiment,
  lock: RunLock,
  options: ExecuteRunOptions,
): Promise<ExecuteRunResult> {
  await writeResolvedConfig(run.dir, config);
  const logger = createLogger({
    file: join(run.dir, RUN_FILES.log),
    base: { run: `${run.name}/${run.timestamp}` },
    ...(options.logLevel ? { level: options.logLevel } : {}),
    ...(options.logStream ? { stream: options.logStream } : {}),
  });
  const startedAt = options.existing
    ? ((await readStatus(run.dir))?.startedAt ?? new Date().toISOString())
    : new Date().toISOString();
  let iteration = options.resumeFrom?.iteration ?? 0;
  const iterations = config.trainer.iterations;
  await writeStatus(run.dir, { state: 'running', startedAt, iteration, iterations });
  if (lock.tookOverFrom) {
    const dead = lock.tookOverFrom;
    logger.warn(
      { lock: dead },
      `took over the lock of process ${dead.pid} (${dead.purpose}), which is no longer running`,
    );
  }
  options.onStart?.(run, logger);

  const metrics = await MetricsLog.open(
    run.dir,
    options.resumeFrom ? { keepUpTo: options.resumeFrom.iteration } : {},
  );
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (!controller.signal.aborted) {
      logger.warn(`${sig}: stopping after the current iteration (again to quit at once)`);
      controller.abort(new Error(sig));
      return;
    }
    // Second signal: the trainer did not stop in time; record that and leave.
    writeStatusSync(run.dir, {
      state: 'interrupted',
      startedAt,
      iteration,
      iterations,
      message: `${sig} (forced)`,
    });
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const clock = new TrainingClock();
  try {
    const summary = await runExperiment({
      config,
      run,
      logger,
      createProgress: (o) => createProgress({ ...o, logger }),
      metrics,
      configHash: trainingConfigHash(config),
      checkpointPath: (it) => prepareCheckpointPath(run.dir, it),
      ...(options.resumeFrom ? { resumeFrom: options.resumeFrom } : {}),
      signal: controller.signal,
      reportStatus: async (u) => {
        iteration = u.iteration;
        clock.mark(u.iteration);
        await writeStatus(run.dir, { state: 'running', startedAt, iterations, ...u });
      },
    });
    iteration = summary.iteration;
    await metrics.flush();
    await clock.write(run.dir);
    await writeStatus(run.dir, {
      state: summary.interrupted ? 'interrupted' : 'completed',
      startedAt,
      iteration,
      iterations,
      ...(summary.headline ? { headline: summary.headline } : {}),
      ...(summary.interrupted ? { message: 'stopped by signal' } : {}),
    });
    logger.info({ summary }, summary.interrupted ? 'run interrupted' : 'run completed');
    return { run, summary };
  } catch (err) {
    await metrics.flush().catch(() => undefined);
    await writeStatus(run.dir, {
      state: 'failed',
      startedAt,
      iteration,
      iterations,
      message: (err as Error).message?.split('\n')[0] ?? String(err),
    }).catch(() => undefined);
    logger.error({ err }, 'run failed');
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
