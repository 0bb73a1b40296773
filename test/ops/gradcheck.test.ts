import { describe, expect, it } from 'vitest';
import { checkGrads, fromArray, type Tensor } from '../../src/index.js';
import { caseInputs, OP_CASES } from './cases.js';

describe('numerical gradient checks (float64, CPU backend, central differences)', () => {
  for (const c of OP_CASES) {
    it(`${c.name}: derivatives to order ${c.order}`, () => {
      const all = caseInputs(c).map(({ data, shape }) => fromArray(data, shape));
      const diff = c.diff ?? all.map((_, i) => i);
      const f = (...xs: Tensor[]): Tensor => {
        const args = all.slice();
        diff.forEach((k, j) => {
          args[k] = xs[j]!;
        });
        return c.fn(...args);
      };
      expect(() =>
        checkGrads(
          f,
          diff.map((k) => all[k]!),
          { order: c.order, directions: 2, ...c.check },
        ),
      ).not.toThrow();
    });
  }

  it('the checker itself catches a wrong gradient', async () => {
    const { GradCheckError, customGradForTest } = await import('./wrongGrad.js');
    const x = fromArray(Float64Array.of(0.3, -0.7), [2]);
    expect(() => checkGrads((t) => customGradForTest(t), [x], { order: 1 })).toThrow(GradCheckError);
  });
});
