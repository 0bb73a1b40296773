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
  const cpuDevice = 'host CPU (typed arrays, WebAssembly SIMD matmul)';
  if (requested === 'cpu') return { name: 'cpu', reason: 'requested', device: cpuDevice };
  const gpujs = await import('../backends/gpujs/index.js');
  gpujs.registerGpujsBackends();
  const choice =
    requested === 'auto' ? await gpujs.chooseAutoBackend(hint) : { backend: requested, reason: 'requested' };
  if (choice.backend === 'cpu') return { name: 'cpu', reason: choice.reason, device: cpuDevice };
  const mode =
    choice.backend === 'gpujs' ? await gpujs.bestGpujsMode() : choice.backend.slice('gpujs:'.length);
  const probe = gpujs.isGpujsMode(mode) ? await gpujs.probeGpujsMode(mode) : undefined;
  return {
    name: choice.backend,
    reason: choice.reason,
    device: `gpu.js ${mode}: ${probe?.device ?? 'unknown device'}`,
  };
}
