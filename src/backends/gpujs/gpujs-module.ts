import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The parts of a gpu.js kernel object this backend uses (gpu.js ships no types for its newer modes). */
export interface GpujsKernel {
  (...args: unknown[]): unknown;
  destroy?: (removeCanvasReferences?: boolean) => void;
}

/** The parts of a gpu.js `GPU` instance this backend uses. */
export interface GpujsInstance {
  createKernel(source: string, settings: Record<string, unknown>): GpujsKernel;
  destroy(): Promise<void>;
  readonly Kernel: { readonly name: string } | null;
}

/** The gpu.js module's exports that this backend uses. */
export interface GpujsModule {
  GPU: (new (settings: {
    mode: string;
  }) => GpujsInstance) & {
    readonly isHeadlessGLSupported: boolean;
    readonly isWebAssemblySupported: boolean;
    readonly isWebGPUSupported: boolean;
    isWebGPUAvailable(): Promise<boolean>;
  };
  WebAssemblyKernel: { readonly isSIMDSupported: boolean; readonly isThreadsSupported: boolean };
}

let cached: GpujsModule | undefined;

/**
 * Loads gpu.js on first use. It is CommonJS and pulls in acorn and (optionally) the native `gl` addon, so
 * importing metatape must not pay for it unless a gpujs backend is asked for.
 */
export function loadGpujs(): GpujsModule {
  cached ??= require('gpu.js') as GpujsModule;
  return cached;
}
