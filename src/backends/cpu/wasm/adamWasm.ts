import type { AdamConstants } from '../../backend.js';
import { adamWasmBase64 } from './adamWasm.generated.js';
import { instantiateWasm, type WasmMemory } from './memory.js';

type AdamFn = (
  g: number,
  m: number,
  v: number,
  n: number,
  s1: number,
  s2: number,
  epsRoot: number,
  epsHat: number,
  scale: number,
  withRoot: number,
) => void;

/**
 * Floats per chunk and per array. Three chunks (g, m, v; the results overwrite them) are 96 KiB: the module's
 * two pages hold them, so memory never grows, and so does a 512 KiB L2 cache, so the copies in, the SIMD pass
 * and the copies out stay in cache. Each chunk costs a call and up to six views, which 8192 elements amortise
 * (bench/cpuKernels.ts adam: chunks of 2048 to 16384 within 10% of each other, 8192 among the fastest).
 */
export const ADAM_CHUNK = 8192;

/**
 * Float offsets of the three chunks in memory: multiples of 4 (16-byte aligned vectors), and not a multiple of
 * 4 KiB apart: loads from one chunk just after stores to another at the same address modulo 4 KiB stall on
 * the core's false store-to-load dependence ("4K aliasing"), which cost 40% at 2048-float chunks laid end
 * to end.
 */
const G_AT = 0;
const M_AT = ADAM_CHUNK + 48;
const V_AT = 2 * ADAM_CHUNK + 112;

/**
 * Below this many elements the scalar JS kernel wins: the wasm call, the copies and the views cost more than
 * the SIMD saves (bench/cpuKernels.ts adam: 16 elements 7.2 ns each in JS against 10.6 in wasm, 32
 * elements 6.9 against 5.5).
 */
export const ADAM_WASM_MIN_ELEMENTS = 32;

/**
 * Adam's float32 moment update (adam.wat) over tensors of any size: JS typed arrays stay the storage, and each
 * chunk is copied into the module's memory, updated there with f32x4 ops and copied out. Bit for bit the
 * scalar float32 kernel's results (see adam.wat).
 */
class AdamWasm {
  private readonly fn: AdamFn;
  private readonly f32: Float32Array;
  /** Whole-chunk views of the three chunks, made once: a full chunk copies out without new views. */
  private readonly gChunk: Float32Array;
  private readonly mChunk: Float32Array;
  private readonly vChunk: Float32Array;

  constructor() {
    const exports = instantiateWasm(adamWasmBase64) as { memory: WasmMemory; adam: AdamFn };
    this.fn = exports.adam;
    // Memory is never grown, so these views are never detached.
    this.f32 = new Float32Array(exports.memory.buffer);
    if (this.f32.length < V_AT + ADAM_CHUNK) throw new Error('adam.wat: memory smaller than three chunks');
    this.gChunk = this.f32.subarray(G_AT, G_AT + ADAM_CHUNK);
    this.mChunk = this.f32.subarray(M_AT, M_AT + ADAM_CHUNK);
    this.vChunk = this.f32.subarray(V_AT, V_AT + ADAM_CHUNK);
  }

  /**
   * Writes `m' = m0 + s1 (g - m0)`, `v' = v0 + s2 (g² - v0)` and `u = scale · m' / (sqrt(v' [+ epsRoot]) +
   * epsHat)` into m, v and u, with the constants rounded to float32 as the composed ops' scalars are.
   */
  update(
    g: Float32Array,
    m0: Float32Array,
    v0: Float32Array,
    c: AdamConstants,
    m: Float32Array,
    v: Float32Array,
    u: Float32Array,
  ): void {
    const mem = this.f32;
    const n = g.length;
    const withRoot = c.epsRoot > 0 ? 1 : 0;
    for (let i = 0; i < n; i += ADAM_CHUNK) {
      const k = Math.min(ADAM_CHUNK, n - i);
      const end = i + k;
      // A single chunk covering the whole array is copied in without views of the sources.
      mem.set(k === n ? g : g.subarray(i, end), G_AT);
      mem.set(k === n ? m0 : m0.subarray(i, end), M_AT);
      mem.set(k === n ? v0 : v0.subarray(i, end), V_AT);
      // Passing a number as an f32 parameter rounds it to nearest float32, as Math.fround does.
      this.fn(G_AT * 4, M_AT * 4, V_AT * 4, k, c.s1, c.s2, c.epsRoot, c.epsHat, c.scale, withRoot);
      const full = k === ADAM_CHUNK;
      m.set(full ? this.mChunk : mem.subarray(M_AT, M_AT + k), i);
      v.set(full ? this.vChunk : mem.subarray(V_AT, V_AT + k), i);
      u.set(full ? this.gChunk : mem.subarray(G_AT, G_AT + k), i);
    }
  }
}

/** The shared instance, or undefined where the engine lacks WebAssembly SIMD (the scalar JS kernel serves). */
export const adamWasm: AdamWasm | undefined = (() => {
  try {
    return new AdamWasm();
  } catch {
    return undefined;
  }
})();
