import {
  add,
  concat,
  fromArray,
  matmul,
  mean,
  mul,
  neg,
  Rng,
  reshape,
  slice,
  softplus,
  square,
  sub,
  sum,
  type Tensor,
} from '../../src/index.js';

/** The n-dimensional Rosenbrock function (SciPy's `rosen`). */
export function rosen(x: Tensor): Tensor {
  const n = x.size;
  const a = slice(x, [0], [n - 1]);
  const b = slice(x, [1], [n - 1]);
  return sum(add(mul(square(sub(b, square(a))), 100), square(sub(1, a))));
}

/** Its residual form r(x) with rosen(x) = |r|² (so 0.5 |r|² = rosen / 2). */
export function rosenResidual(x: Tensor): Tensor {
  const n = x.size;
  const a = slice(x, [0], [n - 1]);
  const b = slice(x, [1], [n - 1]);
  return concat([mul(sub(b, square(a)), 10), sub(1, a)]);
}

/** A seeded, L2-regularised logistic regression (labels ±1) with its loss as a function of a flat w. */
export function logisticProblem(
  seed = 7,
  n = 200,
  d = 10,
  lambda = 1e-2,
): { d: number; loss: (w: Tensor) => Tensor } {
  const rng = new Rng(seed);
  const X = new Float64Array(n * d);
  const y = new Float64Array(n);
  const wTrue = Array.from({ length: d }, () => rng.normal());
  for (let i = 0; i < n; i++) {
    let z = 0;
    for (let j = 0; j < d; j++) {
      const v = rng.normal();
      X[i * d + j] = v;
      z += v * wTrue[j]!;
    }
    y[i] = rng.uniform() < 1 / (1 + Math.exp(-z)) ? 1 : -1;
  }
  const Xt = fromArray(X, [n, d]);
  const yt = fromArray(y, [n, 1]);
  const loss = (w: Tensor): Tensor =>
    add(mean(softplus(neg(mul(yt, matmul(Xt, reshape(w, [d, 1])))))), mul(sum(square(w)), lambda / 2));
  return { d, loss };
}

/** Host values of a tensor as a plain array. */
export function values(t: Tensor): number[] {
  return Array.from(t.dataSync());
}
