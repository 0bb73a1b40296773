import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  linePlot,
  linePlotSpec,
  PlotError,
  regressionPlot,
  regressionPlotSpec,
  writeSvg,
} from '../../src/log/plots.js';

function expectSvg(svg: string): void {
  expect(svg.startsWith('<svg')).toBe(true);
  expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  expect(svg).toContain('xmlns="http://www.w3.org/2000/svg"');
}

describe('plots', () => {
  it('draws line series with bands, labels and a log axis', async () => {
    const x = [0, 100, 200, 300];
    const svg = await linePlot({
      series: [
        {
          name: 'maml-2nd-order',
          x,
          y: [2, 1, 0.5, 0.25],
          band: { lo: [1.5, 0.8, 0.4, 0.2], hi: [2.5, 1.2, 0.6, 0.3] },
        },
        { name: 'fomaml', x, y: [2, 1.2, Number.NaN, 0.4] },
      ],
      title: 'meta-training loss',
      xLabel: 'iteration',
      yLabel: 'query MSE',
      logY: true,
    });
    expectSvg(svg);
    for (const text of ['maml-2nd-order', 'fomaml', 'meta-training loss', 'iteration', 'query MSE'])
      expect(svg).toContain(text);
    expect(svg).toMatch(/<path[^>]*d="M/); // lines were drawn
  });

  it('drops points a log axis cannot show and rejects ragged input', () => {
    const spec = linePlotSpec({ series: [{ name: 's', x: [1, 2, 3], y: [0, 1, 2] }], logY: true }) as {
      data: { values: unknown[] };
    };
    expect(spec.data.values).toHaveLength(2);
    expect(() => linePlotSpec({ series: [{ name: 's', x: [1, 2], y: [1] }] })).toThrow(PlotError);
  });

  it('draws the MAML Figure 2 style regression plot', async () => {
    const xs = Array.from({ length: 101 }, (_, i) => -5 + i / 10);
    const svg = await regressionPlot({
      trueCurve: { x: xs, y: xs.map((v) => 3 * Math.sin(v + 1)) },
      support: { x: [-4, -2, 0, 1, 3], y: [1, -2, 2.5, 2.7, -2] },
      predictions: [
        { label: 'pre-update', x: xs, y: xs.map(() => 0) },
        { label: '1 grad step', x: xs, y: xs.map((v) => 2 * Math.sin(v + 1)) },
        { label: '10 grad steps', x: xs, y: xs.map((v) => 2.9 * Math.sin(v + 1)) },
      ],
      title: 'K=5',
    });
    expectSvg(svg);
    for (const text of ['ground truth', '5 support points', 'pre-update', '1 grad step', '10 grad steps'])
      expect(svg).toContain(text);
    expect(svg).toContain('stroke-dasharray');
  });

  it('writes SVG files atomically', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-plot-'));
    const file = join(dir, 'curve.svg');
    await writeSvg(file, linePlot({ series: [{ name: 'a', x: [0, 1], y: [1, 2] }] }));
    expectSvg(readFileSync(file, 'utf8'));
    expect(readdirSync(dir)).toEqual(['curve.svg']);
  });
});

describe('plots a researcher would publish', () => {
  type Layer = {
    data?: { values: Record<string, unknown>[] };
    mark: { type: string; point?: unknown; opacity?: number };
    encoding: Record<string, { axis?: Record<string, unknown>; scale?: Record<string, unknown> } | undefined>;
  };
  type Spec = {
    data: { values: Record<string, number>[] };
    layer: Layer[];
    title?: { text: string; subtitle?: string };
  };
  const x = [1, 2, 5];

  it('marks measured points, uses integer ticks for integer x and clips intervals at 0', () => {
    const spec = linePlotSpec({
      series: [{ name: 'o1', x, y: [0.1, 0.05, 0.02], band: { lo: [-0.2, -0.1, 0], hi: [0.4, 0.2, 0.04] } }],
    }) as unknown as Spec;
    const line = spec.layer.find((l) => l.mark.type === 'line')!;
    expect(line.mark.point).toBeTruthy();
    expect(line.encoding.x!.axis).toMatchObject({ format: 'd', tickMinStep: 1 });
    expect(Math.min(...spec.data.values.map((r) => r.lo!))).toBe(0);
    // An explicit range (accuracy) clips the top too.
    const acc = linePlotSpec({
      series: [{ name: 'a', x, y: [0.9, 0.95, 0.99], band: { lo: [0.8, 0.9, 0.95], hi: [1, 1.05, 1.1] } }],
      yRange: [0, 1],
    }) as unknown as Spec;
    expect(Math.max(...acc.data.values.map((r) => r.hi!))).toBe(1);
  });

  it('keeps the bulk in view when one seed diverges, marks what it clips, draws seeds under the mean', async () => {
    const it = Array.from({ length: 30 }, (_, i) => (i + 1) * 100);
    const seed = (k: number) => it.map((_, i) => 4 / (1 + i / 5) + 0.01 * k);
    const spiked = seed(2).map((v, i) => (i === 20 ? 1e14 : v));
    const members = [seed(0), seed(1), spiked].map((y, k) => ({ x: it, y, label: `seed ${k}` }));
    const mean = it.map((_, i) => (members[0]!.y[i]! + members[1]!.y[i]! + members[2]!.y[i]!) / 3);
    const o = { series: [{ name: 'order 1, 5 inner', x: it, y: mean, members }], logY: true, title: 'loss' };
    const spec = linePlotSpec(o) as unknown as Spec;
    const main = spec.layer.find((l) => l.mark.type === 'line' && l.mark.opacity === undefined)!;
    const domain = main.encoding.y!.scale!.domain as number[];
    expect(domain[1]).toBeLessThan(100);
    expect(spec.title!.subtitle).toMatch(/2 value\(s\) beyond the y range.*1\.00e\+14/);
    const faint = spec.layer.find((l) => l.mark.opacity !== undefined && l.mark.type === 'line')!;
    expect(faint.data!.values).toHaveLength(90);
    expect(spec.layer.some((l) => l.mark.type === 'point')).toBe(true);
    const svg = await linePlot(o);
    expect(svg).not.toContain('10,000,000,000');
    expect(svg).toContain('1.00e+14');
  });

  it('draws the Figure-2 legend as strokes (solid truth, dashed predictions) and the support as dots', () => {
    const xs = [0, 1, 2];
    const spec = regressionPlotSpec({
      trueCurve: { x: xs, y: xs },
      support: { x: [1], y: [1] },
      predictions: [{ label: 'pre-update', x: xs, y: xs }],
    }) as unknown as Spec;
    const lines = spec.layer[0]!.encoding;
    expect((lines.strokeDash as { scale: { range: unknown } }).scale.range).toEqual([
      [1, 0],
      [6, 3],
    ]);
    expect((lines.color as { legend: { symbolType: string } }).legend.symbolType).toBe('stroke');
    expect(spec.layer[1]!.encoding.shape).toBeDefined();
  });
});
