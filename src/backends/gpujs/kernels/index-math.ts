import { collapseAxes, stridesOf as contiguousStrides, type Shape } from '../../../tensor/shape.js';

// The stride geometry is shared with the CPU backend; the code emitters below are gpu.js's own.
export { broadcastStrides, collapseAxes, stridesOf as contiguousStrides } from '../../../tensor/shape.js';

/**
 * Emits statements that split the flat index `flat` into coordinates `${prefix}0..` of `shape` (row-major).
 *
 * gpu.js index math runs in float32 on every GPU mode (WebGL 1 has no integer division, and GPU float
 * division is not correctly rounded), so `floor(i / s)` alone can be off by one. Dividing `i + 0.5` keeps the
 * true quotient half a step away from an integer, and the two fix-ups make the result exact for any index a
 * float32 holds exactly (below 2^24), whatever the division's rounding.
 */
export function emitCoords(flat: string, shape: Shape, prefix: string): { code: string[]; coords: string[] } {
  const code: string[] = [];
  const coords: string[] = [];
  const strides = contiguousStrides(shape);
  let rem = flat;
  for (let d = 0; d < shape.length; d++) {
    if (d === shape.length - 1) {
      coords.push(rem);
      break;
    }
    const s = strides[d]!;
    const q = `${prefix}q${d}`;
    const r = `${prefix}r${d}`;
    code.push(
      `let ${q} = Math.floor((${rem} + 0.5) / ${s}.0);`,
      `let ${r} = ${rem} - ${q} * ${s}.0;`,
      `if (${r} < 0.0) { ${q} = ${q} - 1.0; ${r} = ${r} + ${s}.0; }`,
      `if (${r} >= ${s}.0) { ${q} = ${q} + 1.0; ${r} = ${r} - ${s}.0; }`,
    );
    coords.push(q);
    rem = r;
  }
  return { code, coords };
}

/** A linear index expression `base + sum(coords[d] * strides[d])`, omitting zero terms. */
export function linearIndex(coords: readonly string[], strides: readonly number[], base = 0): string {
  const terms: string[] = [];
  if (base !== 0) terms.push(`${base}.0`);
  for (let d = 0; d < coords.length; d++) {
    const s = strides[d]!;
    if (s === 0) continue;
    terms.push(s === 1 ? coords[d]! : `${coords[d]} * ${s}.0`);
  }
  return terms.length === 0 ? '0' : terms.join(' + ');
}

/**
 * Statements that compute one index variable per operand (`${prefix}0..`) for the output element `flat`, where
 * operand k is read with `operandStrides[k]` from `bases[k]`. Collapses axes first, so operands that line up
 * with the output get the flat index itself.
 */
export function emitOperandIndices(
  outShape: Shape,
  operandStrides: readonly (readonly number[])[],
  bases: readonly number[],
  prefix: string,
  flat = 'i',
): { code: string[]; indices: string[] } {
  const { shape, strides } = collapseAxes(outShape, operandStrides);
  const { code, coords } = emitCoords(flat, shape, `${prefix}c`);
  const indices: string[] = [];
  for (let k = 0; k < operandStrides.length; k++) {
    const v = `${prefix}${k}`;
    code.push(`const ${v} = ${linearIndex(coords, strides[k]!, bases[k] ?? 0)};`);
    indices.push(v);
  }
  return { code, indices };
}

/** A compact text form of a shape for cache keys. */
export function sig(shape: Shape): string {
  return shape.join('x') || 's';
}
