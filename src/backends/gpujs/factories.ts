import type { BackendFactory } from '../registry.js';
import { bestGpujsMode, createGpujsBackend } from './create.js';
import type { GpujsBackendOptions } from './gpujs-backend.js';
import { backendNameOf, GPUJS_MODES } from './modes.js';

/**
 * The factories of `gpujs:webgpu`, `gpujs:headlessgl`, `gpujs:webasm`, `gpujs:cpu`, and `gpujs` (the best mode
 * available here), by name. Loading one probes its mode and fails with a `GpujsModeUnavailableError` naming
 * what is missing; nothing is probed or loaded here. The registry imports this file on first request and
 * registers them itself, so this file does not import the registry (no import cycle).
 */
export function gpujsBackendFactories(options: GpujsBackendOptions = {}): [string, BackendFactory][] {
  return [
    ...GPUJS_MODES.map((mode): [string, BackendFactory] => [
      backendNameOf(mode),
      () => createGpujsBackend(mode, options),
    ]),
    ['gpujs', async () => createGpujsBackend(await bestGpujsMode(), options)],
  ];
}
