import { createRequire } from 'node:module';
import { loadGpujs } from './gpujs-module.js';
import { GPUJS_MODES, type GpujsMode } from './modes.js';
import { installWebGPU } from './webgpu-env.js';

const require = createRequire(import.meta.url);

/** Whether one gpu.js mode can run in this process, and if not, why and what to do. */
export interface ModeProbe {
  readonly mode: GpujsMode;
  readonly available: boolean;
  /** The device, e.g. `mesa llvmpipe ...` or `WebAssembly (SIMD, threads)`. */
  readonly device?: string;
  /** True where the "GPU" is a software rasteriser (lavapipe, llvmpipe): fine for tests, slow for work. */
  readonly software?: boolean;
  readonly reason?: string;
  readonly remedy?: string;
}

const probes = new Map<GpujsMode, Promise<ModeProbe>>();

/** Probes one mode (once per process). */
export function probeGpujsMode(mode: GpujsMode): Promise<ModeProbe> {
  let p = probes.get(mode);
  if (!p) {
    p = probe(mode).catch((e: unknown) => ({
      mode,
      available: false,
      reason: `probe failed: ${e instanceof Error ? e.message : String(e)}`,
      remedy: 'Report this with `metatape doctor` output',
    }));
    probes.set(mode, p);
  }
  return p;
}

/** Probes every gpu.js mode: what `metatape doctor` prints and what `gpujs`/`auto` choose from. */
export function probeGpujsModes(): Promise<ModeProbe[]> {
  return Promise.all(GPUJS_MODES.map(probeGpujsMode));
}

async function probe(mode: GpujsMode): Promise<ModeProbe> {
  switch (mode) {
    case 'cpu':
      loadGpujs();
      return { mode, available: true, device: 'JavaScript (gpu.js cpu kernels)', software: true };
    case 'webasm':
      return probeWebasm();
    case 'headlessgl':
      return probeHeadlessGL();
    case 'webgpu': {
      const env = await installWebGPU();
      if (!env.ok) return { mode, available: false, reason: env.reason, remedy: env.remedy };
      const available = await loadGpujs().GPU.isWebGPUAvailable();
      if (!available)
        return { mode, available, reason: 'gpu.js found no WebGPU adapter', remedy: 'See `metatape doctor`' };
      return { mode, available, device: env.adapter, software: env.software };
    }
  }
}

function probeWebasm(): ModeProbe {
  const { GPU, WebAssemblyKernel } = loadGpujs();
  if (!GPU.isWebAssemblySupported) {
    return {
      mode: 'webasm',
      available: false,
      reason: 'WebAssembly is unavailable',
      remedy: 'Use Node >= 20',
    };
  }
  const features = [
    WebAssemblyKernel.isSIMDSupported ? 'SIMD' : 'no SIMD',
    WebAssemblyKernel.isThreadsSupported ? 'threads' : 'no threads',
  ];
  return { mode: 'webasm', available: true, device: `WebAssembly (${features.join(', ')})`, software: true };
}

function probeHeadlessGL(): ModeProbe {
  let createContext: (
    w: number,
    h: number,
    o?: object,
  ) => { getParameter(p: number): unknown; VERSION: number } | null;
  try {
    createContext = require('gl');
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return {
      mode: 'headlessgl',
      available: false,
      reason: `the optional 'gl' package is not built (${msg})`,
      remedy:
        '`npm ci` leaves the native addon out on purpose; opt in with `npm run setup:gpu -- headlessgl` (Debian: ' +
        'installs the X11 headers and Xvfb, then builds gl from source once and caches it), then run under `xvfb-run -a`',
    };
  }
  const ctx = createContext(1, 1);
  if (!ctx) {
    return {
      mode: 'headlessgl',
      available: false,
      reason: `'gl' could not open a GL context (DISPLAY=${process.env.DISPLAY ?? 'unset'})`,
      remedy: 'Run under a display; on a server use `xvfb-run -a <command>` (apt-get install xvfb)',
    };
  }
  if (!loadGpujs().GPU.isHeadlessGLSupported) {
    return {
      mode: 'headlessgl',
      available: false,
      reason: 'gpu.js rejected the GL context',
      remedy: 'See `metatape doctor`',
    };
  }
  const version = String(ctx.getParameter(ctx.VERSION));
  // A headless X server (Xvfb) has no GPU, so its GL is Mesa's llvmpipe; a real display may be hardware.
  const software = process.env.METATAPE_GL_HARDWARE !== '1';
  return {
    mode: 'headlessgl',
    available: true,
    device: `${version}${software ? ' (software)' : ''}`,
    software,
  };
}
