/**
 * Optimizer benchmarks: Newton-CG vs Adam vs SGD (iterations and time to a target loss on one problem), and
 * the cost of one Hessian-vector product relative to one gradient. Run alone with `npx tsx bench/optim.ts`.
 */
import { fromArray, hvp, Rng, type Tensor, valueAndGrad, withDefaultFloat } from '../src/index.js';
import {
  adam,
  applyUpdates,
  type GradientTransformation,
  hessianModel,
  minimizeNewtonCG,
  NewtonCgSolver,
  sgd,
} from '../src/optim/index.js';

/** One line of the benchmark table. */
export interface Row {
  figure: string;
  work: string;
  value: string;
  ratio: string;
}

import { logisticProblem } from '../test/optim/problems.js';

const FIGURE = 'optim';

/** The L2-regularised logistic regression of the optimizer tests (λ = 1e-2), at benchmark size. */
function logistic(n: number, d: number, seed = 11): (w: Tensor) => Tensor {
  return logisticProblem(seed, n, d, 1e-2).loss;
}

interface Race {
  iterations: number | null;
  ms: number;
}

/** First-order steps until the loss is at most `target` (null iterations if `maxSteps` did not suffice). */
function raceFirstOrder(
  tx: GradientTransformation<unknown>,
  f: (w: Tensor) => Tensor,
  d: number,
  target: number,
  maxSteps: number,
): Race {
  const vg = valueAndGrad(f);
  let params: Record<string, Tensor> = { w: fromArray(new Float64Array(d), [d]) };
  let state = tx.init(params);
  const t0 = performance.now();
  for (let i = 0; i < maxSteps; i++) {
    const { value, grad } = vg(params.w!);
    if (value.item() <= target) return { iterations: i, ms: performance.now() - t0 };
    const r = tx.update({ w: grad }, state, params);
    params = applyUpdates(params, r.updates);
    state = r.state;
  }
  return { iterations: null, ms: performance.now() - t0 };
}

function raceNewtonCg(
  f: (w: Tensor) => Tensor,
  d: number,
  target: number,
): Race & { nfev: number; nhev: number } {
  const t0 = performance.now();
  const s = new NewtonCgSolver(f, fromArray(new Float64Array(d), [d]), { xtol: 1e-12 });
  while (!s.done && s.loss > target) s.step();
  return {
    iterations: s.loss <= target ? s.iterations : null,
    ms: performance.now() - t0,
    nfev: s.nfev,
    nhev: s.nhev,
  };
}

function timeIt(reps: number, fn: () => void): number {
  fn(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) fn();
  return (performance.now() - t0) / reps;
}

/** Newton-CG vs Adam vs SGD on logistic regression, and the HVP/gradient cost ratio. */
export async function benchOptim(): Promise<Row[]> {
  return withDefaultFloat('float64', () => {
    const n = 1000;
    const d = 20;
    const f = logistic(n, d);
    const problem = `L2 logistic regression ${n}x${d}, float64, CPU`;
    const best = minimizeNewtonCG(f, fromArray(new Float64Array(d), [d]), { xtol: 1e-12 }).loss;
    const target = best + 1e-6;
    const ncg = raceNewtonCg(f, d, target);
    const maxSteps = 5000;
    const races: [string, Race][] = [
      ['Adam (lr 0.05)', raceFirstOrder(adam({ lr: 0.05 }), f, d, target, maxSteps)],
      [
        'SGD + momentum (lr 0.5, 0.9)',
        raceFirstOrder(sgd({ lr: 0.5, momentum: 0.9 }), f, d, target, maxSteps),
      ],
      ['SGD (lr 1)', raceFirstOrder(sgd({ lr: 1 }), f, d, target, maxSteps)],
    ];
    const show = (r: Race): string =>
      r.iterations === null
        ? `not reached in ${maxSteps} steps (${r.ms.toFixed(0)} ms)`
        : `${r.iterations} it, ${r.ms.toFixed(1)} ms`;
    const rows: Row[] = [
      {
        figure: FIGURE,
        work: `Newton-CG to f* + 1e-6 (${problem})`,
        value: `${show(ncg)} (${ncg.nfev} f+g, ${ncg.nhev} HVP)`,
        ratio: '1.00x time',
      },
    ];
    for (const [name, r] of races) {
      rows.push({
        figure: FIGURE,
        work: `${name} to f* + 1e-6 (${problem})`,
        value: show(r),
        ratio:
          r.iterations === null
            ? `>${(r.ms / ncg.ms).toFixed(1)}x time`
            : `${(r.ms / ncg.ms).toFixed(1)}x time`,
      });
    }

    // HVP vs gradient, at one point of the same problem.
    const rng = new Rng(3);
    const x = fromArray(
      Float64Array.from({ length: d }, () => 0.1 * rng.normal()),
      [d],
    );
    const v = fromArray(
      Float64Array.from({ length: d }, () => rng.normal()),
      [d],
    );
    const vg = valueAndGrad(f);
    const reps = 200;
    const gradMs = timeIt(reps, () => vg(x).grad.dataSync());
    const hvpMs = timeIt(reps, () => hvp(f, x, v).dataSync());
    const point = hessianModel(f)(x);
    const reuseMs = timeIt(reps, () => point.apply(v).dataSync());
    rows.push(
      {
        figure: FIGURE,
        work: `one gradient (value and grad; ${problem})`,
        value: `${gradMs.toFixed(3)} ms`,
        ratio: '1.00x',
      },
      {
        figure: FIGURE,
        work: 'one HVP from scratch (hvp(): forward + backward + backward-of-backward)',
        value: `${hvpMs.toFixed(3)} ms`,
        ratio: `${(hvpMs / gradMs).toFixed(2)}x gradient`,
      },
      {
        figure: FIGURE,
        work: "one HVP reusing the point's recorded gradient graph (Newton-CG's inner loop)",
        value: `${reuseMs.toFixed(3)} ms`,
        ratio: `${(reuseMs / gradMs).toFixed(2)}x gradient`,
      },
    );
    return rows;
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of await benchOptim()) console.log(`${r.work.padEnd(90)} ${r.value.padEnd(48)} ${r.ratio}`);
}
