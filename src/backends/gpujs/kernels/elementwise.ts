import type { DType } from '../../../tensor/dtype.js';
import type { Shape } from '../../../tensor/shape.js';
import type { BinaryOp, UnaryOp } from '../../backend.js';
import { broadcastStrides, emitOperandIndices, sig } from './index-math.js';
import { type KernelSpec, kernelSource } from './spec.js';

/**
 * Statements computing `r` from `x`. They follow the CPU backend's formulas (`src/backends/cpu/elementwise.ts`)
 * except where float32 GPU math needs a steadier form: log1p and tanh are written so that small arguments keep
 * their relative accuracy (`log(1 + x)` and the plain exp formula of tanh lose it all near 0).
 */
const UNARY_BODY: Record<UnaryOp, readonly string[]> = {
  neg: ['const r = -x;'],
  exp: ['const r = Math.exp(x);'],
  log: ['const r = Math.log(x);'],
  log1p: log1p('x', 'r'),
  sqrt: ['const r = Math.sqrt(x);'],
  sin: ['const r = Math.sin(x);'],
  cos: ['const r = Math.cos(x);'],
  tanh: [
    'const ax = Math.abs(x);',
    'let r = 0.0;',
    // Below 0.1 the series is exact to float32; above, exp(-2|x|) cannot overflow and 1 - t keeps 6 digits.
    'if (ax < 0.1) { const x2 = x * x; r = x * (1.0 - x2 * (0.3333333333 - x2 * (0.1333333333 - x2 * 0.0539682540))); }',
    'else { const t = Math.exp(-2.0 * ax); const m = (1.0 - t) / (1.0 + t); r = x < 0.0 ? -m : m; }',
  ],
  sigmoid: [
    'let r = 0.0;',
    'if (x >= 0.0) { r = 1.0 / (1.0 + Math.exp(-x)); } else { const e = Math.exp(x); r = e / (1.0 + e); }',
  ],
  abs: ['const r = Math.abs(x);'],
  sign: ['let r = 0.0;', 'if (x > 0.0) { r = 1.0; }', 'if (x < 0.0) { r = -1.0; }'],
  relu: ['let r = 0.0;', 'if (x > 0.0) { r = x; }'],
  step: ['let r = 0.0;', 'if (x > 0.0) { r = 1.0; }'],
  reciprocal: ['const r = 1.0 / x;'],
  square: ['const r = x * x;'],
  softplus: [
    // max(x, 0) + log1p(exp(-|x|)): the CPU's two branches in one, exp never overflows.
    'const sp = Math.exp(-Math.abs(x));',
    ...log1p('sp', 'lp'),
    'let r = lp;',
    'if (x > 0.0) { r = x + lp; }',
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

/** Statements computing `r` from `a` and `b`, matching the CPU backend's formulas. */
const BINARY_BODY: Record<BinaryOp, readonly string[]> = {
  add: ['const r = a + b;'],
  sub: ['const r = a - b;'],
  mul: ['const r = a * b;'],
  div: ['const r = a / b;'],
  // GPU pow(a, b) is exp2(b * log2(a)): undefined for a <= 0, so signs and zeros are handled here to match
  // Math.pow (odd integer powers of negatives are negative, non-integer powers of negatives are NaN).
  pow: [
    'const pb = Math.abs(b);',
    'const fb = Math.floor(b);',
    'const half = pb * 0.5;',
    'let r = Math.pow(Math.abs(a), b);',
    'if (a == 0.0) { r = 0.0; if (b < 0.0) { r = 1.0 / a; } }',
    'if (a < 0.0) {',
    '  if (fb != b) { r = Math.sqrt(-1.0 - pb); }',
    '  if (fb == b && Math.floor(half) != half) { r = -r; }',
    '}',
    'if (b == 0.0) { r = 1.0; }',
  ],
  maximum: ['let r = b;', 'if (a >= b) { r = a; }'],
  minimum: ['let r = b;', 'if (a <= b) { r = a; }'],
  greater: ['let r = 0.0;', 'if (a > b) { r = 1.0; }'],
  greaterEqual: ['let r = 0.0;', 'if (a >= b) { r = 1.0; }'],
  less: ['let r = 0.0;', 'if (a < b) { r = 1.0; }'],
  lessEqual: ['let r = 0.0;', 'if (a <= b) { r = 1.0; }'],
  equal: ['let r = 0.0;', 'if (a == b) { r = 1.0; }'],
  notEqual: ['let r = 0.0;', 'if (a != b) { r = 1.0; }'],
};

/** The return statement: int32 results truncate toward zero, as storing into an Int32Array does. */
function ret(expr: string, dtype: DType): string {
  return dtype === 'int32' ? `return Math.trunc(${expr});` : `return ${expr};`;
}

/** Element-wise unary op over `n` contiguous elements. */
export function unarySpec(op: UnaryOp, n: number, dtype: DType): KernelSpec {
  return {
    key: `unary:${op}|${n}|${dtype}`,
    source: kernelSource(1, 0, ['const x = x0[i];', ...UNARY_BODY[op], ret('r', dtype)]),
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
      ...BINARY_BODY[op],
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
