import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { RunExperiment } from '../../src/cli/contracts.js';
import { executeRun } from '../../src/cli/session.js';
import { parseConfigText } from '../../src/config/load.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/io/checkpoint.js';
import { readRunMetrics } from '../../src/io/metrics.js';
import { readStatus } from '../../src/io/runFolder.js';

const sink = () => new Writable({ write: (_c, _e, cb) => cb() });

function config(out: string) {
  return parseConfigText(
    `name: fake\ndata: {kind: sinusoid}\nmodel: {kind: mlp}\ntrainer: {iterations: 4}\nlogging: {every: 1, checkpointEvery: 2}\noutput: {dir: ${JSON.stringify(out)}}\n`,
    'fake.yaml',
  );
}

/** A stand-in trainer that exercises the whole context without any math. */
const fakeTrainer: RunExperiment = async (ctx) => {
  const start = ctx.resumeFrom?.iteration ?? 0;
  if (ctx.resumeFrom) await loadCheckpoint(ctx.resumeFrom.checkpointPath, { configHash: ctx.configHash });
  const progress = ctx.createProgress({ total: ctx.config.trainer.iterations, startAt: start, tty: false });
  for (let it = start + 1; it <= ctx.config.trainer.iterations; it++) {
    ctx.metrics.append({ iteration: it, metaLoss: 1 / it });
    progress.update(it);
    if (it % ctx.config.logging.checkpointEvery === 0) {
      await saveCheckpoint(
        await ctx.checkpointPath(it),
        { iteration: it, configHash: ctx.configHash, rng: {} },
        {},
      );
      await ctx.metrics.flush();
      await ctx.reportStatus({ iteration: it });
    }
  }
  progress.stop();
  return {
    iteration: ctx.config.trainer.iterations,
    interrupted: false,
    headline: { metric: 'metaLoss', value: 0.25 },
  };
};

describe('executeRun', () => {
  it('creates the run folder, records status and metrics around the trainer', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mt-session-'));
    const { run, summary } = await executeRun(config(out), { trainer: fakeTrainer, logStream: sink() });
    expect(summary.headline?.value).toBe(0.25);
    expect(await readStatus(run.dir)).toMatchObject({
      state: 'completed',
      iteration: 4,
      iterations: 4,
      headline: { metric: 'metaLoss' },
    });
    expect((await readRunMetrics(run.dir)).iteration).toEqual([1, 2, 3, 4]);
    expect(JSON.parse(readFileSync(join(run.dir, 'config.json'), 'utf8')).name).toBe('fake');
    expect(readFileSync(join(run.dir, 'log.jsonl'), 'utf8')).toContain('run completed');
  });

  it('marks a failing run as failed and rethrows', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mt-session-'));
    let dir = '';
    const boom: RunExperiment = async (ctx) => {
      dir = ctx.run.dir;
      ctx.metrics.append({ iteration: 1, metaLoss: 1 });
      throw new Error('loss is NaN\nmore detail');
    };
    await expect(executeRun(config(out), { trainer: boom, logStream: sink() })).rejects.toThrow(
      /loss is NaN/,
    );
    expect(await readStatus(dir)).toMatchObject({ state: 'failed', message: 'loss is NaN' });
    expect((await readRunMetrics(dir)).iteration).toEqual([1]);
  });

  it('resumes in the same folder from a checkpoint', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mt-session-'));
    const first = await executeRun(config(out), { trainer: fakeTrainer, logStream: sink() });
    const resumed = await executeRun(
      { ...config(out), trainer: { ...config(out).trainer, iterations: 6 } },
      {
        trainer: fakeTrainer,
        logStream: sink(),
        existing: first.run,
        resumeFrom: { checkpointPath: join(first.run.dir, 'checkpoints', 'iter-0000002.ckpt'), iteration: 2 },
      },
    );
    expect(resumed.run.dir).toBe(first.run.dir);
    expect((await readRunMetrics(first.run.dir)).iteration).toEqual([1, 2, 3, 4, 5, 6]);
  });
});
