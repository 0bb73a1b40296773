import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');

/** What a smoke run left: its test metrics (timing and memory figures left out) and its JSON-lines log. */
export interface SmokeRun {
  results: Record<string, number>;
  log: string;
}

/**
 * The node arguments of `metatape run configs/sinusoid-fomaml-smoke.yaml --set <each of sets> --out <out>`
 * (its run folder: `<out>/sinusoid-smoke/<timestamp>`).
 */
export function smokeRunArgs(sets: readonly string[], out: string): string[] {
  return [
    join(root, 'bin/metatape.js'),
    'run',
    join(root, 'configs/sinusoid-fomaml-smoke.yaml'),
    ...sets.flatMap((s) => ['--set', s]),
    '--out',
    out,
  ];
}

/**
 * Runs `metatape run configs/sinusoid-fomaml-smoke.yaml` in a child process with `--set` overrides, in a
 * temporary output folder it removes after. `logLevel` (default error) is the run's METATAPE_LOG_LEVEL: what
 * its log.jsonl keeps. A run that hangs at exit (a worker keeping the process alive) fails after 120 s.
 */
export function smokeRun(sets: readonly string[], logLevel: 'error' | 'info' = 'error'): SmokeRun {
  const out = mkdtempSync(join(tmpdir(), 'metatape-smoke-'));
  try {
    execFileSync(process.execPath, smokeRunArgs(sets, out), {
      cwd: root,
      stdio: 'ignore',
      timeout: 120_000,
      env: { ...process.env, METATAPE_LOG_LEVEL: logLevel },
    });
    const dir = join(out, 'sinusoid-smoke');
    const runDir = join(dir, readdirSync(dir)[0]!);
    const summary = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8'));
    const results = Object.fromEntries(
      Object.entries(summary.results as Record<string, number>).filter(([k]) => k.startsWith('test/')),
    );
    return { results, log: readFileSync(join(runDir, 'log.jsonl'), 'utf8') };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}
