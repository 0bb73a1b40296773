import type { DType } from '../../../tensor/dtype.js';
import type { Shape } from '../../../tensor/shape.js';
import type { BinaryOp, UnaryOp } from '../../backend.js';
import { broadcastStrides, emitOperandIndices, sig } from './index-math.js';
import { type KernelSpec, kernelSource } from './spec.js';

/**
 * Statements computing the variable named `r` from the expression `x` (temporaries are named after `r`, so
 * several bodies can share one kernel: the fused kernels of `fused.ts` chain them). They follow the CPU
 * backend's formulas (`src/backends/cpu/elementwise.ts`) except where float32 GPU math needs a steadier form:
 * log1p and tanh are written so that small arguments keep their relative accuracy (`log(1 + x)` and the plain
 * exp formula of tanh lose it all near 0).
 */
export const UNARY_BODY: Record<UnaryOp, (x: string, r: string) => readonly string[]> = {
  neg: (x, r) => [`const ${r} = -${x};`],
  exp: (x, r) => [`const ${r} = Math.exp(${x});`],
  log: (x, r) => [`const ${r} = Math.log(${x});`],
  log1p: (x, r) => log1p(x, r),
  sqrt: (x, r) => [`const ${r} = Math.sqrt(${x});`],
  sin: (x, r) => [`const ${r} = Math.sin(${x});`],
  cos: (x, r) => [`const ${r} = Math.cos(${x});`],
  tanh: (x, r) => [
    `const ${r}a = Math.abs(${x});`,
    `let ${r} = 0.0;`,
    // Below 0.1 the series is exact to float32; above, exp(-2|x|) cannot overflow and 1 - t keeps 6 digits.
    `if (${r}a < 0.1) { const ${r}s = ${x} * ${x}; ${r} = ${x} * (1.0 - ${r}s * (0.3333333333 - ${r}s * (0.1333333333 - ${r}s * 0.0539682540))); }`,
    `else { const ${r}t = Math.exp(-2.0 * ${r}a); const ${r}m = (1.0 - ${r}t) / (1.0 + ${r}t); ${r} = ${x} < 0.0 ? -${r}m : ${r}m; }`,
  ],
  sigmoid: (x, r) => [
    `let ${r} = 0.0;`,
    `if (${x} >= 0.0) { ${r} = 1.0 / (1.0 + Math.exp(-${x})); } else { const ${r}e = Math.exp(${x}); ${r} = ${r}e / (1.0 + ${r}e); }`,
  ],
  abs: (x, r) => [`const ${r} = Math.abs(${x});`],
  sign: (x, r) => [`let ${r} = 0.0;`, `if (${x} > 0.0) { ${r} = 1.0; }`, `if (${x} < 0.0) { ${r} = -1.0; }`],
  relu: (x, r) => [`let ${r} = 0.0;`, `if (${x} > 0.0) { ${r} = ${x}; }`],
  step: (x, r) => [`let ${r} = 0.0;`, `if (${x} > 0.0) { ${r} = 1.0; }`],
  reciprocal: (x, r) => [`const ${r} = 1.0 / ${x};`],
  square: (x, r) => [`const ${r} = ${x} * ${x};`],
  softplus: (x, r) => [
    // max(x, 0) + log1p(exp(-|x|)): the CPU's two branches in one, exp never overflows.
    `const ${r}p = Math.exp(-Math.abs(${x}));`,
    ...log1p(`${r}p`, `${r}l`),
    `let ${r} = ${r}l;`,
    `if (${x} > 0.0) { ${r} = ${x} + ${r}l; }`,
  ],
};

/** log1p(a) into `out` (Goldberg's trick: exact where 1 + a rounds, relative error a few ulp elsewhere). */
function log1p(a: string, out: string): string[] {
  return [
    `const ${out}u = 1.0 + ${a};`,
    `let ${out} = ${a};`,
    `if (${out}u != 1.0) { ${out} = Math.log(${out}u) * (${a} / (${out}u - 1.0)); }`,
  ];
}

/** Statements computing the variable `r` from the expressions `a` and `b`, matching the CPU backend's formulas. */
export const BINARY_BODY: Record<BinaryOp, (a: string, b: string, r: string) => readonly string[]> = {
  add: (a, b, r) => [`const ${r} = ${a} + ${b};`],
  sub: (a, b, r) => [`const ${r} = ${a} - ${b};`],
  mul: (a, b, r) => [`const ${r} = ${a} * ${b};`],
  div: (a, b, r) => [`const ${r} = ${a} / ${b};`],
  // GPU pow(a, b) is exp2(b * log2(a)): undefined for a <= 0, so signs and zeros are handled here to match
  // Math.pow (odd integer powers of negatives are negative, non-integer powers of negatives are NaN).
  pow: (a, b, r) => [
    `const ${r}p = Math.abs(${b});`,
    `const ${r}f = Math.floor(${b});`,
    `const ${r}h = ${r}p * 0.5;`,
    `let ${r} = Math.pow(Math.abs(${a}), ${b});`,
    `if (${a} == 0.0) { ${r} = 0.0; if (${b} < 0.0) { ${r} = 1.0 / ${a}; } }`,
    `if (${a} < 0.0) {`,
    `  if (${r}f != ${b}) { ${r} = Math.sqrt(-1.0 - ${r}p); }`,
    `  if (${r}f == ${b} && Math.floor(${r}h) != ${r}h) { ${r} = -${r}; }`,
    '}',
    `if (${b} == 0.0) { ${r} = 1.0; }`,
  ],
  maximum: (a, b, r) => [`let ${r} = ${b};`, `if (${a} >= ${b}) { ${r} = ${a}; }`],
  minimum: (a, b, r) => [`let ${r} = ${b};`, `if (${a} <= ${b}) { ${r} = ${a}; }`],
  greater: (a, b, r) => compare(a, '>', b, r),
  greaterEqual: (a, b, r) => compare(a, '>=', b, r),
  less: (a, b, r) => compare(a, '<', b, r),
  lessEqual: (a, b, r) => compare(a, '<=', b, r),
  equal: (a, b, r) => compare(a, '==', b, r),
  notEqual: (a, b, r) => compare(a, '!=', b, r),
};

function compare(a: string, op: string, b: string, r: string): string[] {
  return [`let ${r} = 0.0;`, `if (${a} ${op} ${b}) { ${r} = 1.0; }`];
}

/** The return statement: int32 results truncate toward zero, as storing into an Int32Array does. */
export function ret(expr: string, dtype: DType): string {
  return dtype === 'int32' ? `return Math.trunc(${expr});` : `return ${expr};`;
}

/** Element-wise unary op over `n` contiguous elements. */
export function unarySpec(op: UnaryOp, n: number, dtype: DType): KernelSpec {
  return {
    key: `unary:${op}|${n}|${dtype}`,
    source: kernelSource(1, 0, ['const x = x0[i];', ...UNARY_BODY[op]('x', 'r'), ret('r', dtype)]),
    arrays: 1,
    scalars: 0,
  };
}

/** Element-wise binary op with NumPy broadcasting of both operands to `outShape`. */
export function binarySpec(
  op: BinaryOp,
  aShape: Shape,
  bShape: Shape,
  outShape: Shape,
  dtype: DType,
): KernelSpec {
  const { code, indices } = emitOperandIndices(
    outShape,
    [broadcastStrides(aShape, outShape), broadcastStrides(bShape, outShape)],
    [],
    'k',
  );
  return {
    key: `binary:${op}|${sig(aShape)},${sig(bShape)}>${sig(outShape)}|${dtype}`,
    source: kernelSource(2, 0, [
      ...code,
      `const a = x0[${indices[0]}];`,
      `const b = x1[${indices[1]}];`,
      ...BINARY_BODY[op]('a', 'b', 'r'),
      ret('r', dtype),
    ]),
    arrays: 2,
    scalars: 0,
  };
}

/** `cond != 0 ? a : b` with all three broadcast to `outShape`. */
export function whereSpec(cShape: Shape, aShape: Shape, bShape: Shape, outShape: Shape): KernelSpec {
  const { code, indices } = emitOperandIndices(
    outShape,
    [
      broadcastStrides(cShape, outShape),
      broadcastStrides(aShape, outShape),
      broadcastStrides(bShape, outShape),
    ],
    [],
    'k',
  );
  return {
    key: `where|${sig(cShape)},${sig(aShape)},${sig(bShape)}>${sig(outShape)}`,
    source: kernelSource(3, 0, [
      ...code,
      `let r = x2[${indices[2]}];`,
      `if (x0[${indices[0]}] != 0.0) { r = x1[${indices[1]}]; }`,
      'return r;',
    ]),
    arrays: 3,
    scalars: 0,
  };
}

/** A constant of `n` elements; the value is an argument so that every fill of one size shares a kernel. */
export function fillSpec(n: number): KernelSpec {
  return { key: `fill|${n}`, source: kernelSource(0, 1, ['return v0;']), arrays: 0, scalars: 1 };
}

/** Copies `n` elements (upload from the host, and same-storage casts), truncating when the target is int32. */
export function copySpec(n: number, dtype: DType): KernelSpec {
  return {
    key: `copy|${n}|${dtype === 'int32' ? 'trunc' : 'id'}`,
    source: kernelSource(1, 0, [ret('x0[i]', dtype)]),
    arrays: 1,
    scalars: 0,
  };
}
