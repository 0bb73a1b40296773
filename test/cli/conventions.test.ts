import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';

function cli(args: string[], extraEnv: Record<string, string> = {}) {
  // No backend or log level from the environment; yargs writes a zsh completion script when $SHELL (or
  // $ZSH_NAME) names zsh.
  const { ZSH_NAME: _z, METATAPE_BACKEND: _b, METATAPE_LOG_LEVEL: _l, ...env } = process.env;
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    env: { ...env, SHELL: '/bin/bash', ...extraEnv },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const version: string = JSON.parse(readFileSync('package.json', 'utf8')).version;
const SMOKE = 'configs/sinusoid-fomaml-smoke.yaml';

describe('metatape CLI conventions', () => {
  it('--version and -V print the version; -v is --verbose, not the version', () => {
    for (const flag of ['--version', '-V']) {
      const r = cli([flag]);
      expect(r.code, flag).toBe(0);
      expect(r.stdout.trim(), flag).toBe(version);
    }
    const help = cli(['--help']).stdout;
    expect(help).toMatch(/-V, --version/);
    expect(help).toMatch(/-v, --verbose/);
    const v = cli(['-v']);
    expect(v.stdout.trim()).not.toBe(version);
  });

  it('bare `metatape` prints the help and exits 1', () => {
    for (const args of [[], ['-v'], ['--out', 'somewhere']]) {
      const r = cli(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain('metatape <command> [options]');
      expect(r.stderr).toContain('Commands:');
      expect(r.stderr).toContain('metatape examples');
      expect(r.stderr).not.toMatch(/^error/m);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it('a mistyped command names itself and the nearest command, exit 2', () => {
    const rn = cli(['rn']);
    expect(rn.code).toBe(2);
    expect(rn.stderr).toContain("Unknown command 'rn'. Did you mean 'run'?");
    expect(rn.stderr.trim().split('\n')).toHaveLength(1);
    expect(cli(['--out', 'x', 'exmaples']).stderr).toContain(
      "Unknown command 'exmaples'. Did you mean 'examples'?",
    );
    expect(cli(['datasets', 'inf']).stderr).toContain("Unknown command 'inf'. Did you mean 'info'?");
    // Nothing close: no far-fetched suggestion.
    const far = cli(['frobnicate']);
    expect(far.code).toBe(2);
    expect(far.stderr).toContain("Unknown command 'frobnicate'");
    expect(far.stderr).not.toContain('Did you mean');
    expect(cli(['xyz']).stderr).not.toContain('Did you mean');
  });

  it('`metatape completion` prints a bash completion script that completes the commands', () => {
    const r = cli(['completion']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('###-begin-metatape-completions-###');
    expect(r.stdout).toMatch(/complete .*-F _metatape_yargs_completions metatape/);
    expect(r.stdout).toContain('metatape --get-yargs-completions');
    // What the script asks for when completing `metatape ex<TAB>` (bash then filters by the prefix).
    const words = cli(['--get-yargs-completions', 'metatape', 'ex']).stdout.split('\n');
    expect(words).toContain('examples');
    expect(words).toContain('run');
    expect(cli(['--help']).stdout).toContain('metatape completion');
    expect(cli(['completion'], { SHELL: '/bin/zsh' }).stdout).toMatch(/^#compdef metatape\n/);
  });

  it('sweep and compare default --jobs the same way: the cores, at most one per run', () => {
    const sweepHelp = cli(['sweep', '--help']).stdout;
    const compareHelp = cli(['compare', '--help']).stdout;
    const jobsLine = (help: string) => /-j, --jobs\s+(.*)/.exec(help)?.[1]?.trim();
    expect(jobsLine(sweepHelp)).toContain(`default: the available cores, ${availableParallelism()} here`);
    expect(jobsLine(sweepHelp)).toBe(jobsLine(compareHelp));

    const cores = availableParallelism();
    // 4 points / 2 orders: the default is the cores, capped at the runs; an explicit --jobs is kept, capped too.
    const sweep = cli(['sweep', SMOKE, '--seeds', '0,1,2,3', '--dry-run']);
    expect(sweep.code, sweep.stderr).toBe(0);
    expect(sweep.stderr).toContain(`4 points, ${Math.min(cores, 4)} at a time`);
    expect(sweep.stdout.trim().split('\n')).toHaveLength(4);
    expect(cli(['sweep', SMOKE, '--seeds', '0,1,2,3', '--dry-run', '-j', '3']).stderr).toContain(
      '4 points, 3 at a time',
    );
    const compare = cli(['compare', SMOKE, '--seeds', '1', '--dry-run']);
    expect(compare.code, compare.stderr).toBe(0);
    expect(compare.stdout).toContain(`2 variants, ${Math.min(cores, 2)} at a time`);
    expect(cli(['compare', SMOKE, '--seeds', '1', '--dry-run', '--jobs', '9']).stdout).toContain(
      '2 variants, 2 at a time',
    );
    for (const bad of ['0', '-1', '1.5', 'many']) {
      const r = cli(['sweep', SMOKE, '--seeds', '0,1', '--dry-run', '--jobs', bad]);
      expect(r.code, bad).toBe(2);
      expect(r.stderr, bad).toContain('--jobs: got');
    }
  });
});
