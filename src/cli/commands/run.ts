import { mkdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import type { Argv } from 'yargs';
import { loadConfig } from '../../config/load.js';
import { EXIT } from '../errors.js';
import { type GlobalArgs, overridesFromFlags } from '../globals.js';
import { formatNumber, println } from '../print.js';
import { executeRun } from '../session.js';

/** `metatape run <config>`: validate the config, then train in a new run folder. */
export function registerRun(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command(
    'run <config>',
    'Meta-train from a config file in a new run folder <out>/<name>/<timestamp>/',
    (b) =>
      b
        .positional('config', { type: 'string', demandOption: true, describe: 'YAML config (see configs/)' })
        .option('set', {
          type: 'string',
          array: true,
          describe: 'Override a field: --set trainer.innerSteps=5 (repeatable)',
        })
        .option('backend', { type: 'string', describe: 'Backend (overrides config and METATAPE_BACKEND)' })
        .option('iterations', { type: 'number', describe: 'Shorthand for --set trainer.iterations=N' })
        .option('threads', {
          type: 'string',
          describe:
            "Shorthand for --set trainer.threads=N: CPU threads for the meta-batch's tasks (a count or auto)",
        })
        .option('out', { type: 'string', describe: 'Shorthand for --set output.dir=DIR' })
        .option('run-dir', {
          type: 'string',
          describe: 'Use exactly this folder as the run folder (compare and sweep workers use it)',
        })
        .option('dry-run', {
          type: 'boolean',
          default: false,
          describe: 'Print the resolved config and exit',
        }),
    async (argv) => {
      const config = await loadConfig(argv.config, overridesFromFlags(argv));
      if (argv.dryRun) {
        process.stdout.write(stringify(config));
        return;
      }
      let existing: { dir: string; name: string; timestamp: string } | undefined;
      if (argv.runDir) {
        const dir = resolve(argv.runDir);
        await mkdir(dir, { recursive: true });
        existing = { dir, name: config.name, timestamp: basename(dir) };
      }
      const { run, summary } = await executeRun(config, {
        ...(existing ? { existing } : {}),
        ...(argv.logLevel ? { logLevel: argv.logLevel } : {}),
        onStart: (r, logger) => logger.info({ dir: r.dir }, `run folder ${r.dir}`),
      });
      // The run's own summary (tables of mean ± CI and medians) reads better than a list of keys; every
      // number is also in summary.json.
      const table = await readFile(join(run.dir, 'summary.md'), 'utf8').catch(() => undefined);
      if (table) println(table.trimEnd());
      else for (const [k, v] of Object.entries(summary.results ?? {})) println(`${k}\t${formatNumber(v)}`);
      println(run.dir);
      if (summary.interrupted) process.exitCode = EXIT.interrupted;
    },
  );
}
