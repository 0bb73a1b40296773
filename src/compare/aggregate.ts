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

/** One (method, inner steps) cell, aggregated over seeds. */
export interface VariantGroup {
  /** `o1`/`o2` (`--orders`) or an algorithm variant such as `fomaml` (`--algorithms`). */
  method: string;
  /** `trainer.algorithm` of its variants (absent in older runs: MAML). */
  algorithm?: string;
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
  /** Wall-clock milliseconds per meta-iteration (1000 / it/s of each seed). */
  msPerIt: MeanCi;
  peakRssMb: MeanCi;
  /** Peak RSS up to the end of training above the RSS before setup: the run's own memory. */
  trainRssMb: MeanCi;
  trainSeconds: MeanCi;
  /** Test metric against inner steps at test time (K = the chosen shots), mean over seeds. */
  adaptation: { steps: number; value: MeanCi }[];
  /** Meta-loss against iteration, mean over the seeds that logged each iteration. */
  curve: { x: number[]; y: number[] };
}

/**
 * One method against the baseline (the first method: order 1 for `--orders 1,2`, else the first of
 * `--algorithms`) at one number of inner steps.
 */
export interface OrderRatio {
  innerSteps: number;
  method: string;
  baseline: string;
  /** final(method) / final(baseline), of the means over seeds. */
  metric: number;
  /** Paired over seeds (same init and task stream): method minus baseline, with a 95% t interval. */
  metricDiff: MeanCi;
  itPerSec: number;
  cpuItPerSec: number;
  msPerIt: number;
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

/**
 * Groups variant records by (method, inner steps), averages over seeds and pairs each method with the
 * baseline seed by seed. `methods` is the order asked for (the first is the baseline); methods it does not
 * list sort after it by name.
 */
export function aggregate(
  records: readonly VariantRecord[],
  choice: MetricChoice,
  methods: readonly string[] = [],
): ComparisonSummary {
  const rank = (m: string) => {
    const i = methods.indexOf(m);
    return i >= 0 ? i : methods.length;
  };
  const byRank = (a: string, b: string) => rank(a) - rank(b) || a.localeCompare(b);
  const keys = [...new Set(records.map((r) => JSON.stringify([r.innerSteps, r.method])))];
  const groups: VariantGroup[] = keys.map((key) => {
    const [innerSteps, method] = JSON.parse(key) as [number, string];
    const rs = records.filter((r) => r.innerSteps === innerSteps && r.method === method);
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
    const algorithm = rs[0]!.algorithm;
    return {
      method,
      ...(algorithm ? { algorithm } : {}),
      order: rs[0]!.order,
      innerSteps,
      seeds: rs.map((r) => r.seed),
      completed: done.length,
      total: rs.length,
      final: meanCiT(perSeed.map((p) => p.mean)),
      perSeed,
      itPerSec: meanCiT(done.flatMap((r) => num(r.results!.metaItPerSec))),
      cpuItPerSec: meanCiT(done.flatMap((r) => num(r.resources?.cpuItPerSec))),
      msPerIt: meanCiT(done.flatMap((r) => num(1000 / r.results!.metaItPerSec!))),
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
  groups.sort((a, b) => a.innerSteps - b.innerSteps || byRank(a.method, b.method));
  const ratios: OrderRatio[] = [];
  for (const k of [...new Set(groups.map((g) => g.innerSteps))]) {
    const [g1, ...others] = groups.filter((g) => g.innerSteps === k);
    for (const g2 of others) {
      const diffs = g2.perSeed.flatMap((p2) => {
        const p1 = g1!.perSeed.find((p) => p.seed === p2.seed);
        return p1 ? [p2.mean - p1.mean] : [];
      });
      ratios.push({
        innerSteps: k,
        method: g2.method,
        baseline: g1!.method,
        metric: g2.final.mean / g1!.final.mean,
        metricDiff: meanCiT(diffs),
        itPerSec: g2.itPerSec.mean / g1!.itPerSec.mean,
        cpuItPerSec: g2.cpuItPerSec.mean / g1!.cpuItPerSec.mean,
        msPerIt: g2.msPerIt.mean / g1!.msPerIt.mean,
        peakRssMb: g2.peakRssMb.mean / g1!.peakRssMb.mean,
        trainRssMb: g2.trainRssMb.mean / g1!.trainRssMb.mean,
        trainSeconds: g2.trainSeconds.mean / g1!.trainSeconds.mean,
      });
    }
  }
  return { choice, groups, ratios };
}
