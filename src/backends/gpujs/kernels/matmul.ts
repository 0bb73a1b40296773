import type { Shape } from '../../../tensor/shape.js';
import { broadcastStrides, collapseAxes, emitCoords, linearIndex, sig } from './index-math.js';
import { type KernelSpec, kernelSource } from './spec.js';

/**
 * Batched matrix product, one output element per thread with a dot product over k (the CPU backend's
 * accumulation order). Transposed operands are read with swapped strides, so no transpose is materialised;
 * batch axes broadcast through zero strides.
 */
export function matmulSpec(
  aShape: Shape,
  bShape: Shape,
  transposeA: boolean,
  transposeB: boolean,
  outShape: Shape,
): KernelSpec {
  const r = outShape.length;
  const m = outShape[r - 2]!;
  const n = outShape[r - 1]!;
  const k = transposeA ? aShape.at(-2)! : aShape.at(-1)!;
  const batchShape = outShape.slice(0, r - 2);
  const aMat = aShape.at(-1)! * aShape.at(-2)!;
  const bMat = bShape.at(-1)! * bShape.at(-2)!;
  const aBatch = broadcastStrides(aShape.slice(0, -2), batchShape).map((s) => s * aMat);
  const bBatch = broadcastStrides(bShape.slice(0, -2), batchShape).map((s) => s * bMat);
  // Strides of A[row, p] and B[p, col] inside one matrix.
  const aRow = transposeA ? 1 : k;
  const aCol = transposeA ? m : 1;
  const bRow = transposeB ? 1 : n;
  const bCol = transposeB ? k : 1;
  const batch = collapseAxes(batchShape, [aBatch, bBatch]);
  const { code, coords } = emitCoords('i', [...batch.shape, m, n], 'o');
  const bc = coords.slice(0, batch.shape.length);
  const row = coords[coords.length - 2]!;
  const col = coords[coords.length - 1]!;
  const aBase = [linearIndex(bc, batch.strides[0]!), `${row} * ${aRow}.0`].join(' + ');
  const bBase = [linearIndex(bc, batch.strides[1]!), `${col} * ${bCol}.0`].join(' + ');
  const body = [
    ...code,
    `const ab = ${aBase};`,
    `const bb = ${bBase};`,
    'let acc = 0.0;',
    `for (let p = 0; p < ${k}; p++) {`,
    `  acc = acc + x0[ab + p * ${aCol}] * x1[bb + p * ${bRow}];`,
    '}',
    'return acc;',
  ];
  return {
    key: `matmul|${sig(aShape)}${transposeA ? 'T' : ''},${sig(bShape)}${transposeB ? 'T' : ''}>${sig(outShape)}`,
    source: kernelSource(2, 0, body),
    arrays: 2,
    scalars: 0,
  };
}
