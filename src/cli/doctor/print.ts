import { formatCounters } from '../../backends/backend.js';
import { formatTable } from '../print.js';
import type { DoctorReport } from './types.js';

/** The one-line verdict on the target backend (`--quiet`, the image's HEALTHCHECK), and failed checks. */
export function verdict(r: DoctorReport): string {
  const t = r.target;
  const failed = r.checks.filter((c) => c.status === 'fail').map((c) => `${c.name}: ${c.detail}`);
  const head = `backend ${t.backend} (${t.source}): ${t.usable ? 'usable' : 'UNUSABLE'} - ${t.detail}`;
  return failed.length ? `${head}\nfailed checks: ${failed.join('; ')}` : head;
}

const ms = (v: number) => (v < 10 ? v.toFixed(2) : v.toFixed(1));

/** The human-readable report: environment, checks, backends, adapter, kernels, verdict. */
export function formatReport(r: DoctorReport): string {
  const e = r.environment;
  const out: string[] = [];
  out.push(`metatape ${e.metatape} doctor`, '');
  out.push(
    formatTable(
      ['ENVIRONMENT', ''],
      [
        ['node', `${e.node} (${e.platform}-${e.arch}${e.glibc ? `, glibc ${e.glibc}` : ''})`],
        ['cpus', `${e.cpus}, ${e.memoryGiB} GiB memory`],
        ['container', e.container ? 'yes' : 'no'],
        ...Object.entries(e.env).map(([k, v]) => [k, v === null ? '(unset)' : v === '' ? '(empty)' : v]),
        ['vulkan drivers', e.vulkanIcds.length ? e.vulkanIcds.join(', ') : '(no Vulkan ICD manifests found)'],
      ],
    ),
  );
  out.push('');
  out.push(
    formatTable(
      ['CHECK', 'STATUS', 'DETAIL'],
      r.checks.map((c) => [c.name, c.status, c.detail]),
    ),
  );
  out.push('');
  const rows: string[][] = [];
  for (const b of r.backends) {
    if (b.available) {
      const kind =
        b.name === 'cpu' || /software|hardware/.test(b.device ?? '')
          ? ''
          : b.software
            ? ' [software]'
            : ' [hardware]';
      rows.push([b.name, b.kernelError ? 'broken' : 'ok', `${b.device ?? ''}${kind}`]);
      if (b.kernelError) rows.push(['', '', `kernel error: ${b.kernelError}`]);
    } else {
      rows.push([b.name, 'no', b.reason ?? 'unavailable']);
      if (b.remedy) rows.push(['', '', `fix: ${b.remedy}`]);
    }
  }
  out.push(formatTable(['BACKEND', 'STATUS', 'DEVICE / WHY NOT'], rows));
  if (r.webgpu) {
    const w = r.webgpu;
    out.push('');
    out.push(`WEBGPU ADAPTER  ${w.name} [${w.software ? 'software' : 'hardware'}]`);
    const limits = Object.entries(w.limits).map(([k, v]) => `${k}=${v}`);
    for (let i = 0; i < limits.length; i += 4) out.push(`  ${limits.slice(i, i + 4).join('  ')}`);
    if (w.features.length) out.push(`  features: ${w.features.join(', ')}`);
  }
  const timed = r.backends.filter((b) => b.kernels?.length);
  if (timed.length) {
    out.push('');
    const names = timed[0]!.kernels!.map((k) => k.kernel);
    out.push(
      formatTable(
        ['KERNEL (ms first / warm, max error)', ...timed.map((b) => b.name)],
        names.map((name, i) => [
          name,
          ...timed.map((b) => {
            const k = b.kernels![i];
            if (!k) return '-';
            return `${ms(k.firstMs)} / ${ms(k.warmMs)}, ${k.maxAbsError.toExponential(1)}${k.ok ? '' : ' WRONG'}`;
          }),
        ]),
      ),
    );
    // What one warm call costs each backend: an elementwise chain should be one dispatch where it is fused.
    out.push('', 'COUNTERS per warm call (run + read back)');
    for (const b of timed)
      for (const k of b.kernels!)
        if (k.counters) out.push(`  ${b.name} ${k.kernel}: ${formatCounters(k.counters)}`);
  }
  out.push('', verdict(r));
  return out.join('\n');
}
