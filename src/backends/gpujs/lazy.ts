import { type Shape, sizeOf } from '../../tensor/shape.js';
import type { BinaryOp, ReduceOp, UnaryOp } from '../backend.js';
import type { DeviceArray } from './device-array.js';

/**
 * One node of a pending elementwise expression. Leaves are materialized device arrays read with the
 * broadcast of `shape` to the kernel's output shape; every other node is a per-element function of its
 * children. Broadcasts compose (right-aligned, size-1 axes read at 0), so a leaf's read index depends only on
 * its own shape and the root's, wherever in the tree it sits.
 */
export type Expr =
  | {
      readonly kind: 'leaf';
      readonly array: DeviceArray;
      readonly shape: Shape;
      /**
       * Where the leaf's elements start in `array` (0 unless given): one segment of a kernel with several
       * results, such as Adam's moments, read in place.
       */
      readonly offset?: number;
      /**
       * Strides of `array` along the axes of `shape` where it is not read in row-major order (a slice or
       * transpose of an array, read in place): element `c` is `array[offset + sum(c[d] * strides[d])]`.
       */
      readonly strides?: readonly number[];
    }
  /** A float passed as a kernel argument, so fills of any value share one kernel. */
  | { readonly kind: 'const'; readonly value: number }
  | { readonly kind: 'unary'; readonly op: UnaryOp; readonly x: Expr; readonly int: boolean }
  | {
      readonly kind: 'binary';
      readonly op: BinaryOp;
      readonly a: Expr;
      readonly b: Expr;
      readonly int: boolean;
    }
  | { readonly kind: 'where'; readonly c: Expr; readonly a: Expr; readonly b: Expr }
  /** Float to int32: truncation toward zero. */
  | { readonly kind: 'trunc'; readonly x: Expr }
  | ReduceExpr
  | ViewExpr;

/**
 * Elements of `x` (an expression over `inShape`, in its own index space) rearranged into `outShape`: a
 * reshape (`flat`: the same flat index), a slice or transpose (`strided`: the flat index `base + sum(c[d] *
 * strides[d])` of output coordinates `c`), or a constant padding (`pad`: `value` outside). To the expression
 * around it, it is read like a leaf of `shape` (`outShape`, or that with size-1 axes inserted or dropped by
 * a reshape), so a slice, pad or reshape of a pending value is computed where a consumer reads it.
 */
export interface ViewExpr {
  readonly kind: 'view';
  readonly x: Expr;
  readonly inShape: Shape;
  readonly outShape: Shape;
  readonly map: ViewMap;
  readonly shape: Shape;
}

/** How a {@link ViewExpr} finds the element of its operand that one of its own elements is. */
export type ViewMap =
  | { readonly kind: 'flat' }
  | { readonly kind: 'strided'; readonly strides: readonly number[]; readonly base: number }
  | {
      readonly kind: 'pad';
      readonly paddings: readonly (readonly [number, number])[];
      /** A constant node (a kernel argument), so pads of any value share a kernel. */
      readonly value: Expr & { readonly kind: 'const' };
    };

/**
 * A reduction of `x` (an expression over `inShape`, in its own index space) over the sorted `axes`. To the
 * expression around it, it is read like a leaf: its values (of the kept axes, in order) broadcast from
 * `shape` (the kept shape, or that with size-1 axes inserted or dropped by a reshape). Its operand may hold
 * reductions in turn (a mean of per-task sums).
 */
export interface ReduceExpr {
  readonly kind: 'reduce';
  readonly op: ReduceOp;
  readonly x: Expr;
  readonly inShape: Shape;
  readonly axes: readonly number[];
  readonly shape: Shape;
  /**
   * The handle the reduction was returned as (set once that exists), which computes it on its own, once,
   * where inlining it would cost too much.
   */
  readonly source: { handle?: LazyArray };
}

/**
 * The children of a node in its kernel's index space, in a fixed order (code generation and traversals rely
 * on it). A reduction has none there: its operand lives in the reduction's own index space.
 */
export function childrenOf(e: Expr): readonly Expr[] {
  switch (e.kind) {
    case 'leaf':
    case 'const':
    case 'reduce':
    case 'view':
      return [];
    case 'unary':
    case 'trunc':
      return [e.x];
    case 'binary':
      return [e.a, e.b];
    case 'where':
      return [e.c, e.a, e.b];
  }
}

/**
 * A storage handle of the gpu.js backend whose value is not computed yet: an elementwise expression over
 * materialized arrays. Elementwise consumers extend the expression; any other consumer (or a read)
 * materializes it once into one generated kernel (`GpujsBackend.materialize`), after which it behaves as
 * that array.
 *
 * While pending it pins its leaves, so the storage finaliser of the tensors they belong to cannot release
 * them before the fused kernel has read them.
 */
export class LazyArray {
  private expr_: Expr | undefined;
  private array_: DeviceArray | undefined;
  private nodes_: ReadonlySet<Expr>;
  private leaves_: ReadonlySet<DeviceArray>;
  private disposed = false;
  readonly size: number;

  /**
   * `nodes` are every node of `expr` (deduplicated), `leaves` every leaf array; `epoch` counts the backend's
   * reads so far (see `Fuser.operand`).
   */
  constructor(
    expr: Expr,
    readonly shape: Shape,
    nodes: ReadonlySet<Expr>,
    leaves: ReadonlySet<DeviceArray>,
    readonly epoch: number,
  ) {
    this.expr_ = expr;
    this.size = sizeOf(shape);
    this.nodes_ = nodes;
    this.leaves_ = leaves;
    for (const a of leaves) a.pin();
  }

  /** The pending expression (undefined once materialized or disposed). */
  get expr(): Expr | undefined {
    return this.expr_;
  }

  get nodes(): ReadonlySet<Expr> {
    return this.nodes_;
  }

  get leaves(): ReadonlySet<DeviceArray> {
    return this.leaves_;
  }

  /** The computed array, once materialized. */
  get array(): DeviceArray | undefined {
    return this.array_;
  }

  /** True once disposed, or once the array it became was released. */
  get isReleased(): boolean {
    return this.disposed || (this.array_?.isReleased ?? false);
  }

  /**
   * Records the array the expression was computed into and lets go of the expression and its leaves (the
   * kernel that reads them pinned them itself).
   */
  settle(array: DeviceArray): void {
    this.array_ = array;
    this.release();
  }

  /**
   * Replaces the pending expression by an equivalent one over other arrays (a read of the segment of a kernel
   * that computed it along with others), pinning the new leaves and letting go of the old ones.
   */
  rebase(expr: Expr, nodes: ReadonlySet<Expr>, leaves: ReadonlySet<DeviceArray>): void {
    for (const a of leaves) a.pin();
    for (const a of this.leaves_) a.unpin();
    this.expr_ = expr;
    this.nodes_ = nodes;
    this.leaves_ = leaves;
  }

  /** Gives back the computed array, or the pins on the leaves if it was never computed. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.array_) this.array_.dispose();
    else this.release();
  }

  private release(): void {
    for (const a of this.leaves_) a.unpin();
    this.expr_ = undefined;
    this.nodes_ = new Set();
    this.leaves_ = new Set();
  }
}

/**
 * The same expression read as `shape` (a reshape of the tensor holding it), or undefined when that needs the
 * value materialized first. The reshape splits both shapes into groups of consecutive axes of equal size
 * (`[2, 3, 3, 64]` as `[2, 576]`: `[2] -> [2]`, `[3, 3, 64] -> [576]`); each leaf (and reduction) stays a
 * broadcast of the new shape when, within every group, it either has all of the old axes or none of them
 * (all size 1): it then gets the new group's axes, or 1s. This covers inserting or dropping size-1 axes, any
 * reshape of a broadcast-free expression, and merging axes around a broadcast (a per-task, per-channel
 * statistic `[2, 1, 1, 1, 64]` of `[2, 5, 3, 3, 64]` read as `[2, 45, 64]`).
 */
export function reshapeExpr(lazy: LazyArray, shape: Shape): Expr | undefined {
  const expr = lazy.expr;
  if (!expr) return undefined;
  const groups = axisGroups(lazy.shape, shape);
  if (!groups) return undefined;
  const mapped = new Map<Expr, Expr>();
  for (const n of outerNodesOf(expr)) {
    if (n.kind === 'leaf' && n.strides) {
      const s = regroupStrided(n.shape, n.strides, lazy.shape, shape, groups);
      if (!s) return undefined;
      mapped.set(n, { ...n, ...s });
      continue;
    }
    if (n.kind !== 'leaf' && n.kind !== 'reduce' && n.kind !== 'view') continue;
    const s = regroup(n.shape, lazy.shape, shape, groups);
    if (!s) return undefined;
    mapped.set(n, { ...n, shape: s });
  }
  const memo = new Map<Expr, Expr>();
  const walk = (e: Expr): Expr => {
    let r = memo.get(e);
    if (r) return r;
    r = mapped.get(e) ?? withChildren(e, walk);
    memo.set(e, r);
    return r;
  };
  return walk(expr);
}

/**
 * `from` and `to` (of the same, non-zero size) as runs of consecutive axes of equal size, in order: pairs of
 * axis lists, either of which may be empty for a trailing size-1 axis. Undefined when the sizes differ.
 */
function axisGroups(from: Shape, to: Shape): [number[], number[]][] | undefined {
  if (sizeOf(from) !== sizeOf(to) || sizeOf(from) === 0) return undefined;
  const groups: [number[], number[]][] = [];
  let i = 0;
  let j = 0;
  while (i < from.length || j < to.length) {
    const gi: number[] = [];
    const gj: number[] = [];
    let a = 1;
    let b = 1;
    if (i < from.length) {
      gi.push(i);
      a = from[i++]!;
    }
    if (j < to.length) {
      gj.push(j);
      b = to[j++]!;
    }
    while (a !== b) {
      if (a < b) {
        gi.push(i);
        a *= from[i++]!;
      } else {
        gj.push(j);
        b *= to[j++]!;
      }
    }
    groups.push([gi, gj]);
  }
  return groups;
}

/**
 * The shape of a read (`leaf`, broadcasting to `from`) under the reshape of `from` to `to` split as `groups`:
 * per group, `to`'s axes where the read has all of `from`'s, 1s where it has none; undefined otherwise.
 */
function regroup(
  leaf: Shape,
  from: Shape,
  to: Shape,
  groups: readonly (readonly [number[], number[]])[],
): Shape | undefined {
  const padded = [...Array<number>(from.length - leaf.length).fill(1), ...leaf];
  const out = Array<number>(to.length).fill(1);
  for (const [gi, gj] of groups) {
    if (gi.every((d) => padded[d] === from[d])) for (const d of gj) out[d] = to[d]!;
    else if (!gi.every((d) => padded[d] === 1)) return undefined;
  }
  return out;
}

/**
 * `e` with each operand replaced by `f` of it: the one place that knows which fields of a node are operands.
 * Nodes without operands (leaf, const, reduce: a reduction is a read in the consumer's index space) are
 * returned as they are.
 */
export function withChildren(e: Expr, f: (operand: Expr) => Expr): Expr {
  switch (e.kind) {
    case 'leaf':
    case 'const':
    case 'reduce':
    case 'view':
      return e;
    case 'unary':
    case 'trunc':
      return { ...e, x: f(e.x) };
    case 'binary':
      return { ...e, a: f(e.a), b: f(e.b) };
    case 'where':
      return { ...e, c: f(e.c), a: f(e.a), b: f(e.b) };
  }
}

/**
 * {@link regroup} for a leaf with explicit strides: within a group whose axes it has, those (the non-unit
 * ones) must be one run of memory (each stride the next one's times its size), which the new axes then split
 * row-major; undefined otherwise (a transposed pair merged).
 */
function regroupStrided(
  leaf: Shape,
  strides: readonly number[],
  from: Shape,
  to: Shape,
  groups: readonly (readonly [number[], number[]])[],
): { shape: Shape; strides: number[] } | undefined {
  const lead = from.length - leaf.length;
  const padded = [...Array<number>(lead).fill(1), ...leaf];
  const paddedStrides = [...Array<number>(lead).fill(0), ...strides];
  const shape = Array<number>(to.length).fill(1);
  const out = Array<number>(to.length).fill(0);
  for (const [gi, gj] of groups) {
    if (gi.every((d) => padded[d] === from[d])) {
      const axes = gi.filter((d) => from[d] !== 1);
      for (let k = 0; k + 1 < axes.length; k++)
        if (paddedStrides[axes[k]!] !== paddedStrides[axes[k + 1]!]! * from[axes[k + 1]!]!) return undefined;
      let inner = axes.length > 0 ? paddedStrides[axes.at(-1)!]! : 0;
      for (let k = gj.length - 1; k >= 0; k--) {
        const d = gj[k]!;
        shape[d] = to[d]!;
        out[d] = inner;
        inner *= to[d]!;
      }
    } else if (!gi.every((d) => padded[d] === 1)) return undefined;
  }
  return { shape, strides: out };
}

/** Every node reachable from `e`, the operands of reductions included (what a kernel computing it holds). */
export function nodesOf(e: Expr, into = new Set<Expr>()): Set<Expr> {
  if (into.has(e)) return into;
  into.add(e);
  for (const c of childrenOf(e)) nodesOf(c, into);
  if (e.kind === 'reduce' || e.kind === 'view') nodesOf(e.x, into);
  if (e.kind === 'view' && e.map.kind === 'pad') into.add(e.map.value);
  return into;
}

/**
 * The nodes a kernel evaluates once per evaluation of `e`: those in its own index space and, through views
 * (which read one element of their operand per element), their operands' (reductions, not their operands).
 */
export function evaluatedNodesOf(e: Expr, into = new Set<Expr>()): Set<Expr> {
  if (into.has(e)) return into;
  into.add(e);
  for (const c of childrenOf(e)) evaluatedNodesOf(c, into);
  if (e.kind === 'view') evaluatedNodesOf(e.x, into);
  return into;
}

/** The nodes of `e` in its own index space (reductions and views, not their operands). */
export function outerNodesOf(e: Expr, into = new Set<Expr>()): Set<Expr> {
  if (into.has(e)) return into;
  into.add(e);
  for (const c of childrenOf(e)) outerNodesOf(c, into);
  return into;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
