import type { Backend } from '../backends/backend.js';
import { allocArray } from '../tensor/dtype.js';
import { broadcastedAxes, broadcastShapes, fmtShape, type Shape, shapesEqual } from '../tensor/shape.js';
import { Storage, Tensor } from '../tensor/tensor.js';
import { isForwardActive, isRecording, pushTangentsBy, recordOp, savedInputs } from './record.js';

/**
 * The few differentiable primitives that differentiation itself needs, defined here, below the ops, so the
 * tape imports them and no op module registers anything at import time (issue 15):
 *
 * - `add`: a tape accumulates the gradients of a tensor used several times;
 * - `sumTo` / `broadcastTo`: the op engine undoes broadcasting in a gradient (`src/ops/engine.ts`), and
 *   forward mode broadcasts a tangent to its output's shape (`./forward.ts`);
 * - `mul` and `sumTo(x, [])`: forward mode's double-VJP fallback, `hvp`, `checkGrads`;
 * - `reshape`, `stack` (with `take`/`placeAt`, its gradient): Jacobians.
 *
 * They call the backend's kernels directly, and each one's gradient and tangent rule is written in this same
 * closed set (add ↔ add, mul → mul/add, broadcastTo ↔ sumTo, stack → take → placeAt → take), so anything
 * computed with them is recorded by enclosing tapes and accumulators and differentiates again to any order.
 * They are deliberately narrow (same shapes and dtypes; no numbers): the user-facing ops with broadcasting
 * live in `src/ops`. The kernels are the ones the ops call, so results are bit-for-bit those of the ops.
 */

/** Runs one kernel, then records it on the tapes and pushes its tangent (rules written in this file). */
function primitive(
  name: string,
  inputs: readonly Tensor[],
  shape: Shape,
  kernel: ((backend: Backend) => unknown) | null,
  backward: (dy: Tensor, saved: readonly Tensor[], needs: readonly boolean[]) => (Tensor | null)[],
  tangent: (ts: readonly (Tensor | null)[]) => Tensor | null,
): Tensor {
  const x = inputs[0]!;
  for (const other of inputs) {
    if (other.backend !== x.backend || other.dtype !== x.dtype) {
      throw new Error(
        `${name}: inputs differ in backend or dtype (${x.backend.name}/${x.dtype} and ${other.backend.name}/${other.dtype})`,
      );
    }
  }
  // A null kernel is a view: the same row-major storage under another shape.
  const storage = kernel ? new Storage(x.backend, kernel(x.backend)) : x.storage;
  const out = new Tensor(storage, [...shape], x.dtype);
  if (isRecording()) {
    const saved = savedInputs(inputs);
    recordOp(name, saved, out, (dy, needs) => backward(dy, saved, needs));
  }
  if (isForwardActive()) pushTangentsBy(inputs, out, tangent);
  return out;
}

function sameShapes(name: string, a: Tensor, b: Tensor): void {
  if (!shapesEqual(a.shape, b.shape)) {
    throw new Error(`${name}: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} differ`);
  }
}

/** The sum of the terms present (`null`: no term). */
function plus(a: Tensor | null, b: Tensor | null): Tensor | null {
  return a && b ? add(a, b) : (a ?? b);
}

/** a + b for tensors of one shape and dtype. */
export function add(a: Tensor, b: Tensor): Tensor {
  sameShapes('add', a, b);
  return primitive(
    'add',
    [a, b],
    a.shape,
    (be) => be.binary('add', a, b, a.shape),
    (dy) => [dy, dy],
    ([ta, tb]) => plus(ta ?? null, tb ?? null),
  );
}

/** a * b for tensors of one shape and dtype. */
export function mul(a: Tensor, b: Tensor): Tensor {
  sameShapes('mul', a, b);
  return primitive(
    'mul',
    [a, b],
    a.shape,
    (be) => be.binary('mul', a, b, a.shape),
    (dy, [x, z], needs) => [needs[0] ? mul(dy, z!) : null, needs[1] ? mul(dy, x!) : null],
    ([ta, tb]) => plus(ta ? mul(ta, b) : null, tb ? mul(a, tb) : null),
  );
}

/** A view of `x` with another shape of the same size. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  if (shapesEqual(x.shape, shape)) return x;
  if (shape.reduce((n, d) => n * d, 1) !== x.size) {
    throw new Error(`reshape: cannot view ${fmtShape(x.shape)} as ${fmtShape(shape)}`);
  }
  return primitive(
    'reshape',
    [x],
    shape,
    null,
    (dy) => [reshape(dy, x.shape)],
    ([t]) => reshape(t!, shape),
  );
}

/** `x` broadcast to `shape` (NumPy rules); its gradient sums back with {@link sumTo}. */
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  if (shapesEqual(x.shape, shape)) return x;
  if (!shapesEqual(broadcastShapes(x.shape, shape, 'broadcastTo'), shape)) {
    throw new Error(`broadcastTo: cannot broadcast ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  }
  return primitive(
    'broadcastTo',
    [x],
    shape,
    (be) => be.broadcastTo(x, shape),
    (dy) => [sumTo(dy, x.shape)],
    ([t]) => broadcastTo(t!, shape),
  );
}

/**
 * Sums `x` over its broadcast axes so that it has `shape` (undoes a broadcast to `x.shape`; `sumTo(x, [])`
 * is the sum of all elements). The one reduction that undoes broadcasting in every gradient.
 */
export function sumTo(x: Tensor, shape: Shape): Tensor {
  if (shapesEqual(x.shape, shape)) return x;
  if (shape.length > x.shape.length) {
    throw new Error(`sumTo: cannot reduce a gradient of shape ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  }
  const axes = broadcastedAxes(shape, x.shape);
  // Dropping the summed axes leaves the layout of `shape` (its other axes are the size-1 ones), so the
  // reduction's storage is read as `shape` directly.
  return primitive(
    'sum',
    [x],
    shape,
    axes.length > 0 ? (be) => be.reduce('sum', x, axes) : null,
    (dy) => [broadcastTo(dy, x.shape)],
    ([t]) => sumTo(t!, shape),
  );
}

/** Same-shaped tensors joined along a new axis `axis` (0 ≤ axis ≤ rank). */
export function stack(xs: readonly Tensor[], axis: number): Tensor {
  const first = xs[0];
  if (!first) throw new Error('stack: needs at least one tensor');
  if (!Number.isInteger(axis) || axis < 0 || axis > first.rank) {
    throw new Error(`stack: axis ${axis} out of range for rank ${first.rank}`);
  }
  for (const x of xs) sameShapes('stack', first, x);
  const expanded = [...first.shape.slice(0, axis), 1, ...first.shape.slice(axis)];
  const shape = [...first.shape.slice(0, axis), xs.length, ...first.shape.slice(axis)];
  if (xs.length === 1) return reshape(first, shape);
  // The kernel sees each input with the new axis (an unrecorded view: only the kernel reads it).
  return primitive(
    'stack',
    xs,
    shape,
    (be) =>
      be.concat(
        xs.map((x) => new Tensor(x.storage, expanded, x.dtype)),
        axis,
      ),
    (dy, _saved, needs) => xs.map((_, i) => (needs[i] ? take(dy, axis, i) : null)),
    (ts) =>
      stack(
        ts.map((t, i) => t ?? filled(xs[i]!, 0)),
        axis,
      ),
  );
}

/** Entry `i` of `x` along `axis`, that axis removed (a gradient of {@link stack}). */
export function take(x: Tensor, axis: number, i: number): Tensor {
  const n = x.shape[axis];
  if (n === undefined || !Number.isInteger(i) || i < 0 || i >= n) {
    throw new Error(`take: entry ${i} of axis ${axis} out of range for ${fmtShape(x.shape)}`);
  }
  const begin = x.shape.map((_, d) => (d === axis ? i : 0));
  const size = x.shape.map((d, k) => (k === axis ? 1 : d));
  const shape = x.shape.filter((_, k) => k !== axis);
  return primitive(
    'take',
    [x],
    shape,
    (be) => be.slice(x, begin, size),
    (dy) => [placeAt(dy, axis, i, n)],
    ([t]) => take(t!, axis, i),
  );
}

/** `x` as entry `i` of a new axis `axis` of length `n`, zeros elsewhere (the gradient of {@link take}). */
export function placeAt(x: Tensor, axis: number, i: number, n: number): Tensor {
  const expanded = [...x.shape.slice(0, axis), 1, ...x.shape.slice(axis)];
  const paddings = expanded.map((_, d) => (d === axis ? ([i, n - 1 - i] as const) : ([0, 0] as const)));
  const shape = [...x.shape.slice(0, axis), n, ...x.shape.slice(axis)];
  return primitive(
    'placeAt',
    [x],
    shape,
    (be) => be.pad(new Tensor(x.storage, expanded, x.dtype), paddings, 0),
    (dy) => [take(dy, axis, i)],
    ([t]) => placeAt(t!, axis, i, n),
  );
}

/** A constant like `like` filled with `value` (zeros for unconnected answers, ones for seeds). */
export function filled(like: Tensor, value: number, shape: Shape = like.shape): Tensor {
  return new Tensor(
    new Storage(like.backend, like.backend.fill(shape, value, like.dtype)),
    [...shape],
    like.dtype,
  );
}

/** A constant with the given values, shaped `shape`, on `like`'s backend and of its dtype. */
export function constantLike(values: ArrayLike<number>, shape: Shape, like: Tensor): Tensor {
  const data = allocArray(like.dtype, values.length);
  data.set(values);
  return new Tensor(
    new Storage(like.backend, like.backend.upload(data, shape, like.dtype)),
    [...shape],
    like.dtype,
  );
}
