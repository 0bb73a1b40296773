import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { metricNames, selectMetric } from '../../src/io/metricQuery.js';
import { MetricsError, MetricsLog, readMetrics, readRunMetrics } from '../../src/io/metrics.js';

describe('MetricsLog', () => {
  it('round-trips long and wide rows through Arrow', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-metrics-'));
    const log = await MetricsLog.open(dir);
    log.append({ iteration: 100, metaLoss: 1.5, itPerSec: 12.5 });
    log.append([
      { iteration: 100, split: 'val', metric: 'accuracy', value: 0.5, steps: 5 },
      { iteration: 200, metaLoss: Number.NaN, itPerSec: 13, diverged: true },
    ]);
    await log.flush();
    const cols = await readMetrics(log.arrowPath);
    expect(Object.keys(cols)).toEqual([
      'iteration',
      'split',
      'metric',
      'value',
      'metaLoss',
      'itPerSec',
      'steps',
      'diverged',
    ]);
    expect(cols.iteration).toEqual([100, 100, 200]);
    expect(cols.split).toEqual([null, 'val', null]);
    expect(cols.value).toEqual([null, 0.5, null]);
    expect(cols.metaLoss![0]).toBe(1.5);
    expect(cols.metaLoss![2]).toBeNaN();
    expect(cols.diverged).toEqual([null, null, true]);
    const table = tableFromIPC(readFileSync(log.arrowPath));
    expect(String(table.schema.fields.find((f) => f.name === 'iteration')!.type)).toBe('Int32');
    expect(String(table.schema.fields.find((f) => f.name === 'metaLoss')!.type)).toBe('Float64');
    // The JSONL sidecar holds the same rows (NaN survives).
    const fromJsonl = await readMetrics(log.jsonlPath);
    expect(fromJsonl.iteration).toEqual([100, 100, 200]);
    expect(fromJsonl.metaLoss![2]).toBeNaN();
  });

  it('rejects bad rows without writing anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-metrics-'));
    const log = await MetricsLog.open(dir);
    log.append({ iteration: 1, loss: 1 });
    expect(() =>
      log.append([
        { iteration: 2, loss: 2 },
        { iteration: 3, loss: 'x' },
      ]),
    ).toThrow(MetricsError);
    expect(() => log.append({ iteration: -1 })).toThrow(/non-negative integer 'iteration'/);
    expect(log.rows).toHaveLength(1);
    expect(readFileSync(log.jsonlPath, 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it('recovers from a crash: torn last line skipped, JSONL preferred when ahead, resume truncates', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-metrics-'));
    const log = await MetricsLog.open(dir);
    log.append({ iteration: 10, loss: 1 });
    await log.flush();
    log.append([
      { iteration: 20, loss: 0.5 },
      { iteration: 30, loss: 0.25 },
    ]);
    appendFileSync(log.jsonlPath, '{"iteration": 40, "lo');
    expect((await readRunMetrics(dir)).iteration).toEqual([10, 20, 30]);
    const resumed = await MetricsLog.open(dir, { keepUpTo: 20 });
    expect(resumed.rows.map((r) => r.iteration)).toEqual([10, 20]);
    resumed.append({ iteration: 30, loss: 0.3 });
    await resumed.flush();
    expect(await readRunMetrics(dir)).toEqual({ iteration: [10, 20, 30], loss: [1, 0.5, 0.3] });
  });

  it('selects curves from long and wide columns', () => {
    const cols = {
      iteration: [1, 1, 1, 2, 2],
      split: [null, 'train', 'val', 'train', null],
      metric: [null, 'acc', 'acc', 'acc', null],
      value: [null, 0.1, 0.2, 0.3, null],
      steps: [null, 5, 5, 5, null],
      metaLoss: [3, null, null, null, 2],
    };
    expect(metricNames(cols)).toEqual(['acc', 'metaLoss']);
    expect(selectMetric(cols, 'acc')).toEqual([
      { split: 'train', x: [1, 2], y: [0.1, 0.3] },
      { split: 'val', x: [1], y: [0.2] },
    ]);
    expect(selectMetric(cols, 'acc', 'val')).toEqual([{ split: 'val', x: [1], y: [0.2] }]);
    expect(selectMetric(cols, 'metaLoss')).toEqual([{ x: [1, 2], y: [3, 2] }]);
  });
});
