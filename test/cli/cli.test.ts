import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MetricsLog } from '../../src/io/metrics.js';
import { createRunFolder, writeResolvedConfig, writeStatus } from '../../src/io/runFolder.js';

function cli(args: string[], env: Record<string, string> = {}) {
  // Same as `npx tsx src/cli/main.ts`, minus npx's start-up time.
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, METATAPE_BACKEND: '', METATAPE_LOG_LEVEL: '', ...env },
    timeout: 600_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const GOOD = 'name: sine\ndata: {kind: sinusoid}\nmodel: {kind: mlp}\ntrainer: {iterations: 10}\n';

function tempConfig(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'mt-cli-'));
  const file = join(dir, 'c.yaml');
  writeFileSync(file, text);
  return file;
}

describe('metatape CLI', () => {
  it('--help lists the commands and exits 0', () => {
    const r = cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of [
      'run <config>',
      'eval <run>',
      'compare [config]',
      'resume',
      'sweep',
      'ls',
      'report',
      'datasets',
      'doctor',
      'examples',
    ]) {
      expect(r.stdout).toContain(c);
    }
  });

  it('--version prints the package version', () => {
    const r = cli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(JSON.parse(readFileSync('package.json', 'utf8')).version);
  });

  it('exits 2 naming the field for a bad config, without a stack trace', () => {
    const file = tempConfig(GOOD.replace('{iterations: 10}', '{iterations: 10, order: 3}'));
    const r = cli(['run', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${file}: trainer.order: got 3; expected 1 or 2`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 for bad overrides, env backends and usage errors', () => {
    const file = tempConfig(GOOD);
    expect(cli(['run', file, '--set', 'trainer.innerStep=5']).stderr).toContain(
      'trainer.innerStep: unknown key (did you mean innerSteps?)',
    );
    const env = cli(['run', file, '--dry-run'], { METATAPE_BACKEND: 'tpu' });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('METATAPE_BACKEND=tpu: backend: got "tpu"');
    expect(cli(['frobnicate']).code).toBe(2);
    expect(cli(['run']).code).toBe(2);
    expect(cli(['ls', '--no-such-flag']).code).toBe(2);
  });

  it('prints the resolved config with --dry-run, applying flags over env over the file', () => {
    const file = tempConfig(GOOD);
    const r = cli(['run', file, '--dry-run', '--iterations', '7', '--set', 'eval.steps=[1,5]'], {
      METATAPE_BACKEND: 'gpujs',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('backend: gpujs');
    expect(r.stdout).toMatch(/iterations: 7/);
    expect(r.stdout).toMatch(/steps:\n\s+- 1\n\s+- 5/);
    expect(
      cli(['run', file, '--dry-run', '--backend', 'cpu'], { METATAPE_BACKEND: 'gpujs' }).stdout,
    ).toContain('backend: cpu');
  });

  it('lists, reports and compares runs', async () => {
    const out = mkdtempSync(join(tmpdir(), 'mt-cli-runs-'));
    const dirs: string[] = [];
    for (const [i, name] of ['maml', 'fomaml'].entries()) {
      const run = await createRunFolder(out, name, new Date(Date.UTC(2025, 0, 1 + i)));
      await writeResolvedConfig(run.dir, { name });
      await writeStatus(run.dir, {
        state: 'completed',
        iteration: 3,
        iterations: 3,
        headline: { metric: 'mse', value: 0.5 + i },
      });
      const log = await MetricsLog.open(run.dir);
      log.append([1, 2, 3].map((it) => ({ iteration: it, metaLoss: (i + 1) / it })));
      await log.flush();
      dirs.push(run.dir);
    }
    const ls = cli(['ls', '--out', out]);
    expect(ls.code).toBe(0);
    expect(ls.stdout).toMatch(/fomaml\s+2025-01-02T00-00-00Z\s+completed\s+3\/3\s+mse=1\.5/);
    expect(ls.stdout.indexOf('fomaml')).toBeLessThan(ls.stdout.indexOf('maml '));
    expect(JSON.parse(cli(['ls', 'maml', '--json', '--out', out]).stdout)).toHaveLength(1);

    const report = cli(['report', 'maml', '--out', out]);
    expect(report.code).toBe(0);
    expect(readFileSync(join(dirs[0]!, 'report', 'metaLoss.svg'), 'utf8')).toMatch(/^<svg/);
    expect(readFileSync(join(dirs[0]!, 'report', 'report.md'), 'utf8')).toContain('| metaLoss |  | 3 |');

    const svg = join(out, 'cmp.svg');
    const cmp = cli(['compare', '--runs', 'maml', 'fomaml', '--out', out, '--svg', svg]);
    expect(cmp.code).toBe(0);
    expect(readFileSync(svg, 'utf8')).toContain('fomaml/2025-01-02T00-00-00Z');
    const missing = cli(['compare', '--runs', 'maml', '--metric', 'accuracy', '--out', out]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no metric 'accuracy'; it has: metaLoss");
  });

  it('fails with exit 1 and one line when the work fails; --verbose adds the stack', () => {
    const missing = join(tmpdir(), 'mt-no-dataset-here');
    const r = cli(['datasets', 'info', 'omniglot', '--dir', missing]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(missing);
    expect(cli(['datasets', 'info', 'omniglot', '--dir', missing, '--verbose']).stderr).toMatch(/\n\s+at /);
  });

  it('exits 2 for an unknown run', () => {
    const out = mkdtempSync(join(tmpdir(), 'mt-cli-'));
    const r = cli(['resume', 'nothing-here', '--out', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("no run found for 'nothing-here'");
  });

  it('runs the seed examples; --list lists them (more in examples.test.ts)', () => {
    const run = cli(['examples', 'cubic']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('dy/dx = 27');
    const list = cli(['examples', '--list']);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/NAME\s+FILE/);
  });
});
