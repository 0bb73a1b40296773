import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readMetrics } from '../../src/io/metrics.js';

function cli(args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, METATAPE_BACKEND: '', METATAPE_LOG_LEVEL: 'warn' },
    timeout: 600_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const SMOKE = 'configs/sinusoid-fomaml-smoke.yaml';
const TINY = [
  '--iterations',
  '20',
  '--set',
  'eval.tasks=5',
  '--set',
  'logging.every=1',
  '--set',
  'logging.checkpointEvery=10',
];

describe('metatape compare / report / eval', () => {
  it('runs both orders on the same seeds in worker processes and writes the report', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'mt-compare-')), 'cmp');
    const r = cli([
      'compare',
      SMOKE,
      '--orders',
      '1,2',
      '--seeds',
      '2',
      '--jobs',
      '2',
      '--dir',
      dir,
      ...TINY,
    ]);
    expect(r.stderr).toContain('[4/4]');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /method\s+inner steps\s+seeds\s+test mse \(K=5, 5 steps\) ±95%\s+ms\/it wall ±95%/,
    );
    expect(r.stdout).toMatch(/order 2\s+1\s+2\/2/);
    expect(r.stdout).toMatch(/inner steps\s+ratio\s+mse ratio/);
    expect(r.stdout).toMatch(/1\s+o2\/o1/);
    for (const f of [
      'report.md',
      'comparison.json',
      'comparison.arrow',
      'learning-curves.svg',
      'speed-vs-inner-steps.svg',
      'memory-vs-inner-steps.svg',
      'test-vs-adaptation-steps.svg',
      'metric-vs-inner-steps.svg',
    ])
      expect(existsSync(join(dir, f)), f).toBe(true);
    const variants = readdirSync(join(dir, 'variants')).sort();
    expect(variants).toEqual(['o1-k1-s0', 'o1-k1-s1', 'o2-k1-s0', 'o2-k1-s1']);
    for (const v of variants) {
      expect(readFileSync(join(dir, 'variants', v, 'worker.log'), 'utf8')).not.toContain('Error');
      expect(JSON.parse(readFileSync(join(dir, 'variants', v, 'status.json'), 'utf8')).state).toBe(
        'completed',
      );
    }
    const cmp = JSON.parse(readFileSync(join(dir, 'comparison.json'), 'utf8'));
    expect(cmp.groups).toHaveLength(2);
    expect(cmp.ratios[0].innerSteps).toBe(1);
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain('## Second order over first order');
  });

  it('gives both orders the same initialisation and tasks, rebuilds reports and evaluates checkpoints', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'mt-compare-')), 'cmp');
    expect(cli(['compare', SMOKE, '--seeds', '1', '--jobs', '2', '--dir', dir, ...TINY]).code).toBe(0);
    // Same parameters and the same first batch: the first iteration's meta-loss (before any update) agrees.
    const first = async (v: string) =>
      (await readMetrics(join(dir, 'variants', v, 'metrics.arrow'))).metaLoss![0];
    expect(await first('o2-k1-s0')).toBe(await first('o1-k1-s0'));

    // The same command again keeps the finished variants; a different config is refused.
    const again = cli(['compare', SMOKE, '--seeds', '1', '--jobs', '2', '--dir', dir, ...TINY]);
    expect(again.stderr).toContain('reusing 2 completed variant(s): o1-k1-s0 o2-k1-s0');
    const other = cli(['compare', SMOKE, '--seeds', '1', '--dir', dir, ...TINY, '--set', 'eval.tasks=6']);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('was trained with a different config');

    const before = JSON.parse(readFileSync(join(dir, 'comparison.json'), 'utf8'));
    const rebuilt = cli(['report', dir]);
    expect(rebuilt.code).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'comparison.json'), 'utf8')).groups).toEqual(before.groups);

    const ckpt = join(dir, 'variants', 'o2-k1-s0', 'checkpoints', 'iter-0000020.ckpt');
    const ev = cli(['eval', ckpt, '--tasks', '6', '--steps', '1,2', '--shots', '3,5']);
    expect(ev.stderr).toBe('');
    expect(ev.code).toBe(0);
    expect(ev.stdout).toMatch(/test\s+3\s+2\s+mse/);
    const evalDir = join(dir, 'variants', 'o2-k1-s0', 'eval', 'iter-0000020');
    expect(readFileSync(join(evalDir, 'report.md'), 'utf8')).toContain('| K (shots) | 1 steps | 2 steps |');
    expect(readFileSync(join(evalDir, 'adaptation.svg'), 'utf8')).toMatch(/^<svg/);

    const ls = cli(['ls', '--out', join(dir, '..')]);
    expect(ls.stdout).toMatch(/cmp\s+2\s+2\s+0\s+report\.md/);
  });
});

describe('metatape compare --algorithms', () => {
  it('plans the registry algorithms it names, and names the allowed ones for an unknown one', () => {
    const r = cli(['compare', SMOKE, '--algorithms', 'maml,fomaml,imaml', '--seeds', '1', '--dry-run']);
    expect(r.stderr).toBe('');
    const lines = r.stdout.trim().split('\n');
    expect(lines.slice(0, 3)).toEqual([
      'maml-k1-s0\ttrainer.algorithm=maml trainer.order=2 trainer.innerSteps=1 seed=0',
      'fomaml-k1-s0\ttrainer.algorithm=maml trainer.order=1 trainer.innerSteps=1 seed=0',
      'imaml-k1-s0\ttrainer.algorithm=imaml trainer.innerSteps=1 seed=0',
    ]);
    expect(lines[3]).toMatch(/^3 variants, \d+ at a time$/);
    const bad = cli(['compare', SMOKE, '--algorithms', 'maml,fomal', '--dry-run']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--algorithms: unknown 'fomal'; allowed: maml, fomaml,");
    const both = cli(['compare', SMOKE, '--algorithms', 'maml', '--orders', '1', '--dry-run']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--orders and --algorithms exclude each other');
  });
});

describe('metatape sweep --shard', () => {
  it('splits the grid between shards and runs one shard', () => {
    const out = mkdtempSync(join(tmpdir(), 'mt-sweep-'));
    const grid = ['--grid', 'trainer.innerSteps=1,2,3', '--grid', 'trainer.innerLr=0.01,0.02'];
    const listed = [0, 1, 2].flatMap((i) =>
      cli(['sweep', SMOKE, ...grid, '--shard', `${i}/3`, '--dry-run'])
        .stdout.trim()
        .split('\n'),
    );
    expect(listed.map((l) => Number(l.split('\t')[0])).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5]);

    const r = cli([
      'sweep',
      SMOKE,
      '--grid',
      'trainer.innerSteps=1,2',
      '--shard',
      '1/2',
      '--iterations',
      '5',
      '--set',
      'eval.tasks=3',
      '--out',
      out,
      '--summary',
      join(out, 'sweep.md'),
    ]);
    expect(r.stderr).not.toContain('failed');
    expect(r.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['sinusoid-smoke--innerSteps-2', 'sweep.md']);
    expect(r.stdout).toMatch(/innerSteps-2\s+completed\s+test\/mse@5steps=/);
  });
});
