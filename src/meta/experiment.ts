import { join } from 'node:path';
import { setImmediate as tick } from 'node:timers/promises';
import { setCpuKernelThreads } from '../backends/cpu/kernelThreads.js';
import type { ExperimentConfig } from '../config/schema.js';
import { writeFileAtomic } from '../io/atomic.js';
import { loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { peakRssMb } from '../log/peakRss.js';
import type { Params } from '../nn/params.js';
import { flattenState, unflattenState } from '../optim/state.js';
import { paramsFromArrays, paramsToArrays, tensorsFromArrays, tensorsToArrays } from './checkpointArrays.js';
import type { ExperimentContext, ExperimentSummary, RunExperiment } from './contracts.js';
import { type AdaptationScore, evaluateAdaptation } from './evaluate.js';
import { outerOptimizer } from './factories.js';
import type { ReplayStatus } from './kernelReplay.js';
import { writeRunPlots } from './plots.js';
import { learnerRecipe, type Setup, setup, trainerParallelism, trainerThreads } from './setup.js';
import { MetaGradientThreads } from './threads.js';
import { trainIteration } from './trainIteration.js';

// Kept here for existing callers; they live in setup.ts, which evaluation and plots import without a cycle.
export { restoreForEvaluation, type Setup, seedFor, setup } from './setup.js';

/**
 * `metatape run`: meta-trains as the config says, with checkpoints, metrics, NaN/Inf guards, mid-run and final
 * evaluation, a summary and plots in the run folder.
 */
export const runExperiment: RunExperiment = async (ctx: ExperimentContext): Promise<ExperimentSummary> => {
  const { config, logger, metrics } = ctx;
  const s = await setup(config);
  const { learner, source } = s;
  const outer = outerOptimizer(config);
  const taskRng = s.rngFor('tasks');
  let meta = learner.initMetaParams(learner.model.initParams(s.rngFor('init')));
  let optState = outer.init(meta);
  let start = 0;
  let restoredWindow: MetricsWindow | undefined;
  if (ctx.resumeFrom) {
    const ckpt = await loadCheckpoint(ctx.resumeFrom.checkpointPath, { configHash: ctx.configHash });
    meta = paramsFromArrays(ckpt.arrays, 'param/');
    const optMeta = ckpt.extra?.optimizerState;
    optState = unflattenState({ arrays: tensorsFromArrays(ckpt.arrays, 'optim/'), meta: optMeta ?? null });
    taskRng.setState(ckpt.rng.tasks!);
    start = ckpt.iteration;
    restoredWindow = readWindow(ckpt.extra?.metricsWindow);
    logger.info({ iteration: start }, 'restored meta-parameters, optimizer state and task stream');
  }
  const T = config.trainer.iterations;
  const threads = trainerThreads(config, s);
  const parallelism = trainerParallelism(config, threads, learner);
  logger.info(
    {
      backend: s.backend.name,
      backendReason: s.backend.reason,
      device: s.backend.device,
      algorithm: config.trainer.algorithm,
      order: config.trainer.order,
      params: learner.model.paramCount,
      metaBatch: config.trainer.metaBatchSize,
      threads,
      parallelism,
    },
    `meta-training ${config.name} for ${T} iterations`,
  );

  const saveCkpt = async (iteration: number) => {
    const flat = flattenState(optState);
    const path = await ctx.checkpointPath(iteration);
    await saveCheckpoint(
      path,
      {
        iteration,
        configHash: ctx.configHash,
        rng: { tasks: taskRng.getState() },
        // The half-filled logging window too: a checkpoint between two metrics rows must not shorten the
        // average of the next row after a resume, or resumed metrics would differ from an uninterrupted run.
        extra: {
          optimizerState: flat.meta,
          metricsWindow: { loss: windowLoss, metric: windowMetric, count: windowCount },
        },
      },
      { ...(await paramsToArrays(meta, 'param/')), ...(await tensorsToArrays(flat.arrays, 'optim/')) },
    );
    await metrics.flush();
  };

  const progress = ctx.createProgress({ total: T, label: 'meta-train', startAt: start });
  const t0 = performance.now();
  let windowStart = performance.now();
  let windowLoss = restoredWindow?.loss ?? 0;
  let windowMetric = restoredWindow?.metric ?? 0;
  let windowCount = restoredWindow?.count ?? 0;
  let iteration = start;
  let interrupted = false;
  // Task threads share the meta-gradient only; evaluation runs on the main thread. Kernel threads serve
  // whatever this thread computes until the run ends.
  const pool = await MetaGradientThreads.start(
    learner,
    learnerRecipe(config, source),
    parallelism === 'tasks' ? threads : 1,
  );
  // Queued: the op dispatch and the tape overlap the kernels (src/backends/cpu/kernelQueue.ts).
  if (parallelism === 'kernels') setCpuKernelThreads(threads, { queue: true });
  let replayLogged = false;
  try {
    for (iteration = start + 1; iteration <= T; iteration++) {
      const batch = source.sample(taskRng, config.trainer.metaBatchSize, 'train');
      // One read per iteration (plus iMAML's CG scalars), all asynchronous: any backend runs this loop.
      const read = await trainIteration(
        (m, b, p) => pool.metaGradientAsync(m, b, p),
        outer,
        { meta, optState },
        batch,
        iteration,
        iteration / T,
      );
      meta = read.meta;
      optState = read.optState;
      // The first meta-batch was recorded, the second checked against the usual computation (and on two
      // threads the third too, the first run by the program's schedule): say how it went, once settled.
      if (!replayLogged && iteration >= start + 2 && pool.via !== 'workers') {
        const status = learner.replayStatus();
        if (status.every((r) => r.state !== 'verifying') || iteration >= start + 6) {
          replayLogged = true;
          for (const r of status) logReplay(logger, r);
        }
      }
      windowLoss += read.loss;
      windowMetric += read.metric;
      windowCount++;
      progress.update(iteration, { loss: read.loss.toFixed(4) });
      if (iteration % config.logging.every === 0 || iteration === T) {
        const now = performance.now();
        metrics.append({
          iteration,
          split: 'train',
          metaLoss: windowLoss / windowCount,
          // For regression the metric is the loss itself (MSE): not stored twice.
          ...(s.metricName === 'mse' ? {} : { [s.metricName]: windowMetric / windowCount }),
          itPerSec: (windowCount * 1000) / (now - windowStart),
          rssMb: process.memoryUsage().rss / 2 ** 20,
        });
        await ctx.reportStatus({
          iteration,
          headline: { metric: 'metaLoss', value: windowLoss / windowCount },
        });
        windowStart = now;
        windowLoss = 0;
        windowMetric = 0;
        windowCount = 0;
      }
      if (config.eval.every > 0 && iteration % config.eval.every === 0 && iteration < T) {
        const scores = await evaluate(
          s,
          meta,
          config,
          config.eval.evalTasksDuringTraining,
          `val/${iteration}`,
          config.eval.shots[0]!,
        );
        metrics.append(
          scores.map((sc) => ({
            iteration,
            split: `val@${sc.steps}`,
            [s.metricName]: sc.mean,
            ci95: sc.ci95,
          })),
        );
      }
      const aborted = ctx.signal.aborted;
      if (iteration % config.logging.checkpointEvery === 0 || iteration === T || aborted)
        await saveCkpt(iteration);
      if (aborted) {
        interrupted = true;
        logger.warn({ iteration }, 'interrupted: checkpoint saved; continue with `metatape resume`');
        break;
      }
      // Let signals, timers and storage finalisers run (a synchronous loop would starve them).
      if (iteration % 10 === 0) await tick();
    }
  } finally {
    progress.stop();
    await pool.close();
    if (parallelism === 'kernels') setCpuKernelThreads(1);
  }
  const last = Math.min(iteration, T);
  if (interrupted) return { iteration: last, interrupted: true };
  const wallSeconds = (performance.now() - t0) / 1000;

  // The literature's protocol on fresh test tasks, for every configured support size.
  const table: { shots: number; scores: AdaptationScore[] }[] = [];
  for (const shots of config.eval.shots) {
    table.push({ shots, scores: await evaluate(s, meta, config, config.eval.tasks, `test/${shots}`, shots) });
  }
  const results: Record<string, number> = {
    trainSeconds: wallSeconds,
    metaItPerSec: (T - start) / wallSeconds,
    peakRssMb: peakRssMb(),
  };
  for (const { shots, scores } of table) {
    for (const sc of scores) {
      results[`test/${s.metricName}@K${shots}/${sc.steps}steps`] = sc.mean;
      results[`test/${s.metricName}@K${shots}/${sc.steps}steps/ci95`] = sc.ci95;
      results[`test/${s.metricName}@K${shots}/${sc.steps}steps/median`] = sc.median;
      if (sc.diverged > 0) results[`test/${s.metricName}@K${shots}/${sc.steps}steps/diverged`] = sc.diverged;
    }
  }
  await writeSummary(ctx.run.dir, config, table, s.metricName, results);
  await writeRunPlots(ctx.run.dir, config, s, meta, metrics.columns(), table);
  const first = table[0]!.scores;
  const best = first.at(-1)!;
  const headline = { metric: `test/${s.metricName}@${best.steps}steps`, value: best.mean };
  logger.info({ results }, `done: ${headline.metric} = ${best.mean.toFixed(4)} ± ${best.ci95.toFixed(4)}`);
  return { iteration: last, interrupted: false, headline, results };
};

/** One shape's kernel replay, as the log says it: replayed (and where the schedule runs it) or why not. */
function logReplay(logger: ExperimentContext['logger'], r: ReplayStatus): void {
  const s = r.schedule;
  const where =
    s?.last === 'scheduled'
      ? `, on 2 threads by a schedule (planned ${s.plannedMs.toFixed(2)} ms against ${s.serialMs.toFixed(2)} ms in order)`
      : s?.last === 'in order'
        ? `, in order on one thread (${s.worthwhile ? 'measured faster than its two-thread schedule' : 'a two-thread schedule would not gain'})`
        : '';
  const sliced = r.slices ? ` in ${r.slices} task slices, run at once on ${r.slices} threads` : '';
  logger.info(
    { kernelReplay: r.state, kernels: r.kernels, slices: r.slices, reason: r.reason, schedule: s },
    r.state === 'replaying'
      ? `kernel replay: ${r.kernels} recorded kernels per meta-gradient${sliced}, checked bit for bit${where}`
      : r.state === 'verifying'
        ? `kernel replay: ${r.kernels} recorded kernels per meta-gradient${sliced}, still being checked`
        : `kernel replay off: ${r.reason}`,
  );
}

/** Sums of the metrics row being accumulated (saved in checkpoints so a resume continues the same row). */
interface MetricsWindow {
  loss: number;
  metric: number;
  count: number;
}

function readWindow(v: unknown): MetricsWindow | undefined {
  if (v === null || typeof v !== 'object') return undefined;
  const w = v as Record<string, unknown>;
  return typeof w.loss === 'number' && typeof w.metric === 'number' && typeof w.count === 'number'
    ? { loss: w.loss, metric: w.metric, count: w.count }
    : undefined;
}

function evaluate(
  s: Setup,
  meta: Params,
  config: ExperimentConfig,
  tasks: number,
  purpose: string,
  shots: number,
): Promise<AdaptationScore[]> {
  return evaluateAdaptation(s.learner, meta, s.source, s.rngFor(`eval/${purpose}`), {
    tasks,
    steps: [0, ...config.eval.steps],
    shots,
    chunk: Math.min(config.trainer.metaBatchSize * 4, 100),
  });
}

async function writeSummary(
  dir: string,
  config: ExperimentConfig,
  table: { shots: number; scores: AdaptationScore[] }[],
  metric: string,
  results: Record<string, number>,
): Promise<void> {
  const lines = [
    `# ${config.name}: evaluation`,
    '',
    `${config.trainer.algorithm}, order ${config.trainer.order}, ${config.trainer.iterations} meta-iterations, seed ${config.seed}, backend ${config.backend}.`,
    `Mean query ${metric} over ${config.eval.tasks} fresh test tasks, with 95% confidence intervals.`,
    '',
    `| K (shots) | ${table[0]!.scores.map((s) => `${s.steps} steps`).join(' | ')} |`,
    `|---|${table[0]!.scores.map(() => '---').join('|')}|`,
    ...table.map(
      (r) =>
        `| ${r.shots} | ${r.scores.map((s) => `${s.mean.toFixed(3)} ± ${s.ci95.toFixed(3)}${s.diverged ? ` (${s.diverged} diverged)` : ''}`).join(' | ')} |`,
    ),
    '',
    'Medians over the same tasks:',
    '',
    `| K (shots) | ${table[0]!.scores.map((s) => `${s.steps} steps`).join(' | ')} |`,
    `|---|${table[0]!.scores.map(() => '---').join('|')}|`,
    ...table.map((r) => `| ${r.shots} | ${r.scores.map((s) => s.median.toFixed(3)).join(' | ')} |`),
    '',
    ...(table.some((r) => r.scores.some((s) => s.diverged > 0))
      ? [
          'A task "diverged" when its fine-tuning reached NaN or Inf; such tasks are counted, not averaged.',
          '',
        ]
      : []),
    `Training wall time: ${results.trainSeconds!.toFixed(1)} s (${results.metaItPerSec!.toFixed(1)} meta-iterations/s).`,
    '',
  ];
  await writeFileAtomic(join(dir, 'summary.md'), lines.join('\n'));
  await writeFileAtomic(
    join(dir, 'summary.json'),
    `${JSON.stringify({ metric, table, results }, null, 2)}\n`,
  );
}
