import type { HvpMode } from '../autodiff/functional.js';
import { abs, add, mul, neg } from '../ops/elementwise.js';
import { max, sum } from '../ops/reduce.js';
import type { Params } from '../tensor/params.js';
import { type HostReads, readScalar, runReadsAsync, runReadsSync } from '../tensor/reads.js';
import type { Tensor } from '../tensor/tensor.js';
import { type CgStop, truncatedCgReads } from './cg.js';
import {
  type CurvatureModel,
  type CurvaturePoint,
  gaussNewtonModel,
  type HessianModelOptions,
  hessianModel,
} from './curvature.js';
import { flattenParams, type ParamLayout, unflattenParams } from './flatParams.js';
import { backtrackingArmijoReads, strongWolfeReads } from './lineSearch.js';
import { OptimizerError } from './types.js';

/** How a Newton-CG run ended (`running` while a step-by-step solver can go on). */
export type NewtonCgStatus = 'running' | 'converged' | 'maxIterations' | 'lineSearchFailed' | 'nonFinite';

/** Options of {@link minimizeNewtonCG} and {@link NewtonCgSolver}. */
export interface NewtonCgOptions {
  /**
   * `hessian` (default): `f` is the scalar objective and CG uses exact Hessian-vector products.
   * `gaussNewton`: `f` returns a residual vector r(x), the objective is `0.5 · |r|²` and CG uses `Jᵀ J v`.
   */
  curvature?: 'hessian' | 'gaussNewton';
  /**
   * How Hessian-vector products are computed (with `curvature: 'hessian'`): see {@link HessianModelOptions}.
   */
  hvp?: HvpMode;
  /** Stop when the step's mean absolute component is at most this (SciPy's `xtol`, default 1e-5). */
  xtol?: number;
  /** Also stop when max |gradient| is at most this (default 0: off, as SciPy). */
  gtol?: number;
  /** Cap on outer iterations (default 200 · n). */
  maxIterations?: number;
  /** Cap on CG iterations per outer iteration (default 20 · n, as SciPy). */
  maxCgIterations?: number;
  /**
   * A fixed CG forcing term: CG stops when |r|₁ <= forcing · |g|₁. Default SciPy's adaptive
   * `min(0.5, sqrt(|g|₁))`, loose far from the solution and tight near it (superlinear convergence).
   */
  forcing?: number;
  /** Levenberg-Marquardt damping λ: CG solves (C + λI) p = -g (default 0). */
  damping?: number;
  /** Adapt λ by the ratio of actual to predicted decrease (Martens' 3/2 and 2/3 rule; needs damping > 0). */
  adaptiveDamping?: boolean;
  /** `wolfe` (default, strong Wolfe), `armijo` (backtracking) or `none` (unit steps, rejected if f rises). */
  lineSearch?: 'wolfe' | 'armijo' | 'none';
  /**
   * First trial step: `unit` (default, the Newton step) or `scipy` (SciPy's `min(1, 2.02 (f_k - f_{k-1}) / gᵀp)`
   * guess, which reproduces its iteration counts).
   */
  initialStep?: 'unit' | 'scipy';
  /** Wolfe constants (defaults 1e-4 and 0.9). */
  c1?: number;
  c2?: number;
}

/** What one {@link NewtonCgSolver.step} did. */
export interface NewtonCgStepInfo {
  iteration: number;
  /** Objective after the step. */
  loss: number;
  /** Line-search step length (0 when the step was rejected). */
  alpha: number;
  cgIterations: number;
  cgStop: CgStop;
  damping: number;
  status: NewtonCgStatus;
}

/** Result of {@link minimizeNewtonCG} (SciPy's `OptimizeResult` fields). */
export interface NewtonCgResult {
  x: Tensor;
  loss: number;
  iterations: number;
  /** Objective evaluations (each also computes the gradient, so `ngev` equals it). */
  nfev: number;
  ngev: number;
  /** Curvature-vector (Hessian or Gauss-Newton) products. */
  nhev: number;
  /** CG iterations over all outer iterations. */
  cgIterations: number;
  status: NewtonCgStatus;
  message: string;
  success: boolean;
}

const MESSAGES: Record<NewtonCgStatus, string> = {
  running: 'Optimization in progress.',
  converged: 'Optimization terminated successfully.',
  maxIterations: 'Maximum number of iterations has been exceeded.',
  lineSearchFailed: 'Desired error not necessarily achieved due to precision loss (line search failed).',
  nonFinite: 'NaN result encountered.',
};

function dot(a: Tensor, b: Tensor): Tensor {
  return sum(mul(a, b));
}

/** Lets {@link NewtonCgSolver.createAsync} build a solver whose first loss is read later, asynchronously. */
const DEFER_INITIAL_READ: unique symbol = Symbol('deferInitialRead');

/**
 * Hessian-free Newton-CG as a step-by-step optimizer over one tensor (any shape). Each step solves the Newton
 * system by truncated CG with curvature products through nested tapes, then runs a line search. Control
 * logic reads scalars to the host; vectors stay on the backend. The constructor and {@link NewtonCgSolver.step}
 * read synchronously; on a backend that reads only asynchronously (WebGPU) build the solver with
 * {@link NewtonCgSolver.createAsync} and step it with {@link NewtonCgSolver.stepAsync} (the same iterates).
 *
 * ```ts
 * const solver = new NewtonCgSolver((x) => rosen(x), tensor([-1.2, 1], undefined, 'float64'));
 * while (!solver.done) solver.step();
 * solver.result().x; // ≈ [1, 1]
 * ```
 */
export class NewtonCgSolver {
  private point: CurvaturePoint;
  private readonly model: CurvatureModel;
  private readonly n: number;
  private readonly options: NewtonCgOptions;
  private readonly maxIterations: number;
  private readonly maxCgIterations: number;
  private previousLoss: number | undefined;
  loss: number;
  damping: number;
  iterations = 0;
  nfev = 0;
  nhev = 0;
  cgIterations = 0;
  status: NewtonCgStatus = 'running';
  /** True while a {@link NewtonCgSolver.stepAsync} is awaiting a read. */
  private stepping = false;

  /**
   * Evaluates `f` at `x0` and reads the loss synchronously (see {@link NewtonCgSolver.createAsync}). The
   * fourth parameter is internal: only `createAsync` can pass it.
   */
  constructor(f: (x: Tensor) => Tensor, x0: Tensor, options: NewtonCgOptions = {}, defer?: symbol) {
    this.options = options;
    this.n = x0.size;
    if (this.n === 0) throw new OptimizerError('NewtonCgSolver: x0 is empty');
    this.maxIterations = options.maxIterations ?? 200 * this.n;
    this.maxCgIterations = options.maxCgIterations ?? 20 * this.n;
    this.damping = options.damping ?? 0;
    if (this.damping < 0)
      throw new OptimizerError(`NewtonCgSolver: damping must be >= 0, got ${this.damping}`);
    if (options.adaptiveDamping && !(this.damping > 0)) {
      throw new OptimizerError('NewtonCgSolver: adaptiveDamping needs an initial damping > 0');
    }
    this.model =
      options.curvature === 'gaussNewton' ? gaussNewtonModel(f) : hessianModel(f, { hvp: options.hvp });
    this.point = this.evaluate(x0);
    this.loss = Number.NaN;
    if (defer !== DEFER_INITIAL_READ) this.setInitialLoss(this.point.value.item());
  }

  /**
   * A solver like `new NewtonCgSolver(f, x0, options)` whose first loss is read asynchronously: for every
   * backend, WebGPU included. Step it with {@link NewtonCgSolver.stepAsync}.
   *
   * ```ts
   * const solver = await NewtonCgSolver.createAsync(rosen, x0);
   * while (!solver.done) await solver.stepAsync();
   * ```
   */
  static async createAsync(
    f: (x: Tensor) => Tensor,
    x0: Tensor,
    options: NewtonCgOptions = {},
  ): Promise<NewtonCgSolver> {
    const solver = new NewtonCgSolver(f, x0, options, DEFER_INITIAL_READ);
    solver.setInitialLoss(await runReadsAsync(readScalar(solver.point.value)));
    return solver;
  }

  private setInitialLoss(loss: number): void {
    this.loss = loss;
    if (!Number.isFinite(loss)) this.status = 'nonFinite';
  }

  /** The current iterate. */
  get x(): Tensor {
    return this.point.x;
  }
  /** The gradient at the current iterate. */
  get grad(): Tensor {
    return this.point.grad;
  }
  /** True once the run has ended (converged or failed). */
  get done(): boolean {
    return this.status !== 'running';
  }

  private evaluate(x: Tensor): CurvaturePoint {
    this.nfev++;
    return this.model(x);
  }

  /** One Newton-CG iteration (a no-op once {@link NewtonCgSolver.done}), reading synchronously. */
  step(): NewtonCgStepInfo {
    return runReadsSync(this.stepReads());
  }

  /**
   * {@link NewtonCgSolver.step} with asynchronous reads, for every backend (WebGPU included): the same step.
   *
   * ```ts
   * while (!solver.done) await solver.stepAsync();
   * ```
   */
  async stepAsync(): Promise<NewtonCgStepInfo> {
    // Two interleaved steps would both update the one iterate: a caller must await each step.
    if (this.stepping)
      throw new OptimizerError('NewtonCgSolver.stepAsync: the previous step has not finished');
    this.stepping = true;
    try {
      return await runReadsAsync(this.stepReads());
    } finally {
      this.stepping = false;
    }
  }

  /** One iteration as a {@link HostReads} computation: the algorithm behind `step` and `stepAsync`. */
  private *stepReads(): HostReads<NewtonCgStepInfo> {
    const info = (alpha: number, cgIterations: number, cgStop: CgStop): NewtonCgStepInfo => ({
      iteration: this.iterations,
      loss: this.loss,
      alpha,
      cgIterations,
      cgStop,
      damping: this.damping,
      status: this.status,
    });
    if (this.done) return info(0, 0, 'converged');
    if (this.iterations >= this.maxIterations) {
      this.status = 'maxIterations';
      return info(0, 0, 'converged');
    }
    const g = this.point.grad;
    const gtol = this.options.gtol ?? 0;
    const gmax = yield* readScalar(max(abs(g)));
    if (gmax === 0 || gmax <= gtol) {
      this.status = 'converged';
      return info(0, 0, 'converged');
    }
    const pt = this.point;
    const cg = yield* truncatedCgReads((v) => pt.apply(v), g, {
      maxIterations: this.maxCgIterations,
      damping: this.damping,
      forcing: this.options.forcing,
    });
    this.nhev += cg.products;
    this.cgIterations += cg.iterations;
    let p = cg.p;
    let gp = yield* readScalar(dot(g, p));
    if (!(gp < 0)) {
      // Not a descent direction (only possible through rounding or NaN curvature): use steepest descent.
      p = neg(g);
      gp = yield* readScalar(dot(g, p));
    }
    const found = yield* this.lineSearch(p, gp);
    if (!found) {
      if (this.options.adaptiveDamping) {
        this.damping *= 1.5;
        this.iterations++;
        return info(0, cg.iterations, cg.stop);
      }
      this.status = 'lineSearchFailed';
      return info(0, cg.iterations, cg.stop);
    }
    const { alpha, point } = found;
    const newLoss = yield* readScalar(point.value);
    if (this.options.adaptiveDamping)
      this.adaptDamping(newLoss - this.loss, alpha * gp + 0.5 * alpha * alpha * cg.pAp);
    this.previousLoss = this.loss;
    this.loss = newLoss;
    this.point = point;
    this.iterations++;
    if (!Number.isFinite(newLoss)) this.status = 'nonFinite';
    else if (alpha * (yield* readScalar(sum(abs(p)))) <= this.n * (this.options.xtol ?? 1e-5))
      this.status = 'converged';
    return info(alpha, cg.iterations, cg.stop);
  }

  /** Martens' rule: shrink λ when the quadratic model predicts well, grow it when it does not. */
  private adaptDamping(actual: number, predicted: number): void {
    if (!Number.isFinite(predicted) || predicted >= 0) return;
    const rho = actual / predicted;
    if (rho < 0.25) this.damping *= 1.5;
    else if (rho > 0.75) this.damping *= 2 / 3;
  }

  private *lineSearch(p: Tensor, gp: number): HostReads<{ alpha: number; point: CurvaturePoint } | null> {
    const x = this.point.x;
    const cache = new Map<number, CurvaturePoint>();
    const at = (alpha: number): CurvaturePoint => {
      let pt = cache.get(alpha);
      if (!pt) {
        pt = this.evaluate(add(x, mul(p, alpha)));
        cache.set(alpha, pt);
      }
      return pt;
    };
    const phi = (alpha: number): HostReads<number> => readScalar(at(alpha).value);
    const derphi = (alpha: number): HostReads<number> => readScalar(dot(at(alpha).grad, p));
    let alpha1 = 1;
    if (this.options.initialStep === 'scipy' && this.previousLoss !== undefined && gp !== 0) {
      alpha1 = Math.min(1, (1.01 * 2 * (this.loss - this.previousLoss)) / gp);
      if (alpha1 < 0) alpha1 = 1;
    }
    const kind = this.options.lineSearch ?? 'wolfe';
    let r: { alpha: number } | null;
    if (kind === 'none') {
      const v = yield* phi(1);
      r = Number.isFinite(v) && v <= this.loss ? { alpha: 1 } : null;
    } else if (kind === 'armijo') {
      r = yield* backtrackingArmijoReads(phi, this.loss, gp, { c1: this.options.c1, alpha1 });
    } else {
      r = yield* strongWolfeReads({ phi, derphi }, this.loss, gp, {
        c1: this.options.c1,
        c2: this.options.c2,
        alpha1,
      });
      // As SciPy falls back from one Wolfe search to another, fall back to plain backtracking.
      r ??= yield* backtrackingArmijoReads(phi, this.loss, gp, {
        c1: this.options.c1,
        alpha1: Math.min(alpha1, 1),
      });
    }
    return r ? { alpha: r.alpha, point: at(r.alpha) } : null;
  }

  /** The run's result so far. */
  result(): NewtonCgResult {
    return {
      x: this.point.x,
      loss: this.loss,
      iterations: this.iterations,
      nfev: this.nfev,
      ngev: this.nfev,
      nhev: this.nhev,
      cgIterations: this.cgIterations,
      status: this.status,
      message: MESSAGES[this.status],
      success: this.status === 'converged',
    };
  }
}

/**
 * Minimises `f` from `x0` by Hessian-free Newton-CG (SciPy's `minimize(method='Newton-CG')` with `hessp`
 * supplied by nested tapes). With `curvature: 'gaussNewton'`, `f` returns residuals and the objective is
 * half their squared norm.
 *
 * ```ts
 * const r = minimizeNewtonCG(rosen, tensor([-1.2, 1], undefined, 'float64'));
 * r.x; r.iterations; r.nfev; r.nhev; r.success;
 * ```
 */
export function minimizeNewtonCG(
  f: (x: Tensor) => Tensor,
  x0: Tensor,
  options: NewtonCgOptions = {},
): NewtonCgResult {
  const solver = new NewtonCgSolver(f, x0, options);
  while (!solver.done) solver.step();
  return solver.result();
}

/**
 * {@link minimizeNewtonCG} with asynchronous reads, for every backend (WebGPU included): the same run.
 *
 * ```ts
 * const r = await minimizeNewtonCGAsync(rosen, tensor([-1.2, 1]));
 * ```
 */
export async function minimizeNewtonCGAsync(
  f: (x: Tensor) => Tensor,
  x0: Tensor,
  options: NewtonCgOptions = {},
): Promise<NewtonCgResult> {
  const solver = await NewtonCgSolver.createAsync(f, x0, options);
  while (!solver.done) await solver.stepAsync();
  return solver.result();
}

/**
 * Newton-CG over a parameter record (a small model trained full-batch): the record is flattened into one
 * vector, and `params` gives the current values back as a record.
 *
 * ```ts
 * const opt = new ParamsNewtonCg((p) => loss(model.apply(p, x), y), model.params);
 * for (let i = 0; i < 10 && !opt.done; i++) opt.step();
 * const trained = opt.params;
 * ```
 */
export class ParamsNewtonCg {
  readonly solver: NewtonCgSolver;
  readonly layout: ParamLayout;

  constructor(loss: (params: Params) => Tensor, params0: Params, options: NewtonCgOptions = {}) {
    const { flat, layout } = flattenParams(params0);
    this.layout = layout;
    this.solver = new NewtonCgSolver((x) => loss(unflattenParams(x, layout)), flat, options);
  }

  /** One Newton-CG iteration. */
  step(): NewtonCgStepInfo {
    return this.solver.step();
  }
  get done(): boolean {
    return this.solver.done;
  }
  /** The current parameters as a record. */
  get params(): Params {
    return unflattenParams(this.solver.x, this.layout);
  }
  result(): NewtonCgResult & { params: Params } {
    return { ...this.solver.result(), params: this.params };
  }
}

/**
 * {@link minimizeNewtonCG} over a parameter record.
 *
 * ```ts
 * const r = minimizeNewtonCGParams((p) => sum(square(sub(p.w, 3))), { w: zeros([4], 'float64') });
 * r.params.w; // ≈ 3
 * ```
 */
export function minimizeNewtonCGParams(
  loss: (params: Params) => Tensor,
  params0: Params,
  options: NewtonCgOptions = {},
): NewtonCgResult & { params: Params } {
  const opt = new ParamsNewtonCg(loss, params0, options);
  while (!opt.done) opt.step();
  return opt.result();
}
