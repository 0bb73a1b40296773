import { registerBackend } from '../registry.js';
import { bestGpujsMode, createGpujsBackend } from './create.js';
import type { GpujsBackendOptions } from './gpujs-backend.js';
import { backendNameOf, GPUJS_MODES } from './modes.js';

/**
 * Registers `gpujs:webgpu`, `gpujs:headlessgl`, `gpujs:webasm`, `gpujs:cpu`, and `gpujs` (the best mode
 * available here). Loading one probes its mode and fails with a `GpujsModeUnavailableError` naming what is
 * missing; nothing is probed or loaded at registration.
 */
export function registerGpujsBackends(options: GpujsBackendOptions = {}): void {
  for (const mode of GPUJS_MODES)
    registerBackend(backendNameOf(mode), () => createGpujsBackend(mode, options));
  registerBackend('gpujs', async () => createGpujsBackend(await bestGpujsMode(), options));
}
