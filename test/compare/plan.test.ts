import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/errors.js';
import { normalizeGridSpec, parseShard, shardItems } from '../../src/cli/shard.js';
import { aggregate, chooseMetric } from '../../src/compare/aggregate.js';
import type { VariantRecord } from '../../src/compare/collect.js';
import {
  orderMethods,
  parseAlgorithms,
  parseIntList,
  parseSeeds,
  planVariants,
} from '../../src/compare/plan.js';
import { groupHeader, groupRows, ratioHeader, ratioRows } from '../../src/compare/report.js';
import { meanCiT, tQuantile975 } from '../../src/compare/stats.js';
import { expandGrid, parseAxis } from '../../src/config/sweep.js';

describe('comparison plan', () => {
  it('parses lists and seed counts', () => {
    expect(parseIntList('--orders', '1, 2,2')).toEqual([1, 2]);
    expect(() => parseIntList('--orders', '1,x')).toThrow(UsageError);
    expect(parseSeeds('3', 10)).toEqual([10, 11, 12]);
    expect(parseSeeds('0,7,9', 10)).toEqual([0, 7, 9]);
    expect(() => parseSeeds('0', 0)).toThrow(/at least 1/);
  });

  it('gives both orders the same seeds, orders side by side', () => {
    const v = planVariants({ methods: orderMethods([1, 2]), innerSteps: [1, 5], seeds: [0, 1] });
    expect(v.map((x) => x.id)).toEqual([
      'o1-k1-s0',
      'o2-k1-s0',
      'o1-k1-s1',
      'o2-k1-s1',
      'o1-k5-s0',
      'o2-k5-s0',
      'o1-k5-s1',
      'o2-k5-s1',
    ]);
    expect(v[1]).toEqual({ id: 'o2-k1-s0', method: 'o2', order: 2, innerSteps: 1, seed: 0 });
    expect(() => orderMethods([3])).toThrow(/orders are 1 and 2/);
  });

  it('takes --algorithms from the registry: fo<name> is order 1, order-free algorithms set no order', () => {
    const methods = parseAlgorithms('maml, fomaml,imaml,maml');
    expect(methods).toEqual([
      { name: 'maml', algorithm: 'maml', order: 2 },
      { name: 'fomaml', algorithm: 'maml', order: 1 },
      { name: 'imaml', algorithm: 'imaml' },
    ]);
    const v = planVariants({ methods, innerSteps: [5], seeds: [1] });
    expect(v.map((x) => x.id)).toEqual(['maml-k5-s1', 'fomaml-k5-s1', 'imaml-k5-s1']);
    expect(v[1]).toMatchObject({ method: 'fomaml', algorithm: 'maml', order: 1 });
    expect(parseAlgorithms('foanil,reptile').map((m) => [m.algorithm, m.order])).toEqual([
      ['anil', 1],
      ['reptile', undefined],
    ]);
  });

  it('names the allowed values when an algorithm is unknown', () => {
    expect(() => parseAlgorithms('maml,fomal')).toThrow(UsageError);
    expect(() => parseAlgorithms('maml,fomal')).toThrow(
      "--algorithms: unknown 'fomal'; allowed: maml, fomaml, anil, foanil, metasgd, fometasgd, mamlpp, fomamlpp, reptile, pretrain, imaml",
    );
    // First-order iMAML or Reptile would be the same runs: the order matters only where the registry says so.
    expect(() => parseAlgorithms('foimaml')).toThrow(/unknown 'foimaml'/);
    expect(() => parseAlgorithms(' , ')).toThrow(UsageError);
  });
});

describe('statistics across seeds', () => {
  it('uses Student t for small samples', () => {
    expect(tQuantile975(2)).toBeCloseTo(4.303, 3);
    expect(tQuantile975(100)).toBe(1.96);
    const m = meanCiT([1, 2, 3]);
    expect(m.mean).toBe(2);
    expect(m.ci95).toBeCloseTo((4.303 * 1) / Math.sqrt(3), 6);
    expect(meanCiT([5]).ci95).toBeNaN();
  });

  it('aggregates per (order, inner steps) and pairs the orders seed by seed', () => {
    const rec = (order: number, seed: number, mse: number, itPerSec: number): VariantRecord => ({
      id: `o${order}-k1-s${seed}`,
      dir: '/x',
      method: `o${order}`,
      order,
      innerSteps: 1,
      seed,
      trainShots: 10,
      state: 'completed',
      metric: 'mse',
      results: { metaItPerSec: itPerSec, peakRssMb: 100 * order, trainSeconds: 10 / itPerSec },
      table: [
        {
          shots: 10,
          scores: [
            { steps: 0, mean: 3, ci95: 0.1, tasks: 5 },
            { steps: 10, mean: mse, ci95: 0.01, tasks: 5 },
          ],
        },
      ],
      curve: { x: [1, 2], y: [seed + 1, seed] },
    });
    const records = [rec(1, 0, 0.4, 100), rec(1, 1, 0.6, 100), rec(2, 0, 0.3, 50), rec(2, 1, 0.4, 50)];
    const choice = chooseMetric(records)!;
    expect(choice).toEqual({ metric: 'mse', shots: 10, steps: 10, key: 'test/mse@K10/10steps' });
    const s = aggregate(records, choice);
    expect(s.groups.map((g) => [g.order, g.final.mean])).toEqual([
      [1, 0.5],
      [2, 0.35],
    ]);
    expect(s.groups[0]!.curve).toEqual({ x: [1, 2], y: [1.5, 0.5] });
    expect(s.groups[0]!.adaptation.map((a) => a.steps)).toEqual([0, 10]);
    expect(s.groups.map((g) => g.msPerIt.mean)).toEqual([10, 20]);
    const r = s.ratios[0]!;
    expect([r.method, r.baseline]).toEqual(['o2', 'o1']);
    expect(r.itPerSec).toBe(0.5);
    expect(r.msPerIt).toBe(2);
    expect(r.peakRssMb).toBe(2);
    expect(r.metric).toBeCloseTo(0.7, 12);
    // Paired differences: -0.1 and -0.2.
    expect(r.metricDiff.mean).toBeCloseTo(-0.15, 12);
  });
});

describe('a comparison of algorithms', () => {
  const rec = (method: string, seed: number, mse: number, itPerSec: number): VariantRecord => ({
    id: `${method}-k1-s${seed}`,
    dir: '/x',
    method,
    algorithm: method.replace(/^fo/, ''),
    order: method.startsWith('fo') ? 1 : 2,
    innerSteps: 1,
    seed,
    trainShots: 10,
    state: 'completed',
    metric: 'mse',
    results: { metaItPerSec: itPerSec, peakRssMb: 100, trainSeconds: 10 / itPerSec },
    table: [{ shots: 10, scores: [{ steps: 10, mean: mse, ci95: 0.01, tasks: 5 }] }],
    curve: { x: [1], y: [1] },
  });
  const records = [
    rec('fomaml', 0, 0.5, 100),
    rec('fomaml', 1, 0.7, 100),
    rec('imaml', 0, 0.2, 20),
    rec('imaml', 1, 0.4, 20),
    rec('maml', 0, 0.3, 50),
    rec('maml', 1, 0.5, 50),
  ];

  it('orders the groups as asked and sets every method against the first', () => {
    const s = aggregate(records, chooseMetric(records)!, ['maml', 'fomaml', 'imaml']);
    expect(s.groups.map((g) => [g.method, g.algorithm, g.order])).toEqual([
      ['maml', 'maml', 2],
      ['fomaml', 'maml', 1],
      ['imaml', 'imaml', 2],
    ]);
    expect(s.ratios.map((r) => `${r.method}/${r.baseline}`)).toEqual(['fomaml/maml', 'imaml/maml']);
    expect(s.ratios[0]!.metricDiff.mean).toBeCloseTo(0.2, 12);
    expect(s.ratios[1]!.msPerIt).toBeCloseTo(2.5, 12);
    // Without a plan (an old comparison folder), methods sort by name.
    expect(aggregate(records, chooseMetric(records)!).groups.map((g) => g.method)).toEqual([
      'fomaml',
      'imaml',
      'maml',
    ]);
  });

  it('shows the method, time per iteration and peak memory in its tables', () => {
    const s = aggregate(records, chooseMetric(records)!, ['maml', 'fomaml', 'imaml']);
    const header = groupHeader(s);
    const rows = groupRows(s);
    const col = (name: string) => rows.map((r) => r[header.indexOf(name)]);
    expect(col('method')).toEqual(['maml', 'fomaml', 'imaml']);
    expect(col('ms/it wall ±95%')).toEqual(['20 ± 0', '10 ± 0', '50 ± 0']);
    expect(col('peak RSS MB ±95%')).toEqual(['100 ± 0', '100 ± 0', '100 ± 0']);
    expect(ratioRows(s).map((r) => r[ratioHeader(s).indexOf('ratio')])).toEqual([
      'fomaml/maml',
      'imaml/maml',
    ]);
  });
});

describe('sweep shards', () => {
  it('parses i/n, including env for Kubernetes Indexed Jobs', () => {
    expect(parseShard('2/8')).toEqual({ index: 2, count: 8 });
    expect(parseShard('env/4', { JOB_COMPLETION_INDEX: '3' })).toEqual({ index: 3, count: 4 });
    for (const bad of ['8/8', '1', '-1/2', 'a/2', '0/0']) expect(() => parseShard(bad)).toThrow(UsageError);
    expect(() => parseShard('env/4', {})).toThrow(/JOB_COMPLETION_INDEX=unset/);
  });

  it('runs every grid point exactly once across the shards', () => {
    const points = expandGrid([parseAxis('a=[1,2,3]'), parseAxis('b=[x,y]'), parseAxis('c=[0,1,2,3,4]')]);
    for (const n of [1, 2, 3, 7, 30, 31, 40]) {
      const seen = Array.from({ length: n }, (_, i) => shardItems(points, { index: i, count: n })).flat();
      expect(seen.map((p) => p.index).sort((a, b) => a - b)).toEqual(points.map((_, i) => i));
      expect(new Set(seen.map((p) => p.item.label)).size).toBe(points.length);
      const sizes = Array.from({ length: n }, (_, i) => shardItems(points, { index: i, count: n }).length);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
    }
  });

  it('accepts key=v1,v2 as well as YAML lists', () => {
    expect(normalizeGridSpec('trainer.innerSteps=1,2,5')).toBe('trainer.innerSteps=[1,2,5]');
    expect(normalizeGridSpec('trainer.innerSteps=[1,5]')).toBe('trainer.innerSteps=[1,5]');
    expect(normalizeGridSpec('backend=cpu')).toBe('backend=cpu');
    expect(parseAxis(normalizeGridSpec('trainer.order=1,2')).values).toEqual([1, 2]);
  });
});
