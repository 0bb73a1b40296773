/** The shapes of `metatape doctor`'s report (`--json` prints a {@link DoctorReport}) and its options. */
import type { BackendCounters } from '../../backends/backend.js';

/** Outcome of one environment check. */
export interface DoctorCheck {
  name: string;
  /** `fail` blocks training; `warn` limits it (e.g. dataset not prepared). */
  status: 'ok' | 'warn' | 'fail';
  detail: string;
}

/** Where the process runs: what a bug report or a cluster job log needs to tell machines apart. */
export interface DoctorEnvironment {
  metatape: string;
  node: string;
  platform: string;
  arch: string;
  /** glibc version (Linux), or null elsewhere; the `webgpu` package's dawn.node needs >= 2.38. */
  glibc: string | null;
  cpus: string;
  memoryGiB: number;
  /** True inside Docker/Kubernetes/Podman (best effort). */
  container: boolean;
  /** The variables that decide which GPU and drivers a container sees. */
  env: Record<string, string | null>;
  /** Vulkan driver manifests (ICDs) the loader will find: lavapipe, and NVIDIA's where the toolkit mounted it. */
  vulkanIcds: string[];
}

/** One timed kernel, checked against a float64 reference computed in plain JavaScript. */
export interface KernelResult {
  kernel: string;
  /** First call: compile (gpu.js generates and compiles a kernel per shape) + upload-free run + read back. */
  firstMs: number;
  /** Best of the following calls: dispatch + read back, kernel cached. */
  warmMs: number;
  maxAbsError: number;
  tolerance: number;
  ok: boolean;
  /** What one warm call (run + read back) cost the backend, where it keeps counters. */
  counters?: BackendCounters;
}

/** What doctor found out about one backend. */
export interface BackendReport {
  name: string;
  available: boolean;
  device?: string;
  /** Software rasteriser or CPU: fine for tests, slow for work. */
  software?: boolean;
  reason?: string;
  remedy?: string;
  kernels?: KernelResult[];
  /** The backend loaded but a kernel threw, timed out or gave a wrong answer. */
  kernelError?: string;
}

/** The WebGPU adapter dawn.node found (gpu.js's webgpu mode runs on it). */
export interface WebGPUAdapterReport {
  name: string;
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  software: boolean;
  isFallbackAdapter: boolean;
  features: string[];
  limits: Record<string, number>;
}

/** The backend that has to work, and whether it does. */
export interface TargetReport {
  backend: string;
  source: string;
  /** The registry backend it runs on (`gpujs` and `auto` resolve to one). */
  resolved: string;
  usable: boolean;
  detail: string;
}

/** Everything `metatape doctor` prints (`--json` prints exactly this). */
export interface DoctorReport {
  environment: DoctorEnvironment;
  checks: DoctorCheck[];
  backends: BackendReport[];
  webgpu: WebGPUAdapterReport | null;
  target: TargetReport;
  ok: boolean;
}

/** Options of {@link runDoctor}. */
export interface DoctorOptions {
  outDir: string;
  datasetDir?: string;
  /** The backend that must work (a config's `backend` value); default `METATAPE_BACKEND`, else `cpu`. */
  backend?: string;
  /** Where {@link DoctorOptions.backend} came from, for the report. */
  backendSource?: string;
  /** Do not probe or load any backend but `cpu` (they can take seconds to open a GPU context). */
  skipBackends?: boolean;
  /** Probe backends but run no kernels. */
  skipKernels?: boolean;
  /** Run kernels only on the target backend (what the image's HEALTHCHECK does). */
  targetOnly?: boolean;
  /** Size of the square matmul (default 256) and so of the elementwise op (n²). */
  size?: number;
  env?: NodeJS.ProcessEnv;
  /** Per-backend limit for loading it and running its kernels (default 60 s). */
  timeoutMs?: number;
}
