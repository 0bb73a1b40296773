import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { kernelThreadsUnavailable } from '../../src/backends/cpu/kernelThreads.js';
import { smokeRun } from './smokeRun.js';

const root = resolve(import.meta.dirname, '../..');

/** The test metrics of a smoke run with `threads` threads used as `parallelism` says. */
function run(threads: number, parallelism: 'tasks' | 'kernels' = 'tasks'): Record<string, number> {
  return smokeRun([`trainer.threads=${threads}`, `trainer.parallelism=${parallelism}`, 'trainer.order=2'])
    .results;
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
