import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { VARIANTS_DIR } from '../compare/collect.js';
import { readStatus } from '../io/runFolder.js';

/** A comparison folder found under the root of runs. */
export interface ComparisonInfo {
  dir: string;
  variants: number;
  completed: number;
  running: number;
  /** Whether `report.md` has been written. */
  reported: boolean;
}

async function dirs(path: string): Promise<string[]> {
  try {
    return (await readdir(path, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

async function inspect(dir: string): Promise<ComparisonInfo | undefined> {
  const names = await dirs(join(dir, VARIANTS_DIR));
  if (names.length === 0) return undefined;
  const states = await Promise.all(
    names.map(async (n) => (await readStatus(join(dir, VARIANTS_DIR, n)))?.state),
  );
  const reported = (await stat(join(dir, 'report.md')).catch(() => undefined)) !== undefined;
  return {
    dir: resolve(dir),
    variants: names.length,
    completed: states.filter((s) => s === 'completed').length,
    running: states.filter((s) => s === 'running').length,
    reported,
  };
}

/**
 * Comparison folders under `outDir`: `<out>/<name>/variants/` (an explicit `--dir`) and
 * `<out>/<name>/<timestamp>/variants/` (the default layout), newest last.
 */
export async function listComparisons(outDir: string): Promise<ComparisonInfo[]> {
  const found: ComparisonInfo[] = [];
  for (const name of await dirs(outDir)) {
    const top = await inspect(join(outDir, name));
    if (top) found.push(top);
    for (const ts of await dirs(join(outDir, name))) {
      if (ts === VARIANTS_DIR) continue;
      const c = await inspect(join(outDir, name, ts));
      if (c) found.push(c);
    }
  }
  return found;
}
