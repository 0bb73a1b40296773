import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  add,
  fromArray,
  hessian,
  matmul,
  mul,
  reshape,
  setDefaultFloat,
  square,
  sub,
  sum,
  type Tensor,
  tensor,
  valueAndGrad,
} from '../../src/index.js';
import {
  adam,
  applyUpdates,
  backtrackingArmijo,
  gaussNewtonModel,
  hessianModel,
  minimizeNewtonCG,
  minimizeNewtonCGParams,
  NewtonCgSolver,
  OptimizerError,
  strongWolfe,
  truncatedCg,
} from '../../src/optim/index.js';
import { logisticProblem, rosen, rosenResidual, values } from './problems.js';

beforeAll(() => setDefaultFloat('float64'));
afterAll(() => setDefaultFloat('float32'));

// A convex quadratic 0.5 xᵀAx - bᵀx with A SPD (so its minimiser is A⁻¹ b = [1, -2, 0.5]).
const A = [
  [4, 1, 0],
  [1, 3, -1],
  [0, -1, 2],
];
const xStar = [1, -2, 0.5];
const bVec = A.map((row) => row.reduce((s, a, j) => s + a * xStar[j]!, 0));
function quadratic(x: Tensor): Tensor {
  const At = tensor(A);
  const xc = reshape(x, [3, 1]);
  return sub(mul(sum(mul(xc, matmul(At, xc))), 0.5), sum(mul(x, tensor(bVec))));
}

describe('curvature products (no Hessian formed)', () => {
  it('hessianModel.apply equals the explicit Hessian times v', () => {
    const x = tensor([0.3, -0.7, 1.1, 0.4]);
    const v = tensor([1, -2, 0.5, 3]);
    const hv = values(hessianModel(rosen)(x).apply(v));
    const H = hessian(rosen, x).arraySync() as number[][];
    const vv = values(v);
    H.forEach((row, i) => {
      expect(hv[i]).toBeCloseTo(
        row.reduce((s, h, j) => s + h * vv[j]!, 0),
        9,
      );
    });
  });
  it('gaussNewtonModel.apply equals Jᵀ J v for a linear residual, whose Gauss-Newton matrix is AᵀA', () => {
    const M = tensor([
      [1, 2],
      [0, 1],
      [3, -1],
    ]);
    const res = (x: Tensor): Tensor => reshape(sub(matmul(M, reshape(x, [2, 1])), 1), [-1]);
    const pt = gaussNewtonModel(res)(tensor([0.5, 0.5]));
    expect(values(pt.apply(tensor([1, 0])))).toEqual([10, -1]); // first column of MᵀM
    expect(values(pt.apply(tensor([0, 1])))).toEqual([-1, 6]);
    // value = 0.5 |r|², grad = Jᵀ r
    expect(pt.value.item()).toBeCloseTo(0.5 * (0.5 ** 2 + 0.5 ** 2 + 0 ** 2), 12);
  });
});

describe('truncated CG', () => {
  const apply = (v: Tensor): Tensor => reshape(matmul(tensor(A), reshape(v, [3, 1])), [3]);
  it('solves an SPD system to the forcing tolerance within n iterations', () => {
    const g = tensor([1, 2, 3]);
    const r = truncatedCg(apply, g, { maxIterations: 60 });
    expect(r.stop).toBe('converged');
    expect(r.iterations).toBeLessThanOrEqual(3);
    const res = values(add(apply(r.p), g)).reduce((s, v) => s + Math.abs(v), 0);
    expect(res).toBeLessThanOrEqual(0.5 * 6 + 1e-12);
  });
  it('on negative curvature at the first iteration, returns a steepest-descent step', () => {
    const r = truncatedCg((v) => mul(v, -1), tensor([1, -1]), { maxIterations: 10 });
    expect(r.stop).toBe('negativeCurvature');
    expect(values(r.p)).toEqual([-1, 1]); // -(gᵀg / |gᵀHg|) g
  });
  it('with damping, negative curvature at the first iteration gives the bounded -g / λ', () => {
    // C + λI = -1.001 I: curvature just below zero, where rr / curv would be a step of 1000 |g|.
    const r = truncatedCg((v) => mul(v, -2.001), tensor([1, -1]), { maxIterations: 10, damping: 1 });
    expect(r.stop).toBe('negativeCurvature');
    expect(values(r.p)).toEqual([-1, 1]);
  });
  it('positiveCurvatureOnly: stops where C curves down although C + λI is positive', () => {
    // C = -0.5 I, λ = 1: C + λI = 0.5 I, which plain CG inverts (p = -2g); with the option the solve keeps
    // to directions where C itself is positive, here none, so it falls back to -g / λ.
    const g = tensor([1, -2]);
    const plain = truncatedCg((v) => mul(v, -0.5), g, { maxIterations: 5, damping: 1, forcing: 0 });
    expect(values(plain.p)).toEqual([-2, 4]);
    const safe = truncatedCg((v) => mul(v, -0.5), g, {
      maxIterations: 5,
      damping: 1,
      forcing: 0,
      positiveCurvatureOnly: true,
    });
    expect(safe.stop).toBe('negativeCurvature');
    expect(values(safe.p)).toEqual([-1, 2]);
    // Where C is positive the option changes nothing.
    const spd = (v: Tensor) => mul(v, 3);
    const a = truncatedCg(spd, g, { maxIterations: 5, damping: 1, forcing: 0 });
    const b = truncatedCg(spd, g, { maxIterations: 5, damping: 1, forcing: 0, positiveCurvatureOnly: true });
    expect(values(b.p)).toEqual(values(a.p));
  });
  it('honours the cap and the damping (C + λI)', () => {
    const r = truncatedCg(apply, tensor([1, 2, 3]), { maxIterations: 1 });
    expect(r.stop).toBe('maxIterations');
    expect(r.products).toBe(1);
    const damped = truncatedCg((v) => mul(v, 0), tensor([2, 4]), { maxIterations: 5, damping: 2 });
    expect(values(damped.p)).toEqual([-1, -2]);
  });
});

describe('line searches', () => {
  const fn = {
    phi: (a: number) => (a - 2) ** 2 + Math.sin(3 * a),
    derphi: (a: number) => 2 * (a - 2) + 3 * Math.cos(3 * a),
  };
  it('strong Wolfe returns a step satisfying both conditions', () => {
    const phi0 = fn.phi(0);
    const d0 = fn.derphi(0);
    const r = strongWolfe(fn, phi0, d0, { c2: 0.1 })!;
    expect(r).not.toBeNull();
    expect(r.phi).toBeLessThanOrEqual(phi0 + 1e-4 * r.alpha * d0);
    expect(Math.abs(fn.derphi(r.alpha))).toBeLessThanOrEqual(0.1 * Math.abs(d0));
  });
  it('Armijo backtracking halves until sufficient decrease, and fails on an ascent direction', () => {
    const r = backtrackingArmijo((a) => (a - 0.1) ** 2, 0.01, -0.2)!;
    expect(r.alpha).toBe(0.125);
    expect(backtrackingArmijo((a) => a, 0, 1, { maxIterations: 5 })).toBeNull();
  });
});

describe('Newton-CG (Hessian-free)', () => {
  it('lands on the minimiser of a convex quadratic with its first Newton step', () => {
    // An exact inner solve (fixed tiny forcing term): n = 3 CG iterations, then the unit step is accepted.
    const s = new NewtonCgSolver(quadratic, tensor([10, -10, 10]), { forcing: 1e-12 });
    const info = s.step();
    expect(info.alpha).toBe(1);
    expect(info.cgIterations).toBeLessThanOrEqual(3);
    values(s.x).forEach((v, i) => {
      expect(v).toBeCloseTo(xStar[i]!, 10);
    });
    // With SciPy's adaptive forcing term the first solve is inexact, but it converges in a few steps.
    const r = minimizeNewtonCG(quadratic, tensor([10, -10, 10]), { xtol: 1e-10 });
    expect(r.success).toBe(true);
    values(r.x).forEach((v, i) => {
      expect(v).toBeCloseTo(xStar[i]!, 8);
    });
    expect(r.iterations).toBeLessThanOrEqual(10);
  });

  it('2-D Rosenbrock from (-1.2, 1) at xtol 1e-5 converges (SciPy 1.10: 83 iterations)', () => {
    const r = minimizeNewtonCG(rosen, tensor([-1.2, 1]), { xtol: 1e-5 });
    expect(r.success).toBe(true);
    expect(r.message).toMatch(/successfully/);
    values(r.x).forEach((v) => {
      expect(Math.abs(v - 1)).toBeLessThan(1e-4);
    });
    expect(r.iterations).toBeLessThan(100);
    expect(r.nfev).toBe(r.ngev);
    expect(r.nhev).toBeGreaterThanOrEqual(r.iterations);
  });

  it('5-D Rosenbrock from [1.3, 0.7, 0.8, 1.9, 1.2] at xtol 1e-8 converges (SciPy 1.10: 24 iterations, 33 f-evaluations)', () => {
    const r = minimizeNewtonCG(rosen, tensor([1.3, 0.7, 0.8, 1.9, 1.2]), { xtol: 1e-8 });
    expect(r.success).toBe(true);
    values(r.x).forEach((v) => {
      expect(v).toBeCloseTo(1, 7);
    });
    expect(r.iterations).toBeLessThanOrEqual(30);
    expect(r.nfev).toBeLessThanOrEqual(40);
  });

  it("SciPy's initial-step heuristic also converges, with counts in SciPy's range", () => {
    const r = minimizeNewtonCG(rosen, tensor([1.3, 0.7, 0.8, 1.9, 1.2]), {
      xtol: 1e-8,
      initialStep: 'scipy',
    });
    expect(r.success).toBe(true);
    expect(r.iterations).toBeLessThanOrEqual(35);
  });

  it('Gauss-Newton products with Levenberg-Marquardt damping solve Rosenbrock as least squares', () => {
    for (const options of [
      {},
      { damping: 1e-3, adaptiveDamping: true },
      { damping: 1e-2, lineSearch: 'armijo' as const },
    ]) {
      const r = minimizeNewtonCG(rosenResidual, tensor([-1.2, 1]), {
        curvature: 'gaussNewton',
        xtol: 1e-9,
        ...options,
      });
      expect(r.success).toBe(true);
      values(r.x).forEach((v) => {
        expect(v).toBeCloseTo(1, 6);
      });
      expect(r.iterations).toBeLessThan(60);
    }
  });

  it('handles negative curvature: from a saddle region of a non-convex function it still descends', () => {
    // f = x⁴/4 - x²/2 + y² has negative curvature near x = 0; minima at x = ±1, y = 0.
    const f = (v: Tensor): Tensor => {
      const x2 = square(v);
      const w = tensor([1, 0]);
      return add(sum(mul(sub(mul(square(x2), 0.25), mul(x2, 0.5)), w)), sum(mul(x2, tensor([0, 1]))));
    };
    const r = minimizeNewtonCG(f, tensor([0.05, 0.8]), { xtol: 1e-10 });
    expect(r.success).toBe(true);
    expect(Math.abs(values(r.x)[0]!)).toBeCloseTo(1, 6);
    expect(values(r.x)[1]).toBeCloseTo(0, 6);
  });

  it('reports failure on a non-finite objective and validates options', () => {
    const r = minimizeNewtonCG((x) => sum(mul(x, Number.NaN)), tensor([1]));
    expect(r.success).toBe(false);
    expect(r.status).toBe('nonFinite');
    expect(() => new NewtonCgSolver(rosen, tensor([1, 2]), { adaptiveDamping: true })).toThrow(
      OptimizerError,
    );
  });

  it("on L2-regularised logistic regression reaches Adam's final loss in far fewer iterations", () => {
    const { d, loss } = logisticProblem();
    const adamSteps = 300;
    const tx = adam({ lr: 0.05 });
    let p: Record<string, Tensor> = { w: fromArray(new Float64Array(d), [d]) };
    let state = tx.init(p);
    const vg = valueAndGrad(loss);
    for (let i = 0; i < adamSteps; i++) {
      const r = tx.update({ w: vg(p.w!).grad }, state);
      p = applyUpdates(p, r.updates);
      state = r.state;
    }
    const adamLoss = loss(p.w!).item();
    const solver = new NewtonCgSolver(loss, fromArray(new Float64Array(d), [d]), { xtol: 1e-9 });
    while (!solver.done && solver.loss > adamLoss) solver.step();
    expect(solver.loss).toBeLessThanOrEqual(adamLoss);
    expect(solver.iterations).toBeLessThanOrEqual(10);
    expect(solver.iterations * 20).toBeLessThan(adamSteps);
  });

  it('trains a parameter record step by step (full-batch model training)', () => {
    const xs = tensor([[0], [1], [2], [3]]);
    const ys = tensor([[1], [3], [5], [7]]);
    const model = (p: Record<string, Tensor>): Tensor => add(matmul(xs, p.w!), p.b!);
    const lossFn = (p: Record<string, Tensor>): Tensor => sum(square(sub(model(p), ys)));
    const r = minimizeNewtonCGParams(lossFn, { w: tensor([[0]]), b: tensor([0]) }, { xtol: 1e-10 });
    expect(r.success).toBe(true);
    expect(values(r.params.w!)[0]).toBeCloseTo(2, 8);
    expect(values(r.params.b!)[0]).toBeCloseTo(1, 8);
    expect(r.params.w!.shape).toEqual([1, 1]);
  });
});
