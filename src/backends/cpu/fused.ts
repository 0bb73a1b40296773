import type { TypedArray } from '../../tensor/dtype.js';
import type { AdamConstants } from '../backend.js';
import { allocUninit } from './alloc.js';
import { simdElementwise } from './elementwise.js';
import { kernelsDeferred, nativeFrom, syncKernels } from './kernelQueue.js';
import { nativeAddon } from './native/addon.js';
import { ADAM_WASM_MIN_ELEMENTS, adamWasm } from './wasm/adamWasm.js';

/**
 * Adam's moment update in one pass (see `Backend.adamMoments`), each operation rounded to the dtype exactly as
 * the composed ops store each intermediate, so the outputs are bit for bit those of the composition. Float32
 * runs as WebAssembly SIMD (`wasm/adam.wat`, every f32x4 op the IEEE float32 operation) from
 * {@link ADAM_WASM_MIN_ELEMENTS} elements, else {@link adamF32}; the constants are rounded to the dtype as the
 * composed ops' scalars are. Where the native addon is built (`npm run setup:native`), its loop (the same
 * roundings, in C) runs instead of the WebAssembly one.
 */
export function adamMomentsKernel(
  g: TypedArray,
  m0: TypedArray,
  v0: TypedArray,
  c: AdamConstants,
  m: TypedArray,
  v: TypedArray,
  u: TypedArray,
): void {
  if (g instanceof Float32Array) {
    // m0, v0 and the outputs are float32 like g: the backend keeps Adam's state and outputs in its dtype.
    const f32 = [g, m0, v0, c, m, v, u] as Parameters<typeof adamF32>;
    // The native loop where the addon is built: the wasm one copies six arrays through its memory.
    if (g.length >= nativeFrom(ADAM_WASM_MIN_ELEMENTS) && simdElementwise?.adam?.(...f32)) return;
    syncKernels();
    if (g.length >= ADAM_WASM_MIN_ELEMENTS) {
      if (adamWasm !== undefined) {
        adamWasm.update(...f32);
        return;
      }
    }
    adamF32(...f32);
    return;
  }
  syncKernels();
  adamF64(
    g as Float64Array,
    m0 as Float64Array,
    v0 as Float64Array,
    c,
    m as Float64Array,
    v as Float64Array,
    u as Float64Array,
  );
}

/**
 * Fewest parameter elements in all for {@link adamStepKernel}: below, the per-parameter kernels are as fast
 * (the sinusoid MLP's 1,761: fused 9.3-9.5k against 9.7-10.2k meta-iterations/s), above, the one pass wins
 * (the Omniglot MLP's 247,621: 2.60 against 2.78 ms per meta-iteration on one thread, 1.52-1.59 against
 * 1.77-1.81 on two; `BENCH_WARMUP=800 node --initial-old-space-size=128 --import tsx bench/fairWorker.ts
 * /tmp/fix omniglot:2:1 400 1 tasks`, before and after).
 */
export const ADAM_STEP_MIN_ELEMENTS = 16_384;

/** Most parameters one fused step takes (the native call's limit); more are updated one by one. */
const ADAM_STEP_MAX_PARAMS = 1024;

/**
 * Adam's whole step for many float32 parameters in one native call (`Backend.adamStep`): per parameter,
 * `[g, m0, v0, p0]` in, new `[p, m, v]` out, with the values of {@link adamMomentsKernel} and then the add
 * of `applyUpdates`, bit for bit. Undefined where it cannot run so (no native addon, another dtype, or a
 * thread that queues or records its kernels): the caller then takes those two steps.
 */
export function adamStepKernel(
  inputs: readonly (readonly [TypedArray, TypedArray, TypedArray, TypedArray])[],
  c: AdamConstants,
): [TypedArray, TypedArray, TypedArray][] | undefined {
  const addon = nativeAddon;
  if (addon === undefined || kernelsDeferred() || inputs.length > ADAM_STEP_MAX_PARAMS) return undefined;
  let total = 0;
  for (const x of inputs) total += x[3].length;
  if (total < ADAM_STEP_MIN_ELEMENTS) return undefined;
  const arrays: Float32Array[] = new Array(7 * inputs.length);
  const outs: [TypedArray, TypedArray, TypedArray][] = new Array(inputs.length);
  for (let k = 0; k < inputs.length; k++) {
    const [g, m0, v0, p0] = inputs[k]!;
    if (
      !(g instanceof Float32Array) ||
      !(m0 instanceof Float32Array) ||
      !(v0 instanceof Float32Array) ||
      !(p0 instanceof Float32Array)
    )
      return undefined;
    const n = p0.length;
    const p = allocUninit('float32', n) as Float32Array;
    const m = allocUninit('float32', n) as Float32Array;
    const v = allocUninit('float32', n) as Float32Array;
    arrays[7 * k] = g;
    arrays[7 * k + 1] = m0;
    arrays[7 * k + 2] = v0;
    arrays[7 * k + 3] = p0;
    arrays[7 * k + 4] = m;
    arrays[7 * k + 5] = v;
    arrays[7 * k + 6] = p;
    outs[k] = [p, m, v];
  }
  syncKernels();
  addon.adamStep(arrays, c.s1, c.s2, c.epsRoot, c.epsHat, c.scale);
  return outs;
}

/**
 * The scalar float32 update: rounds after every operation (`Math.fround`), and +, -, *, / and sqrt of float32
 * values computed in float64 and rounded once are the IEEE float32 results. Serves small tensors (below
 * {@link ADAM_WASM_MIN_ELEMENTS}) and engines without WebAssembly SIMD, and is the reference the SIMD kernel
 * is tested against. One monomorphic loop per array type: through the TypedArray union every element access
 * is polymorphic and several times slower.
 */
export function adamF32(
  g: Float32Array,
  m0: Float32Array,
  v0: Float32Array,
  c: AdamConstants,
  m: Float32Array,
  v: Float32Array,
  u: Float32Array,
): void {
  const n = g.length;
  const r = Math.fround;
  const s1 = r(c.s1);
  const s2 = r(c.s2);
  const epsRoot = r(c.epsRoot);
  const epsHat = r(c.epsHat);
  const scale = r(c.scale);
  const withRoot = c.epsRoot > 0;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const mi = m0[i]!;
    const vi = v0[i]!;
    const mn = r(mi + r(r(gi - mi) * s1));
    const vn = r(vi + r(r(r(gi * gi) - vi) * s2));
    const root = r(Math.sqrt(withRoot ? r(vn + epsRoot) : vn));
    m[i] = mn;
    v[i] = vn;
    u[i] = r(r(mn / r(root + epsHat)) * scale);
  }
}

function adamF64(
  g: Float64Array,
  m0: Float64Array,
  v0: Float64Array,
  c: AdamConstants,
  m: Float64Array,
  v: Float64Array,
  u: Float64Array,
): void {
  const n = g.length;
  const withRoot = c.epsRoot > 0;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const mi = m0[i]!;
    const vi = v0[i]!;
    const mn = mi + (gi - mi) * c.s1;
    const vn = vi + (gi * gi - vi) * c.s2;
    const root = Math.sqrt(withRoot ? vn + c.epsRoot : vn);
    m[i] = mn;
    v[i] = vn;
    u[i] = (mn / (root + c.epsHat)) * c.scale;
  }
}
