import type { AdamConstants } from '../../backend.js';
import { BINARY_OPS } from '../../backend.js';
import { holdForQueue, kernelsQueued } from '../kernelQueue.js';
import { type IndexKernelArgs, nativeAddon } from './addon.js';

/** The addon's binary op codes (elementwise.c's ADD..DIV). */
const BINARY_CODES = new Map<string, number>([
  ['add', 0],
  ['sub', 1],
  ['mul', 2],
  ['div', 3],
]);
/**
 * The addon's op codes of strided binaries: every binary op but pow, in {@link BINARY_OPS}' order, which
 * elementwise.c's STRIDED_OPS follows (libm's powf rounds differently from Math.pow, so pow stays in JS).
 */
const STRIDED_CODES = new Map<string, number>(
  BINARY_OPS.filter((op) => op !== 'pow').map((op, i) => [op, i]),
);
/** The addon's unary op codes (elementwise.c's RELU..SQRT). */
const UNARY_CODES = new Map<string, number>([
  ['relu', 0],
  ['step', 1],
  ['neg', 2],
  ['square', 3],
  ['sqrt', 4],
]);
/**
 * Unary ops the addon runs only in queue mode (kernelQueue.ts), where a JS loop would first wait for the
 * queue: reciprocal, abs and sign (no faster than JS's loops at the sizes a meta-gradient has), and exp and
 * log through the C library, whose float64 results may differ from V8's in the last bit (see elementwise.c).
 */
const QUEUED_UNARY_CODES = new Map<string, number>([
  ['reciprocal', 5],
  ['abs', 6],
  ['sign', 7],
  ['exp', 8],
  ['log', 9],
]);

/**
 * Float32 elementwise kernels with the call shapes of the WebAssembly ones ({@link ElementwiseWasm}), so the
 * CPU backend's dispatch takes whichever is there. Each method returns false for an op it has no loop for.
 */
export interface ElementwiseKernels {
  /** `out = a op b`; each of a, b has out's length or length 1 (not both 1). */
  binary(op: string, a: Float32Array, b: Float32Array, out: Float32Array): boolean;
  /** `out = full op rows` (or `rows op full` when `rowsFirst`); full and out [p, q, r], rows [p, r]. */
  binaryRows(
    op: string,
    full: Float32Array,
    rows: Float32Array,
    rowsFirst: boolean,
    p: number,
    q: number,
    r: number,
    out: Float32Array,
  ): boolean;
  /**
   * `out = a op b` over `shape` (out contiguous), a and b read through element strides `sa` and `sb` (0 on
   * a broadcast axis): any broadcast. Optional: only the native kernels have it.
   */
  binaryStrided?(
    op: string,
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    shape: readonly number[],
    sa: readonly number[],
    sb: readonly number[],
  ): boolean;
  /** `out = op(x)`. */
  unary(op: string, x: Float32Array, out: Float32Array): boolean;
  /** `out[p, r]` = sum over q of `x[p, q, r]`, the q rows added in order in float32. */
  colsum(x: Float32Array, p: number, q: number, r: number, out: Float32Array): boolean;
  /**
   * `out` (contiguous over `shape`) = `src[base + sum(index[d] * strides[d])]`: the copy of transpose,
   * broadcastTo and slice (`../strided.ts`), with non-negative strides. Optional: only the native kernels
   * have it.
   */
  copyStrided?(
    src: Float32Array,
    base: number,
    strides: readonly number[],
    shape: readonly number[],
    out: Float32Array,
  ): boolean;
  /**
   * `out` = op over the elements of contiguous `x` (read as `shape`) that land on each output element,
   * element `index` going to `sum(index[d] * outStrides[d])` (`outStrides` as `../reduce.ts` collapses them,
   * the last 0 or 1): the general loop of `../reduce.ts`, bit for bit. False where the rank is over 16.
   * Optional: only the native kernels have it.
   */
  reduceStrided?(
    op: 'sum' | 'max' | 'min',
    x: Float32Array,
    shape: readonly number[],
    outStrides: readonly number[],
    out: Float32Array,
  ): boolean;
  /** Every element of `out` = `value`. Optional: only the native kernels have it. */
  fill?(out: Float32Array, value: number): boolean;
  /** `out[i] = x[i]`, int32 to float32. Optional: only the native kernels have it. */
  castI32F32?(x: Int32Array, out: Float32Array): boolean;
  /**
   * `out` = `value` around contiguous `x` of `shape`, copied in from element `base` of `out` with `out`'s
   * `outStrides` (`../indexing.ts` padKernel, after a fill). False where the rank is over 16. Optional: only
   * the native kernels.
   */
  pad?(
    x: Float32Array,
    shape: readonly number[],
    out: Float32Array,
    outStrides: readonly number[],
    base: number,
    value: number,
  ): boolean;
  /**
   * `out[o, i, :] = x[o, indices[i], :]`, x `[outer, dim, inner]`, out `[outer, indices.length, inner]`
   * (`../indexing.ts` gatherKernel); throws on an index outside [0, dim). Optional: only the native kernels.
   */
  gather?(...args: IndexKernelArgs): boolean;
  /**
   * `out` zeroed, then `out[o, indices[i], :] += updates[o, i, :]` in index order, in float32 (`../indexing.ts`
   * scatterAddKernel, bit for bit). Optional: only the native kernels.
   */
  scatterAdd?(...args: IndexKernelArgs): boolean;
  /** Adam's moment update (`../fused.ts` adamF32, bit for bit). Optional: only the native kernels have it. */
  adam?(
    g: Float32Array,
    m0: Float32Array,
    v0: Float32Array,
    c: AdamConstants,
    m: Float32Array,
    v: Float32Array,
    u: Float32Array,
  ): boolean;
}

/**
 * The native addon's loops (elementwise.c) behind {@link ElementwiseKernels}: the same results as the
 * WebAssembly loops bit for bit, without copying operands into wasm memory and results out.
 */
function nativeKernels(addon: NonNullable<typeof nativeAddon>): ElementwiseKernels {
  // One geometry array per length, reused: a fresh typed array per call costs more than a small op.
  const geometries: Int32Array[] = [];
  /**
   * `shape` then each run of `strides` in one Int32Array, as strided() and copy() read them; undefined where
   * the addon takes no such geometry (rank 0 or over 16, a negative stride), so the JS loops run instead.
   */
  const geometry = (shape: readonly number[], ...strides: (readonly number[])[]): Int32Array | undefined => {
    const rank = shape.length;
    if (rank === 0 || rank > 16) return undefined;
    const length = (1 + strides.length) * rank;
    let g = geometries[length];
    if (g === undefined) {
      g = new Int32Array(length);
      geometries[length] = g;
    }
    for (let d = 0; d < rank; d++) g[d] = shape[d]!;
    for (let k = 0; k < strides.length; k++)
      for (let d = 0; d < rank; d++) {
        const s = strides[k]![d]!;
        if (s < 0) return undefined;
        g[(k + 1) * rank + d] = s;
      }
    return g;
  };
  return {
    binary(op, a, b, out) {
      const code = BINARY_CODES.get(op);
      // The addon reads float32 storage only; the wasm path converted other arrays while copying them in.
      if (code === undefined || !(a instanceof Float32Array && b instanceof Float32Array)) return false;
      addon.binary(code, a, b, out);
      holdForQueue(a, b, out);
      return true;
    },
    binaryRows(op, full, rows, rowsFirst, p, q, r, out) {
      const code = BINARY_CODES.get(op);
      if (code === undefined || !(full instanceof Float32Array && rows instanceof Float32Array)) return false;
      addon.rows(code, full, rows, rowsFirst, p, q, r, out);
      holdForQueue(full, rows, out);
      return true;
    },
    binaryStrided(op, a, b, out, shape, sa, sb) {
      const code = STRIDED_CODES.get(op);
      const g = code === undefined ? undefined : geometry(shape, sa, sb);
      if (g === undefined) return false;
      addon.strided(code!, a, b, out, g);
      holdForQueue(a, b, out);
      return true;
    },
    unary(op, x, out) {
      const code = UNARY_CODES.get(op) ?? (kernelsQueued() ? QUEUED_UNARY_CODES.get(op) : undefined);
      if (code === undefined || !(out instanceof Float32Array)) return false;
      addon.unary(code, x, out);
      holdForQueue(x, out);
      return true;
    },
    colsum(x, p, q, r, out) {
      addon.colsum(x, p, q, r, out);
      holdForQueue(x, out);
      return true;
    },
    copyStrided(src, base, strides, shape, out) {
      const g = geometry(shape, strides);
      if (g === undefined) return false;
      addon.copy(src, base, out, g);
      holdForQueue(src, out);
      return true;
    },
    reduceStrided(op, x, shape, outStrides, out) {
      const g = geometry(shape, outStrides);
      if (g === undefined) return false;
      addon.reduceStrided(op === 'sum' ? 0 : op === 'max' ? 1 : 2, x, out, g);
      holdForQueue(x, out);
      return true;
    },
    fill(out, value) {
      addon.fill(out, value);
      holdForQueue(out);
      return true;
    },
    castI32F32(x, out) {
      addon.castI32F32(x, out);
      holdForQueue(x, out);
      return true;
    },
    pad(x, shape, out, outStrides, base, value) {
      const g = geometry(shape, outStrides);
      if (g === undefined) return false;
      addon.pad(x, out, g, base, value);
      holdForQueue(x, out);
      return true;
    },
    gather(...args) {
      addon.gather(...args);
      holdForQueue(args[0], args[1], args[2]);
      return true;
    },
    scatterAdd(...args) {
      addon.scatterAdd(...args);
      holdForQueue(args[0], args[1], args[2]);
      return true;
    },
    adam(g, m0, v0, c, m, v, u) {
      addon.adam(g, m0, v0, m, v, u, c.s1, c.s2, c.epsRoot, c.epsHat, c.scale);
      holdForQueue(g, m0, v0, m, v, u);
      return true;
    },
  };
}

/** The native elementwise kernels, or undefined where the addon is not loaded (see {@link nativeAddonReason}). */
export const nativeElementwise: ElementwiseKernels | undefined =
  nativeAddon === undefined ? undefined : nativeKernels(nativeAddon);
