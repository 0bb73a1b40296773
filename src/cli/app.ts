import { readFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { registerCompare } from './commands/compare.js';
import { registerDatasets } from './commands/datasets.js';
import { registerDoctor } from './commands/doctor.js';
import { registerEval } from './commands/eval.js';
import { registerExamples } from './commands/examples.js';
import { registerLs } from './commands/ls.js';
import { registerReport } from './commands/report.js';
import { registerResume } from './commands/resume.js';
import { registerRun } from './commands/run.js';
import { registerSweep } from './commands/sweep.js';
import { EXIT, exitCodeFor, formatError, UsageError } from './errors.js';
import { defaultOutDir, type GlobalArgs } from './globals.js';

function packageVersion(): string {
  // src/cli/app.ts and dist/cli/app.js are both two levels below the package root.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Builds the yargs parser with every command registered (exported for tests and shell completion). */
export function buildCli(argv: readonly string[]) {
  const base = yargs([...argv])
    .scriptName('metatape')
    .usage('$0 <command> [options]\n\nMeta-learning (MAML and friends) experiments.')
    .option('verbose', {
      alias: 'v',
      type: 'boolean',
      default: false,
      describe: 'Show stack traces on errors',
    })
    .option('log-level', {
      type: 'string',
      describe: 'fatal|error|warn|info|debug|trace|silent (env METATAPE_LOG_LEVEL)',
    })
    .option('out', {
      type: 'string',
      default: defaultOutDir(),
      describe: 'Root folder of runs (env METATAPE_OUT)',
    })
    .version(packageVersion())
    .help()
    .alias('h', 'help')
    .strict()
    .demandCommand(1, 'choose a command (see --help)')
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    // Throw instead of printing and exiting, so every error goes through one formatter and exit-code map.
    // Validation failures arrive as a message only; errors thrown by command handlers arrive as `err`.
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    })
    .exitProcess(false) as unknown as Argv<GlobalArgs>;
  return [
    registerRun,
    registerEval,
    registerResume,
    registerSweep,
    registerCompare,
    registerLs,
    registerReport,
    registerDatasets,
    registerDoctor,
    registerExamples,
  ].reduce((y, register) => register(y), base);
}

/** Runs the CLI on `argv` (without `node` and script path) and returns the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  try {
    await buildCli(argv).parseAsync();
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    process.stderr.write(`${formatError(err, verbose)}\n`);
    return exitCodeFor(err);
  }
}
