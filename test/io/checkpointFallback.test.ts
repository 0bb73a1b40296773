import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CheckpointError, saveCheckpoint } from '../../src/io/checkpoint.js';
import { newestGoodCheckpoint, prepareCheckpointPath } from '../../src/io/checkpointFiles.js';

async function runWithCheckpoints(iterations: number[]): Promise<{ dir: string; paths: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'mt-ckpt-fallback-'));
  const paths: string[] = [];
  for (const iteration of iterations) {
    const path = await prepareCheckpointPath(dir, iteration);
    await saveCheckpoint(
      path,
      { iteration, configHash: 'h', rng: {} },
      {
        w: { shape: [3], dtype: 'float32', data: Float32Array.from([iteration, 2, 3]) },
      },
    );
    paths.push(path);
  }
  return { dir, paths };
}

const damage: Record<string, (bytes: Buffer) => Buffer> = {
  truncated: (b) => b.subarray(0, b.length - 5),
  'one byte flipped': (b) => {
    const c = Buffer.from(b);
    c[c.length - 1]! ^= 0x01;
    return c;
  },
  empty: () => Buffer.alloc(0),
};

describe('newestGoodCheckpoint', () => {
  for (const [how, f] of Object.entries(damage)) {
    it(`falls back past a ${how} newest checkpoint and says why`, async () => {
      const { dir, paths } = await runWithCheckpoints([20, 40, 60]);
      writeFileSync(paths[2]!, f(readFileSync(paths[2]!)));
      const choice = await newestGoodCheckpoint(dir);
      expect(choice?.iteration).toBe(40);
      expect(choice?.path).toBe(paths[1]);
      expect(choice?.skipped).toHaveLength(1);
      expect(choice?.skipped[0]?.path).toBe(paths[2]);
      expect(choice?.skipped[0]?.reason).toMatch(/truncated|corrupt|not a metatape checkpoint|not zero/);
    });
  }

  it('removes the temporary files of dead writers and keeps a live one', async () => {
    const { dir, paths } = await runWithCheckpoints([20]);
    const deadPid = spawnSync('true').pid;
    const dead = join(dir, 'checkpoints', `.iter-0000040.ckpt.${deadPid}.0badc0de.tmp`);
    const live = join(dir, 'checkpoints', `.iter-0000040.ckpt.${process.pid}.0badc0de.tmp`);
    writeFileSync(dead, 'partial');
    writeFileSync(live, 'partial');
    const choice = await newestGoodCheckpoint(dir);
    expect(choice?.path).toBe(paths[0]);
    expect(choice?.removedTemporaries).toEqual([dead]);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });

  it('names every checkpoint and why when none verifies; undefined when there are none', async () => {
    const { dir, paths } = await runWithCheckpoints([20, 40]);
    for (const p of paths) writeFileSync(p, 'garbage');
    const err = await newestGoodCheckpoint(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toContain(paths[0]);
    expect((err as Error).message).toContain(paths[1]);
    expect((err as Error).message).toMatch(/no checkpoint verifies/);
    expect(await newestGoodCheckpoint(mkdtempSync(join(tmpdir(), 'mt-ckpt-none-')))).toBeUndefined();
  });
});
