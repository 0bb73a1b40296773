import type { Params } from '../nn/params.js';
import { releaseScope } from '../ops/releaseScope.js';
import type { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import type { EvaluateRun, EvaluationResult } from './contracts.js';
import type { MetaLearner } from './learner.js';
import { restoreForEvaluation } from './setup.js';
import type { TaskSource } from './tasks.js';

/** Options of {@link evaluateAdaptation}. */
export interface AdaptationEvalOptions {
  /** Number of fresh test tasks (the literature uses 600). */
  tasks: number;
  /** Inner-step counts to report (0 = no adaptation). */
  steps: readonly number[];
  /** Support shots per task (per class for classification). */
  shots: number;
  /** Tasks adapted together in one batched pass. */
  chunk?: number;
  /** Which split to draw tasks from. */
  split?: 'train' | 'test';
  /** Called after every chunk with the number of tasks done. */
  onChunk?: (done: number) => void;
}

/** Mean and 95% confidence half-width of a metric over tasks, after a number of inner steps. */
export interface AdaptationScore {
  steps: number;
  /** Mean over the tasks whose metric stayed finite. */
  mean: number;
  ci95: number;
  /** Median over the finite tasks: robust to the rare task whose fine-tuning blows up. */
  median: number;
  /** Tasks evaluated (finite ones). */
  tasks: number;
  /** Tasks whose adaptation diverged to NaN or Inf (excluded from the statistics, reported instead). */
  diverged: number;
}

/**
 * The evaluation protocol of the MAML literature: on fresh tasks, adapt from the meta-learned initialisation
 * on K support examples for each listed number of steps and report the query metric's mean with its 95%
 * confidence interval (1.96 standard errors). The same protocol evaluates the pretrained baseline.
 */
export async function evaluateAdaptation(
  learner: MetaLearner,
  meta: Params,
  source: TaskSource,
  rng: Rng,
  options: AdaptationEvalOptions,
): Promise<AdaptationScore[]> {
  const steps = [...new Set(options.steps)].sort((a, b) => a - b);
  const maxSteps = steps.at(-1) ?? 0;
  const perStep = new Map<number, number[]>(steps.map((s) => [s, []]));
  const chunk = options.chunk ?? 25;
  for (let done = 0; done < options.tasks; done += chunk) {
    const n = Math.min(chunk, options.tasks - done);
    const batch = source.sample(rng, n, options.split ?? 'test', options.shots);
    // Dispatch every step's metric first and read them afterwards: a device backend then runs the whole
    // chunk without a round trip per step (and WebGPU can only read asynchronously anyway).
    const pending: [number, Tensor][] = [];
    const adapt = () =>
      learner.adapt(meta, batch.supportX, batch.supportY, maxSteps, 'none', (s, params) => {
        if (!perStep.has(s)) return;
        const pred = learner.apply(params, batch.queryX);
        pending.push([s, learner.metric(pred, batch.queryY, 'perTask')]);
      });
    // The chunk's intermediates are dead once its metrics are computed: recycled for the next chunk.
    const backend = Object.values(meta)[0]?.backend;
    if (backend) releaseScope(backend, 'evaluateAdaptation', adapt, () => pending.map(([, m]) => m));
    else adapt();
    for (const [s, metric] of pending) perStep.get(s)!.push(...(await metric.data()));
    options.onChunk?.(done + n);
  }
  return steps.map((s) => ({ steps: s, ...meanCi(perStep.get(s)!) }));
}

/** Mean and 95% confidence half-width (normal approximation) of a sample. */
export function meanCi(values: readonly number[]): {
  mean: number;
  ci95: number;
  median: number;
  tasks: number;
  diverged: number;
} {
  // One task whose fine-tuning diverges would turn the whole table into NaN; it is counted instead.
  const finite = values.filter((v) => Number.isFinite(v));
  const n = finite.length;
  const mean = finite.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? finite.reduce((a, b) => a + (b - mean) * (b - mean), 0) / (n - 1) : 0;
  const sorted = [...finite].sort((a, b) => a - b);
  const median = n === 0 ? Number.NaN : n % 2 ? sorted[n >> 1]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  return {
    mean,
    ci95: (1.96 * Math.sqrt(variance)) / Math.sqrt(n),
    median,
    tasks: n,
    diverged: values.length - n,
  };
}

/** `metatape eval`: loads a checkpoint's meta-parameters and runs {@link evaluateAdaptation}. */
export const evaluateRun: EvaluateRun = async (ctx) => {
  const { learner, meta, source, rngFor, metricName } = await restoreForEvaluation(
    ctx.config,
    ctx.checkpointPath,
    ctx.configHash,
  );
  const tasks = ctx.request.tasks ?? ctx.config.eval.tasks;
  const steps = ctx.request.steps ?? ctx.config.eval.steps;
  const shotsList = ctx.request.shots ?? ctx.config.eval.shots;
  const results: EvaluationResult[] = [];
  const progress = ctx.createProgress({ total: tasks * shotsList.length, label: 'eval' });
  let offset = 0;
  for (const shots of shotsList) {
    const scores = await evaluateAdaptation(
      learner,
      meta,
      source,
      rngFor(`eval/${ctx.request.split}/${shots}`),
      {
        tasks,
        steps,
        shots,
        split: 'test',
        onChunk: (done) => progress.update(offset + done),
      },
    );
    offset += tasks;
    for (const s of scores) {
      results.push({
        split: ctx.request.split,
        shots,
        steps: s.steps,
        metric: metricName,
        mean: s.mean,
        ci95: s.ci95,
        tasks: s.tasks,
      });
    }
  }
  progress.stop();
  const last = results.filter((r) => r.shots === shotsList[0]).at(-1);
  return {
    results,
    ...(last ? { headline: { metric: `${last.metric}@${last.steps}steps`, value: last.mean } } : {}),
  };
};
