import { getDefaultFloat } from '../backends/registry.js';
import { type DType, isFloat } from '../tensor/dtype.js';
import {
  broadcastShapes,
  fmtShape,
  normalizeAxis,
  type Shape,
  shapesEqual,
  sizeOf,
} from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { range, zerosLike } from './creation.js';
import { equal } from './elementwise.js';
import { recordView, runOp } from './engine.js';

/**
 * A view with a new shape (one dimension may be -1). Storage is row-major on every backend, so no data moves.
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const target = resolveShape(shape, x.size, x.shape);
  if (shapesEqual(target, x.shape)) return x;
  const out = new Tensor(x.storage, target, x.dtype);
  return recordView(
    'reshape',
    [x],
    out,
    (dy) => [reshape(dy, x.shape)],
    ([t]) => reshape(t!, target),
  );
}

function resolveShape(shape: readonly number[], size: number, from: Shape): number[] {
  const out = [...shape];
  const unknown = out.indexOf(-1);
  if (unknown >= 0) {
    const known = out.reduce((p, d, i) => (i === unknown ? p : p * d), 1);
    out[unknown] = known === 0 ? 0 : size / known;
  }
  if (sizeOf(out) !== size || out.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`reshape: cannot reshape ${fmtShape(from)} (${size} elements) to ${fmtShape(shape)}`);
  }
  return out;
}

/** Adds an axis of length 1 at `axis`. */
export function expandDims(x: Tensor, axis: number): Tensor {
  const a = normalizeAxis(axis, x.rank, 'expandDims', true);
  const shape = [...x.shape];
  shape.splice(a, 0, 1);
  return reshape(x, shape);
}

/** Removes axes of length 1 (all of them, or the ones listed). */
export function squeeze(x: Tensor, axes?: readonly number[]): Tensor {
  const drop = axes
    ? axes.map((a) => normalizeAxis(a, x.rank, 'squeeze'))
    : x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  for (const a of drop) {
    if (x.shape[a] !== 1) throw new Error(`squeeze: axis ${a} of shape ${fmtShape(x.shape)} is not 1`);
  }
  return reshape(
    x,
    x.shape.filter((_, i) => !drop.includes(i)),
  );
}

/** Permutes axes: output axis i is input axis perm[i] (default: reversed). */
export function transpose(x: Tensor, perm?: readonly number[]): Tensor {
  const p = perm
    ? perm.map((a) => normalizeAxis(a, x.rank, 'transpose'))
    : x.shape.map((_, i) => x.rank - 1 - i);
  if (p.length !== x.rank || new Set(p).size !== x.rank) {
    throw new Error(`transpose: ${JSON.stringify(perm)} is not a permutation of ${x.rank} axes`);
  }
  if (p.every((a, i) => a === i)) return x;
  const inverse = new Array<number>(p.length);
  p.forEach((a, i) => {
    inverse[a] = i;
  });
  const outShape = p.map((a) => x.shape[a]!);
  return runOp(
    'transpose',
    [x],
    outShape,
    x.dtype,
    (b) => b.transpose(x, p),
    (dy) => [transpose(dy, inverse)],
    ([t]) => transpose(t!, p),
  );
}

/** Broadcasts to a larger shape (NumPy rules); the gradient sums back. */
export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  if (shapesEqual(x.shape, shape)) return x;
  const check = broadcastShapes(x.shape, shape, 'broadcastTo');
  if (!shapesEqual(check, shape)) {
    throw new Error(`broadcastTo: cannot broadcast ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  }
  // The engine sums a gradient of the broadcast shape back to x's shape, so the rule is the identity.
  return runOp(
    'broadcastTo',
    [x],
    [...shape],
    x.dtype,
    (b) => b.broadcastTo(x, shape),
    (dy) => [dy],
    ([t]) => broadcastTo(t!, shape),
  );
}

/** A block: `size[i] = -1` means "to the end". */
export function slice(x: Tensor, begin: readonly number[], size?: readonly number[]): Tensor {
  if (begin.length !== x.rank)
    throw new Error(`slice: begin has ${begin.length} entries for a rank-${x.rank} tensor`);
  const sz = x.shape.map((d, i) => {
    const s = size?.[i] ?? -1;
    return s === -1 ? d - begin[i]! : s;
  });
  for (let i = 0; i < x.rank; i++) {
    if (begin[i]! < 0 || sz[i]! < 0 || begin[i]! + sz[i]! > x.shape[i]!) {
      throw new Error(
        `slice: begin ${JSON.stringify(begin)} size ${JSON.stringify(sz)} out of range for ${fmtShape(x.shape)}`,
      );
    }
  }
  if (shapesEqual(sz, x.shape)) return x;
  return runOp(
    'slice',
    [x],
    sz,
    x.dtype,
    (b) => b.slice(x, begin, sz),
    (dy) => [
      pad(
        dy,
        x.shape.map((d, i) => [begin[i]!, d - begin[i]! - sz[i]!] as const),
      ),
    ],
    ([t]) => slice(t!, begin, sz),
  );
}

/** Pads with a constant value; `paddings[i] = [before, after]`. */
export function pad(x: Tensor, paddings: readonly (readonly [number, number])[], value = 0): Tensor {
  if (paddings.length !== x.rank)
    throw new Error(`pad: ${paddings.length} paddings for a rank-${x.rank} tensor`);
  if (paddings.every(([a, b]) => a === 0 && b === 0)) return x;
  const outShape = x.shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
  return runOp(
    'pad',
    [x],
    outShape,
    x.dtype,
    (b) => b.pad(x, paddings, value),
    (dy) => [
      slice(
        dy,
        paddings.map(([before]) => before),
        x.shape,
      ),
    ],
    // The padding value is a constant: its tangent is 0.
    ([t]) => pad(t!, paddings, 0),
  );
}

/** Joins tensors along an existing axis. */
export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('concat: needs at least one tensor');
  const first = xs[0]!;
  const a = normalizeAxis(axis, first.rank, 'concat');
  for (const x of xs) {
    if (
      x.rank !== first.rank ||
      x.dtype !== first.dtype ||
      x.shape.some((d, i) => i !== a && d !== first.shape[i])
    ) {
      throw new Error(
        `concat: shapes ${xs.map((t) => fmtShape(t.shape)).join(', ')} do not match off axis ${a}`,
      );
    }
  }
  if (xs.length === 1) return first;
  const outShape = [...first.shape];
  outShape[a] = xs.reduce((s, x) => s + x.shape[a]!, 0);
  return runOp(
    'concat',
    xs,
    outShape,
    first.dtype,
    (b) => b.concat(xs, a),
    (dy, _y, _ins, needs) => {
      let offset = 0;
      return xs.map((x, i) => {
        const begin = dy.shape.map((_, d) => (d === a ? offset : 0));
        offset += x.shape[a]!;
        return needs[i] ? slice(dy, begin, x.shape) : null;
      });
    },
    (ts) =>
      concat(
        ts.map((t, i) => t ?? zerosLike(xs[i]!)),
        a,
      ),
  );
}

/** Joins tensors along a new axis. */
export function stack(xs: readonly Tensor[], axis = 0): Tensor {
  if (xs.length === 0) throw new Error('stack: needs at least one tensor');
  const a = normalizeAxis(axis, xs[0]!.rank, 'stack', true);
  return concat(
    xs.map((x) => expandDims(x, a)),
    a,
  );
}

/** Splits along an axis into tensors without that axis. */
export function unstack(x: Tensor, axis = 0): Tensor[] {
  const a = normalizeAxis(axis, x.rank, 'unstack');
  const out: Tensor[] = [];
  const size = [...x.shape];
  size[a] = 1;
  for (let i = 0; i < x.shape[a]!; i++) {
    const begin = x.shape.map((_, d) => (d === a ? i : 0));
    out.push(squeeze(slice(x, begin, size), [a]));
  }
  return out;
}

/** Slices of `x` along `axis` at int32 `indices`; the gradient scatter-adds (duplicates accumulate). */
export function gather(x: Tensor, indices: Tensor, axis = 0): Tensor {
  if (indices.dtype !== 'int32') throw new Error(`gather: indices must be int32, got ${indices.dtype}`);
  const a = normalizeAxis(axis, x.rank, 'gather');
  const outShape = [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)];
  return runOp(
    'gather',
    [x, indices],
    outShape,
    x.dtype,
    (b) => b.gather(x, indices, a),
    (dy) => [scatterAdd(dy, indices, a, x.shape), null],
    ([t]) => (t ? gather(t, indices, a) : null),
  );
}

/** The adjoint of {@link gather}: sums `updates` into zeros of `shape` at `indices` along `axis`. */
export function scatterAdd(updates: Tensor, indices: Tensor, axis: number, shape: readonly number[]): Tensor {
  if (indices.dtype !== 'int32') throw new Error(`scatterAdd: indices must be int32, got ${indices.dtype}`);
  const a = normalizeAxis(axis, shape.length, 'scatterAdd');
  const expect = [...shape.slice(0, a), ...indices.shape, ...shape.slice(a + 1)];
  if (!shapesEqual(expect, updates.shape)) {
    throw new Error(`scatterAdd: updates of shape ${fmtShape(updates.shape)}, expected ${fmtShape(expect)}`);
  }
  return runOp(
    'scatterAdd',
    [updates, indices],
    [...shape],
    updates.dtype,
    (b) => b.scatterAdd(updates, indices, a, shape),
    (dy) => [gather(dy, indices, a), null],
    ([t]) => (t ? scatterAdd(t, indices, a, shape) : null),
  );
}

/** Converts dtype; float-to-float casts pass the gradient through, casts to int32 are not differentiable. */
export function cast(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return x;
  const differentiable = isFloat(dtype) && isFloat(x.dtype);
  return runOp(
    'cast',
    [x],
    x.shape,
    dtype,
    (b) => b.cast(x, dtype),
    differentiable ? (dy) => [cast(dy, x.dtype)] : undefined,
    differentiable ? ([t]) => cast(t!, dtype) : undefined,
  );
}

/** The same values, invisible to every tape (no gradient flows through). */
export function stopGradient(x: Tensor): Tensor {
  return new Tensor(x.storage, x.shape, x.dtype);
}

/** One-hot rows for int32 labels: shape `[...labels.shape, depth]` in the default float dtype (no gradient). */
export function oneHot(labels: Tensor, depth: number, dtype: DType = getDefaultFloat()): Tensor {
  if (labels.dtype !== 'int32') throw new Error(`oneHot: labels must be int32, got ${labels.dtype}`);
  const l = cast(labels, dtype);
  const classes = range(0, depth, 1, dtype);
  return equal(reshape(l, [...l.shape, 1]), classes);
}
