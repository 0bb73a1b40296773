import { elementwiseWasmBase64 } from './wasm/elementwiseWasm.generated.js';
import { growTo, instantiateWasm, type WasmMemory } from './wasm/memory.js';

type BinaryFn = (a: number, b: number, o: number, n: number) => void;
type UnaryFn = (x: number, o: number, n: number) => void;
type ColsumFn = (x: number, o: number, p: number, q: number, r: number) => void;
type RowsFn = (full: number, rows: number, o: number, p: number, q: number, r: number) => void;

/** The binary ops with float32 SIMD loops; `vv` both operands full, `vs` b a single value, `sv` a one. */
export type WasmBinaryOp = 'add' | 'sub' | 'mul' | 'div';
/** The unary ops with float32 SIMD loops. */
export type WasmUnaryOp = 'relu' | 'step' | 'neg' | 'square' | 'sqrt';

const WASM_BINARY = new Set<string>(['add', 'sub', 'mul', 'div']);
const WASM_UNARY = new Set<string>(['relu', 'step', 'neg', 'square', 'sqrt']);

/**
 * Below this many elements the JS loops win: the wasm call and the two copies (operands into wasm memory, the
 * result back out) cost more than the SIMD saves.
 */
export const WASM_MIN_ELEMENTS = 512;

/**
 * Float32 SIMD elementwise loops over a private scratch region of wasm memory. Tensor storage stays in JS typed
 * arrays; each call copies its operands in, runs, and copies the result out, so the scratch is dead the moment
 * the call returns and calls never interleave (everything is synchronous).
 */
class ElementwiseWasm {
  private readonly memory: WasmMemory;
  private readonly binaryFns = new Map<string, readonly [vv: BinaryFn, vs: BinaryFn, sv: BinaryFn]>();
  private readonly unaryFns = new Map<string, UnaryFn>();
  private readonly colsumFn: ColsumFn;
  private readonly rowsFns = new Map<string, readonly [vr: RowsFn, rv: RowsFn]>();
  private f32: Float32Array;

  constructor() {
    const exports = instantiateWasm(elementwiseWasmBase64) as Record<string, unknown> & {
      memory: WasmMemory;
    };
    this.memory = exports.memory;
    for (const op of WASM_BINARY) {
      const f = (mode: string) => exports[`${op}_${mode}`] as BinaryFn;
      this.binaryFns.set(op, [f('vv'), f('vs'), f('sv')]);
    }
    for (const op of WASM_BINARY)
      this.rowsFns.set(op, [exports[`${op}_vr`] as RowsFn, exports[`${op}_rv`] as RowsFn]);
    for (const op of WASM_UNARY) this.unaryFns.set(op, exports[op] as UnaryFn);
    this.colsumFn = exports.colsum as ColsumFn;
    this.f32 = new Float32Array(this.memory.buffer);
  }

  /** Makes floats [0, floats) exist; false past the engine's memory limit (the caller keeps JS). */
  private reserve(floats: number): boolean {
    const bytes = floats * 4;
    if (bytes <= this.memory.buffer.byteLength) return true;
    if (!growTo(this.memory, bytes)) return false;
    this.f32 = new Float32Array(this.memory.buffer);
    return true;
  }

  /**
   * `out = a op b` for float32 arrays where each of a, b has out's length or length 1 (not both 1). False if
   * the op has no wasm loop or memory cannot grow.
   */
  binary(op: string, a: Float32Array, b: Float32Array, out: Float32Array): boolean {
    const fns = this.binaryFns.get(op);
    if (fns === undefined) return false;
    const n = out.length;
    const na = a.length;
    const nb = b.length;
    // a at float 0, b after it on a 16-byte boundary; the result overwrites the full operand's copy.
    const bAt = (na + 3) & ~3;
    if (!this.reserve(bAt + nb + 4)) return false;
    const m = this.f32;
    m.set(a, 0);
    m.set(b, bAt);
    const mode = na === n ? (nb === n ? 0 : 1) : 2;
    const o = mode === 2 ? bAt : 0;
    fns[mode](0, bAt * 4, o * 4, n);
    out.set(m.subarray(o, o + n));
    return true;
  }

  /**
   * `out = full op rows` (or `rows op full` when `rowsFirst`) where `full` and `out` are [p, q, r] and `rows`
   * is [p, r], repeated along q: a bias row per task added to a batch of activations. False if the op has no
   * wasm loop or memory cannot grow.
   */
  binaryRows(
    op: string,
    full: Float32Array,
    rows: Float32Array,
    rowsFirst: boolean,
    p: number,
    q: number,
    r: number,
    out: Float32Array,
  ): boolean {
    const fns = this.rowsFns.get(op);
    if (fns === undefined) return false;
    const n = out.length;
    const rowsAt = (n + 3) & ~3;
    if (!this.reserve(rowsAt + rows.length + 4)) return false;
    const m = this.f32;
    m.set(full, 0);
    m.set(rows, rowsAt);
    // The result overwrites the full operand's copy: each element is read before it is written.
    fns[rowsFirst ? 1 : 0](0, rowsAt * 4, 0, p, q, r);
    out.set(m.subarray(0, n));
    return true;
  }

  /** `out = op(x)` for float32 arrays; false if the op has no wasm loop or memory cannot grow. */
  unary(op: string, x: Float32Array, out: Float32Array): boolean {
    const f = this.unaryFns.get(op);
    if (f === undefined) return false;
    const n = x.length;
    if (!this.reserve(n + 4)) return false;
    const m = this.f32;
    m.set(x, 0);
    f(0, 0, n);
    out.set(m.subarray(0, n));
    return true;
  }

  /**
   * Sums float32 `x` of shape [p, q, r] over its middle axis into `out` of shape [p, r], adding the q rows in
   * order in float32 (bit-identical to accumulating into a float32 output row by row). False if memory cannot
   * grow.
   */
  colsum(x: Float32Array, p: number, q: number, r: number, out: Float32Array): boolean {
    const n = p * q * r;
    const oAt = (n + 3) & ~3;
    if (!this.reserve(oAt + p * r)) return false;
    const m = this.f32;
    m.set(x, 0);
    this.colsumFn(0, oAt * 4, p, q, r);
    out.set(m.subarray(oAt, oAt + p * r));
    return true;
  }
}

/** The shared instance, or undefined where the engine lacks WebAssembly SIMD (the JS loops then serve). */
export const elementwiseWasm: ElementwiseWasm | undefined = (() => {
  try {
    return new ElementwiseWasm();
  } catch {
    return undefined;
  }
})();
