import { describe, expect, it } from 'vitest';
import { meanCi } from '../../src/meta/evaluate.js';

describe('evaluation statistics', () => {
  it('mean, 95% CI (1.96 standard errors) and median of a sample', () => {
    const r = meanCi([1, 2, 3, 4]);
    expect(r.mean).toBe(2.5);
    expect(r.median).toBe(2.5);
    expect(r.ci95).toBeCloseTo((1.96 * Math.sqrt(5 / 3)) / 2, 12);
    expect(r).toMatchObject({ tasks: 4, diverged: 0 });
  });

  it('a diverged task is counted, not averaged into NaN', () => {
    const r = meanCi([0.5, Number.NaN, 1.5, Number.POSITIVE_INFINITY, 1]);
    expect(r).toMatchObject({ mean: 1, median: 1, tasks: 3, diverged: 2 });
  });
});
