import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  createRunFolder,
  listRuns,
  readRunConfig,
  readStatus,
  resolveRunDir,
  runTimestamp,
  writeResolvedConfig,
  writeStatus,
} from '../../src/io/runFolder.js';

describe('run folders', () => {
  it('makes filesystem-safe, unique timestamped folders', async () => {
    expect(runTimestamp(new Date('2025-11-26T10:31:05.123Z'))).toBe('2025-11-26T10-31-05Z');
    const out = mkdtempSync(join(tmpdir(), 'mt-runs-'));
    const now = new Date('2025-11-26T10:31:05Z');
    const a = await createRunFolder(out, 'sine', now);
    const b = await createRunFolder(out, 'sine', now);
    expect(a.dir).toBe(join(out, 'sine', '2025-11-26T10-31-05Z'));
    expect(b.timestamp).toBe('2025-11-26T10-31-05Z-2');
    await expect(createRunFolder(out, '../escape')).rejects.toThrow(/run name/);
  });

  it('writes config and status, and lists runs newest first', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mt-runs-'));
    mkdirSync(join(out, 'seed')); // unrelated folders are ignored
    const old = await createRunFolder(out, 'sine', new Date('2025-01-01T00:00:00Z'));
    const recent = await createRunFolder(out, 'omni', new Date('2025-06-01T00:00:00Z'));
    await writeResolvedConfig(old.dir, { name: 'sine', trainer: { iterations: 10 } });
    expect(readFileSync(join(old.dir, 'config.yaml'), 'utf8')).toMatch(
      /name: sine\ntrainer:\n {2}iterations: 10/,
    );
    expect(await readRunConfig(old.dir)).toEqual({ name: 'sine', trainer: { iterations: 10 } });
    const s = await writeStatus(old.dir, { state: 'running', iteration: 0, iterations: 10 });
    await writeStatus(old.dir, {
      state: 'completed',
      iteration: 10,
      iterations: 10,
      headline: { metric: 'mse', value: 0.1 },
    });
    const status = await readStatus(old.dir);
    expect(status).toMatchObject({
      state: 'completed',
      startedAt: s.startedAt,
      headline: { metric: 'mse', value: 0.1 },
    });
    await writeStatus(recent.dir, { state: 'running', iteration: 1 });
    const runs = await listRuns(out);
    expect(runs.map((r) => r.name)).toEqual(['omni', 'sine']);
    expect(runs[0]!.stale).toBe(false); // this process is alive
    expect((await listRuns(out, { name: 'sine' })).map((r) => r.dir)).toEqual([old.dir]);
    expect(await resolveRunDir(out, 'sine')).toBe(old.dir);
    expect(await resolveRunDir(out, old.dir)).toBe(old.dir);
    expect(await resolveRunDir(out, `omni/${recent.timestamp}`)).toBe(recent.dir);
    await expect(resolveRunDir(out, 'nothing')).rejects.toThrow(/no run found for 'nothing'/);
  });
});
