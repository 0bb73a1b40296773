import { broadcastStrides, type Shape } from '../../../tensor/shape.js';
import type { DeviceArray } from '../device-array.js';
import { childrenOf, type Expr } from '../lazy.js';
import { BINARY_BODY, UNARY_BODY } from './elementwise.js';
import { emitOperandIndices } from './index-math.js';
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
 * once. The source depends only on the expression's structure, its leaves' shapes and which leaves are the
 * same array, never on values (constants are arguments), so a training step's kernels are the same from one
 * step to the next and the source itself is the cache key.
 */
export function fusedCall(root: Expr, outShape: Shape): FusedCall {
  const order = postOrder(root);
  const arrays: DeviceArray[] = [];
  const argOf = new Map<DeviceArray, number>();
  const scalars: number[] = [];
  // Distinct reads: one per (array, strides) pair, each with its own index variable.
  const readKeys: string[] = [];
  const readStrides: number[][] = [];
  const readOf = new Map<Expr, number>();
  for (const e of order) {
    if (e.kind !== 'leaf') continue;
    let arg = argOf.get(e.array);
    if (arg === undefined) {
      arg = arrays.length;
      argOf.set(e.array, arg);
      arrays.push(e.array);
    }
    const strides = broadcastStrides(e.shape, outShape);
    const key = `${arg}|${strides.join(',')}`;
    let r = readKeys.indexOf(key);
    if (r < 0) {
      r = readKeys.length;
      readKeys.push(key);
      readStrides.push(strides);
    }
    readOf.set(e, r);
  }
  const body: string[] = [];
  const readVar: string[] = [];
  if (readKeys.length > 0) {
    const { code, indices } = emitOperandIndices(outShape, readStrides, [], 'k');
    body.push(...code);
    readKeys.forEach((key, r) => {
      body.push(`const r${r} = x${key.slice(0, key.indexOf('|'))}[${indices[r]}];`);
      readVar.push(`r${r}`);
    });
  }
  const name = new Map<Expr, string>();
  let next = 0;
  for (const e of order) {
    const t = `t${next++}`;
    const v = (c: Expr) => name.get(c)!;
    switch (e.kind) {
      case 'leaf':
        name.set(e, readVar[readOf.get(e)!]!);
        continue;
      case 'const':
        name.set(e, `v${scalars.length}`);
        scalars.push(e.value);
        continue;
      case 'unary':
        body.push(...UNARY_BODY[e.op](v(e.x), e.int ? `${t}f` : t));
        break;
      case 'binary':
        body.push(...BINARY_BODY[e.op](v(e.a), v(e.b), e.int ? `${t}f` : t));
        break;
      case 'where':
        body.push(`let ${t} = ${v(e.b)};`, `if (${v(e.c)} != 0.0) { ${t} = ${v(e.a)}; }`);
        break;
      case 'trunc':
        body.push(`const ${t} = Math.trunc(${v(e.x)});`);
        break;
    }
    // int32 results truncate toward zero, as the unfused kernels (and storing into an Int32Array) do.
    if ((e.kind === 'unary' || e.kind === 'binary') && e.int) body.push(`const ${t} = Math.trunc(${t}f);`);
    name.set(e, t);
  }
  body.push(`return ${name.get(root)};`);
  const source = kernelSource(arrays.length, scalars.length, body);
  return {
    spec: { key: `fused|${source}`, source, arrays: arrays.length, scalars: scalars.length },
    arrays,
    scalars,
  };
}

/** The nodes of `root`, each once, children before parents (iterative: no recursion limit to hit). */
function postOrder(root: Expr): Expr[] {
  const out: Expr[] = [];
  const seen = new Set<Expr>();
  const stack: { e: Expr; done: boolean }[] = [{ e: root, done: false }];
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
