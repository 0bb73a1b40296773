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
  /** The one WebGPU device every gpu.js webgpu kernel is built on (gpu.js 2.24's module-level singleton). */
  WebGPUContext?: { acquire(): Promise<{ readonly device: unknown }> };
}

let cached: GpujsModule | undefined;

/**
 * Loads gpu.js on first use. It is CommonJS and pulls in acorn and (optionally) the native `gl` addon, so
 * importing metatape must not pay for it unless a gpujs backend is asked for.
 */
export function loadGpujs(): GpujsModule {
  if (cached) return cached;
  try {
    cached = require('gpu.js') as GpujsModule;
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw cause;
    // gpu.js is an optional peer dependency: installing metatape alone must not pull in (and compile) gl.
    throw new Error(
      "the gpujs backends need the 'gpu.js' package, an optional peer dependency of metatape: npm install gpu.js@2.24.1 --ignore-scripts (webasm and cpu modes; add headless-gl with npm run setup:gpu in a checkout)",
      { cause },
    );
  }
  return cached;
}
