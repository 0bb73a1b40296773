import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import pino from 'pino';
import PinoPretty from 'pino-pretty';

/** The logger type used throughout metatape (a pino logger). */
export type Logger = pino.Logger;

/** Levels accepted by `--log-level` and `METATAPE_LOG_LEVEL`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** A log level name. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Level; default `METATAPE_LOG_LEVEL`, else `info`. */
  level?: string;
  /** Also write JSON lines to this file (the run folder's `log.jsonl`); created with its folder. */
  file?: string;
  /** Where human-facing output goes (default `process.stderr`). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  /** Pretty output instead of JSON lines on `stream`; default: when `stream` is a TTY. */
  pretty?: boolean;
  /** Fields bound to every line (e.g. `{run: 'sine/2025-...'}`). */
  base?: Record<string, unknown>;
  /**
   * Keep error stacks in the human output; default: when `METATAPE_VERBOSE=1` (the CLI's `--verbose` sets
   * it). The JSON lines in `file` always keep them, for tools.
   */
  stacks?: boolean;
}

/** Removes `stack` from an error record and its causes (a person reads the one-line message instead). */
function dropStacks(err: unknown): void {
  for (
    let e = err as Record<string, unknown> | undefined, depth = 0;
    e && typeof e === 'object' && depth < 8;
    depth++
  ) {
    delete e.stack;
    e = e.cause as Record<string, unknown> | undefined;
  }
}

/** A stream in front of `next` that drops error stacks from each JSON line pino writes to it. */
function withoutStacks(next: NodeJS.WritableStream): NodeJS.WritableStream {
  const forward = (line: string): void => {
    if (!line.includes('"stack"')) {
      next.write(line);
      return;
    }
    try {
      const record = JSON.parse(line) as Record<string, unknown>;
      dropStacks(record.err);
      next.write(`${JSON.stringify(record)}\n`);
    } catch {
      next.write(line); // not one JSON line: pass it on unchanged
    }
  };
  return {
    write: (chunk: string | Uint8Array) => {
      forward(String(chunk));
      return true;
    },
  } as unknown as NodeJS.WritableStream;
}

/** Thrown when a log level name is not one of {@link LOG_LEVELS}. */
export class LogLevelError extends Error {
  override readonly name = 'LogLevelError';
}

/** Resolves the level from an explicit option, then `METATAPE_LOG_LEVEL`, then `info`. */
export function resolveLogLevel(level?: string, env: NodeJS.ProcessEnv = process.env): LogLevel {
  // An empty variable counts as unset, as shells and env files leave it.
  const chosen = (level ?? (env.METATAPE_LOG_LEVEL || 'info')).toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(chosen)) {
    const from = level !== undefined ? 'log level' : 'METATAPE_LOG_LEVEL';
    throw new LogLevelError(
      `${from}: got ${JSON.stringify(chosen)}; expected one of ${LOG_LEVELS.join(', ')}`,
    );
  }
  return chosen as LogLevel;
}

/**
 * Creates the logger: JSON lines to `file` (if given) plus human output on stderr, pretty when stderr is a
 * terminal and JSON lines otherwise (CI logs stay machine-readable). Writes are synchronous so nothing is lost
 * when the process exits right after an error.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = resolveLogLevel(options.level);
  const stream = options.stream ?? process.stderr;
  const pretty = options.pretty ?? Boolean(stream.isTTY);
  // multistream has no 'silent'; the logger's own level already drops everything in that case.
  const streamLevel: pino.Level = level === 'silent' ? 'fatal' : level;
  const human = pretty
    ? PinoPretty({
        destination: stream,
        colorize: Boolean(stream.isTTY),
        sync: true,
        translateTime: 'HH:MM:ss',
        // The end-of-run records (the run's summary and results, ~45 lines each when pretty-printed) stay
        // in log.jsonl; a terminal gets their one-line message and the summary tables the CLI prints.
        ignore: 'pid,hostname,summary,results',
      })
    : stream;
  const stacks = options.stacks ?? process.env.METATAPE_VERBOSE === '1';
  const streams: pino.StreamEntry[] = [{ level: streamLevel, stream: stacks ? human : withoutStacks(human) }];
  if (options.file) {
    mkdirSync(dirname(options.file), { recursive: true });
    streams.push({
      level: streamLevel,
      stream: pino.destination({ dest: options.file, sync: true, append: true }),
    });
  }
  return pino(
    { level, base: options.base ?? null, timestamp: pino.stdTimeFunctions.isoTime },
    pino.multistream(streams),
  );
}
