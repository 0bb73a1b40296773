import type { ElementwiseKernels } from './native/elementwise.js';
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
 * Below this many elements the JS loops win: the wasm call and the copies (operands into wasm memory, the
 * result back out) cost more than the SIMD saves. Measured by `bench/cpuKernels.ts threshold`: the generated
 * JS loops take ~1.6 ns per element from 96 elements on, the wasm path 0.9 at 128 and 0.45 at 384, and the
 * two meet between 48 and 96.
 */
export const WASM_MIN_ELEMENTS = 128;

/**
 * Floats per chunk of each operand (see {@link ElementwiseWasm}). Copying whole operands and chunks of 4096
 * to 16384 floats cost the same up to 64k elements, both in `bench/cpuKernels.ts elementwise` (~0.3 ns per
 * element in cache, ~1 out of cache) and inside the Omniglot job (`bench/elementwiseInJob.ts`, ~0.8 ns);
 * 2048-float chunks and less lose to the per-chunk call and views; past 64k elements (the 784x256 first
 * layer) 16384-float chunks win (in the job ~0.88 against ~1.2 ns per element for whole copies), as two
 * 64 KiB chunks stay in L2 where whole operands do not. So tensors up to 16384 elements (every sinusoid
 * tensor but the batched 40x40 weights) are one chunk, copied whole as before, and larger ones stream through
 * a scratch that stays at 128 KiB.
 */
export const ELEMENTWISE_CHUNK = 16384;

/**
 * Floats between the end of one operand's chunk and the start of the next: keeps the chunks from lying a
 * multiple of 4 KiB apart, where a load from one just after a store to the other at the same address modulo
 * 4 KiB waits on a false dependence ("4K aliasing").
 */
const STAGGER = 16;

/** Options of an {@link ElementwiseWasm} instance. */
export interface ElementwiseWasmOptions {
  /**
   * Floats per chunk of an operand ({@link ELEMENTWISE_CHUNK} by default); `Infinity` copies whole operands
   * at once (the layout before chunking, kept for benchmarks).
   */
  chunk?: number;
}

/**
 * Float32 SIMD elementwise loops over a private scratch region of wasm memory. Tensor storage stays in JS typed
 * arrays; binary, unary and bias-row calls stream their operands through in chunks (copy a chunk of each full
 * operand in, run the loop, copy the chunk of the result out), so their scratch stays in cache and does not
 * grow with the tensor (column sums still copy whole). The scratch is dead the moment a call returns, and
 * calls never interleave (everything is synchronous).
 */
export class ElementwiseWasm implements ElementwiseKernels {
  private readonly memory: WasmMemory;
  private readonly binaryFns = new Map<string, readonly [vv: BinaryFn, vs: BinaryFn, sv: BinaryFn]>();
  private readonly unaryFns = new Map<string, UnaryFn>();
  private readonly colsumFn: ColsumFn;
  private readonly rowsFns = new Map<string, readonly [vr: RowsFn, rv: RowsFn]>();
  private readonly chunk: number;
  private f32: Float32Array;
  /**
   * The last views made for copying results out, one at float 0 and one elsewhere: a tensor streamed in full
   * chunks, or the same shape again, reuses them instead of making a view per chunk (~25 ns each).
   */
  private view0: Float32Array | undefined;
  private viewAt: Float32Array | undefined;

  constructor(options: ElementwiseWasmOptions = {}) {
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
    this.chunk = options.chunk ?? ELEMENTWISE_CHUNK;
    this.f32 = new Float32Array(this.memory.buffer);
  }

  /** Makes floats [0, floats) exist; false past the engine's memory limit (the caller keeps JS). */
  private reserve(floats: number): boolean {
    const bytes = floats * 4;
    if (bytes <= this.memory.buffer.byteLength) return true;
    if (!growTo(this.memory, bytes)) return false;
    this.f32 = new Float32Array(this.memory.buffer);
    // Growth detached the old buffer and every view of it.
    this.view0 = undefined;
    this.viewAt = undefined;
    return true;
  }

  /** A view of floats [at, at + k) of memory, reusing the last one made for the same place and length. */
  private view(at: number, k: number): Float32Array {
    const last = at === 0 ? this.view0 : this.viewAt;
    if (last !== undefined && last.length === k && last.byteOffset === at * 4) return last;
    const v = this.f32.subarray(at, at + k);
    if (at === 0) this.view0 = v;
    else this.viewAt = v;
    return v;
  }

  /**
   * `out = a op b` for float32 arrays where each of a, b has out's length or length 1 (not both 1). False if
   * the op has no wasm loop or memory cannot grow.
   */
  binary(op: string, a: Float32Array, b: Float32Array, out: Float32Array): boolean {
    const fns = this.binaryFns.get(op);
    if (fns === undefined) return false;
    const n = out.length;
    const c = Math.min(this.chunk, n);
    // a's chunk at float 0, b's after it on a 16-byte boundary; the result overwrites the full operand's chunk
    // (each element is read before it is written). A single-value operand is written once, where its chunk
    // would be, and stays for every chunk.
    const bAt = ((c + 3) & ~3) + STAGGER;
    if (!this.reserve(bAt + c + 4)) return false;
    const m = this.f32;
    const fullA = a.length === n;
    const fullB = b.length === n;
    const mode = fullA ? (fullB ? 0 : 1) : 2;
    const fn = fns[mode];
    const o = fullA ? 0 : bAt;
    if (!fullA) m[0] = a[0]!;
    if (!fullB) m[bAt] = b[0]!;
    for (let i = 0; i < n; i += c) {
      const end = Math.min(i + c, n);
      const k = end - i;
      if (fullA) m.set(k === n ? a : a.subarray(i, end), 0);
      if (fullB) m.set(k === n ? b : b.subarray(i, end), bAt);
      fn(0, bAt * 4, o * 4, k);
      out.set(this.view(o, k), i);
    }
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
    const fn = fns[rowsFirst ? 1 : 0];
    const task = q * r;
    // A chunk is whole tasks when a task fits (pc tasks: pc*q*r floats of full, pc*r of rows), else whole
    // rows of one task (qc rows of r, with that task's r floats of rows); at least one row either way.
    const pc = Math.min(p, Math.max(1, Math.floor(this.chunk / task)));
    const qc = task <= this.chunk ? q : Math.max(1, Math.floor(this.chunk / r));
    const fullFloats = task <= this.chunk ? pc * task : qc * r;
    const rowsAt = ((fullFloats + 3) & ~3) + STAGGER;
    if (!this.reserve(rowsAt + pc * r + 4)) return false;
    const m = this.f32;
    const n = p * task;
    // The result overwrites the full operand's chunk: each element is read before it is written.
    if (qc === q) {
      for (let pi = 0; pi < p; pi += pc) {
        const pk = Math.min(pc, p - pi);
        const from = pi * task;
        const to = from + pk * task;
        m.set(to - from === n ? full : full.subarray(from, to), 0);
        m.set(pk === p ? rows : rows.subarray(pi * r, (pi + pk) * r), rowsAt);
        fn(0, rowsAt * 4, 0, pk, q, r);
        out.set(this.view(0, to - from), from);
      }
      return true;
    }
    for (let pi = 0; pi < p; pi++) {
      m.set(rows.subarray(pi * r, (pi + 1) * r), rowsAt);
      for (let qi = 0; qi < q; qi += qc) {
        const qk = Math.min(qc, q - qi);
        const from = pi * task + qi * r;
        const to = from + qk * r;
        m.set(full.subarray(from, to), 0);
        fn(0, rowsAt * 4, 0, 1, qk, r);
        out.set(this.view(0, to - from), from);
      }
    }
    return true;
  }

  /** `out = op(x)` for float32 arrays; false if the op has no wasm loop or memory cannot grow. */
  unary(op: string, x: Float32Array, out: Float32Array): boolean {
    const f = this.unaryFns.get(op);
    if (f === undefined) return false;
    const n = x.length;
    const c = Math.min(this.chunk, n);
    if (!this.reserve(c + 4)) return false;
    const m = this.f32;
    // The result overwrites the operand's chunk.
    for (let i = 0; i < n; i += c) {
      const end = Math.min(i + c, n);
      const k = end - i;
      m.set(k === n ? x : x.subarray(i, end), 0);
      f(0, 0, k);
      out.set(this.view(0, k), i);
    }
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
    out.set(this.view(oAt, p * r));
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
