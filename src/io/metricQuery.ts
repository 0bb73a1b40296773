import type { MetricColumns } from './metrics.js';

/** One curve pulled out of a metrics table. */
export interface MetricCurve {
  /** Split of a long-format row (`train`, `val`, ...), or undefined for wide columns. */
  split?: string;
  x: number[];
  y: number[];
}

/** Metric names a table holds: numeric wide columns plus the distinct values of a long `metric` column. */
export function metricNames(cols: MetricColumns): string[] {
  const names = new Set<string>();
  for (const [k, values] of Object.entries(cols)) {
    if (['iteration', 'value', 'split', 'metric'].includes(k)) continue;
    // Numbers in long rows (shots, steps, ci95...) describe that row's metric; they are not metrics themselves.
    if (values.some((v, i) => typeof v === 'number' && typeof cols.metric?.[i] !== 'string')) names.add(k);
  }
  for (const v of cols.metric ?? []) if (typeof v === 'string') names.add(v);
  return [...names].sort();
}

/**
 * Curves of `metric` against iteration: from long rows (`metric` column equal to the name, one curve per
 * split unless `split` picks one) and/or from a wide column of that name. Null cells are skipped.
 */
export function selectMetric(cols: MetricColumns, metric: string, split?: string): MetricCurve[] {
  const it = cols.iteration ?? [];
  const curves: MetricCurve[] = [];
  if (cols.metric && cols.value) {
    const bySplit = new Map<string, MetricCurve>();
    cols.metric.forEach((m, i) => {
      const v = cols.value![i];
      const s = typeof cols.split?.[i] === 'string' ? (cols.split[i] as string) : '';
      if (m !== metric || typeof v !== 'number' || (split !== undefined && s !== split)) return;
      let c = bySplit.get(s);
      if (!c) {
        c = { ...(s ? { split: s } : {}), x: [], y: [] };
        bySplit.set(s, c);
      }
      c.x.push(it[i] as number);
      c.y.push(v);
    });
    curves.push(...bySplit.values());
  }
  const wide = cols[metric];
  if (wide && split === undefined) {
    const c: MetricCurve = { x: [], y: [] };
    wide.forEach((v, i) => {
      if (typeof v === 'number' && typeof cols.metric?.[i] !== 'string') {
        c.x.push(it[i] as number);
        c.y.push(v);
      }
    });
    if (c.x.length > 0) curves.push(c);
  }
  return curves;
}
