import type { Argv } from 'yargs';
import { formatCounters } from '../../backends/backend.js';
import { loadConfig } from '../../config/load.js';
import { BACKENDS } from '../../config/schema.js';
import { type DoctorReport, runDoctor } from '../doctor.js';
import { EXIT, UsageError } from '../errors.js';
import { type GlobalArgs, overridesFromFlags } from '../globals.js';
import { formatTable, println } from '../print.js';

/**
 * `metatape doctor`: the environment, which backends and gpu.js modes load (and why not), the WebGPU adapter's
 * name and limits, a small timed kernel on each backend checked against a float64 reference. Exits 1 when the
 * backend that must work (`--backend`, a `--config`'s backend, `METATAPE_BACKEND`, else cpu) is unusable.
 */
export function registerDoctor(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command(
    'doctor',
    'Check the environment, backends and GPU; exit 1 if the configured backend is unusable',
    (b) =>
      b
        .option('backend', {
          type: 'string',
          describe: `Backend that must work (${BACKENDS.join(', ')}); default: --config's, METATAPE_BACKEND, cpu`,
        })
        .option('config', {
          type: 'string',
          describe: 'Check the backend this config asks for (with $METATAPE_BACKEND)',
        })
        .option('json', { type: 'boolean', default: false, describe: 'Print the report as JSON' })
        .option('quiet', {
          alias: 'q',
          type: 'boolean',
          default: false,
          describe: "One line about the target backend, kernels on it only (the image's HEALTHCHECK)",
        })
        .option('skip-backends', {
          type: 'boolean',
          default: false,
          describe: 'Do not probe gpu.js (it can take seconds to open a GPU context)',
        })
        .option('skip-kernels', {
          type: 'boolean',
          default: false,
          describe: 'Probe backends, run no kernels',
        })
        .option('size', { type: 'number', default: 256, describe: 'n of the n x n matmul test kernel' })
        .option('dataset-dir', {
          type: 'string',
          describe: 'Prepared Omniglot folder (default datasets/omniglot)',
        }),
    async (argv) => {
      let backend = argv.backend;
      let backendSource = '--backend';
      if (backend !== undefined && !(BACKENDS as readonly string[]).includes(backend))
        throw new UsageError(`--backend ${backend}: expected one of ${BACKENDS.join(', ')}`);
      if (backend === undefined && argv.config) {
        backend = (await loadConfig(argv.config, overridesFromFlags({}))).backend;
        backendSource = process.env.METATAPE_BACKEND ? 'METATAPE_BACKEND' : argv.config;
      }
      if (!Number.isInteger(argv.size) || argv.size < 1 || argv.size > 2048)
        throw new UsageError(`--size ${argv.size}: expected an integer in [1, 2048]`);
      const report = await runDoctor({
        outDir: argv.out,
        ...(backend !== undefined ? { backend, backendSource } : {}),
        skipBackends: argv.skipBackends,
        skipKernels: argv.skipKernels,
        targetOnly: argv.quiet,
        size: argv.size,
        ...(argv.datasetDir ? { datasetDir: argv.datasetDir } : {}),
      });
      if (argv.json) println(JSON.stringify(report, null, 2));
      else if (argv.quiet) println(verdict(report));
      else println(formatReport(report));
      const code = report.ok ? EXIT.ok : EXIT.failure;
      process.exitCode = code;
      // Once gpu.js has opened a device on dawn.node, letting Node wind down by itself aborts in Dawn's
      // teardown ("terminate called ... std::system_error", exit 134/139) even after releaseWebGPU(); exiting
      // at once does not. stdout is synchronous for files, pipes and TTYs on Linux, so nothing is lost.
      if (report.backends.some((b) => b.name === 'gpujs:webgpu' && b.kernels)) process.exit(code);
    },
  );
}

function verdict(r: DoctorReport): string {
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
