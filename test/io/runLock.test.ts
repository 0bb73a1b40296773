import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { acquireRunLock, RUN_LOCK_FILE, RunLockedError } from '../../src/io/runLock.js';

const fresh = () => mkdtempSync(join(tmpdir(), 'mt-lock-'));

describe('run folder lock', () => {
  it('is exclusive while held and gone after release', async () => {
    const dir = fresh();
    const lock = await acquireRunLock(dir, 'run');
    const second = await acquireRunLock(dir, 'eval').catch((e: unknown) => e);
    expect(second).toBeInstanceOf(RunLockedError);
    expect((second as Error).message).toMatch(
      new RegExp(
        `^${dir} is in use by process ${process.pid} \\(run since .*\\); wait for it to finish or stop it first$`,
      ),
    );
    await lock.release();
    expect(existsSync(join(dir, RUN_LOCK_FILE))).toBe(false);
    await (await acquireRunLock(dir, 'eval')).release();
  });

  it('takes over the lock of a dead process and says whose it was', async () => {
    const dir = fresh();
    const deadPid = spawnSync('true').pid!;
    const stale = {
      pid: deadPid,
      host: (await import('node:os')).hostname(),
      purpose: 'run',
      since: 'then',
      token: 'x',
    };
    writeFileSync(join(dir, RUN_LOCK_FILE), JSON.stringify(stale));
    const lock = await acquireRunLock(dir, 'resume');
    expect(lock.tookOverFrom).toEqual(stale);
    expect(JSON.parse(readFileSync(join(dir, RUN_LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('never takes over a lock from another host, and says how to clear it', async () => {
    const dir = fresh();
    const other = { pid: 1, host: 'elsewhere', purpose: 'run', since: 'then', token: 'x' };
    writeFileSync(join(dir, RUN_LOCK_FILE), JSON.stringify(other));
    const err = await acquireRunLock(dir, 'run').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunLockedError);
    expect((err as Error).message).toContain(`on host elsewhere`);
    expect((err as Error).message).toContain(`delete ${join(dir, RUN_LOCK_FILE)}`);
  });

  it('two `metatape run --run-dir D` at once: the second exits 2 naming the first', async () => {
    const root = fresh();
    const config = join(root, 'c.yaml');
    writeFileSync(
      config,
      'name: lock\ndata: {kind: sinusoid}\nmodel: {kind: mlp, hidden: [8]}\ntrainer: {iterations: 100000, metaBatchSize: 2}\nlogging: {every: 10}\n',
    );
    const dir = join(root, 'run');
    const env = { ...process.env, METATAPE_BACKEND: '', METATAPE_LOG_LEVEL: 'warn' };
    const first = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'run', config, '--run-dir', dir],
      {
        env,
        stdio: 'ignore',
      },
    );
    const exited = new Promise((r) => first.on('exit', r));
    try {
      while (!existsSync(join(dir, 'status.json'))) await sleep(20);
      const second = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'run', config, '--run-dir', dir],
        { env, encoding: 'utf8' },
      );
      expect(second.status, second.stderr).toBe(2);
      expect(second.stderr).toMatch(
        new RegExp(`RunLockedError: ${dir} is in use by process ${first.pid} \\(run since`),
      );
      expect(second.stderr).not.toMatch(/\n\s+at /);
    } finally {
      first.kill('SIGKILL');
      await exited;
    }
  });
});
