import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kernelThreadsUnavailable } from '../../src/backends/cpu/kernelThreads.js';

const root = resolve(import.meta.dirname, '../..');

/** The test metrics of a smoke run with `threads` threads used as `parallelism` says. */
function run(threads: number, parallelism: 'tasks' | 'kernels' = 'tasks'): Record<string, number> {
  const out = mkdtempSync(join(tmpdir(), 'metatape-threads-'));
  try {
    execFileSync(
      process.execPath,
      [
        join(root, 'bin/metatape.js'),
        'run',
        join(root, 'configs/sinusoid-fomaml-smoke.yaml'),
        '--set',
        `trainer.threads=${threads}`,
        '--set',
        `trainer.parallelism=${parallelism}`,
        '--set',
        'trainer.order=2',
        '--out',
        out,
      ],
      // A hang at exit (a worker keeping the process alive) fails here instead of stalling the suite.
      { cwd: root, stdio: 'ignore', timeout: 120_000, env: { ...process.env, METATAPE_LOG_LEVEL: 'error' } },
    );
    const dir = join(out, 'sinusoid-smoke');
    const summary = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]!, 'summary.json'), 'utf8'));
    const results = summary.results as Record<string, number>;
    return Object.fromEntries(Object.entries(results).filter(([k]) => k.startsWith('test/')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const noKernels = kernelThreadsUnavailable();

describe('metatape run with trainer.threads', () => {
  it.each([
    ['tasks', ''],
    ['kernels', noKernels ? `(skipped: ${noKernels})` : ''],
  ] as const)(
    'parallelism %s: the same numbers twice with 2 threads, and 1 thread agrees up to float rounding %s',
    (parallelism, skipped) => {
      if (skipped) return;
      const a = run(2, parallelism);
      const b = run(2, parallelism);
      const one = run(1);
      expect(Object.keys(a).length).toBeGreaterThan(4);
      expect(b).toEqual(a);
      expect(Object.keys(one).sort()).toEqual(Object.keys(a).sort());
      // 50 Adam steps on float32 meta-gradients that differ in summation order only.
      for (const [k, v] of Object.entries(one))
        expect(Math.abs(a[k]! - v)).toBeLessThan(1e-3 * Math.max(1, Math.abs(v)));
    },
  );

  it('exits by itself when a pool is never closed', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'test/meta/threadsExit.ts')], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(Number.isFinite(Number(out.trim()))).toBe(true);
  });
});
