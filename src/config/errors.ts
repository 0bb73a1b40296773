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
  constructor(
    readonly file: string,
    readonly problems: ConfigProblem[],
  ) {
    super(problems.map(formatProblem).join('\n'));
  }
}
