import { nativeAddonReason } from '../backends/cpu/native/addon.js';
import { nativeBlasStatus } from '../backends/cpu/native/blas.js';
import type { ModeProbe } from '../backends/gpujs/probe.js';

/** The gpu.js family as loaded on demand (`import('../backends/gpujs/index.js')`). */
export type GpujsModule = typeof import('../backends/gpujs/index.js');

/** Where a requested backend name leads: the registry backend it runs on, and why. */
export interface ResolvedBackend {
  /** The concrete registry name (`cpu`, `gpujs:webasm`, ...). */
  name: string;
  /** Why: `requested`, `gpujs: best available mode`, or auto's reason. */
  reason: string;
}

/**
 * The one resolution of a requested backend name (`cpu`, `auto`, `gpujs`, `gpujs:<mode>`) to a concrete
 * one, shared by runs ({@link selectBackend}) and `metatape doctor`: `gpujs` is the best-ranked available
 * mode, `auto` picks by the probes and the measured crossover sizes for the workload hint.
 */
export async function resolveBackend(
  requested: string,
  gpujs: GpujsModule,
  probes: readonly ModeProbe[],
  hint: { matmul?: number; elements?: number } = {},
): Promise<ResolvedBackend> {
  if (requested === 'auto') {
    const c = await gpujs.chooseAutoBackend(hint, probes);
    return { name: c.backend, reason: c.reason };
  }
  if (requested === 'gpujs')
    return {
      name: gpujs.backendNameOf(gpujs.rankModes(probes)[0] ?? 'cpu'),
      reason: 'gpujs: best available mode',
    };
  return { name: requested, reason: 'requested' };
}

/** What the cpu backend runs on, as run logs and `metatape doctor` name it. */
export const CPU_DEVICE =
  nativeAddonReason !== undefined
    ? `host CPU (typed arrays, WebAssembly SIMD kernels and matmul; native kernels ${nativeAddonReason})`
    : nativeBlasStatus.active
      ? `host CPU (typed arrays, native elementwise kernels, matmul on ${nativeBlasStatus.library})`
      : `host CPU (typed arrays, native elementwise kernels, WebAssembly SIMD matmul: ${nativeBlasStatus.reason})`;

/** The backend a run uses, why, and the device behind it (so every run log proves where it ran). */
export interface BackendChoice {
  name: string;
  reason: string;
  device: string;
}

/**
 * Resolves the backend a config asks for to a registered backend name. `cpu` is always there; the gpu.js
 * modes are registered on demand (importing gpu.js is slow), and `auto` picks by what is available and by the
 * measured crossover sizes for the workload's typical matmul width.
 */
export async function selectBackend(
  requested: string,
  hint: { matmul?: number; elements?: number } = {},
): Promise<BackendChoice> {
  if (requested === 'cpu') return { name: 'cpu', reason: 'requested', device: CPU_DEVICE };
  const gpujs = await import('../backends/gpujs/index.js');
  gpujs.registerGpujsBackends();
  // Only `auto` and `gpujs` need every mode probed; an explicit mode probes itself below.
  const probes = requested === 'auto' || requested === 'gpujs' ? await gpujs.probeGpujsModes() : [];
  const choice = await resolveBackend(requested, gpujs, probes, hint);
  if (choice.name === 'cpu') return { name: 'cpu', reason: choice.reason, device: CPU_DEVICE };
  const mode = choice.name.slice('gpujs:'.length);
  const probe = gpujs.isGpujsMode(mode) ? await gpujs.probeGpujsMode(mode) : undefined;
  return {
    // `gpujs` stays the registry's own name for its best mode (what the run log and checkpoints record).
    name: requested === 'gpujs' ? 'gpujs' : choice.name,
    reason: choice.reason === 'gpujs: best available mode' ? 'requested' : choice.reason,
    device: `gpu.js ${mode}: ${probe?.device ?? 'unknown device'}`,
  };
}
