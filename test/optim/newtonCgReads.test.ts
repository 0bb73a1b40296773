/**
 * Newton-CG written once as a HostReads computation: `createAsync` + `stepAsync` (asynchronous reads, for
 * WebGPU) take exactly the steps of the constructor + `step` (synchronous reads), under every line search,
 * both curvature models and adaptive damping.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { log, setDefaultFloat, sum, type Tensor, tensor } from '../../src/index.js';
import {
  minimizeNewtonCG,
  minimizeNewtonCGAsync,
  type NewtonCgOptions,
  NewtonCgSolver,
  type NewtonCgStepInfo,
} from '../../src/optim/index.js';
import { rosen, rosenResidual, values } from './problems.js';

beforeAll(() => setDefaultFloat('float64'));
afterAll(() => setDefaultFloat('float32'));

interface Run {
  steps: NewtonCgStepInfo[];
  xs: number[][];
  result: Omit<ReturnType<NewtonCgSolver['result']>, 'x'> & { x: number[] };
}

function summary(solver: NewtonCgSolver): Run['result'] {
  const r = solver.result();
  return { ...r, x: values(r.x) };
}

function runSync(f: (x: Tensor) => Tensor, x0: number[], options: NewtonCgOptions, cap: number): Run {
  const solver = new NewtonCgSolver(f, tensor(x0), options);
  const steps: NewtonCgStepInfo[] = [];
  const xs: number[][] = [];
  for (let i = 0; i < cap && !solver.done; i++) {
    steps.push(solver.step());
    xs.push(values(solver.x));
  }
  return { steps, xs, result: summary(solver) };
}

async function runAsync(
  f: (x: Tensor) => Tensor,
  x0: number[],
  options: NewtonCgOptions,
  cap: number,
): Promise<Run> {
  const solver = await NewtonCgSolver.createAsync(f, tensor(x0), options);
  const steps: NewtonCgStepInfo[] = [];
  const xs: number[][] = [];
  for (let i = 0; i < cap && !solver.done; i++) {
    steps.push(await solver.stepAsync());
    xs.push(values(solver.x));
  }
  return { steps, xs, result: summary(solver) };
}

const CASES: {
  name: string;
  f: (x: Tensor) => Tensor;
  x0: number[];
  options: NewtonCgOptions;
  cap: number;
}[] = [
  { name: 'strong Wolfe on 2-D Rosenbrock', f: rosen, x0: [-1.2, 1], options: {}, cap: 200 },
  {
    name: "SciPy's initial step on 5-D Rosenbrock",
    f: rosen,
    x0: [1.3, 0.7, 0.8, 1.9, 1.2],
    options: { xtol: 1e-8, initialStep: 'scipy' },
    cap: 200,
  },
  { name: 'Armijo backtracking', f: rosen, x0: [-1.2, 1], options: { lineSearch: 'armijo' }, cap: 40 },
  {
    name: 'unit steps with adaptive damping (rejected steps included)',
    f: rosen,
    x0: [-1.2, 1],
    options: { lineSearch: 'none', damping: 1, adaptiveDamping: true },
    cap: 40,
  },
  {
    name: 'Gauss-Newton with Levenberg-Marquardt damping',
    f: rosenResidual,
    x0: [-1.2, 1],
    options: { curvature: 'gaussNewton', damping: 1e-3, adaptiveDamping: true },
    cap: 60,
  },
  {
    name: 'an iteration cap',
    f: rosen,
    x0: [-1.2, 1],
    options: { maxIterations: 3 },
    cap: 10,
  },
];

describe('NewtonCgSolver: stepAsync takes the steps of step', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const sync = runSync(c.f, c.x0, c.options, c.cap);
      expect(sync.steps.length).toBeGreaterThan(1);
      const viaAsync = await runAsync(c.f, c.x0, c.options, c.cap);
      expect(viaAsync).toEqual(sync);
    });
  }

  it('minimizeNewtonCGAsync converges where minimizeNewtonCG does, with the same counts', async () => {
    const a = minimizeNewtonCG(rosen, tensor([-1.2, 1]));
    const b = await minimizeNewtonCGAsync(rosen, tensor([-1.2, 1]));
    expect(b.success).toBe(true);
    expect({ ...b, x: values(b.x) }).toEqual({ ...a, x: values(a.x) });
    for (const v of values(b.x)) expect(v).toBeCloseTo(1, 4);
  });

  it('refuses a second stepAsync before the first has finished', async () => {
    const solver = await NewtonCgSolver.createAsync(rosen, tensor([-1.2, 1]));
    const first = solver.stepAsync();
    await expect(solver.stepAsync()).rejects.toThrow(/previous step has not finished/);
    expect((await first).iteration).toBe(1);
  });

  it('createAsync flags a non-finite first loss as the constructor does', async () => {
    const f = (x: Tensor) => sum(log(x)); // log of a negative entry: NaN
    expect(new NewtonCgSolver(f, tensor([-1, 2])).status).toBe('nonFinite');
    const solver = await NewtonCgSolver.createAsync(f, tensor([-1, 2]));
    expect(solver.status).toBe('nonFinite');
    expect(solver.done).toBe(true);
    expect(Number.isNaN(solver.loss)).toBe(true);
  });
});
