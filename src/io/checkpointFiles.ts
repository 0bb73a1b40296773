import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { removeStaleTemporaries } from './atomic.js';
import { CheckpointError, loadCheckpoint } from './checkpoint.js';

/** Sub-folder of a run folder that holds checkpoints. */
export const CHECKPOINT_DIR = 'checkpoints';

const PATTERN = /^iter-(\d+)\.ckpt$/;

/** Path of the checkpoint for `iteration` (zero-padded so `ls` sorts them in order). */
export function checkpointPath(runDir: string, iteration: number): string {
  return join(runDir, CHECKPOINT_DIR, `iter-${String(iteration).padStart(7, '0')}.ckpt`);
}

/** Creates the checkpoint folder of a run if needed and returns the path for `iteration`. */
export async function prepareCheckpointPath(runDir: string, iteration: number): Promise<string> {
  await mkdir(join(runDir, CHECKPOINT_DIR), { recursive: true });
  return checkpointPath(runDir, iteration);
}

/** Checkpoints of a run, oldest first. */
export async function listCheckpoints(runDir: string): Promise<{ iteration: number; path: string }[]> {
  let names: string[];
  try {
    names = await readdir(join(runDir, CHECKPOINT_DIR));
  } catch {
    return [];
  }
  return names
    .map((n) => ({ m: PATTERN.exec(n), n }))
    .filter((x): x is { m: RegExpExecArray; n: string } => x.m !== null)
    .map(({ m, n }) => ({ iteration: Number(m[1]), path: join(runDir, CHECKPOINT_DIR, n) }))
    .sort((a, b) => a.iteration - b.iteration);
}

/** The newest checkpoint of a run, or undefined when it has none. */
export async function latestCheckpoint(
  runDir: string,
): Promise<{ iteration: number; path: string } | undefined> {
  return (await listCheckpoints(runDir)).at(-1);
}

/** The checkpoint to resume from, and the newer ones that failed verification. */
export interface CheckpointChoice {
  iteration: number;
  path: string;
  /** Newer checkpoints that were skipped, newest first, each with why (truncated, checksum, ...). */
  skipped: { path: string; reason: string }[];
  /** Temporary files of killed checkpoint writes that were removed. */
  removedTemporaries: string[];
}

/**
 * The newest checkpoint of a run that reads back and verifies (every array's sha256), falling back past
 * damaged ones (truncated, a flipped byte, empty) instead of failing on them, and removing the temporary
 * files that a kill during a checkpoint write left behind. Undefined when the run has no checkpoint at all.
 *
 * @throws CheckpointError when checkpoints exist but none verifies, listing each one and why.
 */
export async function newestGoodCheckpoint(runDir: string): Promise<CheckpointChoice | undefined> {
  const removedTemporaries = await removeStaleTemporaries(join(runDir, CHECKPOINT_DIR));
  const all = await listCheckpoints(runDir);
  const skipped: CheckpointChoice['skipped'] = [];
  for (const c of [...all].reverse()) {
    try {
      await loadCheckpoint(c.path);
      return { ...c, skipped, removedTemporaries };
    } catch (err) {
      if (!(err instanceof CheckpointError)) throw err;
      skipped.push({ path: c.path, reason: err.message.slice(c.path.length + 2) });
    }
  }
  if (all.length === 0) return undefined;
  throw new CheckpointError(
    join(runDir, CHECKPOINT_DIR),
    `no checkpoint verifies (${skipped.map((s) => `${s.path}: ${s.reason}`).join('; ')}); start the run again with 'metatape run'`,
  );
}
