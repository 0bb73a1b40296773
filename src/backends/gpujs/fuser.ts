import type { DType } from '../../tensor/dtype.js';
import { type Shape, sizeOf } from '../../tensor/shape.js';
import type { AdamConstants, BinaryOp, KernelTensor, ReduceOp, UnaryOp } from '../backend.js';
import { DeviceArray } from './device-array.js';
import { GpujsDisposedError } from './errors.js';
import {
  type FusedCall,
  fusedCall,
  fusedGatherCall,
  fusedGroupsCall,
  fusedMatmulCall,
  fusedPartialCall,
  fusedScatterAddInverseCall,
  fusedSegmentsCall,
} from './kernels/fused.js';
import { partialReduceSpec, REDUCE_CHUNK } from './kernels/reduce.js';
import {
  childrenOf,
  type Expr,
  evaluatedNodesOf,
  LazyArray,
  nodesOf,
  outerNodesOf,
  type ReduceExpr,
  reshapeExpr,
  sameShape,
  type ViewMap,
  withChildren,
} from './lazy.js';

/**
 * Bounds of one fused kernel. `arrays`: WebGPU guarantees 8 storage buffers per shader stage and the output
 * is one (WebGL 1 guarantees 8 texture units); `scalars` live in a uniform block (WebGPU) or uniforms (WebGL),
 * kept well inside every API's minimum; `nodes` keeps the generated source (and the recomputation when a
 * pending value feeds several kernels) small.
 */
export const FUSION_LIMITS: FusionLimits = { arrays: 7, scalars: 16, nodes: 48 };

/**
 * How many times {@link FusionLimits.nodes} the groups that one kernel computes together at a step's read (see
 * `fusedGroupsCall`) may hold in all. Each thread evaluates only its own group's branch, so the per-thread work
 * (what the node bound keeps small) stays that of one group, each within the node bound; this bounds only the
 * length of the generated source. At 4, conv4's 18 Adam updates fit in the kernels the array and scalar bounds
 * allow (two groups a kernel before, each update being 20 to 25 nodes). The batching stays the same from step
 * to step only because every group has room for its parameter update (see `adamMoments`): where that update
 * joined one step and not the next, the parameter's layout, and so the kernels, changed at step four.
 */
export const GROUP_NODES_FACTOR = 4;

/** Bounds of one fused kernel: device arrays read, float arguments, expression nodes. */
export interface FusionLimits {
  readonly arrays: number;
  readonly scalars: number;
  readonly nodes: number;
  /**
   * Most expression nodes of a kernel that computes a small value with its siblings (see `Fuser.siblingsOf`);
   * `nodes` x {@link GROUP_NODES_FACTOR} where absent. WebGL sets `nodes`: Mesa's llvmpipe (headless-gl)
   * spent minutes in LLVM's loop analysis compiling a batch-norm step's siblings at the larger bound, since
   * gpu.js writes every WebGL loop as a constant-bounded loop with a break, one per inlined reduction.
   */
  readonly siblingNodes?: number;
}

/**
 * Most element evaluations a matmul may spend recomputing pending operands inside its dot-product loop (output
 * elements x k x operations of both operand expressions). Inside it the recomputation costs less than the
 * dispatch it saves (tens of microseconds on a GPU); above it (conv4's first weight gradient: 2 x 576 x 64
 * outputs x k = 3,920) the operand is computed once, by its own kernel, so that host modes do not pay the
 * recomputation in CPU time.
 */
export const MATMUL_INLINE_BUDGET = 2 ** 24;

/**
 * Most loop steps that inlining a reduction node may add to a kernel by recomputing it (evaluations beyond
 * one per element of the node x the steps of one evaluation, nested reductions included): a bias gradient
 * summed over 10 rows and broadcast back over them (9,000 x 10 steps) stays inlined; a batch-norm mean
 * broadcast back over the 3,920 elements per channel it averaged (about 5e5 x 3,920) is computed once, on
 * its own. Small next to a dispatch on a GPU, and a fraction of a millisecond on the host modes.
 */
export const REDUCE_INLINE_STEPS = 2 ** 17;

/**
 * Largest output (elements) of a pending value that is computed along with its siblings (see
 * `Fuser.siblingsOf`): per-channel values, whose kernels cost their dispatch, not their work.
 */
export const SIBLING_SIZE = 1024;

/** How many of the latest small values a sibling is looked for among (at least; see `Fuser.siblingsOf`). */
export const SIBLING_WINDOW = 256;

/** `METATAPE_GPU_FUSION=0` turns fusion off (the dispatch-per-op baseline); anything else leaves it on. */
export function fusionFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.METATAPE_GPU_FUSION !== '0';
}

/** An operand of a new elementwise node: its expression, with every node and leaf array under it. */
interface Operand {
  readonly expr: Expr;
  readonly nodes: ReadonlySet<Expr>;
  readonly leaves: ReadonlySet<DeviceArray>;
  /** The pending handle it came from, which can be materialized to bound a kernel. */
  readonly lazy?: LazyArray;
}

const EMPTY = new Float32Array(0);

/** A small value built this step, as built (its handle may be released before it is computed). */
interface Sibling {
  readonly lazy: LazyArray;
  readonly expr: Expr;
  readonly nodes: ReadonlySet<Expr>;
  readonly leaves: ReadonlySet<DeviceArray>;
}

/**
 * Results over one shape that one kernel computes together, one segment each, when first needed (see
 * {@link Fuser.adamMoments}): until then each member is an ordinary pending expression, and an elementwise
 * consumer of a member of the same shape (the parameter update `p + u`) may join as one more segment.
 */
interface SegmentGroup {
  readonly shape: Shape;
  readonly members: LazyArray[];
}

/**
 * Elementwise fusion for the gpu.js backend: the elementwise kernels build {@link LazyArray} expressions, and
 * {@link Fuser.array} is the one place where a pending value becomes a device array (one generated kernel for
 * the whole expression). Every non-elementwise kernel reads its inputs through it.
 */
export class Fuser {
  private epoch = 0;
  /** Groups not computed yet, and the group of each of their members. */
  private readonly groups = new Set<SegmentGroup>();
  private readonly groupOf = new WeakMap<LazyArray, SegmentGroup>();
  /** Small values built this step, which may be computed along with a sibling (see `siblingsOf`). */
  private recent: Sibling[] = [];
  /** Values computed as a segment of a kernel computing several (see `computeTogether`). */
  private readonly computedTogether = new WeakSet<LazyArray>();

  /**
   * @param run dispatches a fused kernel with an output of `size` elements (the backend's own dispatch).
   * @param backendName for error messages.
   * @param limits bounds of one fused kernel (more arrays where the device binds more storage buffers).
   */
  constructor(
    private readonly run: (call: FusedCall, size: number) => DeviceArray,
    private readonly backendName: string,
    private readonly limits: FusionLimits = FUSION_LIMITS,
  ) {}

  /**
   * Marks a read of values to the host: the end of a training step, as far as the backend can tell. Values
   * pending from before it are materialized before they feed a new expression (see `operand`).
   */
  advance(): void {
    // A step's optimizer results are computed before they become last step's values, as few kernels as
    // the limits allow.
    this.runGroups([...this.groups]);
    this.epoch++;
    this.recent = [];
  }

  /** The device array of a handle, materializing a pending one (once: later calls return the same array). */
  array(t: KernelTensor): DeviceArray {
    const h = t.handle;
    if (h instanceof LazyArray) return this.materialize(h);
    const a = h as DeviceArray;
    if (a.isReleased) throw new GpujsDisposedError(this.backendName);
    return a;
  }

  /**
   * For a handle that is a pending read of a segment of another kernel's output (one of Adam's results): that
   * output and where the handle's elements start in it, so a read to the host needs no copy kernel.
   */
  segment(t: KernelTensor): { array: DeviceArray; offset: number } | undefined {
    const h = t.handle;
    if (!(h instanceof LazyArray) || h.array || h.isReleased) return undefined;
    this.runGroupOf(h);
    const e = h.expr!;
    if (e.kind !== 'leaf' || e.strides || sizeOf(e.shape) !== h.size || e.array.isReleased) return undefined;
    return { array: e.array, offset: e.offset ?? 0 };
  }

  unary(op: UnaryOp, x: KernelTensor): unknown {
    return this.build([x], x.shape, ([e]) => ({ kind: 'unary', op, x: e!, int: x.dtype === 'int32' }));
  }

  binary(op: BinaryOp, a: KernelTensor, b: KernelTensor, outShape: Shape): unknown {
    return this.build([a, b], outShape, ([ea, eb]) => ({
      kind: 'binary',
      op,
      a: ea!,
      b: eb!,
      int: a.dtype === 'int32',
    }));
  }

  where(cond: KernelTensor, a: KernelTensor, b: KernelTensor, outShape: Shape): unknown {
    return this.build([cond, a, b], outShape, ([c, ea, eb]) => ({ kind: 'where', c: c!, a: ea!, b: eb! }));
  }

  /**
   * A constant of `shape` (a fill, or an uploaded single value: the scalars of `mul(x, 0.1)`): a kernel
   * argument where it is used, so it takes no storage binding and no upload kernel.
   */
  fill(shape: Shape, value: number): unknown {
    return this.build([], shape, () => ({ kind: 'const', value }));
  }

  /** A copy (each tensor owns its handle), truncating toward zero when casting a float to int32. */
  cast(x: KernelTensor, dtype: DType): unknown {
    const truncate = dtype === 'int32' && x.dtype !== 'int32';
    return this.build([x], x.shape, ([e]) => (truncate ? { kind: 'trunc', x: e! } : e!));
  }

  /**
   * A slice, transpose (`strided`) or constant padding (`pad`) of `x` into `outShape` as a pending view, which
   * its consumer computes where it reads it (a kernel of its own only for a consumer that needs an array).
   */
  view(x: KernelTensor, outShape: Shape, map: ViewMap): unknown {
    if (sizeOf(x.shape) === 0) return undefined;
    if (map.kind === 'strided') {
      const read = this.stridedRead(x, outShape, map.strides, map.base);
      if (read) return read;
    }
    return this.build(
      [x],
      outShape,
      ([e]) => ({ kind: 'view', x: e!, inShape: x.shape, outShape, map, shape: outShape }),
      map.kind === 'pad' ? 2 : 1,
    );
  }

  /**
   * A slice or transpose of an array (or of a pending bare read of one, in row-major order) as a pending
   * read of that array with the copy's strides: no index arithmetic where it is read (inside a matmul's
   * loop, a transposed operand is read as the plain matmul reads one).
   */
  private stridedRead(
    x: KernelTensor,
    outShape: Shape,
    strides: readonly number[],
    base: number,
  ): LazyArray | undefined {
    const h = x.handle;
    let array: DeviceArray;
    let offset = 0;
    if (h instanceof LazyArray && !h.array && !h.isReleased) {
      this.runGroupOf(h);
      const e = h.expr!;
      if (e.kind !== 'leaf' || e.strides || !sameShape(e.shape, h.shape)) return undefined;
      array = e.array;
      offset = e.offset ?? 0;
    } else array = this.array(x);
    const expr: Expr = { kind: 'leaf', array, shape: outShape, offset: offset + base, strides: [...strides] };
    return new LazyArray(expr, outShape, new Set([expr]), new Set([array]), this.epoch);
  }

  /** Broadcasts compose with elementwise reads, so a broadcast copy is just the operand read at `shape`. */
  broadcastTo(x: KernelTensor, shape: Shape): unknown {
    return this.build([x], shape, ([e]) => e!);
  }

  /**
   * A reduction over `axes` as a pending value: a reduction node that a consumer computes inside its own
   * kernel (a bias gradient feeding the inner-loop update, a meta-gradient feeding Adam), or that one kernel
   * computes on its own when a consumer needs an array (with the operand computed inside its loop, so
   * `sum(square(x))` never stores the squares). Undefined for an empty input; a long reduction with few
   * outputs runs in two passes instead (see {@link Fuser.partialReduce}).
   */
  reduce(op: ReduceOp, x: KernelTensor, axes: readonly number[]): LazyArray | undefined {
    if (sizeOf(x.shape) === 0) return undefined;
    const reduced = axes.reduce((p, a) => p * x.shape[a]!, 1);
    if (reduced >= 8 * REDUCE_CHUNK && partialReduceSpec(op, x.shape, axes)) return undefined;
    // The reduction's loop evaluates its operand once per input element, and a reduction read there that does
    // not move along `axes` once per output (the loop reads it before it starts: a mean in its variance).
    const operand = this.operand(x);
    let o = this.fitReductions(operand, x.shape, sizeOf(x.shape), axes);
    // Those kept in it may bring their own operands' arrays and nodes: beyond the bounds, they run first too.
    if (!this.fits(o)) o = this.fitReductions(operand, x.shape, sizeOf(x.shape));
    const shape = x.shape.filter((_, i) => !axes.includes(i));
    const source: { handle?: LazyArray } = {};
    const node: ReduceExpr = {
      kind: 'reduce',
      op,
      x: o.expr,
      inShape: x.shape,
      axes: [...axes],
      shape,
      source,
    };
    const nodes = new Set(o.nodes);
    nodes.add(node);
    const lazy = new LazyArray(node, shape, nodes, o.leaves, this.epoch);
    source.handle = lazy;
    return lazy;
  }

  /**
   * A long reduction with few outputs in two passes, as the backend's `partialReduceSpec` splits it: the
   * first pass (one kernel) computes a pending operand inside its loop, the second is a pending reduction of
   * the partials, which a consumer may inline. Undefined where the backend's own two passes should run: the
   * input is an array already, or the operand's reads do not run through the reduced axes as one sequence.
   */
  partialReduce(op: ReduceOp, x: KernelTensor, axes: readonly number[]): LazyArray | undefined {
    if (!this.isPending(x) || !partialReduceSpec(op, x.shape, axes)) return undefined;
    // As in `reduce`: a reduction read there that does not move along `axes` is read once per thread of the
    // first pass, before its loop (see `fusedPartialCall`), so it stays inlined where the bounds allow.
    const operand = this.operand(x);
    let o = this.fitReductions(operand, x.shape, sizeOf(x.shape), axes);
    if (!this.fits(o)) o = this.fitReductions(operand, x.shape, sizeOf(x.shape));
    if (!o.lazy) return undefined;
    const first = fusedPartialCall(op, o.expr, x.shape, axes, REDUCE_CHUNK);
    // A second pass this long would itself need two (over 2^19 elements per output): left to the backend.
    if (!first || first.chunks >= 8 * REDUCE_CHUNK) return undefined;
    const partials = this.run(first.call, first.outputs * first.chunks);
    const kept = x.shape.filter((_, i) => !axes.includes(i));
    const second = this.reduce(op, { handle: partials, shape: [...kept, first.chunks], dtype: x.dtype }, [
      kept.length,
    ]);
    // The pending second pass pins the partials; they are released with it.
    partials.dispose();
    return second;
  }

  /**
   * `matmul` with pending operands read inside the product (one kernel, see `fusedMatmulCall`), or undefined
   * where the backend's own matmul should run: neither operand is pending (or inlining it would exceed
   * {@link FUSION_LIMITS} or {@link MATMUL_INLINE_BUDGET}, in which case it is computed first).
   */
  matmul(
    a: KernelTensor,
    b: KernelTensor,
    transposeA: boolean,
    transposeB: boolean,
    outShape: Shape,
  ): DeviceArray | undefined {
    if (!this.isPending(a) && !this.isPending(b)) return undefined;
    const inputs = [a, b];
    const k = transposeA ? a.shape.at(-2)! : a.shape.at(-1)!;
    // Every operand element is evaluated once per step of every dot product that reads it.
    const ops = inputs.map((t) => this.fitReductions(this.operand(t), t.shape, sizeOf(outShape) * k));
    // A view's index arithmetic (coordinates, bounds) would run at every step of the dot products: an
    // operand with one is computed first (a strided read of an array is a plain leaf and stays inlined).
    ops.forEach((o, i) => {
      if (o.lazy && [...o.nodes].some((n) => n.kind === 'view'))
        ops[i] = leaf(this.materialize(o.lazy), inputs[i]!.shape);
    });
    for (;;) {
      const lazy = ops.flatMap((o, i) => (o.lazy ? [i] : []));
      if (lazy.length === 0) return undefined;
      const leaves = new Set([...ops[0]!.leaves, ...ops[1]!.leaves]);
      const nodes = new Set([...ops[0]!.nodes, ...ops[1]!.nodes]);
      let scalars = 0;
      let work = 0;
      for (const n of nodes) {
        if (n.kind === 'const') scalars++;
        else if (n.kind !== 'leaf') work++;
      }
      for (const n of nodes) if (n.kind === 'reduce') work += loopSteps(n);
      if (
        leaves.size <= this.limits.arrays &&
        scalars <= this.limits.scalars &&
        nodes.size <= this.limits.nodes &&
        sizeOf(outShape) * k * work <= MATMUL_INLINE_BUDGET
      ) {
        const [ea, eb] = ops.map((o) => o.expr);
        return this.run(
          fusedMatmulCall(ea!, a.shape, eb!, b.shape, transposeA, transposeB, outShape),
          sizeOf(outShape),
        );
      }
      const i = lazy.reduce((x, y) => (ops[y]!.nodes.size > ops[x]!.nodes.size ? y : x));
      ops[i] = this.computeFirst([ops[i]!.lazy!], () => inputs[i]!.shape)[0]!;
    }
  }

  /**
   * `gather` of a pending value as one kernel that computes it where it reads it (im2col patches of a padded,
   * normalized feature map), or undefined where the backend's own gather should run: the input is an array,
   * the kernel would exceed the limits, or recomputing the value for every element read (each is read once
   * per window holding it) would exceed {@link MATMUL_INLINE_BUDGET}.
   */
  gather(x: KernelTensor, indices: KernelTensor, axis: number, outSize: number): DeviceArray | undefined {
    if (!this.isPending(x) || sizeOf(x.shape) === 0 || outSize === 0) return undefined;
    const o = this.fitReductions(this.operand(x), x.shape, outSize);
    if (!o.lazy) return undefined;
    let scalars = 0;
    let work = 0;
    for (const n of o.nodes) {
      if (n.kind === 'const') scalars++;
      else if (n.kind !== 'leaf') work++;
    }
    for (const n of o.nodes) if (n.kind === 'reduce') work += loopSteps(n);
    const idx = this.array(indices);
    const arrays = o.leaves.has(idx) ? o.leaves.size : o.leaves.size + 1;
    if (
      arrays > this.limits.arrays ||
      scalars > this.limits.scalars ||
      o.nodes.size > this.limits.nodes ||
      outSize * work > MATMUL_INLINE_BUDGET
    )
      return undefined;
    return this.run(fusedGatherCall(o.expr, x.shape, idx, sizeOf(indices.shape), axis), outSize);
  }

  /**
   * scatterAdd through an inverse index (`table`, see `scatterAddInverseSpec`) of pending `updates` as one
   * kernel that computes each update where its output sums it (each is read once), or undefined where the
   * backend's own kernel should run: the updates are an array, or the kernel would exceed the limits.
   */
  scatterAddInverse(
    updates: KernelTensor,
    table: DeviceArray,
    outShape: Shape,
    ni: number,
    axis: number,
    maxDegree: number,
  ): DeviceArray | undefined {
    if (!this.isPending(updates)) return undefined;
    const o = this.fitReductions(this.operand(updates), updates.shape, sizeOf(updates.shape));
    if (!o.lazy) return undefined;
    let scalars = 0;
    for (const n of o.nodes) if (n.kind === 'const') scalars++;
    const arrays = o.leaves.has(table) ? o.leaves.size : o.leaves.size + 1;
    if (arrays > this.limits.arrays || scalars > this.limits.scalars || o.nodes.size > this.limits.nodes)
      return undefined;
    const call = fusedScatterAddInverseCall(o.expr, updates.shape, table, outShape, ni, axis, maxDegree);
    return this.run(call, sizeOf(outShape));
  }

  /**
   * Adam's `m'`, `v'` and step `u` (see `Backend.adamMoments`) as one kernel with a segment each, the
   * composition's operations in its order, run when one of them is first needed (at the latest, at the
   * step's read). The parameter update `p + u` built before then joins the kernel as a fourth segment. Each
   * result then is a pending read of its segment, so the next step's update and forward pass read them in
   * place, and only a consumer that needs an array of its own copies one out.
   */
  adamMoments(
    g: KernelTensor,
    m: KernelTensor,
    v: KernelTensor,
    c: AdamConstants,
  ): [LazyArray, LazyArray, LazyArray] | undefined {
    const shape = g.shape;
    const size = sizeOf(shape);
    if (size === 0) return undefined;
    const inputs = [g, m, v];
    // Each input is read by all three segments.
    const ops = inputs.map((t) => this.fitReductions(this.operand(t), t.shape, 3 * size));
    const konst = (value: number): Expr => ({ kind: 'const', value });
    const bin = (op: BinaryOp, a: Expr, b: Expr): Expr => ({ kind: 'binary', op, a, b, int: false });
    const un = (op: UnaryOp, x: Expr): Expr => ({ kind: 'unary', op, x, int: false });
    for (;;) {
      const [eg, em, ev] = ops.map((o) => o.expr) as [Expr, Expr, Expr];
      const mNew = bin('add', em, bin('mul', bin('sub', eg, em), konst(c.s1)));
      const vNew = bin('add', ev, bin('mul', bin('sub', un('square', eg), ev), konst(c.s2)));
      const root = un('sqrt', c.epsRoot > 0 ? bin('add', vNew, konst(c.epsRoot)) : vNew);
      const u = bin('mul', bin('div', mNew, bin('add', root, konst(c.epsHat))), konst(c.scale));
      const nodes = nodesOf(u);
      const leaves = new Set(ops.flatMap((o) => [...o.leaves]));
      let scalars = 0;
      for (const n of nodes) if (n.kind === 'const') scalars++;
      // Room for the parameter update `p + u` to join (see `join`): one more array and two more nodes (a read
      // of `p` and the sum). Without it a group at the bounds computes `u` alone and `p + u` runs as a kernel
      // of its own next step, reading `p` where the step before left it (a segment one step, an array of its
      // own the next): a kernel first compiled a step later than the others.
      if (
        leaves.size + 1 <= this.limits.arrays &&
        scalars <= this.limits.scalars &&
        nodes.size + 2 <= this.limits.nodes
      ) {
        const group: SegmentGroup = { shape, members: [] };
        for (const root of [mNew, vNew, u]) {
          const rootNodes = nodesOf(root);
          const rootLeaves = new Set<DeviceArray>();
          for (const n of rootNodes) if (n.kind === 'leaf') rootLeaves.add(n.array);
          const member = new LazyArray(root, shape, rootNodes, rootLeaves, this.epoch);
          group.members.push(member);
          this.groupOf.set(member, group);
        }
        this.groups.add(group);
        return group.members as [LazyArray, LazyArray, LazyArray];
      }
      const lazy = ops.flatMap((o, i) => (o.lazy ? [i] : []));
      // Unreachable: three plain arrays and the update's 15 nodes fit the limits.
      if (lazy.length === 0) return undefined;
      const i = lazy.reduce((x, y) => (ops[y]!.nodes.size > ops[x]!.nodes.size ? y : x));
      ops[i] = leaf(this.materialize(ops[i]!.lazy!), inputs[i]!.shape);
    }
  }

  /**
   * `make(inputs)` as one more member of a group not computed yet, where one input is a member of it and
   * the result has its shape (the parameter update `p + u` of Adam's step `u`): undefined where some other
   * input is pending (beyond a constant or a bare read) or the group's kernel would exceed the limits.
   */
  private join(
    inputs: readonly KernelTensor[],
    outShape: Shape,
    make: (xs: Expr[]) => Expr,
  ): LazyArray | undefined {
    let group: SegmentGroup | undefined;
    for (const t of inputs) {
      const h = t.handle;
      if (!(h instanceof LazyArray) || h.isReleased) continue;
      const g = this.groupOf.get(h);
      if (g && this.groups.has(g)) group = g;
    }
    if (!group || !sameShape(outShape, group.shape)) return undefined;
    const exprs: Expr[] = [];
    for (const t of inputs) {
      const h = t.handle;
      if (!(h instanceof LazyArray) || h.array || h.isReleased) {
        exprs.push({ kind: 'leaf', array: this.array(t), shape: t.shape });
        continue;
      }
      const e = h.expr!;
      const sameGroup = this.groupOf.get(h) === group;
      if (e.kind !== 'const' && !((sameGroup || e.kind === 'leaf') && sameShape(h.shape, t.shape)))
        return undefined;
      if (!sameGroup && this.groupOf.has(h) && e.kind !== 'leaf') return undefined;
      exprs.push(e);
    }
    const expr = make(exprs);
    const roots = [...group.members.filter((m) => !m.isReleased).map((m) => m.expr!), expr];
    const all = new Set<Expr>();
    for (const r of roots) nodesOf(r, all);
    let arrays = 0;
    let scalars = 0;
    const seen = new Set<DeviceArray>();
    for (const n of all) {
      if (n.kind === 'const') scalars++;
      else if (n.kind === 'leaf' && !seen.has(n.array)) {
        seen.add(n.array);
        arrays++;
      }
    }
    if (arrays > this.limits.arrays || scalars > this.limits.scalars || all.size > this.limits.nodes)
      return undefined;
    const nodes = nodesOf(expr);
    const leaves = new Set<DeviceArray>();
    for (const n of nodes) if (n.kind === 'leaf') leaves.add(n.array);
    const lazy = new LazyArray(expr, outShape, nodes, leaves, this.epoch);
    group.members.push(lazy);
    this.groupOf.set(lazy, group);
    return lazy;
  }

  /** Runs the group `h` belongs to, if it has not run yet. */
  private runGroupOf(h: LazyArray): void {
    const g = this.groupOf.get(h);
    if (g && this.groups.has(g)) this.runGroup(g);
  }

  /**
   * Computes the members of a group still wanted (not released) in one kernel, one segment each, and turns
   * each into a pending read of its segment, which consumers inline (across steps too).
   */
  private runGroup(g: SegmentGroup): void {
    this.runGroups([g]);
  }

  /**
   * Runs groups not yet run, several in one kernel (see `fusedGroupsCall`) as far as the limits allow, in
   * the order given: the arrays and scalars of all the kernel's groups within their bounds, the nodes within
   * {@link GROUP_NODES_FACTOR} times theirs (a thread evaluates one group's nodes only).
   */
  private runGroups(groups: readonly SegmentGroup[]): void {
    let batch: { g: SegmentGroup; live: LazyArray[] }[] = [];
    const arrays = new Set<DeviceArray>();
    let scalars = 0;
    let nodes = 0;
    const flush = () => {
      if (batch.length === 1) this.runOne(batch[0]!.g, batch[0]!.live);
      else if (batch.length > 1) {
        const out = this.run(
          fusedGroupsCall(batch.map((b) => ({ roots: b.live.map((m) => m.expr!), shape: b.g.shape }))),
          batch.reduce((t, b) => t + b.live.length * sizeOf(b.g.shape), 0),
        );
        let offset = 0;
        for (const b of batch) {
          const size = sizeOf(b.g.shape);
          for (const m of b.live) {
            const view: Expr = { kind: 'leaf', array: out, shape: b.g.shape, offset };
            m.rebase(view, new Set([view]), new Set([out]));
            offset += size;
          }
        }
        out.dispose();
      }
      batch = [];
      arrays.clear();
      scalars = 0;
      nodes = 0;
    };
    for (const g of groups) {
      if (!this.groups.delete(g)) continue;
      const live = g.members.filter((m) => !m.isReleased && !m.array);
      if (live.length === 0) continue;
      const own = new Set<Expr>();
      for (const m of live) nodesOf(m.expr!, own);
      const leaves = new Set<DeviceArray>();
      let consts = 0;
      for (const n of own) {
        if (n.kind === 'leaf') leaves.add(n.array);
        else if (n.kind === 'const') consts++;
      }
      const union = new Set([...arrays, ...leaves]);
      if (
        batch.length > 0 &&
        (union.size > this.limits.arrays ||
          scalars + consts > this.limits.scalars ||
          nodes + own.size > this.limits.nodes * GROUP_NODES_FACTOR)
      )
        flush();
      batch.push({ g, live });
      for (const l of leaves) arrays.add(l);
      scalars += consts;
      nodes += own.size;
    }
    flush();
  }

  /** Runs one group (already taken off the pending set) on its own: one segment per live member. */
  private runOne(g: SegmentGroup, live: readonly LazyArray[]): void {
    const size = sizeOf(g.shape);
    const out = this.run(
      fusedSegmentsCall(
        live.map((m) => m.expr!),
        g.shape,
      ),
      live.length * size,
    );
    live.forEach((m, k) => {
      const view: Expr = { kind: 'leaf', array: out, shape: g.shape, offset: k * size };
      m.rebase(view, new Set([view]), new Set([out]));
    });
    // The views pin the output; it is released once all of them are (dispose waits for pins).
    out.dispose();
  }

  /** True when a kernel computing `o` keeps within the bounds (arrays, scalars, nodes). */
  private fits(o: Operand): boolean {
    let scalars = 0;
    for (const n of o.nodes) if (n.kind === 'const') scalars++;
    return (
      o.leaves.size <= this.limits.arrays &&
      scalars <= this.limits.scalars &&
      o.nodes.size <= this.limits.nodes
    );
  }

  /** True for a handle still holding an uncomputed expression. */
  isPending(t: KernelTensor): boolean {
    const h = t.handle;
    return h instanceof LazyArray && !h.array && !h.isReleased;
  }

  /**
   * The operand `o` (of `shape`) as a kernel doing `work` evaluations of it may inline it: a reduction node
   * whose recomputation would add more than {@link REDUCE_INLINE_STEPS} loop steps (a batch-norm mean
   * broadcast over the batch, a bias gradient inside a matmul's loop) is computed on its own first and read
   * as an array, the rest stays inlined.
   */
  private fitReductions(
    o: Operand,
    shape: Shape,
    work: number,
    reducedAxes?: readonly number[],
    temps?: Map<object, LazyArray>,
  ): Operand {
    if (!o.lazy) return o;
    const owners = new Map<ReduceExpr, LazyArray>();
    for (const n of costlyReductions(o.expr, shape, work, reducedAxes)) {
      const own = n.source.handle;
      if (!own || own.isReleased) {
        // Its own handle was released (a tensor disposed while the value feeds a pending one). Computing the
        // value itself (`temps`): the node on its own, once per key `fittedCounts` counted it under.
        if (temps) {
          const key = own ?? n.source;
          let t = temps.get(key);
          if (!t) {
            const nodes = nodesOf(n);
            const leaves = new Set<DeviceArray>();
            for (const m of nodes) if (m.kind === 'leaf') leaves.add(m.array);
            t = new LazyArray(n, n.shape, nodes, leaves, this.epoch);
            temps.set(key, t);
          }
          owners.set(n, t);
          continue;
        }
        // Otherwise the whole operand, which the operand's handle owns.
        return leaf(this.materialize(o.lazy), shape);
      }
      owners.set(n, own);
    }
    if (owners.size === 0) return o;
    // Reductions computed at once (the sums of a batch-norm backward) share a kernel.
    this.computeTogether([...owners.values()]);
    const costly = new Map<Expr, Expr>();
    for (const [n, own] of owners) costly.set(n, this.readOf(own, n.shape));
    const expr = replaceNodes(o.expr, costly);
    const nodes = nodesOf(expr);
    const leaves = new Set<DeviceArray>();
    for (const n of nodes) if (n.kind === 'leaf') leaves.add(n.array);
    return { expr, nodes, leaves, lazy: o.lazy };
  }

  /**
   * Computes pending values that are needed at the same time (reductions a consumer reads as arrays) in as
   * few kernels as the limits allow: several at once as the groups of one kernel (see `fusedGroupsCall`, each
   * thread computing only its own value), each then a pending read of its segment of the output, which
   * consumers read in place (one array bound for all of them, where each had its own). One alone is
   * materialized as before.
   */
  private computeTogether(hs: readonly LazyArray[]): void {
    const todo = [...new Set(hs)].filter((h) => !h.isReleased && !h.array && h.expr!.kind !== 'leaf');
    let batch: LazyArray[] = [];
    const arrays = new Set<DeviceArray>();
    let scalars = 0;
    let nodes = 0;
    const flush = () => {
      const siblings = batch.length === 1 && this.isPlain(batch[0]!) ? this.siblingsOf(batch[0]!) : [];
      if (siblings.length > 0) this.computeWithSiblings(batch[0]!, siblings);
      else if (batch.length === 1) this.materialize(batch[0]!);
      else if (batch.length > 1) {
        const out = this.run(
          fusedGroupsCall(batch.map((h) => ({ roots: [h.expr!], shape: h.shape }))),
          batch.reduce((t, h) => t + h.size, 0),
        );
        let offset = 0;
        for (const h of batch) {
          const view: Expr = { kind: 'leaf', array: out, shape: h.shape, offset };
          this.computedTogether.add(h);
          h.rebase(view, new Set([view]), new Set([out]));
          offset += h.size;
        }
        // The views pin the output; it is released once all of them are.
        out.dispose();
      }
      batch = [];
      arrays.clear();
      scalars = 0;
      nodes = 0;
    };
    for (const h of todo) {
      let consts = 0;
      for (const n of h.nodes) if (n.kind === 'const') consts++;
      const union = new Set([...arrays, ...h.leaves]);
      if (
        batch.length > 0 &&
        (union.size > this.limits.arrays ||
          scalars + consts > this.limits.scalars ||
          nodes + h.nodes.size > this.limits.nodes * GROUP_NODES_FACTOR)
      )
        flush();
      batch.push(h);
      for (const l of h.leaves) arrays.add(l);
      scalars += consts;
      nodes += h.nodes.size;
    }
    flush();
  }

  /**
   * A read of `h`'s value at `shape` (its shape, or that with size-1 axes inserted or dropped) for a kernel:
   * its array, or the read of its segment where {@link Fuser.computeTogether} computed it with others (no
   * copy first), materializing it if it is still pending.
   */
  private readOf(h: LazyArray, shape: Shape): Expr {
    if (!h.array && !h.isReleased && h.expr!.kind === 'leaf' && !h.expr!.strides)
      return { ...h.expr!, shape };
    return { kind: 'leaf', array: this.materialize(h), shape };
  }

  private materialize(h: LazyArray): DeviceArray {
    if (h.isReleased) throw new GpujsDisposedError(this.backendName);
    if (h.array) return h.array;
    this.runGroupOf(h);
    // The reductions an elementwise expression would recompute too often were left in it (see `build`): they
    // run first, those needed together in one kernel.
    const temps = new Map<object, LazyArray>();
    const o = this.fitReductions(
      { expr: h.expr!, nodes: h.nodes, leaves: h.leaves, lazy: h },
      h.shape,
      h.size,
      undefined,
      temps,
    );
    const out = this.run(fusedCall(o.expr, h.shape), h.size);
    // Read by the kernel just dispatched (which holds on to what it reads), no longer needed here.
    for (const t of temps.values()) t.dispose();
    h.settle(out);
    return out;
  }

  /**
   * A new pending value `make(operands)` of `outShape`. When the kernel it would become exceeds
   * {@link FUSION_LIMITS}, the largest pending operand is materialized first (its own kernel), until it fits.
   * `added`: the nodes `make` adds (a padding's constant is a second one).
   */
  private build(
    inputs: readonly KernelTensor[],
    outShape: Shape,
    make: (xs: Expr[]) => Expr,
    added = 1,
  ): unknown {
    if (sizeOf(outShape) === 0) return DeviceArray.ready(0, EMPTY);
    const joined = this.join(inputs, outShape, make);
    if (joined) return joined;
    // Reductions the new value would recompute too often stay in it until it is computed (`materialize` runs
    // them first, those needed then together in one kernel); the bounds hold for the kernel that computes it,
    // which reads each of them as an array.
    const work = sizeOf(outShape);
    const ops = inputs.map((t) => this.operand(t));
    const first = this.operandsFirst(ops, outShape, work, added);
    // Those computed first are independent of each other: computed together, in as few kernels as the
    // limits allow (several per-channel values that one backward step needs at once).
    this.computeFirst(
      first.map((k) => ops[k]!.lazy!),
      (k) => inputs[first[k]!]!.shape,
    ).forEach((o, j) => {
      ops[first[j]!] = o;
    });
    const nodes = new Set<Expr>();
    const leaves = new Set<DeviceArray>();
    for (const o of ops) {
      for (const n of o.nodes) nodes.add(n);
      for (const l of o.leaves) leaves.add(l);
    }
    const expr = make(ops.map((o) => o.expr));
    nodes.add(expr);
    if (expr.kind === 'view' && expr.map.kind === 'pad') nodes.add(expr.map.value);
    const lazy = new LazyArray(expr, outShape, nodes, leaves, this.epoch);
    if (lazy.size <= SIBLING_SIZE && this.isPlain(lazy)) {
      this.recent.push({ lazy, expr, nodes, leaves });
      // Only the latest: a step that never reads would otherwise keep all it built, and scan it each time.
      if (this.recent.length > 2 * SIBLING_WINDOW) this.recent = this.recent.slice(-SIBLING_WINDOW);
    }
    return lazy;
  }

  /**
   * The operands (indices into `ops`) that the kernel computing a new node over them (`added` nodes, over
   * `shape`, `work` evaluations) must read as arrays to keep within the limits: the largest pending one
   * first, until the rest fits. Nothing is computed here; each chosen operand counts as one array read.
   */
  private operandsFirst(ops: readonly Operand[], shape: Shape, work: number, added: number): number[] {
    const exprs = ops.map((o) => o.expr);
    const first: number[] = [];
    for (;;) {
      const fitted = fittedCounts(exprs, shape, work);
      if (
        fitted.arrays <= this.limits.arrays &&
        fitted.scalars + 1 <= this.limits.scalars &&
        fitted.nodes + added <= this.limits.nodes
      )
        return first;
      let k = -1;
      const sizes = exprs.map((e) => fittedCounts([e], shape, work).nodes);
      ops.forEach((o, i) => {
        if (o.lazy && !first.includes(i) && (k < 0 || sizes[i]! > sizes[k]!)) k = i;
      });
      // Unreachable: operands that are all plain arrays (at most 3 leaves, 4 nodes) always fit.
      if (k < 0) throw new Error('gpu.js fusion: an elementwise node exceeds the fused-kernel limits');
      first.push(k);
      // A stand-in for the array it becomes: one array, one node.
      exprs[k] = { kind: 'leaf', array: ops[k]!.lazy as unknown as DeviceArray, shape: ops[k]!.lazy!.shape };
    }
  }

  /** True for a pending value a kernel can compute as it is: no reduction in it to compute first. */
  private isPlain(h: LazyArray): boolean {
    const e = h.expr!;
    return e.kind !== 'leaf' && e.kind !== 'const' && costlyReductions(e, h.shape, h.size).length === 0;
  }

  /**
   * Other small pending values of this step that read only arrays `h` reads: computed in `h`'s kernel when
   * `h` must be computed, since a backward step needs several values of one shape in a row (a batch norm's
   * per-channel sums and scales), each of which would otherwise be a kernel of its own a moment later.
   */
  private siblingsOf(h: LazyArray): Sibling[] {
    if (h.size > SIBLING_SIZE) return [];
    const batch: Sibling[] = [];
    let scalars = constsOf(h.nodes);
    let nodes = h.nodes.size;
    for (const y of this.recent) {
      // Whether a sibling is still wanted must not decide: a tensor's release may wait for the garbage
      // collector, and a kernel that changed with it would be compiled anew in a later step. So a released
      // sibling is computed all the same (its leaves are `h`'s, which `h` keeps), its segment unread.
      if (
        y.lazy === h ||
        // A part of `h`'s own expression: most likely read by `h` alone.
        h.nodes.has(y.expr) ||
        y.expr.kind === 'reduce' ||
        y.lazy.size > SIBLING_SIZE ||
        y.nodes.size * 3 < this.limits.nodes ||
        y.lazy.array ||
        this.computedTogether.has(y.lazy) ||
        ![...y.leaves].every((l) => h.leaves.has(l))
      )
        continue;
      const c = constsOf(y.nodes);
      // Only as far as the one kernel allows: a sibling never needed must not cost a kernel of its own.
      if (
        scalars + c > this.limits.scalars ||
        nodes + y.nodes.size > (this.limits.siblingNodes ?? this.limits.nodes * GROUP_NODES_FACTOR)
      )
        continue;
      batch.push(y);
      scalars += c;
      nodes += y.nodes.size;
    }
    return batch;
  }

  /**
   * Computes `h` and its `siblings` (see `siblingsOf`) in one kernel, one segment each, each still wanted
   * then a pending read of its segment.
   */
  private computeWithSiblings(h: LazyArray, siblings: readonly Sibling[]): void {
    const members = [{ lazy: h, expr: h.expr! }, ...siblings];
    const out = this.run(
      fusedGroupsCall(members.map((m) => ({ roots: [m.expr], shape: m.lazy.shape }))),
      members.reduce((t, m) => t + m.lazy.size, 0),
    );
    let offset = 0;
    for (const m of members) {
      this.computedTogether.add(m.lazy);
      if (!m.lazy.isReleased) {
        const view: Expr = { kind: 'leaf', array: out, shape: m.lazy.shape, offset };
        m.lazy.rebase(view, new Set([view]), new Set([out]));
      }
      offset += m.lazy.size;
    }
    // The views pin the output; it is released once all of them are.
    out.dispose();
  }

  /**
   * Computes pending values `hs` (independent of each other) and returns each as an operand read at
   * `shapeOf(index)`: those with no reduction to compute first (see `fitReductions`) together (see
   * `computeTogether`), each then a read of its segment; the others on their own.
   */
  private computeFirst(hs: readonly LazyArray[], shapeOf: (k: number) => Shape): Operand[] {
    const plain = hs.filter((h) => this.isPlain(h));
    if (plain.length > 1) this.computeTogether(plain);
    else if (plain.length === 1) {
      const siblings = this.siblingsOf(plain[0]!);
      if (siblings.length > 0) this.computeWithSiblings(plain[0]!, siblings);
    }
    return hs.map((h, k) => {
      const expr = this.readOf(h, shapeOf(k));
      return { expr, nodes: new Set([expr]), leaves: new Set([(expr as { array: DeviceArray }).array]) };
    });
  }

  private operand(t: KernelTensor): Operand {
    const h = t.handle;
    if (!(h instanceof LazyArray) || h.array || h.isReleased) return leaf(this.array(t), t.shape);
    // A member of a group is read as its segment: the group's kernel runs first.
    this.runGroupOf(h);
    // A value still pending from before the last read (an optimizer state, the updated parameters) is
    // computed on its own rather than inlined: inlined, the state's expression would grow by one update per
    // step, and every step would compile a new, longer kernel. A constant cannot grow, nor can a bare read of
    // an array (Adam's state: a segment of the previous update's output): both stay inlined.
    if (h.epoch !== this.epoch && h.expr!.kind !== 'const' && h.expr!.kind !== 'leaf')
      return leaf(this.materialize(h), t.shape);
    if (sameShape(h.shape, t.shape)) return { expr: h.expr!, nodes: h.nodes, leaves: h.leaves, lazy: h };
    // Read under another shape (a reshape shares the handle): fine for a broadcast-free expression only.
    const reshaped = reshapeExpr(h, t.shape);
    if (reshaped) return { expr: reshaped, nodes: nodesOf(reshaped), leaves: h.leaves, lazy: h };
    // Otherwise a view that reads it at the same flat index (a task axis merged with a broadcast one).
    const view: Expr = {
      kind: 'view',
      x: h.expr!,
      inShape: h.shape,
      outShape: t.shape,
      map: { kind: 'flat' },
      shape: t.shape,
    };
    const nodes = new Set(h.nodes);
    nodes.add(view);
    return { expr: view, nodes, leaves: h.leaves, lazy: h };
  }
}

/** The constants (kernel scalars) among `nodes`. */
function constsOf(nodes: ReadonlySet<Expr>): number {
  let n = 0;
  for (const e of nodes) if (e.kind === 'const') n++;
  return n;
}

function leaf(array: DeviceArray, shape: Shape): Operand {
  const expr: Expr = { kind: 'leaf', array, shape };
  return { expr, nodes: new Set([expr]), leaves: new Set([array]) };
}

/** `e` with the nodes of `map` (in its own index space) replaced by their images; shared nodes stay shared. */
function replaceNodes(e: Expr, map: ReadonlyMap<Expr, Expr>): Expr {
  const memo = new Map<Expr, Expr>(map);
  const walk = (n: Expr): Expr => {
    let r = memo.get(n);
    if (r) return r;
    // A view's operand is evaluated once per element read, so its reductions are replaced as well.
    r = n.kind === 'view' ? { ...n, x: walk(n.x) } : withChildren(n, walk);
    memo.set(n, r);
    return r;
  };
  return walk(e);
}

/**
 * Loop steps of one evaluation of a reduction node: its reduced length times the cost of a step, which
 * includes every reduction inlined in its operand (nested loops multiply).
 */
function loopSteps(n: ReduceExpr): number {
  let step = 1;
  let once = 0;
  const direct = directNodesOf(n.x);
  for (const m of evaluatedNodesOf(n.x)) {
    if (m.kind !== 'reduce') continue;
    // Read before the loop (see the fused kernels' reduction reads): its loop runs once per evaluation.
    if (direct.has(m) && invariantAlong(m.shape, n.inShape, n.axes)) once += loopSteps(m);
    else step += loopSteps(m);
  }
  return n.axes.reduce((p, a) => p * n.inShape[a]!, 1) * step + once;
}

/**
 * The reduction nodes of `e` (over `shape`) that a kernel evaluating it `work` times would recompute more
 * than {@link REDUCE_INLINE_STEPS} loop steps' worth: computed on their own first. Inside a reduction over
 * `reducedAxes` (of `shape`), a node read once per output (see `invariantAlong`) is evaluated that often.
 */
function costlyReductions(
  e: Expr,
  shape: Shape,
  work: number,
  reducedAxes?: readonly number[],
): ReduceExpr[] {
  const direct = reducedAxes ? directNodesOf(e) : undefined;
  const outputs = reducedAxes ? work / reducedAxes.reduce((p, a) => p * shape[a]!, 1) : work;
  const costly: ReduceExpr[] = [];
  for (const n of evaluatedNodesOf(e)) {
    if (n.kind !== 'reduce') continue;
    const once = direct && reducedAxes && direct.has(n) && invariantAlong(n.shape, shape, reducedAxes);
    // Evaluated once per element, a node costs what its own kernel would; only recomputations add work.
    if (Math.max(0, (once ? outputs : work) - sizeOf(n.shape)) * loopSteps(n) > REDUCE_INLINE_STEPS)
      costly.push(n);
  }
  return costly;
}

/**
 * Arrays, scalars and nodes of the kernel that computes `exprs` (over `shape`, `work` evaluations) once
 * `Fuser.fitReductions` has replaced their costly reductions by reads of arrays: each such node is one node
 * and one array (an array per handle that computes it, shared by the nodes it computes).
 */
function fittedCounts(
  exprs: readonly Expr[],
  shape: Shape,
  work: number,
): { arrays: number; scalars: number; nodes: number } {
  const costly = new Set<Expr>();
  for (const e of exprs) for (const n of costlyReductions(e, shape, work)) costly.add(n);
  const nodes = new Set<Expr>();
  const arrays = new Set<object>();
  let scalars = 0;
  const walk = (e: Expr): void => {
    if (nodes.has(e)) return;
    nodes.add(e);
    if (costly.has(e)) {
      const r = e as ReduceExpr;
      arrays.add(r.source.handle ?? r.source);
      return;
    }
    if (e.kind === 'leaf') arrays.add(e.array);
    else if (e.kind === 'const') scalars++;
    for (const c of childrenOf(e)) walk(c);
    if (e.kind === 'reduce' || e.kind === 'view') walk(e.x);
    if (e.kind === 'view' && e.map.kind === 'pad') walk(e.map.value);
  };
  for (const e of exprs) walk(e);
  return { arrays: arrays.size, scalars, nodes: nodes.size };
}

/**
 * The nodes of `e` read only in its own index space (see `outerNodesOf`): those also read through a view are
 * left out, since a view's reads of them may move where the view's own read does not.
 */
function directNodesOf(e: Expr): Set<Expr> {
  const direct = outerNodesOf(e);
  for (const v of evaluatedNodesOf(e))
    if (v.kind === 'view') for (const n of evaluatedNodesOf(v.x)) direct.delete(n);
  return direct;
}

/**
 * True when a read of `read` (broadcast to `shape`) is the same element all along `axes` of `shape`: a
 * reduction over them reads it once, before its loop (a batch-norm mean inside its variance).
 */
function invariantAlong(read: Shape, shape: Shape, axes: readonly number[]): boolean {
  const lead = shape.length - read.length;
  return axes.every((a) => shape[a] === 1 || a < lead || read[a - lead] === 1);
}
