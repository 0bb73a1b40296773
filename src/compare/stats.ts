/**
 * Small-sample statistics for comparisons across seeds. With 3 seeds the normal approximation (1.96 standard
 * errors) would understate the interval by more than half, so intervals use Student's t.
 */

// Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131,
  2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** The 97.5% quantile of Student's t with `df` degrees of freedom (1.96 beyond 30). */
export function tQuantile975(df: number): number {
  if (df < 1) return Number.NaN;
  return T975[df - 1] ?? 1.96;
}

/** Mean of a sample and the half-width of its 95% t confidence interval (NaN for a single value). */
export interface MeanCi {
  mean: number;
  ci95: number;
  n: number;
}

/** Mean with a 95% Student-t confidence half-width; one value gives `ci95: NaN` (no spread to estimate). */
export function meanCiT(values: readonly number[]): MeanCi {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, ci95: Number.NaN, n };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, ci95: Number.NaN, n };
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return { mean, ci95: (tQuantile975(n - 1) * Math.sqrt(variance)) / Math.sqrt(n), n };
}
