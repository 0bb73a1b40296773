import type { ScoreCell, VariantRecord } from './collect.js';
import { type MeanCi, meanCiT } from './stats.js';

/** Which test number a comparison ranks by: the metric after `steps` inner steps from K = `shots`. */
export interface MetricChoice {
  metric: string;
  shots: number;
  steps: number;
  /** Key in `summary.json` results, e.g. `test/mse@K10/10steps`. */
  key: string;
}

/** One (order, inner steps) cell, aggregated over seeds. */
export interface VariantGroup {
  order: number;
  innerSteps: number;
  seeds: number[];
  /** Completed seeds / all seeds of this cell. */
  completed: number;
  total: number;
  /** The chosen test metric: mean over seeds with a 95% t interval across seeds. */
  final: MeanCi;
  /** Each seed's value with its own 95% interval over evaluation tasks. */
  perSeed: { seed: number; mean: number; ci95: number; tasks: number }[];
  /** Wall-clock meta-iterations per second over the whole training (depends on what else runs). */
  itPerSec: MeanCi;
  /** Meta-iterations per CPU second of the training loop (robust to other load on the machine). */
  cpuItPerSec: MeanCi;
  peakRssMb: MeanCi;
  /** Peak RSS up to the end of training above the RSS before setup: the run's own memory. */
  trainRssMb: MeanCi;
  trainSeconds: MeanCi;
  /** Test metric against inner steps at test time (K = the chosen shots), mean over seeds. */
  adaptation: { steps: number; value: MeanCi }[];
  /** Meta-loss against iteration, mean over the seeds that logged each iteration. */
  curve: { x: number[]; y: number[] };
}

/** Second order against first order at one number of inner steps. */
export interface OrderRatio {
  innerSteps: number;
  /** final(order 2) / final(order 1), of the means over seeds. */
  metric: number;
  /** Paired over seeds (same init and task stream): order 2 minus order 1, with a 95% t interval. */
  metricDiff: MeanCi;
  itPerSec: number;
  cpuItPerSec: number;
  peakRssMb: number;
  trainRssMb: number;
  trainSeconds: number;
}

/** Everything a comparison report shows. */
export interface ComparisonSummary {
  choice: MetricChoice;
  groups: VariantGroup[];
  ratios: OrderRatio[];
}

/**
 * Picks the headline test number: at the training support size when it was evaluated (else the first
 * evaluated K), after the most inner steps evaluated.
 */
export function chooseMetric(
  records: readonly VariantRecord[],
  prefer: { shots?: number; steps?: number } = {},
): MetricChoice | undefined {
  const withTable = records.find((r) => r.table && r.metric);
  if (!withTable) return undefined;
  const table = withTable.table!;
  const shots = prefer.shots ?? table.find((t) => t.shots === withTable.trainShots)?.shots ?? table[0]!.shots;
  const row = table.find((t) => t.shots === shots) ?? table[0]!;
  const steps = prefer.steps ?? Math.max(...row.scores.map((s) => s.steps));
  const metric = withTable.metric!;
  return { metric, shots: row.shots, steps, key: `test/${metric}@K${row.shots}/${steps}steps` };
}

function cellOf(r: VariantRecord, shots: number, steps: number): ScoreCell | undefined {
  return r.table?.find((t) => t.shots === shots)?.scores.find((s) => s.steps === steps);
}

function meanCurve(curves: readonly { x: number[]; y: number[] }[]): { x: number[]; y: number[] } {
  const sums = new Map<number, { sum: number; n: number }>();
  for (const c of curves) {
    c.x.forEach((x, i) => {
      const e = sums.get(x) ?? { sum: 0, n: 0 };
      e.sum += c.y[i]!;
      e.n++;
      sums.set(x, e);
    });
  }
  const xs = [...sums.keys()].sort((a, b) => a - b);
  return { x: xs, y: xs.map((x) => sums.get(x)!.sum / sums.get(x)!.n) };
}

const num = (v: number | undefined): number[] => (v === undefined || !Number.isFinite(v) ? [] : [v]);

/** Groups variant records by (order, inner steps), averages over seeds and pairs the orders. */
export function aggregate(records: readonly VariantRecord[], choice: MetricChoice): ComparisonSummary {
  const keys = [...new Set(records.map((r) => `${r.innerSteps}:${r.order}`))];
  const groups: VariantGroup[] = keys.map((key) => {
    const [innerSteps, order] = key.split(':').map(Number) as [number, number];
    const rs = records.filter((r) => r.innerSteps === innerSteps && r.order === order);
    const done = rs.filter((r) => r.results);
    const perSeed = done.flatMap((r) => {
      const c = cellOf(r, choice.shots, choice.steps);
      return c ? [{ seed: r.seed, mean: c.mean, ci95: c.ci95, tasks: c.tasks }] : [];
    });
    const evalSteps = [
      ...new Set(
        done.flatMap((r) => r.table?.find((t) => t.shots === choice.shots)?.scores.map((s) => s.steps) ?? []),
      ),
    ].sort((a, b) => a - b);
    return {
      order,
      innerSteps,
      seeds: rs.map((r) => r.seed),
      completed: done.length,
      total: rs.length,
      final: meanCiT(perSeed.map((p) => p.mean)),
      perSeed,
      itPerSec: meanCiT(done.flatMap((r) => num(r.results!.metaItPerSec))),
      cpuItPerSec: meanCiT(done.flatMap((r) => num(r.resources?.cpuItPerSec))),
      peakRssMb: meanCiT(done.flatMap((r) => num(r.results!.peakRssMb))),
      trainRssMb: meanCiT(done.flatMap((r) => num(r.resources?.trainRssMb))),
      trainSeconds: meanCiT(done.flatMap((r) => num(r.results!.trainSeconds))),
      adaptation: evalSteps.map((steps) => ({
        steps,
        value: meanCiT(done.flatMap((r) => num(cellOf(r, choice.shots, steps)?.mean))),
      })),
      curve: meanCurve(rs.map((r) => r.curve)),
    };
  });
  groups.sort((a, b) => a.innerSteps - b.innerSteps || a.order - b.order);
  const ratios: OrderRatio[] = [];
  for (const k of [...new Set(groups.map((g) => g.innerSteps))]) {
    const g1 = groups.find((g) => g.innerSteps === k && g.order === 1);
    const g2 = groups.find((g) => g.innerSteps === k && g.order === 2);
    if (!g1 || !g2) continue;
    const diffs = g2.perSeed.flatMap((p2) => {
      const p1 = g1.perSeed.find((p) => p.seed === p2.seed);
      return p1 ? [p2.mean - p1.mean] : [];
    });
    ratios.push({
      innerSteps: k,
      metric: g2.final.mean / g1.final.mean,
      metricDiff: meanCiT(diffs),
      itPerSec: g2.itPerSec.mean / g1.itPerSec.mean,
      cpuItPerSec: g2.cpuItPerSec.mean / g1.cpuItPerSec.mean,
      peakRssMb: g2.peakRssMb.mean / g1.peakRssMb.mean,
      trainRssMb: g2.trainRssMb.mean / g1.trainRssMb.mean,
      trainSeconds: g2.trainSeconds.mean / g1.trainSeconds.mean,
    });
  }
  return { choice, groups, ratios };
}
