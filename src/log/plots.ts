import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { writeFileAtomic } from '../io/atomic.js';

/** One line of a {@link linePlot}, optionally with a shaded band (e.g. a 95% confidence interval). */
export interface LineSeries {
  name: string;
  x: readonly number[];
  y: readonly number[];
  band?: { lo: readonly number[]; hi: readonly number[] };
}

/** Options of {@link linePlot}. */
export interface LinePlotOptions {
  series: readonly LineSeries[];
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Logarithmic y axis (non-positive values are dropped, since they cannot be drawn). */
  logY?: boolean;
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

/** Vega-Lite spec of a line plot (exposed so reports can embed or tweak it). */
export function linePlotSpec(o: LinePlotOptions): TopLevelSpec {
  const rows: Record<string, number | string>[] = [];
  for (const s of o.series) {
    checkLengths(`series '${s.name}'`, s.x, s.y, ...(s.band ? [s.band.lo, s.band.hi] : []));
    s.x.forEach((x, i) => {
      const y = s.y[i]!;
      // NaN/Infinity (a diverged run) and, on a log axis, y <= 0 cannot be drawn; skip just those points.
      if (!Number.isFinite(x) || !Number.isFinite(y) || (o.logY && y <= 0)) return;
      const row: Record<string, number | string> = { series: s.name, x, y };
      if (s.band) {
        const lo = s.band.lo[i]!;
        const hi = s.band.hi[i]!;
        if (Number.isFinite(lo) && Number.isFinite(hi) && !(o.logY && lo <= 0))
          Object.assign(row, { lo, hi });
      }
      rows.push(row);
    });
  }
  const names = o.series.map((s) => s.name);
  const yScale = o.logY ? { type: 'log' as const } : { zero: false };
  const color = { field: 'series', type: 'nominal' as const, title: null, scale: { domain: names } };
  const x = { field: 'x', type: 'quantitative' as const, title: o.xLabel ?? 'x' };
  const hasBand = o.series.some((s) => s.band);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(o.title ? { title: o.title } : {}),
    width: o.width ?? 480,
    height: o.height ?? 300,
    background: 'white',
    data: { values: rows },
    layer: [
      ...(hasBand
        ? [
            {
              transform: [{ filter: 'isValid(datum.lo) && isValid(datum.hi)' }],
              mark: { type: 'area' as const, opacity: 0.2 },
              encoding: {
                x,
                y: { field: 'lo', type: 'quantitative' as const, scale: yScale },
                y2: { field: 'hi' },
                color,
              },
            },
          ]
        : []),
      {
        mark: { type: 'line' as const },
        encoding: {
          x,
          y: { field: 'y', type: 'quantitative' as const, title: o.yLabel ?? 'y', scale: yScale },
          color,
        },
      },
    ],
  };
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
  const domain = [truth, ...o.predictions.map((p) => p.label), supportLabel];
  const color = { field: 'series', type: 'nominal' as const, title: null, scale: { domain } };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    ...(o.title ? { title: o.title } : {}),
    width: o.width ?? 480,
    height: o.height ?? 300,
    background: 'white',
    layer: [
      {
        data: { values: curves },
        mark: { type: 'line' as const },
        encoding: {
          x: { field: 'x', type: 'quantitative' as const, title: 'x' },
          y: { field: 'y', type: 'quantitative' as const, title: 'y' },
          color,
          // Predictions dashed, truth solid, as in the MAML paper's Figure 2.
          strokeDash: {
            condition: { test: `datum.series === '${truth.replace(/'/g, "\\'")}'`, value: [1, 0] },
            value: [6, 3],
          },
        },
      },
      {
        data: { values: points },
        mark: { type: 'point' as const, filled: true, size: 60 },
        encoding: {
          x: { field: 'x', type: 'quantitative' as const },
          y: { field: 'y', type: 'quantitative' as const },
          color,
        },
      },
    ],
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
