import { ConfigError, UsageError } from '../config/errors.js';
import { RunFolderError } from '../io/runFolder.js';
import { RunLockedError } from '../io/runLock.js';
import { LogLevelError } from '../log/logger.js';

/** Process exit codes of the CLI. */
export const EXIT = {
  ok: 0,
  /** Something failed while doing the work (I/O, training, a missing module). */
  failure: 1,
  /** The command line or config was wrong; nothing was run. */
  usage: 2,
  /** Stopped by Ctrl-C / SIGTERM (128 + SIGINT), after saving what could be saved. */
  interrupted: 130,
} as const;

/** The command line is wrong; exits with {@link EXIT.usage} (defined in `config/errors.ts`, below the library). */
export { UsageError };

/** Exit code for an error thrown by a command. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError || err instanceof ConfigError || err instanceof LogLevelError)
    return EXIT.usage;
  // A bad run name or folder is something the user typed.
  if (err instanceof RunFolderError) return EXIT.usage;
  // Another process holds the run folder: the command asked for a folder in use.
  if (err instanceof RunLockedError) return EXIT.usage;
  if (err instanceof Error && err.name === 'DataConfigError') return EXIT.usage;
  // A folder given to compare/report that is not a comparison, or holds a different one.
  if (err instanceof Error && err.name === 'ComparisonError') return EXIT.usage;
  return EXIT.failure;
}

/** The error as shown to the user: its message (all lines for config errors), plus the stack with `--verbose`. */
export function formatError(err: unknown, verbose: boolean): string {
  if (!(err instanceof Error)) return `error: ${String(err)}`;
  const body =
    err instanceof ConfigError
      ? `${err.problems.length === 1 ? 'config error: ' : `${err.problems.length} config errors:\n`}${err.message}`
      : err instanceof UsageError
        ? `error: ${err.message} (see metatape --help)`
        : `${err.name === 'Error' ? 'error' : err.name}: ${err.message}`;
  if (!verbose) return body;
  const cause = err.cause instanceof Error ? `\ncaused by: ${err.cause.stack ?? err.cause.message}` : '';
  return `${body}\n${err.stack ?? ''}${cause}`;
}
