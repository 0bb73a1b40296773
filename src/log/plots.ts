import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../io/atomic.js';

/** One line of a {@link linePlot}, optionally with a shaded band (e.g. a 95% confidence interval). */
export interface LineSeries {
  name: string;
  x: readonly number[];
  y: readonly number[];
  band?: { lo: readonly number[]; hi: readonly number[] };
  /** The curves this line summarises (e.g. one per seed under their mean), drawn faint in the same colour. */
  members?: readonly { x: readonly number[]; y: readonly number[]; label?: string }[];
}

/** Options of {@link linePlot}. */
export interface LinePlotOptions {
  series: readonly LineSeries[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Logarithmic y axis (non-positive values are dropped, since they cannot be drawn). */
  logY?: boolean;
  /**
   * Values the metric can take; bands are clipped to it (an MSE or a speed is never negative). Default:
   * `[0, Infinity]` when every value drawn is non-negative, else unbounded.
   */
  yRange?: readonly [number, number];
  /** Integer x values (steps, iterations): integer ticks only. Default: when every x is an integer. */
  integerX?: boolean;
  /**
   * Keep the bulk of the values in view: values far outside the spread of the others (a diverged seed) are
   * left off the y range and marked with a triangle on the edge it crosses (default true).
   */
  robustY?: boolean;
  width?: number;
  height?: number;
}

/** Options of {@link regressionPlot} (MAML paper Figure 2 style). */
export interface RegressionPlotOptions {
  trueCurve: { x: readonly number[]; y: readonly number[] };
  support: { x: readonly number[]; y: readonly number[] };
  /** Model predictions, e.g. labelled `pre-update`, `1 grad step`, `10 grad steps`. */
  predictions: readonly { label: string; x: readonly number[]; y: readonly number[] }[];
  title?: string;
  width?: number;
  height?: number;
}

/** Plot inputs are inconsistent (e.g. x and y of different lengths). */
export class PlotError extends Error {
  override readonly name = 'PlotError';
}

function checkLengths(what: string, x: readonly number[], ...ys: (readonly number[])[]): void {
  for (const y of ys) {
    if (y.length !== x.length)
      throw new PlotError(`${what}: x has ${x.length} values but another column has ${y.length}`);
  }
}

/**
 * The number format of every plot axis (and of the dashboard): 4 significant digits, an exponent beyond
 * 1e5 or below 1e-3, so `1e+14` and `10,000,000,000` never share an axis.
 */
export const AXIS_NUMBER_EXPR =
  "abs(datum.value) >= 1e5 || (abs(datum.value) < 1e-3 && datum.value != 0) ? format(datum.value, '.2e') : format(datum.value, '.4~r')";

/** On a log axis only the 1, 2 and 5 of each decade are labelled. */
export const LOG_AXIS_EXPR = `indexof([1, 2, 5], round(datum.value / pow(10, floor(log(datum.value) / LN10 + 1e-9)))) < 0 ? '' : ${AXIS_NUMBER_EXPR}`;

function quantile(sorted: readonly number[], q: number): number {
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (i - lo);
}

/**
 * A y range holding the bulk of `values`: the 10th to 90th percentile widened by 1.5 times its span on each
 * side (in log10 on a log axis), never beyond the data. Returns undefined when nothing would be left out.
 */
export function robustRange(values: readonly number[], logY = false): [number, number] | undefined {
  const t = values
    .filter((v) => Number.isFinite(v) && (!logY || v > 0))
    .map((v) => (logY ? Math.log10(v) : v))
    .sort((a, b) => a - b);
  if (t.length < 4) return undefined;
  const q1 = quantile(t, 0.1);
  const q9 = quantile(t, 0.9);
  const span = Math.max(q9 - q1, 1e-12);
  const lo = Math.max(t[0]!, q1 - 1.5 * span);
  const hi = Math.min(t.at(-1)!, q9 + 1.5 * span);
  if (lo === t[0] && hi === t.at(-1)) return undefined;
  const back = (v: number) => (logY ? 10 ** v : v);
  return [back(lo), back(hi)];
}

/** Vega-Lite spec of a line plot (exposed so reports can embed or tweak it). */
export function linePlotSpec(o: LinePlotOptions): TopLevelSpec {
  const drawable = (x: number, y: number) => Number.isFinite(x) && Number.isFinite(y) && !(o.logY && y <= 0);
  const allY = o.series.flatMap((s) => [...s.y, ...(s.members ?? []).flatMap((m) => m.y)]);
  const range = o.yRange ?? (allY.every((v) => !Number.isFinite(v) || v >= 0) ? [0, Infinity] : undefined);
  const clamp = (v: number) => (range ? Math.min(range[1], Math.max(range[0], v)) : v);
  const rows: Record<string, number | string>[] = [];
  const memberRows: Record<string, number | string>[] = [];
  for (const s of o.series) {
    checkLengths(`series '${s.name}'`, s.x, s.y, ...(s.band ? [s.band.lo, s.band.hi] : []));
    s.x.forEach((x, i) => {
      const y = s.y[i]!;
      // NaN/Infinity (a diverged run) and, on a log axis, y <= 0 cannot be drawn; skip just those points.
      if (!drawable(x, y)) return;
      const row: Record<string, number | string> = { series: s.name, x, y };
      if (s.band) {
        // A mean ± CI of a non-negative metric stops at 0 rather than promising negative values.
        const lo = clamp(s.band.lo[i]!);
        const hi = clamp(s.band.hi[i]!);
        if (Number.isFinite(lo) && Number.isFinite(hi) && !(o.logY && lo <= 0))
          Object.assign(row, { lo, hi });
      }
      rows.push(row);
    });
    (s.members ?? []).forEach((m, k) => {
      checkLengths(`series '${s.name}' member ${k}`, m.x, m.y);
      m.x.forEach((x, i) => {
        if (drawable(x, m.y[i]!))
          memberRows.push({ series: s.name, member: m.label ?? String(k), x, y: m.y[i]! });
      });
    });
  }
  const names = o.series.map((s) => s.name);
  const integerX = o.integerX ?? rows.every((r) => Number.isInteger(r.x));
  const robust =
    o.robustY === false
      ? undefined
      : robustRange(
          [...rows, ...memberRows].map((r) => r.y as number),
          o.logY,
        );
  const yScale = {
    // A log axis is not widened to whole decades (that left most of it empty).
    ...(o.logY ? { type: 'log' as const, nice: false } : { zero: false }),
    ...(robust ? { domain: robust, nice: false } : {}),
  };
  const color = {
    field: 'series',
    type: 'nominal' as const,
    title: null,
    scale: { domain: names },
    legend: { symbolType: 'stroke', symbolStrokeWidth: 2.5, symbolOpacity: 1, labelLimit: 320 },
  };
  const x = {
    field: 'x',
    type: 'quantitative' as const,
    title: o.xLabel ?? 'x',
    scale: { zero: false },
    axis: integerX ? { format: 'd', tickMinStep: 1 } : { labelExpr: AXIS_NUMBER_EXPR },
  };
  const yAxis = { labelExpr: o.logY ? LOG_AXIS_EXPR : AXIS_NUMBER_EXPR };
  const hasBand = o.series.some((s) => s.band);
  const off: Record<string, number | string>[] = robust
    ? [...rows, ...memberRows]
        .filter((r) => (r.y as number) > robust[1] || (r.y as number) < robust[0])
        .map((r) => ({ ...r, edge: (r.y as number) > robust[1] ? robust[1] : robust[0] }))
    : [];
  const perSeries = Math.max(...o.series.map((s) => s.x.length), 0);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(o.title || off.length
      ? {
          title: {
            // A subtitle needs a title to hang from.
            text: o.title ?? ' ',
            ...(off.length
              ? {
                  subtitle: `${off.length} value(s) beyond the y range, marked ▲▼ at the edge (largest ${fmtNumber(Math.max(...off.map((r) => r.y as number)))})`,
                  subtitleColor: '#b42318',
                }
              : {}),
          },
        }
      : {}),
    width: o.width ?? 480,
    height: o.height ?? 300,
    background: 'white',
    data: { values: rows },
    layer: [
      ...(hasBand
        ? [
            {
              transform: [{ filter: 'isValid(datum.lo) && isValid(datum.hi)' }],
              mark: { type: 'area' as const, opacity: 0.12, clip: true },
              encoding: {
                x,
                y: { field: 'lo', type: 'quantitative' as const, scale: yScale },
                y2: { field: 'hi' },
                color,
              },
            },
          ]
        : []),
      ...(memberRows.length
        ? [
            {
              data: { values: memberRows },
              mark: { type: 'line' as const, opacity: 0.3, strokeWidth: 1, clip: true },
              encoding: {
                x,
                y: { field: 'y', type: 'quantitative' as const, scale: yScale },
                color,
                detail: { field: 'member', type: 'nominal' as const },
              },
            },
          ]
        : []),
      {
        mark: {
          type: 'line' as const,
          strokeWidth: memberRows.length ? 2.5 : 1.8,
          clip: true,
          // Markers show where the values were measured; long curves would be all markers.
          ...(perSeries <= 60 ? { point: { filled: true, size: 22 } } : {}),
        },
        encoding: {
          x,
          y: {
            field: 'y',
            type: 'quantitative' as const,
            title: o.yLabel ?? 'y',
            scale: yScale,
            axis: yAxis,
          },
          color,
        },
      },
      ...(off.length
        ? [
            {
              data: { values: off },
              mark: { type: 'point' as const, filled: true, size: 70, clip: false },
              encoding: {
                x,
                y: { field: 'edge', type: 'quantitative' as const, scale: yScale },
                color,
                shape: {
                  condition: { test: `datum.y > ${robust![1]}`, value: 'triangle-up' },
                  value: 'triangle-down',
                },
              },
            },
          ]
        : []),
    ],
  };
}

function fmtNumber(v: number): string {
  const a = Math.abs(v);
  if (!Number.isFinite(v)) return String(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/** Vega-Lite spec of a few-shot regression plot. */
export function regressionPlotSpec(o: RegressionPlotOptions): TopLevelSpec {
  checkLengths('trueCurve', o.trueCurve.x, o.trueCurve.y);
  checkLengths('support', o.support.x, o.support.y);
  const truth = 'ground truth';
  const curves: Record<string, number | string>[] = o.trueCurve.x.map((x, i) => ({
    series: truth,
    x,
    y: o.trueCurve.y[i]!,
  }));
  for (const p of o.predictions) {
    checkLengths(`prediction '${p.label}'`, p.x, p.y);
    p.x.forEach((x, i) => {
      if (Number.isFinite(p.y[i]!)) curves.push({ series: p.label, x, y: p.y[i]! });
    });
  }
  const supportLabel = `${o.support.x.length} support points`;
  const points = o.support.x.map((x, i) => ({ series: supportLabel, x, y: o.support.y[i]! }));
  const lines = [truth, ...o.predictions.map((p) => p.label)];
  // Truth solid, predictions dashed, as in the MAML paper's Figure 2; the legend shows the same strokes
  // (colour and dash merge into one legend), and the support points get their own legend with a dot.
  const legend = { symbolType: 'stroke', symbolStrokeWidth: 2.5, symbolSize: 300 };
  const xEnc = {
    field: 'x',
    type: 'quantitative' as const,
    title: 'x',
    axis: { labelExpr: AXIS_NUMBER_EXPR },
  };
  const yEnc = {
    field: 'y',
    type: 'quantitative' as const,
    title: 'y',
    axis: { labelExpr: AXIS_NUMBER_EXPR },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(o.title ? { title: o.title } : {}),
    width: o.width ?? 480,
    height: o.height ?? 300,
    background: 'white',
    layer: [
      {
        data: { values: curves },
        mark: { type: 'line' as const, strokeWidth: 2 },
        encoding: {
          x: xEnc,
          y: yEnc,
          color: { field: 'series', type: 'nominal' as const, title: null, scale: { domain: lines }, legend },
          strokeDash: {
            field: 'series',
            type: 'nominal' as const,
            title: null,
            scale: { domain: lines, range: lines.map((l) => (l === truth ? [1, 0] : [6, 3])) },
            legend,
          },
        },
      },
      {
        data: { values: points },
        mark: { type: 'point' as const, filled: true, size: 60, color: 'black' },
        encoding: {
          x: xEnc,
          y: yEnc,
          shape: {
            field: 'series',
            type: 'nominal' as const,
            title: null,
            scale: { domain: [supportLabel], range: ['circle'] },
          },
        },
      },
    ],
    resolve: { legend: { shape: 'independent' } },
  };
}

/** Renders a Vega-Lite spec to an SVG string, headless (no browser or canvas needed). */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** SVG of a line plot: meta-training curves, learning-curve overlays, cost vs inner steps. */
export async function linePlot(options: LinePlotOptions): Promise<string> {
  return renderSvg(linePlotSpec(options));
}

/** SVG of a few-shot regression plot: true sine, K support points, predictions after 0/1/10 steps. */
export async function regressionPlot(options: RegressionPlotOptions): Promise<string> {
  return renderSvg(regressionPlotSpec(options));
}

/** Writes an SVG atomically (a report viewer never sees half a file). */
export async function writeSvg(path: string, svg: string | Promise<string>): Promise<void> {
  await writeFileAtomic(path, await svg);
}
