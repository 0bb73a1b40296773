import { broadcastStrides, type Shape } from '../../../tensor/shape.js';
import type { ReduceOp } from '../../backend.js';
import type { DeviceArray } from '../device-array.js';
import { childrenOf, type Expr, type ReduceExpr, type ViewExpr } from '../lazy.js';
import { BINARY_BODY, UNARY_BODY } from './elementwise.js';
import {
  collapseAxes,
  contiguousStrides,
  emitCoords,
  emitOperandIndices,
  linearIndex,
} from './index-math.js';
import { around } from './indexing.js';
import { type KernelSpec, kernelSource } from './spec.js';

/** A fused kernel and the arguments of one call: device arrays (`x0..`), then floats (`v0..`). */
export interface FusedCall {
  readonly spec: KernelSpec;
  readonly arrays: readonly DeviceArray[];
  readonly scalars: readonly number[];
}

/**
 * One kernel computing the whole expression `root` over an output of `outShape`: every node is computed once
 * per element into its own variable (shared subexpressions included), every distinct (array, broadcast) read
 * once, every reduction node by a loop over its reduced elements (the CPU backend's row-major order). The
 * source depends only on the expression's structure, its leaves' shapes and which leaves are the same array,
 * never on values (constants are arguments), so a training step's kernels are the same from one step to the
 * next and the source itself is the cache key.
 */
export function fusedCall(root: Expr, outShape: Shape): FusedCall {
  const plan = planReads(root, outShape);
  const body: string[] = [];
  const scalars: number[] = [];
  const readVar = emitElementReads(plan, outShape, 'i', body, scalars);
  const { code, result } = emitNodes(plan, readVar, '', scalars);
  body.push(...code, `return ${result};`);
  return callOf(kernelSource(plan.arrays.length, scalars.length, body), plan.arrays, scalars, 'elementwise');
}

/**
 * Statements that set `name` to the value of read `r` at the flat index `at` (an expression over the read's
 * own shape): an array element, or, for a reduction node, a loop over the reduced elements of its operand
 * (temporaries named after `prefix`), whose own reads may be reductions in turn.
 */
/**
 * Appends to `body` the reads of an elementwise kernel's plan at output element `flat` of `shape` (`r0`,
 * `r1`, ...: one per distinct read, their indices computed together) and returns the variables' names.
 */
function emitElementReads(
  plan: ReadPlan,
  shape: Shape,
  flat: string,
  body: string[],
  scalars: number[],
  prefix = '',
): string[] {
  if (plan.reads.length === 0) return [];
  const { code, indices } = emitOperandIndices(
    shape,
    plan.reads.map((r) => r.strides),
    plan.reads.map((r) => r.offset),
    `${prefix}k`,
    flat,
  );
  body.push(...code);
  return plan.reads.map((r, k) => {
    body.push(...emitRead(r, indices[k]!, `${prefix}r${k}`, `${prefix}u${k}`, scalars));
    return `${prefix}r${k}`;
  });
}

function emitRead(r: Read, at: string, name: string, prefix: string, scalars: number[]): string[] {
  if (r.view) return emitViewRead(r.view.node, r.view.plan, at, name, prefix, scalars);
  if (!r.reduce) return [`const ${name} = x${r.arg}[${at}];`];
  const { node, plan } = r.reduce;
  const inShape = node.inShape;
  const kept = inShape.flatMap((_, i) => (node.axes.includes(i) ? [] : [i]));
  const pick = (dims: readonly number[], strides: readonly number[]) => dims.map((d) => strides[d]!);
  const k = collapseAxes(
    kept.map((d) => inShape[d]!),
    plan.reads.map((rd) => pick(kept, rd.strides)),
  );
  const red = collapseAxes(
    node.axes.map((d) => inShape[d]!),
    plan.reads.map((rd) => pick(node.axes, rd.strides)),
  );
  const { code: coordCode, coords } = emitCoords(`${prefix}i`, k.shape, `${prefix}o`);
  const body = [`const ${prefix}i = ${at};`, ...coordCode];
  plan.reads.forEach((rd, q) => {
    body.push(`const ${prefix}b${q} = ${linearIndex(coords, k.strides[q]!, rd.offset)};`);
  });
  const acc = `${prefix}acc`;
  body.push(`let ${acc} = 0.0;`);
  if (node.op !== 'sum') body.push(`let ${prefix}first = 1.0;`);
  // A read that does not move along the reduced axes (a statistic of the same rows, broadcast over them: a
  // batch-norm mean inside its variance) is the same value at every step: read once, before the loop, so a
  // reduction nested that way costs its own loop once per output rather than once per step.
  const invariant = plan.reads.map((_, q) => red.strides[q]!.every((st) => st === 0));
  plan.reads.forEach((rd, q) => {
    if (invariant[q])
      body.push(...emitRead(rd, `${prefix}b${q}`, `${prefix}r${q}`, `${prefix}u${q}`, scalars));
  });
  const loops = red.shape.map(
    (n, d) => `for (let ${prefix}j${d} = 0; ${prefix}j${d} < ${n}; ${prefix}j${d}++) {`,
  );
  body.push(...loops);
  const readVar = plan.reads.map((rd, q) => {
    if (invariant[q]) return `${prefix}r${q}`;
    const idx = [`${prefix}b${q}`, ...red.shape.map((_, d) => `${prefix}j${d} * ${red.strides[q]![d]}`)].join(
      ' + ',
    );
    body.push(...emitRead(rd, idx, `${prefix}r${q}`, `${prefix}u${q}`, scalars));
    return `${prefix}r${q}`;
  });
  const { code, result } = emitNodes(plan, readVar, prefix, scalars);
  body.push(...code);
  if (node.op === 'sum') body.push(`${acc} = ${acc} + ${result};`);
  else {
    // max/min start from the first element rather than ±Infinity, which not every translator can spell.
    const cmp = node.op === 'max' ? '>' : '<';
    body.push(
      `if (${prefix}first > 0.5 || ${result} ${cmp} ${acc}) { ${acc} = ${result}; }`,
      `${prefix}first = 0.0;`,
    );
  }
  body.push(...loops.map(() => '}'), `const ${name} = ${acc};`);
  return body;
}

/**
 * The read plan of `root` over `shape` (see planReads), plus one more array the kernel reads itself (gather's
 * indices, scatter's inverse table): its argument index, shared with the plan's if the expression reads it too.
 */
function planReadsWith(
  root: Expr,
  shape: Shape,
  array: DeviceArray,
): { arrays: DeviceArray[]; plan: ReturnType<typeof planReads>; extra: number } {
  const arrays: DeviceArray[] = [];
  const argOf = new Map<DeviceArray, number>();
  const plan = planReads(root, shape, arrays, argOf);
  let extra = argOf.get(array);
  if (extra === undefined) {
    extra = arrays.length;
    arrays.push(array);
  }
  return { arrays, plan, extra };
}

/**
 * gather (see `gatherSpec`) of the expression `root` over `xShape`: output `[outer, ni, inner]` is the
 * expression at `(o * dim + idx[t]) * inner + j`, computed there (0 for an index out of range), so a pending
 * value (a padded feature map) is gathered (into im2col patches) without a kernel of its own first.
 */
export function fusedGatherCall(
  root: Expr,
  xShape: Shape,
  indices: DeviceArray,
  ni: number,
  axis: number,
): FusedCall {
  const { arrays, plan, extra: ia } = planReadsWith(root, xShape, indices);
  const [outer, dim, inner] = around(xShape, axis);
  const { code, coords } = emitCoords('i', [outer, ni, inner], 'o');
  const [o, t, j] = coords as [string, string, string];
  const body = [...code, `const ix = x${ia}[${t}];`, 'let out = 0.0;'];
  const scalars: number[] = [];
  const inside = [`const q = (${o} * ${dim}.0 + ix) * ${inner}.0 + ${j};`];
  const readVar = emitElementReads(plan, xShape, 'q', inside, scalars);
  const nodes = emitNodes(plan, readVar, '', scalars);
  inside.push(...nodes.code, `out = ${nodes.result};`);
  body.push(`if (ix >= 0.0 && ix < ${dim}.0) {`, ...inside.map((l) => `  ${l}`), '}', 'return out;');
  return callOf(kernelSource(arrays.length, scalars.length, body), arrays, scalars, 'gather');
}

/**
 * scatterAdd through an inverse index (see `scatterAddInverseSpec`, the table bound like it) of the expression
 * `root` over `updShape`: each output sums the expression at its contributing positions, computed there. Every
 * update is read by exactly one output, so nothing is computed twice.
 */
export function fusedScatterAddInverseCall(
  root: Expr,
  updShape: Shape,
  table: DeviceArray,
  outShape: Shape,
  ni: number,
  axis: number,
  maxDegree: number,
): FusedCall {
  const { arrays, plan, extra: ta } = planReadsWith(root, updShape, table);
  const [outer, dim, inner] = around(outShape, axis);
  const { code, coords } = emitCoords('i', [outer, dim, inner], 'o');
  const [o, d, j] = coords as [string, string, string];
  const body = [
    ...code,
    `const ts = x${ta}[${d}];`,
    `const tc = x${ta}[${d} + 1.0] - ts;`,
    'let acc = 0.0;',
    `for (let m = 0; m < ${maxDegree}; m++) {`,
    '  if (m < tc) {',
  ];
  const scalars: number[] = [];
  const inside = [`const q = (${o} * ${ni}.0 + x${ta}[${dim + 1}.0 + ts + m]) * ${inner}.0 + ${j};`];
  const readVar = emitElementReads(plan, updShape, 'q', inside, scalars);
  const nodes = emitNodes(plan, readVar, '', scalars);
  inside.push(...nodes.code, `acc = acc + ${nodes.result};`);
  body.push(...inside.map((l) => `    ${l}`), '  }', '}', 'return acc;');
  return callOf(kernelSource(arrays.length, scalars.length, body), arrays, scalars, 'scatter');
}

/**
 * Statements that set `name` to element `at` of a view (see `ViewExpr`): the flat index of its operand's
 * element (or, for a padding, whether there is one), then the operand's reads and nodes there (temporaries
 * named after `prefix`).
 */
function emitViewRead(
  node: ViewExpr,
  plan: ReadPlan,
  at: string,
  name: string,
  prefix: string,
  scalars: number[],
): string[] {
  const body = [`const ${prefix}i = ${at};`];
  let flat = `${prefix}i`;
  let cond: string | undefined;
  let fill: string | undefined;
  const map = node.map;
  if (map.kind === 'strided') {
    const { code, indices } = emitOperandIndices(
      node.outShape,
      [map.strides],
      [map.base],
      `${prefix}m`,
      flat,
    );
    body.push(...code);
    flat = indices[0]!;
  } else if (map.kind === 'pad') {
    fill = `v${scalars.length}`;
    scalars.push(map.value.value);
    const { code, coords } = emitCoords(flat, node.outShape, `${prefix}o`);
    body.push(...code);
    const conds: string[] = [];
    const src = node.inShape.map((d, k) => {
      const p = `${prefix}p${k}`;
      body.push(`const ${p} = ${coords[k]} - ${map.paddings[k]![0]}.0;`);
      conds.push(`${p} >= 0.0 && ${p} < ${d}.0`);
      return p;
    });
    if (conds.length > 0) cond = conds.join(' && ');
    flat = `${prefix}q`;
    body.push(`const ${flat} = ${linearIndex(src, contiguousStrides(node.inShape))};`);
  }
  const inner: string[] = [];
  let readVar: string[] = [];
  if (plan.reads.length > 0) {
    const { code, indices } = emitOperandIndices(
      node.inShape,
      plan.reads.map((rd) => rd.strides),
      plan.reads.map((rd) => rd.offset),
      `${prefix}k`,
      flat,
    );
    inner.push(...code);
    readVar = plan.reads.map((rd, q) => {
      inner.push(...emitRead(rd, indices[q]!, `${prefix}r${q}`, `${prefix}u${q}`, scalars));
      return `${prefix}r${q}`;
    });
  }
  const { code, result } = emitNodes(plan, readVar, prefix, scalars);
  inner.push(...code);
  if (cond === undefined) {
    body.push(...inner, `const ${name} = ${result};`);
    return body;
  }
  body.push(
    `let ${name} = ${fill};`,
    `if (${cond}) {`,
    ...inner.map((l) => `  ${l}`),
    `  ${name} = ${result};`,
    '}',
  );
  return body;
}

/**
 * The first pass of a long reduction (see `partialReduceSpec`) of the expression `root` over `inShape`: each
 * thread reduces `chunk` consecutive elements of the reduced run into `[outputs, chunks]` partials, the
 * expression computed inside its loop. Undefined where some read does not run through the reduced axes as
 * one strided sequence (a leaf broadcast along part of them), which the caller then computes first.
 */
export function fusedPartialCall(
  op: ReduceOp,
  root: Expr,
  inShape: Shape,
  axes: readonly number[],
  chunk: number,
): { call: FusedCall; outputs: number; chunks: number } | undefined {
  const plan = planReads(root, inShape);
  const kept = inShape.flatMap((_, i) => (axes.includes(i) ? [] : [i]));
  const pick = (dims: readonly number[], strides: readonly number[]) => dims.map((d) => strides[d]!);
  const k = collapseAxes(
    kept.map((d) => inShape[d]!),
    plan.reads.map((rd) => pick(kept, rd.strides)),
  );
  const red = collapseAxes(
    axes.map((d) => inShape[d]!),
    plan.reads.map((rd) => pick(axes, rd.strides)),
  );
  if (red.shape.length !== 1) return undefined;
  const n = red.shape[0]!;
  const chunks = Math.ceil(n / chunk);
  const outputs = k.shape.reduce((p, d) => p * d, 1);
  const { code: coordCode, coords } = emitCoords('i', [...k.shape, chunks], 'o');
  const c = coords.at(-1)!;
  const body = [...coordCode];
  plan.reads.forEach((rd, q) => {
    const stride = red.strides[q]![0]!;
    body.push(
      `const b${q} = ${linearIndex(coords.slice(0, -1), k.strides[q]!, rd.offset)} + ${c} * ${chunk * stride}.0;`,
    );
  });
  body.push(`const lim = ${n}.0 - ${c} * ${chunk}.0;`, 'let acc = 0.0;');
  if (op !== 'sum') body.push('let first = 1.0;');
  const scalars: number[] = [];
  // A read that does not move along the reduced run (a per-channel mean inside the first pass of its
  // variance) is read once, before the loop, as in a one-pass reduction (see `emitRead`): a second pass
  // inlined there costs its few steps per thread, not per element.
  const invariant = plan.reads.map((_, q) => red.strides[q]![0] === 0);
  plan.reads.forEach((rd, q) => {
    if (invariant[q]) body.push(...emitRead(rd, `b${q}`, `r${q}`, `u${q}`, scalars));
  });
  body.push(`for (let j = 0; j < ${chunk}; j++) {`, '  if (j < lim) {');
  const readVar = plan.reads.map((rd, q) => {
    if (invariant[q]) return `r${q}`;
    const at = `b${q} + j * ${red.strides[q]![0]}`;
    body.push(...emitRead(rd, at, `r${q}`, `u${q}`, scalars).map((line) => `    ${line}`));
    return `r${q}`;
  });
  const { code, result } = emitNodes(plan, readVar, '', scalars);
  body.push(...code.map((line) => `    ${line}`));
  if (op === 'sum') body.push(`    acc = acc + ${result};`);
  else {
    const cmp = op === 'max' ? '>' : '<';
    body.push(`    if (first > 0.5 || ${result} ${cmp} acc) { acc = ${result}; }`, '    first = 0.0;');
  }
  body.push('  }', '}', 'return acc;');
  return {
    call: callOf(
      kernelSource(plan.arrays.length, scalars.length, body),
      plan.arrays,
      scalars,
      'partial-reduce',
    ),
    outputs,
    chunks,
  };
}

/**
 * Several expressions over the same `shape` as one kernel whose output holds their results one after another
 * (`roots.length` segments of `size(shape)` elements): results that share their inputs and most of their
 * work, such as Adam's two moments and its step, in one dispatch instead of one each. Every thread computes
 * the shared nodes once and keeps its segment's result.
 */
export function fusedSegmentsCall(roots: readonly Expr[], shape: Shape): FusedCall {
  const plan = planReads(roots, shape);
  const n = shape.reduce((p, d) => p * d, 1);
  const { code: segCode, coords } = emitCoords('i', [roots.length, n], 's');
  const [seg, j] = [coords[0]!, coords[1]!];
  const body = [...segCode];
  const scalars: number[] = [];
  const readVar = emitElementReads(plan, shape, j, body, scalars);
  const { code, name } = emitNodes(plan, readVar, '', scalars);
  body.push(...code, `let out = ${name.get(roots.at(-1)!)};`);
  // Descending, so that the lowest segment whose bound the thread is under wins.
  for (let s = roots.length - 2; s >= 0; s--)
    body.push(`if (${seg} < ${s}.5) { out = ${name.get(roots[s]!)}; }`);
  body.push('return out;');
  return callOf(kernelSource(plan.arrays.length, scalars.length, body), plan.arrays, scalars, 'segments');
}

/**
 * Several groups of {@link fusedSegmentsCall} (each its roots over its own shape) as one kernel whose output
 * holds the groups one after another: every parameter's Adam update of a step in a few dispatches instead of
 * one each. A thread computes only its own group's nodes (one branch per group, temporaries named `g${k}..`).
 */
export function fusedGroupsCall(groups: readonly { roots: readonly Expr[]; shape: Shape }[]): FusedCall {
  const arrays: DeviceArray[] = [];
  const argOf = new Map<DeviceArray, number>();
  const plans = groups.map((g) => planReads(g.roots, g.shape, arrays, argOf));
  const body = ['let out = 0.0;'];
  const scalars: number[] = [];
  let start = 0;
  groups.forEach((g, k) => {
    const n = g.shape.reduce((p, d) => p * d, 1);
    const end = start + g.roots.length * n;
    const p = `g${k}`;
    const inner = [`const ${p}l = i - ${start}.0;`];
    const { code: segCode, coords } = emitCoords(`${p}l`, [g.roots.length, n], `${p}s`);
    inner.push(...segCode);
    const readVar = emitElementReads(plans[k]!, g.shape, coords[1]!, inner, scalars, p);
    const { code, name } = emitNodes(plans[k]!, readVar, p, scalars);
    inner.push(...code, `out = ${name.get(g.roots.at(-1)!)};`);
    for (let s = g.roots.length - 2; s >= 0; s--)
      inner.push(`if (${coords[0]} < ${s}.5) { out = ${name.get(g.roots[s]!)}; }`);
    body.push(`if (i >= ${start}.0 && i < ${end}.0) {`, ...inner.map((l) => `  ${l}`), '}');
    start = end;
  });
  body.push('return out;');
  return callOf(kernelSource(arrays.length, scalars.length, body), arrays, scalars, 'groups');
}

/**
 * A batched matrix product whose operands are expressions (`a` of `aShape`, `b` of `bShape`, read transposed
 * where asked), each computed inside the dot-product loop where it is read: a pending elementwise value (the
 * fast weights `w - lr * g`, a gradient masked by `step(h)`) feeds the product without a kernel of its own.
 * The loop, the accumulation order and the batch broadcasting are those of `matmulSpec`, so a plain array
 * operand is read exactly as there.
 */
export function fusedMatmulCall(
  a: Expr,
  aShape: Shape,
  b: Expr,
  bShape: Shape,
  transposeA: boolean,
  transposeB: boolean,
  outShape: Shape,
): FusedCall {
  const arrays: DeviceArray[] = [];
  const argOf = new Map<DeviceArray, number>();
  const pa = planReads(a, aShape, arrays, argOf);
  const pb = planReads(b, bShape, arrays, argOf);
  const r = outShape.length;
  const m = outShape[r - 2]!;
  const n = outShape[r - 1]!;
  const k = transposeA ? aShape.at(-2)! : aShape.at(-1)!;
  const batchShape = outShape.slice(0, r - 2);
  const sa = pa.reads.map((rd) => matrixStrides(rd.strides, aShape, batchShape, true, transposeA));
  const sb = pb.reads.map((rd) => matrixStrides(rd.strides, bShape, batchShape, false, transposeB));
  const batch = collapseAxes(
    batchShape,
    [...sa, ...sb].map((s) => s.batch),
  );
  const { code, coords } = emitCoords('i', [...batch.shape, m, n], 'o');
  const bc = coords.slice(0, batch.shape.length);
  const outer = [coords[coords.length - 2]!, coords[coords.length - 1]!];
  const body = [...code];
  const operands = [
    { plan: pa, strides: sa, name: 'a', outer: outer[0]! },
    { plan: pb, strides: sb, name: 'b', outer: outer[1]! },
  ];
  let next = 0;
  for (const o of operands)
    o.strides.forEach((s, q) => {
      const terms = [linearIndex(bc, batch.strides[next++]!, o.plan.reads[q]!.offset)];
      if (s.outer !== 0) terms.push(`${o.outer} * ${s.outer}.0`);
      body.push(`const ${o.name}b${q} = ${terms.join(' + ')};`);
    });
  body.push('let acc = 0.0;', `for (let p = 0; p < ${k}; p++) {`);
  const scalars: number[] = [];
  const results: string[] = [];
  for (const o of operands) {
    const readVar = o.plan.reads.map((rd, q) => {
      const at = `${o.name}b${q} + p * ${o.strides[q]!.inner}`;
      body.push(...emitRead(rd, at, `${o.name}r${q}`, `${o.name}u${q}`, scalars).map((line) => `  ${line}`));
      return `${o.name}r${q}`;
    });
    const emitted = emitNodes(o.plan, readVar, o.name, scalars);
    body.push(...emitted.code.map((line) => `  ${line}`));
    results.push(emitted.result);
  }
  body.push(`  acc = acc + ${results[0]} * ${results[1]};`, '}', 'return acc;');
  return callOf(kernelSource(arrays.length, scalars.length, body), arrays, scalars, 'matmul');
}

/**
 * Strides of one read of a matmul operand (`readStrides`: the read's strides over the operand's own `shape`)
 * along the product's batch axes, its outer axis (rows of the left operand, columns of the right) and its
 * inner axis (the dot product's). Batch axes the operand lacks or has as 1 are read at 0, as matmul broadcasts.
 */
function matrixStrides(
  readStrides: readonly number[],
  shape: Shape,
  batchShape: Shape,
  left: boolean,
  transposed: boolean,
): { batch: number[]; outer: number; inner: number } {
  const rank = shape.length;
  const lead = batchShape.length - (rank - 2);
  const batch = batchShape.map((_, d) => {
    const axis = d - lead;
    return axis < 0 || shape[axis] === 1 ? 0 : readStrides[axis]!;
  });
  const outerAxis = left !== transposed ? rank - 2 : rank - 1;
  const innerAxis = outerAxis === rank - 2 ? rank - 1 : rank - 2;
  return { batch, outer: readStrides[outerAxis]!, inner: readStrides[innerAxis]! };
}

/**
 * A fused kernel's call. The key names the kernel's kind (`fused:matmul|...`) so that a profile can group
 * kernels by what they do without parsing their source; the source alone still identifies the kernel.
 */
function callOf(
  source: string,
  arrays: readonly DeviceArray[],
  scalars: readonly number[],
  kind: string,
): FusedCall {
  return {
    spec: { key: `fused:${kind}|${source}`, source, arrays: arrays.length, scalars: scalars.length },
    arrays,
    scalars,
  };
}

/**
 * One read of a fused kernel: an array (argument `arg`) at `offset` with `strides` (broadcast strides of the
 * read's shape over the kernel's), or a reduction node, read the same way, whose value is a loop over its
 * operand's plan.
 */
interface Read {
  readonly arg: number;
  readonly strides: readonly number[];
  readonly offset: number;
  readonly reduce?: { readonly node: ReduceExpr; readonly plan: ReadPlan };
  readonly view?: { readonly node: ViewExpr; readonly plan: ReadPlan };
}

/** The arrays a fused kernel binds and its distinct reads: one per (array, broadcast strides) pair. */
interface ReadPlan {
  readonly order: readonly Expr[];
  readonly arrays: readonly DeviceArray[];
  readonly reads: readonly Read[];
  /** The read of each leaf or reduction node. */
  readonly readOf: ReadonlyMap<Expr, number>;
}

function planReads(
  root: Expr | readonly Expr[],
  shape: Shape,
  arrays: DeviceArray[] = [],
  argOf = new Map<DeviceArray, number>(),
): ReadPlan {
  const order = postOrder(root);
  const reads: Read[] = [];
  const keys: string[] = [];
  const readOf = new Map<Expr, number>();
  for (const e of order) {
    if (e.kind === 'reduce') {
      // Its own index space: the operand's reads are planned over the reduction's input shape.
      readOf.set(e, reads.length);
      keys.push(`reduce ${reads.length}`);
      const plan = planReads(e.x, e.inShape, arrays, argOf);
      reads.push({
        arg: -1,
        strides: broadcastStrides(e.shape, shape),
        offset: 0,
        reduce: { node: e, plan },
      });
      continue;
    }
    if (e.kind === 'view') {
      readOf.set(e, reads.length);
      keys.push(`view ${reads.length}`);
      const plan = planReads(e.x, e.inShape, arrays, argOf);
      reads.push({ arg: -1, strides: broadcastStrides(e.shape, shape), offset: 0, view: { node: e, plan } });
      continue;
    }
    if (e.kind !== 'leaf') continue;
    let arg = argOf.get(e.array);
    if (arg === undefined) {
      arg = arrays.length;
      argOf.set(e.array, arg);
      arrays.push(e.array);
    }
    const strides = e.strides ? leafStrides(e.shape, e.strides, shape) : broadcastStrides(e.shape, shape);
    const offset = e.offset ?? 0;
    const key = `${arg}|${strides.join(',')}+${offset}`;
    let r = keys.indexOf(key);
    if (r < 0) {
      r = keys.length;
      keys.push(key);
      reads.push({ arg, strides, offset });
    }
    readOf.set(e, r);
  }
  return { order, arrays, reads, readOf };
}

/** {@link broadcastStrides} for a leaf whose own strides are given (see the leaf's `strides`). */
function leafStrides(leaf: Shape, own: readonly number[], out: Shape): number[] {
  const lead = out.length - leaf.length;
  return out.map((d, j) => {
    const k = j - lead;
    return k < 0 || (leaf[k] === 1 && d !== 1) ? 0 : own[k]!;
  });
}

/**
 * Statements computing every non-leaf node into its own variable (`${prefix}t0..`, so that several expressions
 * can share one kernel); constants become scalar arguments, appended to `scalars` (`v${index}`).
 */
function emitNodes(
  plan: ReadPlan,
  readVar: readonly string[],
  prefix = '',
  scalars: number[] = [],
): { code: string[]; result: string; scalars: number[]; name: ReadonlyMap<Expr, string> } {
  const code: string[] = [];
  const name = new Map<Expr, string>();
  let next = 0;
  const v = (c: Expr) => name.get(c)!;
  for (const e of plan.order) {
    const t = `${prefix}t${next++}`;
    switch (e.kind) {
      case 'leaf':
      case 'reduce':
      case 'view':
        name.set(e, readVar[plan.readOf.get(e)!]!);
        continue;
      case 'const':
        name.set(e, `v${scalars.length}`);
        scalars.push(e.value);
        continue;
      case 'unary':
        code.push(...UNARY_BODY[e.op](v(e.x), e.int ? `${t}f` : t));
        break;
      case 'binary':
        code.push(...BINARY_BODY[e.op](v(e.a), v(e.b), e.int ? `${t}f` : t));
        break;
      case 'where':
        code.push(`let ${t} = ${v(e.b)};`, `if (${v(e.c)} != 0.0) { ${t} = ${v(e.a)}; }`);
        break;
      case 'trunc':
        code.push(`const ${t} = Math.trunc(${v(e.x)});`);
        break;
    }
    // int32 results truncate toward zero, as the unfused kernels (and storing into an Int32Array) do.
    if ((e.kind === 'unary' || e.kind === 'binary') && e.int) code.push(`const ${t} = Math.trunc(${t}f);`);
    name.set(e, t);
  }
  return { code, result: v(plan.order.at(-1)!), scalars, name };
}

/**
 * The nodes of `root` (or of several roots, in turn), each once, children before parents (iterative: no
 * recursion limit to hit).
 */
function postOrder(root: Expr | readonly Expr[]): Expr[] {
  const out: Expr[] = [];
  const seen = new Set<Expr>();
  const roots: readonly Expr[] = Array.isArray(root) ? root : [root as Expr];
  const stack: { e: Expr; done: boolean }[] = roots.map((e) => ({ e, done: false })).reverse();
  while (stack.length > 0) {
    const top = stack.pop()!;
    if (top.done) {
      out.push(top.e);
      continue;
    }
    if (seen.has(top.e)) continue;
    seen.add(top.e);
    stack.push({ e: top.e, done: true });
    const cs = childrenOf(top.e);
    for (let k = cs.length - 1; k >= 0; k--) if (!seen.has(cs[k]!)) stack.push({ e: cs[k]!, done: false });
  }
  return out;
}
