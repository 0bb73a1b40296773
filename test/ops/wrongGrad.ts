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
