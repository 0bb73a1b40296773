import type { Argv } from 'yargs';
import { runDoctor } from '../doctor.js';
import { EXIT } from '../errors.js';
import type { GlobalArgs } from '../globals.js';
import { formatTable, println } from '../print.js';

/** `metatape doctor`: check Node, environment, output folder, backends and datasets. */
export function registerDoctor(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command(
    'doctor',
    'Check the environment (Node, env vars, output folder, backends, datasets)',
    (b) =>
      b
        .option('skip-backends', { type: 'boolean', default: false, describe: 'Do not initialize backends' })
        .option('dataset-dir', {
          type: 'string',
          describe: 'Prepared Omniglot folder (default datasets/omniglot)',
        }),
    async (argv) => {
      const checks = await runDoctor({
        outDir: argv.out,
        skipBackends: argv.skipBackends,
        ...(argv.datasetDir ? { datasetDir: argv.datasetDir } : {}),
      });
      println(
        formatTable(
          ['CHECK', 'STATUS', 'DETAIL'],
          checks.map((c) => [c.name, c.status, c.detail]),
        ),
      );
      if (checks.some((c) => c.status === 'fail')) process.exitCode = EXIT.failure;
    },
  );
}
