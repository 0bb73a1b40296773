import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The optional native matmul (blas.c): float32 and float64 products on the system's BLAS (OpenBLAS, the
 * library PyTorch's CPU build multiplies with). Opt-in, built by `npm run setup:native`; without it the
 * CPU backend runs its WebAssembly SIMD matmul.
 */
export interface NativeBlas {
  /**
   * `count` products into c: C_t[m, n] = op(A_t) op(B_t), A_t at element `offsets[2t]` of a, B_t at
   * `offsets[2t + 1]` of b, C_t at `t*m*n` of c, all row-major; a, b and c all Float32Array or all
   * Float64Array. Throws rather than reading or writing outside the arrays.
   */
  gemm(
    a: Float32Array | Float64Array,
    b: Float32Array | Float64Array,
    c: Float32Array | Float64Array,
    m: number,
    n: number,
    k: number,
    transposeA: boolean,
    transposeB: boolean,
    offsets: Float64Array,
    count: number,
  ): void;
}

/** What `doctor` and the benchmarks print about the CPU backend's matmul. */
export interface NativeBlasStatus {
  /** Whether products run on the native BLAS. */
  active: boolean;
  /** The BLAS library loaded (its path) and its build configuration, when active. */
  library?: string;
  config?: string;
  /** Why the native matmul is off, when it is: not built, turned off, or no BLAS found. */
  reason?: string;
}

/** Where `npm run setup:native` puts the addon: build/native under the package root (src/ or dist/ alike). */
export const NATIVE_BLAS_ADDON = join(
  resolve(dirname(fileURLToPath(import.meta.url)), '../../../..'),
  'build',
  'native',
  'metatape_blas.node',
);

interface Addon extends NativeBlas {
  info(): { path?: string; config?: string; error?: string };
}

function load(): { blas?: NativeBlas; status: NativeBlasStatus } {
  if (process.env.METATAPE_NATIVE_BLAS === '0')
    return { status: { active: false, reason: 'turned off (METATAPE_NATIVE_BLAS=0)' } };
  if (!existsSync(NATIVE_BLAS_ADDON))
    return { status: { active: false, reason: 'not built (npm run setup:native)' } };
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(NATIVE_BLAS_ADDON) as Addon;
  } catch (err) {
    // A stale build (another Node ABI or machine) must not break the backend: say why, keep wasm.
    return {
      status: { active: false, reason: `${NATIVE_BLAS_ADDON} failed to load: ${(err as Error).message}` },
    };
  }
  const info = addon.info();
  if (info.path === undefined)
    return { status: { active: false, reason: `no BLAS library found: ${info.error ?? 'unknown'}` } };
  return { blas: addon, status: { active: true, library: info.path, config: info.config } };
}

const loaded = load();

/** The native matmul, or undefined where it is not built, is turned off, or found no BLAS. */
export const nativeBlas: NativeBlas | undefined = loaded.blas;

/** Whether the native matmul is on, on which library, or why not. */
export const nativeBlasStatus: NativeBlasStatus = loaded.status;
