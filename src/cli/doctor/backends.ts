import type { ModeProbe } from '../../backends/gpujs/probe.js';
import { BACKENDS } from '../../config/schema.js';
import { CPU_DEVICE, type GpujsModule, resolveBackend } from '../../meta/backendChoice.js';
import { firstLine, withTimeout } from './checks.js';
import { timeKernels } from './kernels.js';
import type { BackendReport, TargetReport, WebGPUAdapterReport } from './types.js';

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

/** What {@link probeBackends} found: a report per backend, and gpu.js with its probes when it loaded. */
export interface ProbedBackends {
  backends: BackendReport[];
  webgpu: WebGPUAdapterReport | null;
  gpujs?: GpujsModule;
  probes?: ModeProbe[];
}

/** The cpu backend always; each gpu.js mode (available or why not) and the WebGPU adapter unless skipped. */
export async function probeBackends(skip: boolean, timeoutMs: number): Promise<ProbedBackends> {
  const backends: BackendReport[] = [{ name: 'cpu', available: true, device: CPU_DEVICE, software: true }];
  if (skip) return { backends, webgpu: null };
  try {
    const gpujs = await import('../../backends/gpujs/index.js');
    gpujs.registerGpujsBackends();
    const probes = await withTimeout(gpujs.probeGpujsModes(), timeoutMs, 'probing the gpu.js modes');
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
    const webgpu = probes.some((p) => p.mode === 'webgpu' && p.available)
      ? await withTimeout(describeAdapter(), timeoutMs, 'the WebGPU adapter').catch(() => null)
      : null;
    return { backends, webgpu, gpujs, probes };
  } catch (err) {
    backends.push({
      name: 'gpujs',
      available: false,
      reason: `gpu.js could not be loaded (${firstLine(err)})`,
      remedy: 'Run `npm ci`',
    });
    return { backends, webgpu: null };
  }
}

/** Where the target backend leads: the registry backend, a note on how it was chosen, or why it cannot be. */
export interface ResolvedTarget {
  resolved: string;
  note: string;
  error?: string;
}

/**
 * The registry backend the target runs on, by the one resolver runs use (`resolveBackend`,
 * `src/meta/backendChoice.ts`), without a workload hint.
 */
export async function resolveTarget(
  target: string,
  probed: ProbedBackends,
  skippedBackends: boolean,
): Promise<ResolvedTarget> {
  if (!(BACKENDS as readonly string[]).includes(target)) {
    return {
      resolved: target,
      note: '',
      error: `unknown backend '${target}'; expected one of ${BACKENDS.join(', ')}`,
    };
  }
  if (target === 'cpu') return { resolved: 'cpu', note: '' };
  if (!probed.gpujs || !probed.probes) {
    return {
      resolved: target,
      note: '',
      error: skippedBackends ? 'not probed (--skip-backends)' : 'gpu.js could not be loaded',
    };
  }
  const choice = await resolveBackend(target, probed.gpujs, probed.probes);
  const note =
    target === 'auto'
      ? `auto (no workload hint): ${choice.reason}`
      : choice.reason === 'requested'
        ? ''
        : choice.reason;
  return { resolved: choice.name, note };
}

/** Times the kernels on every available backend (or only `only`'s), recording what fails on each. */
export async function runKernels(
  backends: BackendReport[],
  size: number,
  timeoutMs: number,
  only?: string,
): Promise<void> {
  const registry = await import('../../backends/registry.js');
  for (const r of backends) {
    if (!r.available || (only !== undefined && r.name !== only)) continue;
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

/** The verdict on the target backend: usable or not, and the detail (device and speed, or why and the fix). */
export function targetReport(
  target: { backend: string; source: string },
  t: ResolvedTarget,
  backends: readonly BackendReport[],
): TargetReport {
  const row = backends.find((b) => b.name === t.resolved);
  let usable = false;
  let detail: string;
  if (t.error) {
    detail = t.error;
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
  if (t.note) detail = `${t.note} -> ${t.resolved}: ${detail}`;
  return { backend: target.backend, source: target.source, resolved: t.resolved, usable, detail };
}
