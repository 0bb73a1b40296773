import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';

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
