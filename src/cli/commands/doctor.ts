import type { Argv } from 'yargs';
import { loadConfig } from '../../config/load.js';
import { BACKENDS } from '../../config/schema.js';
import { formatReport, runDoctor, verdict } from '../doctor/index.js';
import { EXIT, UsageError } from '../errors.js';
import { type GlobalArgs, overridesFromFlags } from '../globals.js';
import { println } from '../print.js';

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
