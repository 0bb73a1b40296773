import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { linePlot, linePlotSpec, PlotError, regressionPlot, writeSvg } from '../../src/log/plots.js';

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
