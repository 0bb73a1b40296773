import { nativeAddon, nativeAddonReason } from './addon.js';

/**
 * The native matmul (blas.c in the optional addon, see {@link NativeAddon}): float32 and float64 products on
 * the system's BLAS (OpenBLAS, the library PyTorch's CPU build multiplies with). Without it the CPU backend
 * runs its WebAssembly SIMD matmul.
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
  /** Why the native matmul is off, when it is: not built, turned off, failed to load, or no BLAS found. */
  reason?: string;
}

function load(): { blas?: NativeBlas; status: NativeBlasStatus } {
  if (nativeAddon === undefined) return { status: { active: false, reason: nativeAddonReason ?? 'unknown' } };
  const info = nativeAddon.blasInfo();
  if (info.path === undefined)
    return { status: { active: false, reason: `found no BLAS library: ${info.error ?? 'unknown'}` } };
  return { blas: nativeAddon, status: { active: true, library: info.path, config: info.config } };
}

const loaded = load();

/** The native matmul, or undefined where the addon is not built, is turned off, or found no BLAS. */
export const nativeBlas: NativeBlas | undefined = loaded.blas;

/** Whether the native matmul is on, on which library, or why not. */
export const nativeBlasStatus: NativeBlasStatus = loaded.status;
