import cliProgress from 'cli-progress';
import type { Logger } from './logger.js';

/** Reports training progress; the trainer calls {@link Progress.update} once per iteration. */
export interface Progress {
  /** Marks `iteration` (1-based, out of `total`) as done, with optional metrics to show. */
  update(iteration: number, fields?: Record<string, number | string>): void;
  /** Ends the report (clears the bar / logs a final line). Safe to call twice. */
  stop(): void;
}

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  total: number;
  /** What is being counted, e.g. `meta-train`. */
  label?: string;
  /** Non-TTY mode logs through this logger (as `info`). */
  logger?: Pick<Logger, 'info'>;
  /** Stream the bar is drawn on (default stderr); its `isTTY` picks the mode unless `tty` is given. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  tty?: boolean;
  /** Non-TTY mode: log every this many iterations (default: about 20 lines per run, at least every 1). */
  every?: number;
  /** Iteration the run starts after (resume), so rates and ETA count only this session's work. */
  startAt?: number;
  /** Clock in milliseconds (for tests). */
  now?: () => number;
}

/** `1h02m`, `3m05s`, `42s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(sec).padStart(2, '0')}s`;
  return `${sec}s`;
}

function formatField(v: number | string): string {
  if (typeof v === 'string') return v;
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(3) : v.toFixed(4);
}

/**
 * A progress bar on a terminal; periodic plain log lines elsewhere (CI has no TTY, and a redrawn bar turns
 * into thousands of lines in a log file). Each line carries it/s and an ETA.
 */
export function createProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? Boolean(stream.isTTY);
  return tty ? barProgress(options, stream) : lineProgress(options);
}

function lineProgress(o: ProgressOptions): Progress {
  const now = o.now ?? Date.now;
  const every = o.every ?? Math.max(1, Math.round(o.total / 20));
  const start = o.startAt ?? 0;
  const t0 = now();
  let last = start;
  let stopped = false;
  const log = o.logger ?? { info: (msg: string) => process.stderr.write(`${msg}\n`) };
  const report = (iteration: number, fields: Record<string, number | string>) => {
    last = iteration;
    const elapsed = (now() - t0) / 1000;
    const done = iteration - start;
    const itPerSec = elapsed > 0 ? done / elapsed : 0;
    const eta = itPerSec > 0 ? (o.total - iteration) / itPerSec : Number.NaN;
    const pct = o.total > 0 ? (100 * iteration) / o.total : 100;
    const extras = Object.entries(fields)
      .map(([k, v]) => ` ${k}=${formatField(v)}`)
      .join('');
    const msg = `${o.label ?? 'progress'} ${iteration}/${o.total} (${pct.toFixed(1)}%) ${itPerSec.toFixed(2)} it/s ETA ${formatDuration(eta)}${extras}`;
    (log.info as (obj: object, msg: string) => void).call(
      log,
      { iteration, total: o.total, itPerSec, etaSeconds: Number.isFinite(eta) ? eta : null, ...fields },
      msg,
    );
  };
  let latest = start;
  let latestFields: Record<string, number | string> = {};
  return {
    update(iteration, fields = {}) {
      if (stopped) return;
      latest = iteration;
      latestFields = fields;
      if (iteration === o.total || iteration - last >= every || iteration === start + 1)
        report(iteration, fields);
    },
    stop() {
      if (stopped) return;
      stopped = true;
      // An interrupted run still gets a line saying how far it got.
      if (latest > last) report(latest, latestFields);
    },
  };
}

function barProgress(o: ProgressOptions, stream: NodeJS.WritableStream): Progress {
  const keys: string[] = [];
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: `${o.label ?? 'progress'} {bar} {percentage}% | {value}/{total} | {speed} it/s | ETA {eta_formatted}{extra}`,
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const now = o.now ?? Date.now;
  const start = o.startAt ?? 0;
  const t0 = now();
  bar.start(o.total, start, { speed: '0.00', extra: '' });
  let stopped = false;
  return {
    update(iteration, fields = {}) {
      if (stopped) return;
      for (const k of Object.keys(fields)) if (!keys.includes(k)) keys.push(k);
      const elapsed = (now() - t0) / 1000;
      const speed = elapsed > 0 ? ((iteration - start) / elapsed).toFixed(2) : '0.00';
      const extra = keys
        .map((k) => (fields[k] === undefined ? '' : ` | ${k} ${formatField(fields[k]!)}`))
        .join('');
      bar.update(iteration, { speed, extra });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar.stop();
    },
  };
}
