import { readFileSync } from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { resolveLogLevel } from '../log/logger.js';
import { registerCompare } from './commands/compare.js';
import { registerDatasets } from './commands/datasets.js';
import { registerDoctor } from './commands/doctor.js';
import { registerEval } from './commands/eval.js';
import { registerExamples } from './commands/examples.js';
import { registerLs } from './commands/ls.js';
import { registerReport } from './commands/report.js';
import { registerResume } from './commands/resume.js';
import { registerRun } from './commands/run.js';
import { registerServe } from './commands/serve.js';
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

/** The `demandCommand` message; the fail handler turns it into {@link NoCommandError}. */
const NO_COMMAND = 'no command given';

/** `metatape` alone, or with options only: {@link runCli} prints the help and exits 1. */
class NoCommandError extends UsageError {}

/** Edit distance (insertions, deletions, substitutions) between two words. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** Words of the command line that are not options or values of the global options. */
function positionalWords(argv: readonly string[]): string[] {
  const words: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') break;
    if (a === '--out' || a === '--log-level') i++;
    else if (!a.startsWith('-')) words.push(a);
  }
  return words;
}

/**
 * Turns a yargs validation message into the error the user sees. yargs names only the suggestion of
 * `.recommendCommands()` ("Did you mean run?"); the word that was typed is the one closest to it.
 */
function usageErrorFor(msg: string, argv: readonly string[]): UsageError {
  if (msg === NO_COMMAND) return new NoCommandError(msg);
  const words = positionalWords(argv);
  const suggestion = /^Did you mean (\S+)\?$/.exec(msg)?.[1];
  if (suggestion) {
    const typed = words
      .filter((w) => w !== suggestion)
      .sort((a, b) => editDistance(a, suggestion) - editDistance(b, suggestion))[0];
    // yargs suggests anything within 3 edits (`xyz` -> run); keep only suggestions that look like a typo.
    const close = typed !== undefined && editDistance(typed, suggestion) <= Math.max(1, typed.length >> 1);
    if (close) return new UsageError(`Unknown command '${typed}'. Did you mean '${suggestion}'?`);
    if (typed !== undefined) return new UsageError(`Unknown command '${typed}'`);
  }
  const unknown = /^Unknown arguments?: (.*)$/.exec(msg)?.[1]?.split(', ');
  if (unknown && words[0] !== undefined && unknown.includes(words[0]))
    return new UsageError(`Unknown command '${words[0]}'`);
  return new UsageError(msg);
}

/** Builds the yargs parser with every command registered (exported for tests and shell completion). */
export function buildCli(argv: readonly string[]) {
  const base = yargs([...argv])
    .scriptName('metatape')
    .usage('$0 <command> [options]\n\nMeta-learning (MAML and friends) experiments.')
    // The CLI's own messages are English; so are yargs' (and the parsing of them in usageErrorFor).
    .locale('en')
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
    // Every command, even one that logs nothing (ls, --dry-run), rejects a bad --log-level or
    // METATAPE_LOG_LEVEL, so that a typo is caught before the run that depends on it.
    .middleware((args) => {
      resolveLogLevel(args.logLevel as string | undefined);
    })
    .version(packageVersion())
    .alias('V', 'version')
    .help()
    .alias('h', 'help')
    .strict()
    .demandCommand(1, NO_COMMAND)
    .recommendCommands()
    .wrap(Math.min(110, process.stdout.columns ?? 110))
    // Throw instead of printing and exiting, so every error goes through one formatter and exit-code map.
    // Validation failures arrive as a message only; errors thrown by command handlers arrive as `err`.
    .fail((msg, err) => {
      throw err ?? usageErrorFor(msg, argv);
    })
    .exitProcess(false) as unknown as Argv<GlobalArgs>;
  const withCommands = [
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
    registerServe,
  ].reduce((y, register) => register(y), base);
  return withCommands.completion(
    'completion',
    'Print a bash completion script (zsh when $SHELL is zsh): source <(metatape completion)',
  );
}

/** Runs the CLI on `argv` (without `node` and script path) and returns the exit code. */
export async function runCli(argv: readonly string[]): Promise<number> {
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  // Loggers (here and in worker processes, which inherit it) keep error stacks on stderr only when verbose.
  if (verbose) process.env.METATAPE_VERBOSE = '1';
  try {
    await buildCli(argv).parseAsync();
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof NoCommandError) {
      // No command: the help, on stderr like yargs' own usage failures, and a failing exit status.
      process.stderr.write(`${await buildCli([]).getHelp()}\n`);
      return EXIT.failure;
    }
    process.stderr.write(`${formatError(err, verbose)}\n`);
    return exitCodeFor(err);
  }
}
