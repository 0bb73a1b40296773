import { GpujsModeUnavailableError } from './errors.js';
import { GpujsBackend, type GpujsBackendOptions, webgpuDirectFromEnv } from './gpujs-backend.js';
import { loadGpujs } from './gpujs-module.js';
import type { GpujsMode } from './modes.js';
import { type ModeProbe, probeGpujsMode, probeGpujsModes } from './probe.js';
import { installWebGPU } from './webgpu-env.js';

/** Creates the backend of one mode; fails with {@link GpujsModeUnavailableError} saying what is missing. */
export async function createGpujsBackend(
  mode: GpujsMode,
  options: GpujsBackendOptions = {},
): Promise<GpujsBackend> {
  const p = await probeGpujsMode(mode);
  if (!p.available) throw new GpujsModeUnavailableError(mode, p.reason ?? 'unknown', p.remedy ?? '');
  const { GPU } = loadGpujs();
  return new GpujsBackend(mode, new GPU({ mode }), { ...(await deviceOptions(mode)), ...options });
}

/**
 * Most inputs of a fused kernel on WebGPU, however many storage buffers the adapter binds, and on the host
 * modes.
 */
export const MAX_FUSION_ARRAYS = 15;

/**
 * What the device allows beyond the defaults: on WebGPU, fused kernels with as many inputs as it binds; on
 * webasm and cpu, whose kernels are functions of host arrays and bind nothing, as many as WebGPU's most
 * (fewer kernel boundaries where a second-order step's expressions read many arrays: conv4's batch norm).
 * WebGL keeps the default (8 texture units guaranteed). On WebGPU, also gpu.js's device for the direct
 * dispatcher.
 */
async function deviceOptions(mode: GpujsMode): Promise<GpujsBackendOptions> {
  if (mode === 'webasm' || mode === 'cpu') return { fusionArrays: MAX_FUSION_ARRAYS };
  if (mode !== 'webgpu') return {};
  const env = await installWebGPU();
  if (!env.ok) return {};
  const context = webgpuDirectFromEnv() ? loadGpujs().WebGPUContext : undefined;
  // One storage buffer is the output.
  return {
    fusionArrays: Math.min(MAX_FUSION_ARRAYS, env.storageBuffers - 1),
    ...(context ? { webgpuDevice: (await context.acquire()).device } : {}),
  };
}

/**
 * Orders available modes by expected speed: a hardware GPU first, then WebAssembly (SIMD), then software GPUs
 * (lavapipe/llvmpipe run shaders on the CPU, slower than wasm on the same cores), then gpu.js's JS kernels.
 */
export function rankModes(probes: readonly ModeProbe[]): GpujsMode[] {
  const score = (p: ModeProbe): number => {
    if (p.mode === 'cpu') return 0;
    if (p.mode === 'webasm') return 2;
    const hw = p.software === false;
    if (p.mode === 'webgpu') return hw ? 5 : 1.5;
    return hw ? 4 : 1;
  };
  return probes
    .filter((p) => p.available)
    .sort((a, b) => score(b) - score(a))
    .map((p) => p.mode);
}

/** The best available mode here (`gpujs` with no mode). */
export async function bestGpujsMode(): Promise<GpujsMode> {
  const ranked = rankModes(await probeGpujsModes());
  // gpu.js's cpu mode needs nothing, so the ranking is never empty.
  return ranked[0] ?? 'cpu';
}
