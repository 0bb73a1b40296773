import { nativeAddon } from './addon.js';

/** The addon's binary op codes (elementwise.c's ADD..DIV). */
const BINARY_CODES = new Map<string, number>([
  ['add', 0],
  ['sub', 1],
  ['mul', 2],
  ['div', 3],
]);
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
  /** `out = op(x)`. */
  unary(op: string, x: Float32Array, out: Float32Array): boolean;
  /** `out[p, r]` = sum over q of `x[p, q, r]`, the q rows added in order in float32. */
  colsum(x: Float32Array, p: number, q: number, r: number, out: Float32Array): boolean;
}

/**
 * The native addon's loops (elementwise.c) behind {@link ElementwiseKernels}: the same results as the
 * WebAssembly loops bit for bit, without copying operands into wasm memory and results out.
 */
function nativeKernels(addon: NonNullable<typeof nativeAddon>): ElementwiseKernels {
  return {
    binary(op, a, b, out) {
      const code = BINARY_CODES.get(op);
      if (code === undefined) return false;
      addon.binary(code, a, b, out);
      return true;
    },
    binaryRows(op, full, rows, rowsFirst, p, q, r, out) {
      const code = BINARY_CODES.get(op);
      if (code === undefined) return false;
      addon.rows(code, full, rows, rowsFirst, p, q, r, out);
      return true;
    },
    unary(op, x, out) {
      const code = UNARY_CODES.get(op);
      if (code === undefined) return false;
      addon.unary(code, x, out);
      return true;
    },
    colsum(x, p, q, r, out) {
      addon.colsum(x, p, q, r, out);
      return true;
    },
  };
}

/** The native elementwise kernels, or undefined where the addon is not loaded (see {@link nativeAddonReason}). */
export const nativeElementwise: ElementwiseKernels | undefined =
  nativeAddon === undefined ? undefined : nativeKernels(nativeAddon);
