import { probeBackends, resolveTarget, runKernels, targetReport } from './backends.js';
import { datasetChecks } from './datasets.js';
import { describeEnvironment, environmentChecks } from './environment.js';
import type { DoctorOptions, DoctorReport } from './types.js';

/*
 * `metatape doctor`, one job per module: the environment and its checks (environment.ts), the datasets
 * (datasets.ts), the backends, the target's resolution and the kernels run on them (backends.ts, kernels.ts),
 * and the printed report (print.ts). This file only puts them in order.
 */

export { describeEnvironment } from './environment.js';
export { timeKernels } from './kernels.js';
export { formatReport, verdict } from './print.js';
export type * from './types.js';

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
  const fallback = defaultTarget(env);
  const target = {
    backend: o.backend ?? fallback.backend,
    source: o.backend ? (o.backendSource ?? '--backend') : fallback.source,
  };
  const environment = describeEnvironment(env);
  const checks = [...(await environmentChecks(o.outDir, env)), ...(await datasetChecks(o.datasetDir))];
  const probed = await probeBackends(o.skipBackends === true, timeoutMs);
  const resolved = await resolveTarget(target.backend, probed, o.skipBackends === true);
  if (!o.skipKernels) {
    await runKernels(probed.backends, o.size ?? 256, timeoutMs, o.targetOnly ? resolved.resolved : undefined);
  }
  if (probed.gpujs && probed.probes?.some((p) => p.mode === 'webgpu' && p.available)) {
    // Dawn keeps the process alive while navigator.gpu is reachable.
    await probed.gpujs.releaseWebGPU().catch(() => undefined);
  }
  const targetRow = targetReport(target, resolved, probed.backends);
  return {
    environment,
    checks,
    backends: probed.backends,
    webgpu: probed.webgpu,
    target: targetRow,
    ok: targetRow.usable && !checks.some((c) => c.status === 'fail'),
  };
}
