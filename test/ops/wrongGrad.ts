// A deliberately wrong op (its rule is off by a factor of 2), to prove the gradient checker can fail.

import { mul, type Tensor } from '../../src/index.js';
import { runOp } from '../../src/ops/engine.js';

export { GradCheckError } from '../../src/autodiff/gradcheck.js';

export function customGradForTest(x: Tensor): Tensor {
  return runOp(
    'wrongSquare',
    [x],
    x.shape,
    x.dtype,
    (b) => b.unary('square', x),
    (dy, _y, [a]) => [mul(dy, a!)],
  );
}

/** x² with a right reverse rule and a forward rule off by a factor of 2. */
export function wrongJvpForTest(x: Tensor): Tensor {
  return runOp(
    'wrongJvpSquare',
    [x],
    x.shape,
    x.dtype,
    (b) => b.unary('square', x),
    (dy, _y, [a]) => [mul(dy, mul(a!, 2))],
    ([t], _y, [a]) => mul(t!, a!),
  );
}

/** x² with a reverse rule only (a user's custom op): forward mode must fall back to the double-VJP trick. */
export function squareWithoutJvpForTest(x: Tensor): Tensor {
  return runOp(
    'squareWithoutJvp',
    [x],
    x.shape,
    x.dtype,
    (b) => b.unary('square', x),
    (dy, _y, [a]) => [mul(dy, mul(a!, 2))],
  );
}
