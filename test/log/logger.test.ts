import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, resolveLogLevel } from '../../src/log/logger.js';
import { createProgress, formatDuration } from '../../src/log/progress.js';

function capture(isTTY = false): Writable & { text: () => string; isTTY: boolean } {
  const chunks: string[] = [];
  const w = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  }) as Writable & { text: () => string; isTTY: boolean };
  w.text = () => chunks.join('');
  w.isTTY = isTTY;
  return w;
}

describe('logger', () => {
  it('writes JSON lines to the stream and the run log file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-log-'));
    const stream = capture();
    const file = join(dir, 'run', 'log.jsonl');
    const logger = createLogger({ stream, file, level: 'debug', base: { run: 'sine/1' } });
    logger.info({ iteration: 5 }, 'hello');
    logger.debug('details');
    logger.trace('dropped');
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.msg)).toEqual(['hello', 'details']);
    expect(lines[0]).toMatchObject({ level: 30, run: 'sine/1', iteration: 5 });
    expect(JSON.parse(stream.text().split('\n')[0]!)).toMatchObject({ msg: 'hello' });
  });

  it('is pretty when asked (or on a TTY)', () => {
    const stream = capture(true);
    createLogger({ stream, pretty: true }).warn({ a: 1 }, 'careful');
    expect(stream.text()).toContain('careful');
    expect(() => JSON.parse(stream.text())).toThrow();
  });

  it('takes the level from the option, then METATAPE_LOG_LEVEL', () => {
    expect(resolveLogLevel(undefined, {})).toBe('info');
    expect(resolveLogLevel(undefined, { METATAPE_LOG_LEVEL: 'DEBUG' })).toBe('debug');
    expect(resolveLogLevel('warn', { METATAPE_LOG_LEVEL: 'debug' })).toBe('warn');
    expect(() => resolveLogLevel(undefined, { METATAPE_LOG_LEVEL: 'loud' })).toThrow(
      /METATAPE_LOG_LEVEL: got "loud"/,
    );
  });
});

describe('progress', () => {
  it('logs periodic lines with it/s and ETA when not on a TTY', () => {
    const lines: { obj: Record<string, unknown>; msg: string }[] = [];
    const logger = { info: (obj: Record<string, unknown>, msg: string) => lines.push({ obj, msg }) };
    let t = 0;
    const p = createProgress({
      total: 100,
      label: 'meta-train',
      every: 25,
      tty: false,
      logger: logger as never,
      now: () => t,
    });
    for (let i = 1; i <= 60; i++) {
      t += 100; // 10 it/s
      p.update(i, { metaLoss: 0.5 });
    }
    p.stop();
    expect(lines.map((l) => l.obj.iteration)).toEqual([1, 26, 51, 60]);
    expect(lines[2]!.msg).toBe('meta-train 51/100 (51.0%) 10.00 it/s ETA 5s metaLoss=0.5000');
    expect(lines[2]!.obj).toMatchObject({ itPerSec: 10, etaSeconds: 4.9, metaLoss: 0.5 });
  });

  it('draws a bar on a TTY', () => {
    const stream = capture(true);
    const p = createProgress({ total: 10, stream, label: 'train' });
    for (let i = 1; i <= 10; i++) p.update(i, { loss: 1 / i });
    p.stop();
    expect(stream.text()).toContain('train');
    expect(stream.text()).toContain('10/10');
  });

  it('formats durations', () => {
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(3720)).toBe('1h02m');
    expect(formatDuration(Number.NaN)).toBe('?');
  });
});

describe('error records', () => {
  const failure = () => new Error('disk full: /data/run/metrics.arrow', { cause: new Error('ENOSPC') });
  for (const pretty of [false, true]) {
    it(`show no stack on the human stream unless verbose (${pretty ? 'pretty' : 'JSON lines'}); the file keeps it`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'mt-log-err-'));
      const quiet = capture();
      const file = join(dir, 'log.jsonl');
      createLogger({ stream: quiet, file, pretty, stacks: false }).error({ err: failure() }, 'run failed');
      expect(quiet.text()).toContain('disk full: /data/run/metrics.arrow');
      expect(quiet.text()).not.toMatch(/(\n|\\n)\s+at /); // a raw or a JSON-escaped stack line
      const record = JSON.parse(readFileSync(file, 'utf8').trim());
      expect(record.err.stack).toMatch(/\n\s+at /);
      const verbose = capture();
      createLogger({ stream: verbose, pretty, stacks: true }).error({ err: failure() }, 'run failed');
      expect(verbose.text()).toMatch(/(\n|\\n)\s+at /);
    });
  }
});
