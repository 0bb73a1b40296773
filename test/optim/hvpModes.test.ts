import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hvp, Rng, randomNormal, setDefaultFloat, tensor } from '../../src/index.js';
import { hessianModel, minimizeNewtonCG } from '../../src/optim/index.js';
import { logisticProblem, rosen, values } from './problems.js';

beforeAll(() => setDefaultFloat('float64'));
afterAll(() => setDefaultFloat('float32'));

describe('Hessian-vector products: forward-over-reverse beside reverse-over-reverse', () => {
  it('hessianModel gives the same products both ways, and the same as the functional hvp', () => {
    const { d, loss } = logisticProblem();
    const rng = new Rng(1);
    const x = randomNormal([d], rng);
    const v = randomNormal([d], rng);
    const rev = values(hessianModel(loss)(x).apply(v));
    const fwd = values(hessianModel(loss, { hvp: 'forward-over-reverse' })(x).apply(v));
    const functional = values(hvp(loss, x, v));
    fwd.forEach((h, i) => {
      expect(Math.abs(h - rev[i]!)).toBeLessThan(1e-14);
      expect(Math.abs(h - functional[i]!)).toBeLessThan(1e-14);
    });
  });

  it('Newton-CG with forward-over-reverse products takes the same path on 5-D Rosenbrock', () => {
    const x0 = tensor([1.3, 0.7, 0.8, 1.9, 1.2]);
    const rev = minimizeNewtonCG(rosen, x0, { xtol: 1e-8 });
    const fwd = minimizeNewtonCG(rosen, x0, { xtol: 1e-8, hvp: 'forward-over-reverse' });
    expect(fwd.success).toBe(true);
    expect([fwd.iterations, fwd.nfev, fwd.nhev]).toEqual([rev.iterations, rev.nfev, rev.nhev]);
    values(fwd.x).forEach((v) => {
      expect(v).toBeCloseTo(1, 7);
    });
  });
});
