import { describe, expect, it } from 'vitest';
import { smokeRun } from './smokeRun.js';

/** The test metrics of a smoke run with `seed` (timing and memory figures differ between runs by nature). */
const run = (seed: number): Record<string, number> => smokeRun([`seed=${seed}`]).results;

describe('reproducibility', () => {
  it('the same config and seed give the same numbers; another seed gives others', () => {
    const a = run(3);
    const b = run(3);
    const c = run(4);
    expect(Object.keys(a).length).toBeGreaterThan(4);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });
});
