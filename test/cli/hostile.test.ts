import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/** Runs the CLI; a failure a user can cause must end in one line on stderr, no stack, exit 2. */
function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, METATAPE_BACKEND: '', METATAPE_LOG_LEVEL: '', ...env },
    timeout: 600_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function expectUsageError(r: ReturnType<typeof cli>, message: RegExp): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toMatch(message);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

const root = mkdtempSync(join(tmpdir(), 'mt-hostile-cli-'));
function config(name: string, text: string): string {
  const file = join(root, name);
  writeFileSync(file, text);
  return file;
}

describe('the CLI answers bad input with one line and exit 2', () => {
  it('a bad --log-level or METATAPE_LOG_LEVEL on commands that log nothing', () => {
    expectUsageError(
      cli(['ls', '--log-level', 'loud']),
      /^LogLevelError: log level: got "loud"; expected one of /,
    );
    expectUsageError(
      cli(['run', 'configs/sinusoid-quick.yaml', '--dry-run'], { METATAPE_LOG_LEVEL: 'loud' }),
      /^LogLevelError: METATAPE_LOG_LEVEL: got "loud"/,
    );
  });

  it('lowRank fast weights with Meta-SGD or an inner Adam, before any run folder exists', () => {
    const out = join(root, 'runs-lowrank');
    for (const trainer of ['algorithm: metasgd', 'innerOptimizer: {kind: adam}']) {
      const file = config(
        'lowrank.yaml',
        `name: lr\ndata: {kind: sinusoid}\nmodel: {kind: mlp}\ntrainer: {iterations: 5, fastWeights: lowRank, ${trainer}}\n`,
      );
      for (const args of [['--dry-run'], ['--out', out]]) {
        expectUsageError(
          cli(['run', file, ...args]),
          /trainer\.fastWeights: got "lowRank"; low-rank fast weights need the plain SGD inner step/,
        );
      }
    }
    expect(existsSync(out)).toBe(false);
  });

  it('an alias bomb, a binary file and an oversized file as configs', () => {
    const bomb = config(
      'bomb.yaml',
      'a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nname: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n',
    );
    expectUsageError(cli(['run', bomb, '--dry-run']), new RegExp(`${bomb}: YAML aliases expand too far`));
    const binary = config(
      'binary.yaml',
      Buffer.from([0x50, 0x4b, 3, 4, 0, 0, 0xff, 0xfe]).toString('latin1'),
    );
    const r = cli(['run', binary, '--dry-run']);
    expectUsageError(r, /not a text config/);
    expect(r.stderr.length).toBeLessThan(300);
    const big = config('big.yaml', `name: x\n# ${'x'.repeat(2 << 20)}\n`);
    expectUsageError(cli(['run', big, '--dry-run']), /config is 2\.0 MiB; the limit is 1\.0 MiB/);
  });

  it('eval: a run name that leaves --out, and --tasks 0', () => {
    const out = join(root, 'runs');
    mkdirSync(out);
    // A real run folder beside the root of runs: reachable as a path, never as a name under --out.
    const outside = join(root, 'outside');
    mkdirSync(outside);
    writeFileSync(join(outside, 'config.json'), '{}');
    const before = readdirSync(outside);
    expectUsageError(cli(['eval', '../outside', '--out', out]), /no run found for '\.\.\/outside'/);
    expect(readdirSync(outside)).toEqual(before);
    expectUsageError(
      cli(['eval', 'whatever', '--tasks', '0', '--out', out]),
      /--tasks: got 0; expected an integer >= 1/,
    );
  });

  it('datasets prepare --out (the root of runs) instead of --dir', () => {
    expectUsageError(
      cli(['datasets', 'prepare', 'omniglot', '--out', join(root, 'x')]),
      new RegExp(
        `writes to --dir \\(default datasets/omniglot\\), not --out .*: use --dir ${join(root, 'x')}`,
      ),
    );
    expect(existsSync(join(root, 'x'))).toBe(false);
  });
});
