import { tableFromIPC } from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import type { ComparisonSummary } from '../../src/compare/aggregate.js';
import type { VariantRecord } from '../../src/compare/collect.js';
import { variantRows } from '../../src/compare/report.js';
import { encodeArrow, MetricsError } from '../../src/io/metrics.js';

describe('comparison.arrow', () => {
  it('stores order, inner steps and seed as Int32', () => {
    const record: VariantRecord = {
      id: 'o2-k5-s1',
      dir: '/x',
      method: 'o2',
      order: 2,
      innerSteps: 5,
      seed: 1,
      trainShots: 10,
      state: 'completed',
      metric: 'mse',
      results: { metaItPerSec: 100, 'test/mse@K10/10steps': 0.3 },
      curve: { x: [100, 200], y: [1, 0.5] },
    };
    const summary = {
      choice: { metric: 'mse', shots: 10, steps: 10, key: 'test/mse@K10/10steps' },
    } as ComparisonSummary;
    const table = tableFromIPC(
      encodeArrow(variantRows([record], summary), { int32: ['order', 'innerSteps', 'seed'] }),
    );
    const types = Object.fromEntries(table.schema.fields.map((f) => [f.name, String(f.type)]));
    expect(types).toMatchObject({ iteration: 'Int32', order: 'Int32', innerSteps: 'Int32', seed: 'Int32' });
    expect(types.headline).toBe('Float64');
    expect(table.get(0)!.toJSON()).toMatchObject({ order: 2, innerSteps: 5, seed: 1 });
  });

  it('refuses a fraction in an Int32 column', () => {
    expect(() => encodeArrow([{ iteration: 0, seed: 1.5 }], { int32: ['seed'] })).toThrow(MetricsError);
  });
});
