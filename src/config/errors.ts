/** One thing wrong with a config, located as precisely as we can. */
export interface ConfigProblem {
  /** Where the bad value came from: the config file, or the `--set ...` / env override that set it. */
  source: string;
  /** Dotted field path (`trainer.order`, `eval.steps.1`), empty for the document root. */
  path: string;
  /** `got <value>; expected <what is allowed>`, or another one-line explanation. */
  detail: string;
  /** 1-based line in the config file, when the value came from the file. */
  line?: number;
}

/** Formats a problem as `<source>: <path>: <detail> (line N)` (no path part for whole-file problems). */
export function formatProblem(p: ConfigProblem): string {
  const where = p.path === '' ? '' : `${p.path}: `;
  return `${p.source}: ${where}${p.detail}${p.line !== undefined ? ` (line ${p.line})` : ''}`;
}

/**
 * The config could not be loaded: unreadable file, YAML syntax error, bad `--set` override or invalid value.
 * The message lists every problem found, one per line, so a user can fix them all in one go.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /**
   * @param problems the problems to report (at most {@link MAX_REPORTED_PROBLEMS} are listed).
   * @param total how many problems were found in all (the message counts those not listed).
   */
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
    readonly total: number = problems.length,
  ) {
    const listed = problems.slice(0, MAX_REPORTED_PROBLEMS);
    const rest = Math.max(total, problems.length) - listed.length;
    super(
      [
        ...listed.map(formatProblem),
        ...(rest > 0
          ? [`${file}: ... and ${rest} more problem${rest === 1 ? '' : 's'} (fix these first)`]
          : []),
      ].join('\n'),
    );
  }
}

/**
 * How many problems one error lists. A hostile or generated config can have millions; listing them all
 * made a 1 MB config print 2 MB of errors, and locating each one costs time.
 */
export const MAX_REPORTED_PROBLEMS = 20;

/** The largest config file accepted, in bytes: real configs are a few KB; parsing is bounded by this. */
export const MAX_CONFIG_BYTES = 1 << 20;

/**
 * The command line is wrong (bad flag combination, unknown run name...); the CLI exits with its usage code.
 * It lives below the CLI so that library modules (`compare`) can throw it without importing `cli`.
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
