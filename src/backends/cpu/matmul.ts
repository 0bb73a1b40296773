import type { TypedArray } from '../../tensor/dtype.js';
import { broadcastStrides, type Shape } from '../../tensor/shape.js';
import { holdForQueue, nativeFrom, syncKernels } from './kernelQueue.js';
import { nativeBlas } from './native/blas.js';
import { GEMM_BLOCK, matmulWasm } from './wasm/matmulWasm.js';

/**
 * Multiply-adds per call (all batch matrices together) from which float32 products go to the WebAssembly
 * kernel. It is the whole call that counts: the fixed cost (about 0.13 microseconds: copies in and out of wasm
 * memory, the calls) is paid once per call, while the JS loops are slow per element at any size. Measured on
 * x86-64 / Node 20 (Zen 4): a 1x1x1 product is about even, 2x4x4 1.5x and 4x4x4 2.3x faster in wasm, 8x8x8 4x.
 */
export const WASM_MIN_MACS = 16;

/**
 * Multiply-adds per call from which products go to the native BLAS when it is built (`npm run
 * setup:native`). A call's fixed cost is about 0.25 µs (Node-API argument checks and OpenBLAS's own) against
 * the wasm kernel's 0.13 plus copies: 4x4x4 is about even (0.26 against 0.23 µs), 16x32x16 already 2.5x
 * faster native, and every MAML shape of `npx tsx bench/matmul.ts` (which prints wasm, native and JS per
 * shape) runs faster native.
 */
export const NATIVE_MIN_MACS = 512;

/**
 * Batched matrix product with broadcast batch axes. Per matrix: `C[m,n] = sum_k A[m,k] B[k,n]` where a
 * transposed operand is read with swapped strides; leading (batch) axes of `aShape` and `bShape` broadcast to
 * those of `outShape`. From {@link NATIVE_MIN_MACS} multiply-adds, float32 and float64 products run on the
 * native BLAS where it is built; otherwise float32 products of any size worth it run on the WebAssembly SIMD kernel
 * (wasm/matmul.wat: cache-blocked, packed, 5x8 register tiles), which accumulates in float32; float64 and small products run {@link matmulKernelJs}.
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
  const macs = out.length * (transposeA ? aShape.at(-2)! : aShape.at(-1)!);
  if (nativeBlas !== undefined && macs >= nativeFrom(NATIVE_MIN_MACS) && sameFloatType(a, b, out)) {
    matmulKernelNative(a, aShape, b, bShape, transposeA, transposeB, out, outShape);
    return;
  }
  // The kernels below run in JavaScript (kernelQueue.ts: no storage is touched while kernels are queued).
  syncKernels();
  if (
    matmulWasm !== undefined &&
    macs >= WASM_MIN_MACS &&
    a instanceof Float32Array &&
    b instanceof Float32Array &&
    out instanceof Float32Array
  ) {
    matmulKernelWasm(a, aShape, b, bShape, transposeA, transposeB, out, outShape);
  } else {
    matmulKernelJs(a, aShape, b, bShape, transposeA, transposeB, out, outShape);
  }
}

function sameFloatType(a: TypedArray, b: TypedArray, out: TypedArray): boolean {
  return (
    (a instanceof Float32Array && b instanceof Float32Array && out instanceof Float32Array) ||
    (a instanceof Float64Array && b instanceof Float64Array && out instanceof Float64Array)
  );
}

/**
 * {@link matmulKernel} on the native BLAS (float32 or float64, all three arrays of one type): no copies, the
 * BLAS reads the operands where they are. Batch matrices of a row-major A that share one B go as a single
 * taller product, as in {@link matmulKernelWasm}.
 */
export function matmulKernelNative(
  a: TypedArray,
  aShape: Shape,
  b: TypedArray,
  bShape: Shape,
  transposeA: boolean,
  transposeB: boolean,
  out: TypedArray,
  outShape: Shape,
): void {
  const blas = nativeBlas;
  if (blas === undefined) throw new Error('matmulKernelNative: the native BLAS is not loaded');
  const g = productGeometry(aShape, bShape, transposeA, out, outShape);
  if (g === undefined) return;
  const { n, k, offsets } = g;
  const { rows, products } = stacked(g, transposeA);
  if (pairs.length < 2 * products) pairs = new Float64Array(2 * products);
  for (let t = 0; t < products; t++) {
    pairs[2 * t] = offsets.a[t]!;
    pairs[2 * t + 1] = offsets.b[t]!;
  }
  blas.gemm(
    a as Float32Array | Float64Array,
    b as Float32Array | Float64Array,
    out as Float32Array | Float64Array,
    rows,
    n,
    k,
    transposeA,
    transposeB,
    pairs,
    products,
  );
  holdForQueue(a, b, out);
}

/**
 * The (A, B) offset pairs handed to the native gemm, reused from call to call: a fresh typed array per call
 * cost about a third of a small product's time.
 */
let pairs = new Float64Array(2);

/**
 * Rounds a byte offset up to 16, the SIMD vector size, so every region starts vector-aligned. Arithmetic, not
 * bitwise: offsets may pass 2^31 in a memory of up to 4 GiB.
 */
const align16 = (bytes: number): number => Math.ceil(bytes / 16) * 16;

/**
 * {@link matmulKernel} on the WebAssembly kernels, float32 only. Both operands are copied whole into wasm
 * memory (so a broadcast operand is copied once) and C is copied out once. Each batch matrix then goes to
 * the cache-blocked `gemm`, which reads A and B through their strides (transposes included) while packing
 * them (a small row-major B is read in place); batch matrices of a non-transposed A that share one B are
 * stacked into a single taller product.
 * Products narrower than the 5x8 register tile (n < 8: matrix-vector; m < 5: vector-matrix, where B is read
 * once and blocking has nothing to reuse) take `gemmNarrow` instead, which packs A into 4-row panels (skipped
 * when a broadcast A repeats) and reads a row-major B in place (a transposed B is transposed once per
 * distinct matrix).
 * Memory layout, in bytes from 0: A | B | C | workspace (C after B: `gemm` may read a few bytes past B).
 */
export function matmulKernelWasm(
  a: Float32Array,
  aShape: Shape,
  b: Float32Array,
  bShape: Shape,
  transposeA: boolean,
  transposeB: boolean,
  out: Float32Array,
  outShape: Shape,
): void {
  const wasm = matmulWasm;
  if (wasm === undefined) throw new Error('matmulKernelWasm: WebAssembly SIMD is not available');
  const g = productGeometry(aShape, bShape, transposeA, out, outShape);
  if (g === undefined) return;
  const { m, n, k, batches, offsets } = g;

  const aPtr = 0;
  const bPtr = align16(aPtr + a.length * 4);
  const cPtr = align16(bPtr + b.length * 4);
  const workPtr = align16(cPtr + out.length * 4);
  // Byte strides of A[i, p] and B[p, j] inside one matrix.
  const aRow = (transposeA ? 1 : k) * 4;
  const aCol = (transposeA ? m : 1) * 4;
  const bRow = (transposeB ? 1 : n) * 4;
  const bCol = (transposeB ? k : 1) * 4;

  if (n < GEMM_BLOCK.nr || m < GEMM_BLOCK.mr) {
    const transPtr = align16(workPtr + ((m + 3) & ~3) * k * 4);
    if (!wasm.reserve(transPtr + (transposeB ? k * n * 4 : 0))) {
      matmulKernelJs(a, aShape, b, bShape, transposeA, transposeB, out, outShape);
      return;
    }
    wasm.f32.set(a, aPtr / 4);
    wasm.f32.set(b, bPtr / 4);
    const { packA4, transpose, gemmNarrow } = wasm.exports;
    let packedA = -1;
    let transposedB = -1;
    for (let t = 0; t < batches; t++) {
      const aOff = offsets.a[t]!;
      const bOff = offsets.b[t]!;
      if (aOff !== packedA) {
        packA4(aPtr + aOff * 4, workPtr, m, k, aRow, aCol);
        packedA = aOff;
      }
      let bMat = bPtr + bOff * 4;
      if (transposeB) {
        if (bOff !== transposedB) {
          transpose(bMat, transPtr, n, k);
          transposedB = bOff;
        }
        bMat = transPtr;
      }
      gemmNarrow(workPtr, bMat, cPtr + t * m * n * 4, m, n, k);
    }
    out.set(wasm.f32.subarray(cPtr / 4, cPtr / 4 + out.length));
    return;
  }

  const { rows, products } = stacked(g, transposeA);
  const { kc, mc, nc, mr, nr } = GEMM_BLOCK;
  const kBlock = Math.min(k, kc);
  const paPtr = workPtr;
  const pbPtr = align16(paPtr + Math.min(Math.ceil(rows / mr) * mr, mc) * kBlock * 4);
  const tilePtr = align16(pbPtr + kBlock * Math.ceil(Math.min(n, nc) / nr) * nr * 4);
  if (!wasm.reserve(tilePtr + mr * nr * 4)) {
    matmulKernelJs(a, aShape, b, bShape, transposeA, transposeB, out, outShape);
    return;
  }
  wasm.f32.set(a, aPtr / 4);
  wasm.f32.set(b, bPtr / 4);
  const gemm = wasm.exports.gemm;
  for (let t = 0; t < products; t++) {
    gemm(
      aPtr + offsets.a[t]! * 4,
      aRow,
      aCol,
      bPtr + offsets.b[t]! * 4,
      bRow,
      bCol,
      cPtr + t * m * n * 4,
      n * 4,
      rows,
      n,
      k,
      paPtr,
      pbPtr,
      tilePtr,
    );
  }
  out.set(wasm.f32.subarray(cPtr / 4, cPtr / 4 + out.length));
}

/** Element offsets of each batch matrix's A and B. */
interface Offsets {
  a: number[];
  b: number[];
}

/** The offsets table of a single (unbatched) product. */
const SINGLE: Offsets = { a: [0], b: [0] };

/** Sizes of one product call: each matrix is [m, k] x [k, n], `batches` of them at `offsets`. */
interface ProductGeometry {
  m: number;
  n: number;
  k: number;
  batches: number;
  offsets: Offsets;
}

/**
 * The sizes and batch offsets of a product, or undefined when there is nothing to multiply: an empty output,
 * or k = 0, where the output is zeros (written here, since kernels get unzeroed storage).
 */
function productGeometry(
  aShape: Shape,
  bShape: Shape,
  transposeA: boolean,
  out: TypedArray,
  outShape: Shape,
): ProductGeometry | undefined {
  const r = outShape.length;
  const m = outShape[r - 2]!;
  const n = outShape[r - 1]!;
  const k = transposeA ? aShape[aShape.length - 2]! : aShape[aShape.length - 1]!;
  if (out.length === 0) return undefined;
  if (k === 0) {
    syncKernels();
    out.fill(0);
    return undefined;
  }
  const batches = out.length / (m * n);
  // A single matrix has every batch axis 1 on both sides: both offsets are 0, no table needed.
  const offsets = batches === 1 ? SINGLE : matrixOffsets(aShape, bShape, outShape.slice(0, r - 2));
  return { m, n, k, batches, offsets };
}

/**
 * Rows and product calls after stacking: batch matrices of a row-major A that all multiply the same B are
 * consecutive row blocks of one A and of C, so they go as one taller product.
 */
function stacked(g: ProductGeometry, transposeA: boolean): { rows: number; products: number } {
  if (g.batches > 1 && !transposeA && stacks(g.offsets, g.m * g.k))
    return { rows: g.m * g.batches, products: 1 };
  return { rows: g.m, products: g.batches };
}

/** Whether every batch uses the same B and the A matrices follow one another contiguously (aSize apart). */
function stacks(offsets: Offsets, aSize: number): boolean {
  const b0 = offsets.b[0]!;
  for (let t = 0; t < offsets.a.length; t++) {
    if (offsets.b[t] !== b0 || offsets.a[t] !== t * aSize) return false;
  }
  return true;
}

/**
 * The portable kernel: plain loops over any typed array, accumulating in float64. The loop order keeps the
 * innermost loop contiguous: i-k-j (rows of B) unless B is transposed, where i-j-k (dot products of rows) is
 * the contiguous one.
 */
export function matmulKernelJs(
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
  const offsets = matrixOffsets(aShape, bShape, batchShape);
  // Strides of A[i, p] and B[p, j] inside one matrix.
  const aRow = transposeA ? 1 : k;
  const aCol = transposeA ? m : 1;
  const bRow = transposeB ? 1 : n;
  const bCol = transposeB ? k : 1;
  const acc = new Float64Array(n);
  let batches = 1;
  for (const d of batchShape) batches *= d;
  for (let t = 0; t < batches; t++) {
    const aOff = offsets.a[t]!;
    const bOff = offsets.b[t]!;
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
  }
}

/**
 * Element offsets of each output matrix's A and B operands, batch by batch (row-major over `batchShape`),
 * with broadcast batch axes repeating their matrix. Both kernels walk batches through this one table.
 * Plain arrays, not Int32Arrays: a typed array of a few dozen entries gets an off-heap backing store that
 * costs more to create than the small products it indexes.
 */
function matrixOffsets(aShape: Shape, bShape: Shape, batchShape: Shape): Offsets {
  const aStrides = broadcastStrides(aShape.slice(0, -2), batchShape).map(
    (s) => s * aShape.at(-1)! * aShape.at(-2)!,
  );
  const bStrides = broadcastStrides(bShape.slice(0, -2), batchShape).map(
    (s) => s * bShape.at(-1)! * bShape.at(-2)!,
  );
  let batches = 1;
  for (const d of batchShape) batches *= d;
  const a = new Array<number>(batches);
  const b = new Array<number>(batches);
  const idx = new Array<number>(batchShape.length).fill(0);
  let aOff = 0;
  let bOff = 0;
  for (let t = 0; t < batches; t++) {
    a[t] = aOff;
    b[t] = bOff;
    for (let d = batchShape.length - 1; d >= 0; d--) {
      idx[d]!++;
      aOff += aStrides[d]!;
      bOff += bStrides[d]!;
      if (idx[d]! < batchShape[d]!) break;
      aOff -= aStrides[d]! * batchShape[d]!;
      bOff -= bStrides[d]! * batchShape[d]!;
      idx[d] = 0;
    }
  }
  return { a, b };
}
