import type { Shape } from '../../../tensor/shape.js';
import { emitCoords, sig } from './index-math.js';
import { type KernelSpec, kernelSource } from './spec.js';

/** Splits a shape around `axis` into (outer, size of axis, inner) element counts. */
export function around(shape: Shape, axis: number): [number, number, number] {
  let outer = 1;
  let inner = 1;
  for (let d = 0; d < axis; d++) outer *= shape[d]!;
  for (let d = axis + 1; d < shape.length; d++) inner *= shape[d]!;
  return [outer, shape[axis]!, inner];
}

/**
 * gather: output [outer, ni, inner] reads x[(o * dim + idx[t]) * inner + j]. A device cannot throw, so an
 * out-of-range index yields 0 here where the CPU backend throws (the ops layer validates host indices).
 */
export function gatherSpec(xShape: Shape, ni: number, axis: number): KernelSpec {
  const [outer, dim, inner] = around(xShape, axis);
  const { code, coords } = emitCoords('i', [outer, ni, inner], 'o');
  const [o, t, j] = coords as [string, string, string];
  const body = [
    ...code,
    `const ix = x1[${t}];`,
    'let r = 0.0;',
    `if (ix >= 0.0 && ix < ${dim}.0) { r = x0[(${o} * ${dim}.0 + ix) * ${inner}.0 + ${j}]; }`,
    'return r;',
  ];
  return {
    key: `gather|${sig(xShape)}|${ni}|${axis}`,
    source: kernelSource(2, 0, body),
    arrays: 2,
    scalars: 0,
  };
}

/**
 * scatterAdd, the adjoint of gather, written as a gather over the whole index list: each output element scans
 * every index for the ones that name it, `outputs x ni` loop steps. The fallback for index tensors whose values
 * the host does not have (see {@link scatterAddInverseSpec}). No atomics (WebGL 1 has none and float atomics
 * are not portable), duplicates accumulate in index order exactly as on the CPU, and the result is
 * deterministic.
 */
export function scatterAddSpec(outShape: Shape, ni: number, axis: number): KernelSpec {
  const [outer, dim, inner] = around(outShape, axis);
  const { code, coords } = emitCoords('i', [outer, dim, inner], 'o');
  const [o, d, j] = coords as [string, string, string];
  const body = [
    ...code,
    'let acc = 0.0;',
    `for (let t = 0; t < ${ni}; t++) {`,
    `  if (Math.abs(x1[t] - ${d}) < 0.5) { acc = acc + x0[(${o} * ${ni}.0 + t) * ${inner}.0 + ${j}]; }`,
    '}',
    'return acc;',
  ];
  return {
    key: `scatterAdd|${sig(outShape)}|${ni}|${axis}`,
    source: kernelSource(2, 0, body),
    arrays: 2,
    scalars: 0,
  };
}

/**
 * scatterAdd through a precomputed inverse index (`inverse-index.ts`, bound as `x1`): each output element sums
 * only its own row of contributing positions, so the kernel costs `outputs x maxDegree` loop steps (for a
 * convolution's patch gather, inputs x kernel taps) instead of `outputs x ni`. The loop bound is the literal
 * `maxDegree` with a per-row guard, since gpu.js caps loops with a computed bound at its LOOP_MAX. Rows list
 * positions in index order, so duplicates accumulate exactly as in {@link scatterAddSpec} and on the CPU.
 */
export function scatterAddInverseSpec(
  outShape: Shape,
  ni: number,
  axis: number,
  maxDegree: number,
): KernelSpec {
  const [outer, dim, inner] = around(outShape, axis);
  const { code, coords } = emitCoords('i', [outer, dim, inner], 'o');
  const [o, d, j] = coords as [string, string, string];
  const body = [
    ...code,
    `const s = x1[${d}];`,
    `const c = x1[${d} + 1.0] - s;`,
    'let acc = 0.0;',
    `for (let k = 0; k < ${maxDegree}; k++) {`,
    `  if (k < c) { acc = acc + x0[(${o} * ${ni}.0 + x1[${dim + 1}.0 + s + k]) * ${inner}.0 + ${j}]; }`,
    '}',
    'return acc;',
  ];
  return {
    key: `scatterAddInverse|${sig(outShape)}|${ni}|${axis}|${maxDegree}`,
    source: kernelSource(2, 0, body),
    arrays: 2,
    scalars: 0,
  };
}
