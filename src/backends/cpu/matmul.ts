import type { TypedArray } from '../../tensor/dtype.js';
import type { Shape } from '../../tensor/shape.js';
import { broadcastStrides } from './strided.js';

/**
 * Batched matrix product with broadcast batch axes. Per matrix: `C[m,n] = sum_k A[m,k] B[k,n]` where a
 * transposed operand is read with swapped strides. The loop order keeps the innermost loop contiguous: i-k-j
 * (rows of B) unless B is transposed, where i-j-k (dot products of rows) is the contiguous one.
 */
export function matmulKernel(
  a: TypedArray,
  aShape: Shape,
  b: TypedArray,
  bShape: Shape,
  transposeA: boolean,
  transposeB: boolean,
  out: TypedArray,
  outShape: Shape,
): void {
  const r = outShape.length;
  const m = outShape[r - 2]!;
  const n = outShape[r - 1]!;
  const k = transposeA ? aShape[aShape.length - 2]! : aShape[aShape.length - 1]!;
  const batchShape = outShape.slice(0, r - 2);
  const aBatch = broadcastStrides(aShape.slice(0, -2), batchShape).map((s) => s * aShape.at(-1)! * aShape.at(-2)!);
  const bBatch = broadcastStrides(bShape.slice(0, -2), batchShape).map((s) => s * bShape.at(-1)! * bShape.at(-2)!);
  // Strides of A[i, p] and B[p, j] inside one matrix.
  const aRow = transposeA ? 1 : k;
  const aCol = transposeA ? m : 1;
  const bRow = transposeB ? 1 : n;
  const bCol = transposeB ? k : 1;
  const acc = new Float64Array(n);
  let batches = 1;
  for (const d of batchShape) batches *= d;
  const idx = new Array<number>(batchShape.length).fill(0);
  let aOff = 0;
  let bOff = 0;
  for (let t = 0; t < batches; t++) {
    const cOff = t * m * n;
    if (!transposeB) {
      for (let i = 0; i < m; i++) {
        acc.fill(0);
        const ai = aOff + i * aRow;
        for (let p = 0; p < k; p++) {
          const av = a[ai + p * aCol]!;
          const bp = bOff + p * bRow;
          for (let j = 0; j < n; j++) acc[j]! += av * b[bp + j]!;
        }
        const ci = cOff + i * n;
        for (let j = 0; j < n; j++) out[ci + j] = acc[j]!;
      }
    } else {
      for (let i = 0; i < m; i++) {
        const ai = aOff + i * aRow;
        const ci = cOff + i * n;
        for (let j = 0; j < n; j++) {
          const bj = bOff + j * bCol;
          let s = 0;
          if (aCol === 1) for (let p = 0; p < k; p++) s += a[ai + p]! * b[bj + p]!;
          else for (let p = 0; p < k; p++) s += a[ai + p * aCol]! * b[bj + p]!;
          out[ci + j] = s;
        }
      }
    }
    for (let d = batchShape.length - 1; d >= 0; d--) {
      idx[d]!++;
      aOff += aBatch[d]!;
      bOff += bBatch[d]!;
      if (idx[d]! < batchShape[d]!) break;
      aOff -= aBatch[d]! * batchShape[d]!;
      bOff -= bBatch[d]! * batchShape[d]!;
      idx[d] = 0;
    }
  }
}
