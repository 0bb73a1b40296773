/** The backend a run uses and why. */
export interface BackendChoice {
  name: string;
  reason: string;
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
  if (requested === 'cpu') return { name: 'cpu', reason: 'requested' };
  const gpujs = await import('../backends/gpujs/index.js');
  gpujs.registerGpujsBackends();
  if (requested === 'auto') {
    const choice = await gpujs.chooseAutoBackend(hint);
    return { name: choice.backend, reason: choice.reason };
  }
  return { name: requested, reason: 'requested' };
}
