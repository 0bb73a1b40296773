import type { BinaryOp, UnaryOp } from '../backends/backend.js';
import { broadcastShapes, shapesEqual } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { zerosLike } from './creation.js';
import { type GradRule, type JvpRule, runOp, type TensorLike, toPair, toTensor } from './engine.js';

// ---------------------------------------------------------------------------------------------------------
// Unary primitives. Each gradient is written in ops, and rules that reuse the output `y` (exp, sigmoid,
// tanh, sqrt, reciprocal) keep it connected: `y` was recorded by every enclosing tape, so the second
// derivative flows through it (the bug tfjs#3252 came from saving a disconnected copy). Each forward (JVP)
// rule, the last argument, is the same derivative applied to the input's tangent `t`, also written in ops
// (and also reusing the connected `y`), so forward mode nests to any order too.
// ---------------------------------------------------------------------------------------------------------

function unary(op: UnaryOp, x: TensorLike, grad?: GradRule, jvp?: JvpRule): Tensor {
  const t = toTensor(x);
  if (t.dtype === 'int32' && op !== 'neg' && op !== 'abs' && op !== 'sign' && op !== 'square') {
    throw new Error(`${op}: expects a float tensor, got int32`);
  }
  return runOp(op, [t], t.shape, t.dtype, (b) => b.unary(op, t), grad, jvp);
}

/** -x */
export function neg(x: TensorLike): Tensor {
  return unary(
    'neg',
    x,
    (dy) => [neg(dy)],
    ([t]) => neg(t!),
  );
}
/** e^x */
export function exp(x: TensorLike): Tensor {
  return unary(
    'exp',
    x,
    (dy, y) => [mul(dy, y)],
    ([t], y) => mul(t!, y),
  );
}
/** Natural logarithm. */
export function log(x: TensorLike): Tensor {
  return unary(
    'log',
    x,
    (dy, _y, [a]) => [div(dy, a!)],
    ([t], _y, [a]) => div(t!, a!),
  );
}
/** log(1 + x), accurate near 0. */
export function log1p(x: TensorLike): Tensor {
  return unary(
    'log1p',
    x,
    (dy, _y, [a]) => [div(dy, add(a!, 1))],
    ([t], _y, [a]) => div(t!, add(a!, 1)),
  );
}
/** Square root. */
export function sqrt(x: TensorLike): Tensor {
  return unary(
    'sqrt',
    x,
    (dy, y) => [div(dy, mul(y, 2))],
    ([t], y) => div(t!, mul(y, 2)),
  );
}
/** Sine. */
export function sin(x: TensorLike): Tensor {
  return unary(
    'sin',
    x,
    (dy, _y, [a]) => [mul(dy, cos(a!))],
    ([t], _y, [a]) => mul(t!, cos(a!)),
  );
}
/** Cosine. */
export function cos(x: TensorLike): Tensor {
  return unary(
    'cos',
    x,
    (dy, _y, [a]) => [neg(mul(dy, sin(a!)))],
    ([t], _y, [a]) => neg(mul(t!, sin(a!))),
  );
}
/** Hyperbolic tangent. */
export function tanh(x: TensorLike): Tensor {
  return unary(
    'tanh',
    x,
    (dy, y) => [mul(dy, sub(1, square(y)))],
    ([t], y) => mul(t!, sub(1, square(y))),
  );
}
/** Logistic sigmoid 1 / (1 + e^-x), computed stably. */
export function sigmoid(x: TensorLike): Tensor {
  return unary(
    'sigmoid',
    x,
    (dy, y) => [mul(dy, mul(y, sub(1, y)))],
    ([t], y) => mul(t!, mul(y, sub(1, y))),
  );
}
/** |x|; by convention abs'(0) = 0. */
export function abs(x: TensorLike): Tensor {
  return unary(
    'abs',
    x,
    (dy, _y, [a]) => [mul(dy, sign(a!))],
    ([t], _y, [a]) => mul(t!, sign(a!)),
  );
}
/** -1, 0 or 1; its gradient is zero everywhere (by convention, also at 0). */
export function sign(x: TensorLike): Tensor {
  return unary(
    'sign',
    x,
    (dy) => [zerosLike(dy)],
    () => null,
  );
}
/** max(x, 0); by convention relu'(0) = 0. */
export function relu(x: TensorLike): Tensor {
  return unary(
    'relu',
    x,
    (dy, _y, [a]) => [mul(dy, step(a!))],
    ([t], _y, [a]) => mul(t!, step(a!)),
  );
}
/** Heaviside step: 1 where x > 0, else 0 (so step(0) = 0); its gradient is zero. */
export function step(x: TensorLike): Tensor {
  return unary(
    'step',
    x,
    (dy) => [zerosLike(dy)],
    () => null,
  );
}
/** 1 / x */
export function reciprocal(x: TensorLike): Tensor {
  return unary(
    'reciprocal',
    x,
    (dy, y) => [neg(mul(dy, square(y)))],
    ([t], y) => neg(mul(t!, square(y))),
  );
}
/** x² */
export function square(x: TensorLike): Tensor {
  return unary(
    'square',
    x,
    (dy, _y, [a]) => [mul(dy, mul(a!, 2))],
    ([t], _y, [a]) => mul(t!, mul(a!, 2)),
  );
}
/** log(1 + e^x), computed stably; its derivative is sigmoid(x). */
export function softplus(x: TensorLike): Tensor {
  return unary(
    'softplus',
    x,
    (dy, _y, [a]) => [mul(dy, sigmoid(a!))],
    ([t], _y, [a]) => mul(t!, sigmoid(a!)),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Binary primitives, with NumPy broadcasting. Gradients are returned at the broadcast shape; the engine sums
// them back to each input's shape.
// ---------------------------------------------------------------------------------------------------------

function binary(op: BinaryOp, a: TensorLike, b: TensorLike, grad?: GradRule, jvp?: JvpRule): Tensor {
  const [ta, tb] = toPair(op, a, b);
  const outShape = shapesEqual(ta.shape, tb.shape) ? ta.shape : broadcastShapes(ta.shape, tb.shape, op);
  return runOp(op, [ta, tb], outShape, ta.dtype, (be) => be.binary(op, ta, tb, outShape), grad, jvp);
}

/** The sum of the tangent terms present (`null`: no term, a zero tangent). */
function plus(a: Tensor | null, b: Tensor | null): Tensor | null {
  return a && b ? add(a, b) : (a ?? b);
}

/** a + b */
export function add(a: TensorLike, b: TensorLike): Tensor {
  return binary(
    'add',
    a,
    b,
    (dy) => [dy, dy],
    ([ta, tb]) => plus(ta, tb),
  );
}
/** a - b */
export function sub(a: TensorLike, b: TensorLike): Tensor {
  return binary(
    'sub',
    a,
    b,
    (dy, _y, _x, needs) => [dy, needs[1] ? neg(dy) : null],
    ([ta, tb]) => (ta && tb ? sub(ta, tb) : (ta ?? neg(tb!))),
  );
}
/** a * b */
export function mul(a: TensorLike, b: TensorLike): Tensor {
  return binary(
    'mul',
    a,
    b,
    (dy, _y, [x, z], needs) => [needs[0] ? mul(dy, z!) : null, needs[1] ? mul(dy, x!) : null],
    ([ta, tb], _y, [x, z]) => plus(ta && mul(ta, z!), tb && mul(x!, tb)),
  );
}
/** a / b */
export function div(a: TensorLike, b: TensorLike): Tensor {
  return binary(
    'div',
    a,
    b,
    (dy, _y, [x, z], needs) => [
      needs[0] ? div(dy, z!) : null,
      needs[1] ? neg(div(mul(dy, x!), square(z!))) : null,
    ],
    ([ta, tb], _y, [x, z]) => plus(ta && div(ta, z!), tb && neg(div(mul(tb, x!), square(z!)))),
  );
}
/**
 * a ** b. The gradient with respect to `b` uses log(a) where a > 0 and 0 elsewhere (TensorFlow's
 * convention), so integer powers of negative bases stay finite.
 */
export function pow(a: TensorLike, b: TensorLike): Tensor {
  // d/da = b a^(b-1); d/db = a^b log a, with log a taken as 0 where a <= 0.
  const dBase = (x: Tensor, z: Tensor): Tensor => mul(z, pow(x, sub(z, 1)));
  const dExponent = (y: Tensor, x: Tensor): Tensor =>
    mul(y, where(greater(x, 0), log(where(greater(x, 0), x, 1)), 0));
  return binary(
    'pow',
    a,
    b,
    (dy, y, [x, z], needs) => [
      needs[0] ? mul(dy, dBase(x!, z!)) : null,
      needs[1] ? mul(dy, dExponent(y, x!)) : null,
    ],
    ([ta, tb], y, [x, z]) => plus(ta && mul(ta, dBase(x!, z!)), tb && mul(tb, dExponent(y, x!))),
  );
}
/** Element-wise maximum; a tie sends the whole gradient to `a`. */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  return binary(
    'maximum',
    a,
    b,
    (dy, _y, [x, z], needs) => {
      const mask = greaterEqual(x!, z!);
      return [needs[0] ? mul(dy, mask) : null, needs[1] ? mul(dy, sub(1, mask)) : null];
    },
    ([ta, tb], _y, [x, z]) => {
      const mask = greaterEqual(x!, z!);
      return plus(ta && mul(ta, mask), tb && mul(tb, sub(1, mask)));
    },
  );
}
/** Element-wise minimum; a tie sends the whole gradient to `a`. */
export function minimum(a: TensorLike, b: TensorLike): Tensor {
  return binary(
    'minimum',
    a,
    b,
    (dy, _y, [x, z], needs) => {
      const mask = lessEqual(x!, z!);
      return [needs[0] ? mul(dy, mask) : null, needs[1] ? mul(dy, sub(1, mask)) : null];
    },
    ([ta, tb], _y, [x, z]) => {
      const mask = lessEqual(x!, z!);
      return plus(ta && mul(ta, mask), tb && mul(tb, sub(1, mask)));
    },
  );
}

// Comparisons give 1 or 0 in the operands' dtype and are not differentiable (no tape records them).
/** 1 where a > b, else 0. */
export function greater(a: TensorLike, b: TensorLike): Tensor {
  return binary('greater', a, b);
}
/** 1 where a >= b, else 0. */
export function greaterEqual(a: TensorLike, b: TensorLike): Tensor {
  return binary('greaterEqual', a, b);
}
/** 1 where a < b, else 0. */
export function less(a: TensorLike, b: TensorLike): Tensor {
  return binary('less', a, b);
}
/** 1 where a <= b, else 0. */
export function lessEqual(a: TensorLike, b: TensorLike): Tensor {
  return binary('lessEqual', a, b);
}
/** 1 where a == b, else 0. */
export function equal(a: TensorLike, b: TensorLike): Tensor {
  return binary('equal', a, b);
}
/** 1 where a != b, else 0. */
export function notEqual(a: TensorLike, b: TensorLike): Tensor {
  return binary('notEqual', a, b);
}

/**
 * `cond != 0 ? a : b` with broadcasting. The gradient goes to the chosen branch only; note that a NaN or Inf
 * in the unchosen branch's own gradient still poisons it (0 * Inf), so guard such inputs (see `elu`).
 */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const [ta, tb] = toPair('where', a, b);
  const outShape = broadcastShapes(broadcastShapes(cond.shape, ta.shape, 'where'), tb.shape, 'where');
  return runOp(
    'where',
    [cond, ta, tb],
    outShape,
    ta.dtype,
    (be) => be.where(cond, ta, tb, outShape),
    (dy, _y, [k], needs) => [null, needs[1] ? where(k!, dy, 0) : null, needs[2] ? where(k!, 0, dy) : null],
    // The condition's own tangent is irrelevant: only the chosen branch's tangent passes.
    ([_tk, ta, tb], _y, [k]) => (ta || tb ? where(k!, ta ?? 0, tb ?? 0) : null),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Composites: no gradient of their own, their derivatives of every order come from the primitives.
// ---------------------------------------------------------------------------------------------------------

/** x where x > 0, else alpha * x. */
export function leakyRelu(x: Tensor, alpha = 0.2): Tensor {
  return where(greater(x, 0), x, mul(x, alpha));
}
/** x where x > 0, else alpha * (e^x - 1); the exp only sees non-positive values, so no Inf can leak. */
export function elu(x: Tensor, alpha = 1): Tensor {
  return where(greater(x, 0), x, mul(sub(exp(minimum(x, 0)), 1), alpha));
}
/** Clips to [lo, hi]. */
export function clipByValue(x: Tensor, lo: number, hi: number): Tensor {
  return minimum(maximum(x, lo), hi);
}
/** (a - b)² */
export function squaredDifference(a: TensorLike, b: TensorLike): Tensor {
  return square(sub(a, b));
}
