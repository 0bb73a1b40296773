import type { Shape } from '../../../tensor/shape.js';
import { contiguousStrides, emitCoords, emitOperandIndices, linearIndex, sig } from './index-math.js';
import { type KernelSpec, kernelSource } from './spec.js';

/**
 * `out[c] = x[base + sum(c[d] * strides[d])]` over an output of `outShape`: transpose, broadcastTo and slice
 * are all this one kernel with different strides.
 */
export function stridedCopySpec(outShape: Shape, strides: readonly number[], base: number): KernelSpec {
  const { code, indices } = emitOperandIndices(outShape, [strides], [base], 'k');
  return {
    key: `strided|${sig(outShape)}|${strides.join(',')}+${base}`,
    source: kernelSource(1, 0, [...code, `return x0[${indices[0]}];`]),
    arrays: 1,
    scalars: 0,
  };
}

/**
 * Most inputs one concat kernel takes; more are concatenated in groups. WebGPU guarantees only 8 storage
 * buffers per shader stage and the output is one of them.
 */
export const CONCAT_MAX_INPUTS = 7;

/**
 * Concatenation along `axis`. Seen as [outer, row] with each input owning a column range of `row`, the
 * kernel picks the input by column and reads it contiguously.
 */
export function concatSpec(shapes: readonly Shape[], axis: number): KernelSpec {
  const first = shapes[0]!;
  let outer = 1;
  for (let d = 0; d < axis; d++) outer *= first[d]!;
  const chunks = shapes.map((s) => {
    let c = 1;
    for (let d = axis; d < s.length; d++) c *= s[d]!;
    return c;
  });
  const row = chunks.reduce((x, y) => x + y, 0);
  const { code, coords } = emitCoords('i', [outer, row], 'o');
  const [o, c] = coords as [string, string];
  const body = [...code, 'let r = 0.0;'];
  let off = 0;
  chunks.forEach((chunk, k) => {
    // Every input gets a branch; empty inputs simply own an empty column range.
    if (chunk > 0)
      body.push(
        `if (${c} >= ${off}.0 && ${c} < ${off + chunk}.0) { r = x${k}[${o} * ${chunk}.0 + ${c} - ${off}.0]; }`,
      );
    off += chunk;
  });
  body.push('return r;');
  return {
    key: `concat|${shapes.map(sig).join(',')}|${axis}`,
    source: kernelSource(shapes.length, 0, body),
    arrays: shapes.length,
    scalars: 0,
  };
}

/** Constant padding; the pad value is an argument so every value shares the kernel. */
export function padSpec(shape: Shape, paddings: readonly (readonly [number, number])[]): KernelSpec {
  const outShape = shape.map((d, i) => d + paddings[i]![0] + paddings[i]![1]);
  const { code, coords } = emitCoords('i', outShape, 'o');
  const inStrides = contiguousStrides(shape);
  const conds: string[] = [];
  const src: string[] = [];
  shape.forEach((d, i) => {
    const [before] = paddings[i]!;
    const u = `u${i}`;
    code.push(`const ${u} = ${coords[i]} - ${before}.0;`);
    conds.push(`${u} >= 0.0 && ${u} < ${d}.0`);
    src.push(u);
  });
  const body = [...code, 'let r = v0;'];
  if (shape.length === 0) body.push('r = x0[0];');
  else body.push(`if (${conds.join(' && ')}) { r = x0[${linearIndex(src, inStrides)}]; }`);
  body.push('return r;');
  return {
    key: `pad|${sig(shape)}|${paddings.map((p) => p.join(':')).join(',')}`,
    source: kernelSource(1, 1, body),
    arrays: 1,
    scalars: 1,
  };
}
