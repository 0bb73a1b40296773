/** The execution modes of gpu.js 2.24 that run in Node, best first on real hardware. */
export const GPUJS_MODES = ['webgpu', 'headlessgl', 'webasm', 'cpu'] as const;
export type GpujsMode = (typeof GPUJS_MODES)[number];

/** Registry name of a mode's backend, e.g. `gpujs:webasm`. */
export function backendNameOf(mode: GpujsMode): string {
  return `gpujs:${mode}`;
}

/** True for a string that names a gpu.js mode. */
export function isGpujsMode(s: string): s is GpujsMode {
  return (GPUJS_MODES as readonly string[]).includes(s);
}

/**
 * `METATAPE_GPUJS_WEBASM_THREADS=1` runs the webasm mode on gpu.js's worker-thread pool, which reads back
 * only asynchronously, as WebGPU does: a way to run the asynchronous-read paths (`metatape run` included)
 * on any machine.
 */
export function webasmThreadsFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.METATAPE_GPUJS_WEBASM_THREADS === '1';
}

/**
 * Modes whose kernels hand back a Promise: WebGPU always (readback needs `mapAsync`), webasm only when its
 * worker-thread pool is enabled. Everything else is synchronous and so supports `readSync`.
 */
export function isAsyncMode(mode: GpujsMode, webasmThreads: boolean): boolean {
  return mode === 'webgpu' || (mode === 'webasm' && webasmThreads);
}
