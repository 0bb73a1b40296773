import { matmulWasmBase64 } from './matmulWasm.generated.js';
import { growTo, instantiateWasm, type WasmMemory } from './memory.js';

/** Exports of matmul.wat; every pointer is a byte offset into `memory`, every stride a byte stride. */
export interface MatmulWasmExports {
  readonly memory: WasmMemory;
  /**
   * C[m, n] (rows `ldc` bytes apart) = A[m, k] B[k, n] with A[i, p] at a + i*ars + p*acs and B[p, j] at
   * b + p*brs + j*bcs: the cache-blocked 5x8 kernel. Workspace: `pa` holds {@link GEMM_BLOCK}.mc x kc packed A
   * floats, `pb` kc x roundUp(min(n, nc), 8) packed B floats (kc = min(k, {@link GEMM_BLOCK}.kc)), `tile` 40.
   * k must be positive. A small row-major B (bcs = 4, k*n <= 16384) is read in place, whole vectors at a
   * time, so at least 28 bytes of memory must follow B (their values never reach C).
   */
  gemm(
    a: number,
    ars: number,
    acs: number,
    b: number,
    brs: number,
    bcs: number,
    c: number,
    ldc: number,
    m: number,
    n: number,
    k: number,
    pa: number,
    pb: number,
    tile: number,
  ): void;
  /** Packs A[i, p] = src[i*rs + p*cs] (byte strides) into zero-padded 4-row panels at dst, for gemmNarrow. */
  packA4(src: number, dst: number, m: number, k: number, rs: number, cs: number): void;
  /** Writes the transpose of the row-major [rows, cols] matrix at src to dst. */
  transpose(src: number, dst: number, rows: number, cols: number): void;
  /** C[m, n] = A B from packA4 panels and row-major B[k, n] into row-major C; the kernel for n < 8 or m < 5. */
  gemmNarrow(a: number, b: number, c: number, m: number, n: number, k: number): void;
}

/**
 * The cache blocks of matmul.wat's `gemm` (its KC, MC, NC constants) and its register tile (MR x NR), which
 * size the workspace the caller provides.
 */
export const GEMM_BLOCK = { kc: 256, mc: 120, nc: 2048, mr: 5, nr: 8 } as const;

/**
 * The instantiated float32 kernels and a float32 view of their memory. Compiled synchronously at module load:
 * the module is about three kilobytes, which Node compiles in well under a millisecond, and a sync instance keeps
 * `matmulKernel` synchronous.
 */
export class MatmulWasm {
  readonly exports: MatmulWasmExports;
  /** Float32 view over all of memory; replaced whenever memory grows (growth detaches the old buffer). */
  f32: Float32Array;

  constructor() {
    this.exports = instantiateWasm(matmulWasmBase64) as MatmulWasmExports;
    this.f32 = new Float32Array(this.exports.memory.buffer);
  }

  /**
   * Grows memory so that bytes [0, bytes) exist; false if it cannot (past the engine's 4 GiB limit), where the
   * caller falls back to JS. Memory only grows: one big product sizes it for the rest.
   */
  reserve(bytes: number): boolean {
    const memory = this.exports.memory;
    if (bytes <= memory.buffer.byteLength) return true;
    if (!growTo(memory, bytes)) return false;
    this.f32 = new Float32Array(memory.buffer);
    return true;
  }
}

/**
 * The shared instance (one per process or worker; calls into it never interleave), or undefined where the
 * engine lacks WebAssembly SIMD, in which case callers keep the JS kernel.
 */
export const matmulWasm: MatmulWasm | undefined = (() => {
  try {
    return new MatmulWasm();
  } catch {
    return undefined;
  }
})();
