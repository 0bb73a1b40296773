import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, unlink } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Backend, type BackendCounters, diffCounters, type KernelTensor } from '../backends/backend.js';
import { BACKENDS } from '../config/schema.js';
import { writeFileAtomic } from '../io/atomic.js';
import { resolveLogLevel } from '../log/logger.js';
import { resolveBackend } from '../meta/backendChoice.js';
import { Rng } from '../tensor/random.js';
import type { Shape } from '../tensor/shape.js';

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

async function check(
  name: string,
  fn: () => Promise<string>,
  onError: 'warn' | 'fail' = 'fail',
): Promise<DoctorCheck> {
  try {
    return { name, status: 'ok', detail: await fn() };
  } catch (err) {
    return { name, status: onError, detail: firstLine(err) };
  }
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000}s`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

function inContainer(): boolean {
  if (existsSync('/.dockerenv') || existsSync('/run/.containerenv')) return true;
  if (process.env.KUBERNETES_SERVICE_HOST) return true;
  try {
    return /docker|kubepods|containerd|libpod/.test(readFileSync('/proc/1/cgroup', 'utf8'));
  } catch {
    return false;
  }
}

const ICD_DIRS = ['/etc/vulkan/icd.d', '/usr/share/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

function vulkanIcds(env: NodeJS.ProcessEnv): string[] {
  const explicit = env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES;
  if (explicit) return explicit.split(':').filter((s) => s.length > 0);
  const found: string[] = [];
  for (const dir of ICD_DIRS) {
    try {
      for (const f of readdirSync(dir).sort()) if (f.endsWith('.json')) found.push(join(dir, f));
    } catch {
      // no such folder
    }
  }
  return found;
}

/** Node, platform, CPU, container and GPU-related variables. */
export function describeEnvironment(env: NodeJS.ProcessEnv = process.env): DoctorEnvironment {
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined;
  const cpuList = cpus();
  const vars = [
    'METATAPE_BACKEND',
    'NVIDIA_VISIBLE_DEVICES',
    'NVIDIA_DRIVER_CAPABILITIES',
    'CUDA_VISIBLE_DEVICES',
    'DISPLAY',
    'METATAPE_DAWN_FLAGS',
    'JOB_COMPLETION_INDEX',
  ];
  return {
    metatape: packageVersion(),
    node: process.versions.node,
    platform: process.platform,
    arch: process.arch,
    glibc: report?.header?.glibcVersionRuntime ?? null,
    cpus: `${cpuList.length} x ${cpuList[0]?.model.trim() ?? 'unknown CPU'}`,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    container: inContainer(),
    env: Object.fromEntries(vars.map((v) => [v, env[v] ?? null])),
    vulkanIcds: vulkanIcds(env),
  };
}

/** Deterministic values in [-1, 1) (the seeded Rng), so every run and every backend sees the same inputs. */
function inputs(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.uniformIn(-1, 1));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = d; // NaN propagates as "not <=", so a NaN result is never ok
  }
  return m;
}

/**
 * Runs an n×n×n matmul and an elementwise `tanh(a*b) + a` over n² elements on `b`, each once cold and three
 * times warm, and compares them with a float64 reference.
 */
export async function timeKernels(b: Backend, n = 256): Promise<KernelResult[]> {
  const shape: Shape = [n, n];
  const av = inputs(n * n, 1);
  const bv = inputs(n * n, 2);
  const kt = (handle: unknown): KernelTensor => ({ handle, shape, dtype: 'float32' });
  const A = kt(b.upload(av, shape, 'float32'));
  const B = kt(b.upload(bv, shape, 'float32'));

  const refMatmul = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      const aik = av[i * n + k]!;
      for (let j = 0; j < n; j++) refMatmul[i * n + j]! += aik * bv[k * n + j]!;
    }
  const refElementwise = Float64Array.from(av, (a, i) => Math.tanh(a * bv[i]!) + a);

  const timed = async (
    kernel: string,
    run: () => unknown,
    ref: Float64Array,
    tolerance: number,
  ): Promise<KernelResult> => {
    let t = performance.now();
    const first = await b.read(kt(run()));
    const firstMs = performance.now() - t;
    let warmMs = Number.POSITIVE_INFINITY;
    let last = first;
    let counters: BackendCounters | undefined;
    for (let r = 0; r < 3; r++) {
      const before = b.counters;
      t = performance.now();
      last = await b.read(kt(run()));
      warmMs = Math.min(warmMs, performance.now() - t);
      if (before && b.counters) counters = diffCounters(b.counters, before);
    }
    const maxAbsError = Math.max(maxAbsDiff(first, ref), maxAbsDiff(last, ref));
    return { kernel, firstMs, warmMs, maxAbsError, tolerance, ok: maxAbsError <= tolerance, counters };
  };
  return [
    // float32 accumulation over k = n terms of size <= 1: error grows like n * 2^-24 * |sum|.
    await timed(`matmul ${n}x${n}x${n}`, () => b.matmul(A, B, false, false, shape), refMatmul, 2e-3),
    await timed(
      `tanh(a*b)+a ${n * n}`,
      () => b.binary('add', kt(b.unary('tanh', kt(b.binary('mul', A, B, shape)))), A, shape),
      refElementwise,
      1e-3,
    ),
  ];
}

const LIMIT_NAMES = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxTextureDimension2D',
  'maxBindGroups',
];

interface AdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string };
  isFallbackAdapter?: boolean;
  features?: Iterable<string>;
  limits?: Record<string, unknown>;
}

/** Asks the WebGPU globals (installed by the gpu.js webgpu probe) for the adapter's identity and limits. */
async function describeAdapter(): Promise<WebGPUAdapterReport | null> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<AdapterLike | null> } } })
    .navigator?.gpu;
  if (!gpu) return null;
  const adapter = await gpu.requestAdapter();
  if (!adapter) return null;
  const info = adapter.info ?? {};
  const limits: Record<string, number> = {};
  const src = adapter.limits ?? {};
  for (const k of LIMIT_NAMES) if (typeof src[k] === 'number') limits[k] = src[k] as number;
  for (const k in src) if (typeof src[k] === 'number' && !(k in limits)) limits[k] = src[k] as number;
  const name =
    [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' ') ||
    'unknown adapter';
  const isFallbackAdapter = adapter.isFallbackAdapter === true;
  return {
    name,
    ...(info.vendor ? { vendor: info.vendor } : {}),
    ...(info.architecture ? { architecture: info.architecture } : {}),
    ...(info.device ? { device: info.device } : {}),
    ...(info.description ? { description: info.description } : {}),
    software: isFallbackAdapter || /llvmpipe|lavapipe|swiftshader/i.test(name),
    isFallbackAdapter,
    features: [...(adapter.features ?? [])].sort(),
    limits,
  };
}

/** The backend a run would use: `--backend`, else `METATAPE_BACKEND`, else the config default `cpu`. */
export function defaultTarget(env: NodeJS.ProcessEnv = process.env): { backend: string; source: string } {
  if (env.METATAPE_BACKEND) return { backend: env.METATAPE_BACKEND, source: 'METATAPE_BACKEND' };
  return { backend: 'cpu', source: 'default' };
}

/**
 * Checks the environment (Node, variables, output folder, datasets), every backend (cpu and each gpu.js mode:
 * available or why not, the WebGPU adapter's name and limits), times a small matmul and elementwise kernel on
 * each available backend against a float64 reference, and says whether the target backend is usable.
 */
export async function runDoctor(o: DoctorOptions): Promise<DoctorReport> {
  const env = o.env ?? process.env;
  const timeoutMs = o.timeoutMs ?? 60_000;
  const size = o.size ?? 256;
  const fallback = defaultTarget(env);
  const target = o.backend ?? fallback.backend;
  const targetSource = o.backend ? (o.backendSource ?? '--backend') : fallback.source;
  const environment = describeEnvironment(env);

  const checks: DoctorCheck[] = [];
  checks.push(
    await check('node', async () => {
      const major = Number(process.versions.node.split('.')[0]);
      if (major < 20) throw new Error(`Node ${process.versions.node}; metatape needs Node >= 20`);
      return `Node ${process.versions.node} on ${process.platform}-${process.arch}`;
    }),
  );
  checks.push(
    await check('build', async () => {
      const dist = new URL('../../dist/cli/main.js', import.meta.url);
      return existsSync(dist) ? 'dist/ present (compiled CLI)' : 'no dist/; running TypeScript through tsx';
    }),
  );
  checks.push(
    await check('environment', async () => {
      const backend = env.METATAPE_BACKEND;
      if (backend && !(BACKENDS as readonly string[]).includes(backend)) {
        throw new Error(`METATAPE_BACKEND=${backend}; expected one of ${BACKENDS.join(', ')}`);
      }
      const level = resolveLogLevel(undefined, env);
      return `METATAPE_BACKEND=${backend ?? '(unset)'} METATAPE_LOG_LEVEL=${level}; stderr ${process.stderr.isTTY ? 'is a TTY (progress bar)' : 'is not a TTY (log-line progress)'}`;
    }),
  );
  checks.push(
    await check('output folder', async () => {
      await mkdir(o.outDir, { recursive: true });
      const probe = join(o.outDir, `.doctor-${process.pid}`);
      await writeFileAtomic(probe, 'ok');
      await unlink(probe);
      return `${o.outDir} is writable`;
    }),
  );
  checks.push(
    await check(
      'omniglot',
      async () => {
        const { omniglotInfo } = await import('../data/omniglot/info.js');
        const info = await omniglotInfo({ verify: 'size', ...(o.datasetDir ? { dir: o.datasetDir } : {}) });
        return `${info.dir}: ${info.counts.total.images} images (sizes verified)`;
      },
      'warn',
    ),
  );

  // Backends: cpu always; the gpu.js modes unless skipped.
  const registry = await import('../backends/registry.js');
  const backends: BackendReport[] = [
    { name: 'cpu', available: true, device: 'typed arrays, WebAssembly SIMD matmul', software: true },
  ];
  let webgpu: WebGPUAdapterReport | null = null;
  let probes: import('../backends/gpujs/probe.js').ModeProbe[] | undefined;
  let gpujs: typeof import('../backends/gpujs/index.js') | undefined;
  if (!o.skipBackends) {
    try {
      gpujs = await import('../backends/gpujs/index.js');
      gpujs.registerGpujsBackends();
      probes = await withTimeout(gpujs.probeGpujsModes(), timeoutMs, 'probing the gpu.js modes');
      for (const p of probes) {
        backends.push({
          name: gpujs.backendNameOf(p.mode),
          available: p.available,
          ...(p.device !== undefined ? { device: p.device } : {}),
          ...(p.software !== undefined ? { software: p.software } : {}),
          ...(p.reason !== undefined ? { reason: p.reason } : {}),
          ...(p.remedy !== undefined ? { remedy: p.remedy } : {}),
        });
      }
      if (probes.some((p) => p.mode === 'webgpu' && p.available)) {
        webgpu = await withTimeout(describeAdapter(), timeoutMs, 'the WebGPU adapter').catch(() => null);
      }
    } catch (err) {
      backends.push({
        name: 'gpujs',
        available: false,
        reason: `gpu.js could not be loaded (${firstLine(err)})`,
        remedy: 'Run `npm ci`',
      });
    }
  }

  // Which registry backend the target runs on.
  let resolved = target;
  let resolveNote = '';
  let resolveError: string | undefined;
  if (!(BACKENDS as readonly string[]).includes(target)) {
    resolveError = `unknown backend '${target}'; expected one of ${BACKENDS.join(', ')}`;
  } else if (target !== 'cpu' && (!gpujs || !probes)) {
    resolveError = o.skipBackends ? 'not probed (--skip-backends)' : 'gpu.js could not be loaded';
  } else if ((target === 'gpujs' || target === 'auto') && gpujs && probes) {
    // The same resolution a run makes (meta/backendChoice.ts), without a workload hint.
    const choice = await resolveBackend(target, gpujs, probes);
    resolved = choice.name;
    resolveNote = target === 'auto' ? `auto (no workload hint): ${choice.reason}` : choice.reason;
  }

  // Kernels on every available backend (or just the target's).
  if (!o.skipKernels) {
    for (const r of backends) {
      if (!r.available || (o.targetOnly && r.name !== resolved)) continue;
      try {
        r.kernels = await withTimeout(
          (async () => timeKernels(await registry.loadBackend(r.name), size))(),
          timeoutMs,
          `${r.name} kernels`,
        );
        const bad = r.kernels.find((k) => !k.ok);
        if (bad)
          r.kernelError = `${bad.kernel}: max error ${bad.maxAbsError.toPrecision(3)} > ${bad.tolerance} against the float64 reference`;
      } catch (err) {
        r.kernelError = firstLine(err);
      }
    }
  }
  if (gpujs && probes?.some((p) => p.mode === 'webgpu' && p.available)) {
    // Dawn keeps the process alive while navigator.gpu is reachable.
    await gpujs.releaseWebGPU().catch(() => undefined);
  }

  const row = backends.find((b) => b.name === resolved);
  let usable = false;
  let detail: string;
  if (resolveError) {
    detail = resolveError;
  } else if (!row) {
    detail = 'not registered';
  } else if (!row.available) {
    detail = `${row.reason ?? 'unavailable'}${row.remedy ? `. Fix: ${row.remedy}` : ''}`;
  } else if (row.kernelError) {
    detail = `loads, but its kernels fail: ${row.kernelError}`;
  } else {
    usable = true;
    const mm = row.kernels?.[0];
    detail = [
      row.device ?? row.name,
      row.name === 'cpu' || /software|hardware/.test(row.device ?? '')
        ? ''
        : row.software
          ? '(software)'
          : '(hardware)',
      mm ? `- ${mm.kernel} in ${mm.warmMs.toFixed(2)} ms warm, ${mm.firstMs.toFixed(1)} ms first` : '',
    ]
      .filter((s) => s)
      .join(' ');
  }
  if (resolveNote) detail = `${resolveNote} -> ${resolved}: ${detail}`;
  const targetReport: TargetReport = { backend: target, source: targetSource, resolved, usable, detail };
  return {
    environment,
    checks,
    backends,
    webgpu,
    target: targetReport,
    ok: usable && !checks.some((c) => c.status === 'fail'),
  };
}
