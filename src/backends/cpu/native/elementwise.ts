import type { AdamConstants } from '../../backend.js';
import { BINARY_OPS } from '../../backend.js';
import { nativeAddon } from './addon.js';

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
  // One geometry array per rank and kind, reused: a fresh typed array per call costs more than a small op.
  const geometries: Int32Array[] = [];
  const copyGeometries: Int32Array[] = [];
  return {
    binary(op, a, b, out) {
      const code = BINARY_CODES.get(op);
      // The addon reads float32 storage only; the wasm path converted other arrays while copying them in.
      if (code === undefined || !(a instanceof Float32Array && b instanceof Float32Array)) return false;
      addon.binary(code, a, b, out);
      return true;
    },
    binaryRows(op, full, rows, rowsFirst, p, q, r, out) {
      const code = BINARY_CODES.get(op);
      if (code === undefined || !(full instanceof Float32Array && rows instanceof Float32Array)) return false;
      addon.rows(code, full, rows, rowsFirst, p, q, r, out);
      return true;
    },
    binaryStrided(op, a, b, out, shape, sa, sb) {
      const code = STRIDED_CODES.get(op);
      const rank = shape.length;
      if (code === undefined || rank === 0 || rank > 16) return false;
      let g = geometries[rank];
      if (g === undefined) {
        g = new Int32Array(3 * rank);
        geometries[rank] = g;
      }
      for (let d = 0; d < rank; d++) {
        g[d] = shape[d]!;
        g[rank + d] = sa[d]!;
        g[2 * rank + d] = sb[d]!;
      }
      addon.strided(code, a, b, out, g);
      return true;
    },
    unary(op, x, out) {
      const code = UNARY_CODES.get(op);
      if (code === undefined || !(out instanceof Float32Array)) return false;
      addon.unary(code, x, out);
      return true;
    },
    colsum(x, p, q, r, out) {
      addon.colsum(x, p, q, r, out);
      return true;
    },
    copyStrided(src, base, strides, shape, out) {
      const rank = shape.length;
      if (rank === 0 || rank > 16) return false;
      let g = copyGeometries[rank];
      if (g === undefined) {
        g = new Int32Array(2 * rank);
        copyGeometries[rank] = g;
      }
      for (let d = 0; d < rank; d++) {
        const s = strides[d]!;
        if (s < 0) return false;
        g[d] = shape[d]!;
        g[rank + d] = s;
      }
      addon.copy(src, base, out, g);
      return true;
    },
    adam(g, m0, v0, c, m, v, u) {
      addon.adam(g, m0, v0, m, v, u, c.s1, c.s2, c.epsRoot, c.epsHat, c.scale);
      return true;
    },
  };
}

/** The native elementwise kernels, or undefined where the addon is not loaded (see {@link nativeAddonReason}). */
export const nativeElementwise: ElementwiseKernels | undefined =
  nativeAddon === undefined ? undefined : nativeKernels(nativeAddon);
