import { registerBackend } from '../registry.js';
import { gpujsBackendFactories } from './factories.js';
import type { GpujsBackendOptions } from './gpujs-backend.js';

/**
 * Registers `gpujs:webgpu`, `gpujs:headlessgl`, `gpujs:webasm`, `gpujs:cpu`, and `gpujs` (the best mode
 * available here), e.g. with non-default options. Loading one probes its mode and fails with a
 * `GpujsModeUnavailableError` naming what is missing; nothing is probed or loaded at registration.
 */
export function registerGpujsBackends(options: GpujsBackendOptions = {}): void {
  for (const [name, factory] of gpujsBackendFactories(options)) registerBackend(name, factory);
}
