import { join } from 'node:path';
import type { ExperimentConfig } from '../config/schema.js';
import { sinusoidCurve } from '../data/sinusoid.js';
import type { MetricColumns } from '../io/metrics.js';
import { type LineSeries, linePlot, regressionPlot, writeSvg } from '../log/plots.js';
import type { Params } from '../nn/params.js';
import { fromArray } from '../ops/creation.js';
import type { Tensor } from '../tensor/tensor.js';
import type { AdaptationScore } from './evaluate.js';
import type { Setup } from './setup.js';

/**
 * The pictures of a run: the meta-training curve, the test metric against inner steps for each K, and for
 * the sinusoid the MAML paper's Figure 2 (true sine, K support points, predictions before and after 1 and
 * 10 steps).
 */
export async function writeRunPlots(
  dir: string,
  config: ExperimentConfig,
  s: Setup,
  meta: Params,
  columns: MetricColumns,
  table: { shots: number; scores: AdaptationScore[] }[],
): Promise<string[]> {
  const written: string[] = [];
  const split = (columns.split ?? []) as (string | null)[];
  const rows = split.map((v, i) => (v === 'train' ? i : -1)).filter((i) => i >= 0);
  if (rows.length > 0) {
    const series: LineSeries[] = [
      {
        name: 'train meta-loss',
        x: rows.map((i) => Number(columns.iteration![i])),
        y: rows.map((i) => Number(columns.metaLoss![i])),
      },
    ];
    // Evaluations during training (`val@<steps>` rows): the test metric on fresh tasks, with its interval.
    const metric = columns[s.metricName];
    const valSplits = [...new Set(split.filter((v): v is string => v?.startsWith('val@') ?? false))];
    for (const v of valSplits) {
      const idx = split
        .map((x, i) => (x === v && typeof metric?.[i] === 'number' ? i : -1))
        .filter((i) => i >= 0);
      const ci = columns.ci95;
      const y = idx.map((i) => Number(metric![i]));
      series.push({
        name: `test ${s.metricName}, ${v.slice(4)} steps`,
        x: idx.map((i) => Number(columns.iteration![i])),
        y,
        ...(ci
          ? {
              band: {
                lo: idx.map((i, k) => y[k]! - Number(ci[i] ?? Number.NaN)),
                hi: idx.map((i, k) => y[k]! + Number(ci[i] ?? Number.NaN)),
              },
            }
          : {}),
      });
    }
    const path = join(dir, 'training-curve.svg');
    await writeSvg(
      path,
      linePlot({
        series,
        title: `${config.name}: meta-training`,
        xLabel: 'meta-iteration',
        yLabel: s.metricName === 'mse' ? 'loss (MSE)' : 'loss / accuracy',
        logY: s.metricName === 'mse',
      }),
    );
    written.push(path);
  }
  const path = join(dir, 'adaptation.svg');
  await writeSvg(
    path,
    linePlot({
      series: table.map((r) => ({
        name: `K = ${r.shots}`,
        x: r.scores.map((c) => c.steps),
        y: r.scores.map((c) => c.mean),
        band: { lo: r.scores.map((c) => c.mean - c.ci95), hi: r.scores.map((c) => c.mean + c.ci95) },
      })),
      title: `${config.name}: test ${s.metricName} after adaptation (95% CI)`,
      xLabel: 'inner gradient steps',
      yLabel: s.metricName,
      integerX: true,
      ...(s.metricName === 'accuracy' ? { yRange: [0, 1] as const } : {}),
    }),
  );
  written.push(path);
  if (config.data.kind === 'sinusoid') written.push(await sinusoidFigure(dir, config, s, meta));
  return written;
}

async function sinusoidFigure(
  dir: string,
  config: ExperimentConfig,
  s: Setup,
  meta: Params,
): Promise<string> {
  const shots = config.eval.shots[0]!;
  const batch = s.source.sample(s.rngFor('figure'), 1, 'test', shots);
  const [sx, sy] = await Promise.all([batch.supportX.data(), batch.supportY.data()]);
  const amplitudeAndPhase = recoverTask(sx, sy);
  const curve = sinusoidCurve(amplitudeAndPhase.amplitude, amplitudeAndPhase.phase, 200);
  const grid = fromArray(Float32Array.from(curve.x), [1, curve.x.length, 1]);
  const pending: { label: string; y: Tensor }[] = [];
  const labels = new Map([
    [0, 'pre-update'],
    [1, '1 grad step'],
    [10, '10 grad steps'],
  ]);
  s.learner.adapt(meta, batch.supportX, batch.supportY, 10, 'none', (step, params) => {
    const label = labels.get(step);
    if (!label) return;
    pending.push({ label, y: s.learner.apply(params, grid) });
  });
  const predictions = await Promise.all(
    pending.map(async (p) => ({ label: p.label, x: [...curve.x], y: [...(await p.y.data())] })),
  );
  const path = join(dir, 'sinusoid-fit.svg');
  await writeSvg(
    path,
    regressionPlot({
      trueCurve: { x: [...curve.x], y: [...curve.y] },
      support: { x: [...sx], y: [...sy] },
      predictions,
      title: `${config.name}: K = ${shots}, ${config.trainer.algorithm} order ${config.trainer.order}`,
    }),
  );
  return path;
}

/**
 * The sampled task's amplitude and phase, recovered from its support points by least squares on
 * y = a sin x + b cos x (exact for noiseless sinusoid data), so the figure can draw the true curve.
 */
function recoverTask(x: ArrayLike<number>, y: ArrayLike<number>): { amplitude: number; phase: number } {
  let ss = 0;
  let sc = 0;
  let cc = 0;
  let ys = 0;
  let yc = 0;
  for (let i = 0; i < x.length; i++) {
    const si = Math.sin(x[i]!);
    const ci = Math.cos(x[i]!);
    ss += si * si;
    sc += si * ci;
    cc += ci * ci;
    ys += y[i]! * si;
    yc += y[i]! * ci;
  }
  const det = ss * cc - sc * sc;
  const a = (ys * cc - yc * sc) / det;
  const b = (yc * ss - ys * sc) / det;
  // A sin(x - p) = A cos p sin x - A sin p cos x
  return { amplitude: Math.hypot(a, b), phase: Math.atan2(-b, a) };
}
