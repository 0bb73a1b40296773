import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');

function run(seed: number): Record<string, number> {
  const out = mkdtempSync(join(tmpdir(), 'metatape-repro-'));
  try {
    execFileSync(
      process.execPath,
      [
        join(root, 'bin/metatape.js'),
        'run',
        join(root, 'configs/sinusoid-fomaml-smoke.yaml'),
        '--set',
        `seed=${seed}`,
        '--out',
        out,
      ],
      { cwd: root, stdio: 'ignore', env: { ...process.env, METATAPE_LOG_LEVEL: 'error' } },
    );
    const dir = join(out, 'sinusoid-smoke');
    const summary = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]!, 'summary.json'), 'utf8'));
    const results = summary.results as Record<string, number>;
    // Timing and memory figures differ between runs by nature; every metric must not.
    return Object.fromEntries(Object.entries(results).filter(([k]) => k.startsWith('test/')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

describe('reproducibility', () => {
  it('the same config and seed give the same numbers; another seed gives others', () => {
    const a = run(3);
    const b = run(3);
    const c = run(4);
    expect(Object.keys(a).length).toBeGreaterThan(4);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });
});
