import { describe, expect, it } from 'vitest';
import { checkGrads, fromArray, type Tensor } from '../../src/index.js';
import { caseInputs, OP_CASES } from './cases.js';

// The same op table as the reverse-mode checks (gradcheck.test.ts), now with every analytic derivative taken
// by forward mode: order n is n nested ForwardAccumulators, each JVP checked against central differences.
describe('forward-mode (JVP) checks of the op table (float64, CPU backend, central differences)', () => {
  for (const c of OP_CASES) {
    it(`${c.name}: JVPs to order ${c.order}`, () => {
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
          { order: c.order, directions: 2, mode: 'forward', ...c.check },
        ),
      ).not.toThrow();
    });
  }

  it('the checker catches a wrong forward rule', async () => {
    const { GradCheckError, wrongJvpForTest } = await import('./wrongGrad.js');
    const x = fromArray(Float64Array.of(0.3, -0.7), [2]);
    expect(() => checkGrads((t) => wrongJvpForTest(t), [x], { order: 1, mode: 'forward' })).toThrow(
      GradCheckError,
    );
  });

  it('an op with only a reverse rule gets its forward derivatives from the double-VJP fallback', async () => {
    const { squareWithoutJvpForTest } = await import('./wrongGrad.js');
    const x = fromArray(Float64Array.of(0.3, -0.7, 1.4), [3]);
    expect(() =>
      checkGrads((t) => squareWithoutJvpForTest(t), [x], { order: 3, mode: 'forward' }),
    ).not.toThrow();
  });
});
