import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** tsx as an absolute URL, so the CLI starts from any working directory. */
const tsx = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
/** The environment without a backend or log level of its own. */
const { METATAPE_BACKEND: _b, METATAPE_LOG_LEVEL: _l, ...env } = process.env;

/** The CLI from the TypeScript sources (a checkout), in `cwd`. */
function cli(args: string[], cwd = root) {
  const r = spawnSync(process.execPath, ['--import', tsx, join(root, 'src/cli/main.ts'), ...args], {
    cwd,
    encoding: 'utf8',
    env,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** What every example prints (its values), by name. */
const VALUES: Record<string, string[]> = {
  cubic: ['dy/dx = 27', 'd2y/dx2 = 18'],
  'two-variables': ['gradient [df/dx, df/dy] = [4, 7]', 'd2f/dx2 = 2', 'd2f/dy2 = 6'],
  'linear-layer': [
    'd(sum dL/dW)/dW [[4,4]] d(sum dL/dW)/db [2,2]',
    'd(sum dL/db)/dW [[2,2]] d(sum dL/db)/db [1,1]',
  ],
  unwatched: [
    'gradient w.r.t. an unwatched tensor: null',
    "...with { unconnected: 'zero' }: 0",
    'after tape.watch(x): 6',
  ],
};

function expectAllRan(stdout: string): void {
  for (const [name, lines] of Object.entries(VALUES)) {
    expect(stdout).toContain(`== ${name}: Seed example`);
    for (const line of lines) expect(stdout).toContain(line);
  }
  // In file order.
  const at = Object.keys(VALUES).map((name) => stdout.indexOf(`== ${name}:`));
  expect([...at].sort((a, b) => a - b)).toEqual(at);
}

describe('metatape examples', () => {
  it('runs every example, printing its values', () => {
    const r = cli(['examples']);
    expect(r.code, r.stderr).toBe(0);
    expectAllRan(r.stdout);
  });

  it('runs the named ones (by name, file name or number), without headers for a single one', () => {
    const one = cli(['examples', 'cubic']);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toBe(`${VALUES.cubic!.join('\n')}\n`);
    const two = cli(['examples', '4', '02-two-variables.ts']);
    expect(two.code, two.stderr).toBe(0);
    expect(two.stdout.indexOf('== unwatched:')).toBeLessThan(two.stdout.indexOf('== two-variables:'));
    expect(two.stdout).toContain('after tape.watch(x): 6');
    expect(two.stdout).not.toContain('dy/dx');
  });

  it('--list lists them without running any', () => {
    const r = cli(['examples', '--list']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^NAME\s+FILE\s+WHAT\n/);
    for (const name of Object.keys(VALUES))
      expect(r.stdout).toMatch(
        new RegExp(`^${name}\\s+src/cli/examples/\\d+-${name}\\.ts\\s+Seed example`, 'm'),
      );
    expect(r.stdout).not.toContain('dy/dx');
  });

  it('exits 2 for an unknown example, naming the available ones', () => {
    const r = cli(['examples', 'quartic']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      "no example 'quartic'; available: cubic, two-variables, linear-layer, unwatched",
    );
  });

  it('ends quietly when the reader closes the pipe early', () => {
    // `true` exits without reading, so every write of the CLI meets a closed pipe (EPIPE).
    const main = join(root, 'src/cli/main.ts');
    const r = spawnSync('sh', ['-c', `"${process.execPath}" --import ${tsx} "${main}" examples | true`], {
      encoding: 'utf8',
      env,
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
  });

  it('finds the examples from any working directory', () => {
    const r = cli(['examples'], mkdtempSync(join(tmpdir(), 'mt-examples-cwd-')));
    expect(r.code, r.stderr).toBe(0);
    expectAllRan(r.stdout);
  });

  it('runs from the built package with plain node (no tsx), from another directory', () => {
    // The installed package's layout: package.json, bin/ and dist/ (npm's "files"), and dependencies without
    // the dev ones; tsx is left out so that anything still needing it fails here.
    const pkg = mkdtempSync(join(tmpdir(), 'mt-examples-pkg-'));
    onTestFinished(() => rmSync(pkg, { recursive: true, force: true }));
    const build = spawnSync(
      process.execPath,
      [
        join(root, 'node_modules/typescript/bin/tsc'),
        '-p',
        'tsconfig.build.json',
        '--outDir',
        join(pkg, 'dist'),
        '--noCheck',
      ],
      { cwd: root, encoding: 'utf8' },
    );
    expect(build.status, build.stdout + build.stderr).toBe(0);
    cpSync(join(root, 'package.json'), join(pkg, 'package.json'));
    cpSync(join(root, 'bin'), join(pkg, 'bin'), { recursive: true });
    mkdirSync(join(pkg, 'node_modules'));
    for (const dep of readdirSync(join(root, 'node_modules')))
      if (dep !== 'tsx' && dep !== '.bin')
        symlinkSync(join(root, 'node_modules', dep), join(pkg, 'node_modules', dep));

    const cwd = mkdtempSync(join(tmpdir(), 'mt-examples-user-'));
    const run = (args: string[]) => {
      const r = spawnSync(process.execPath, [join(pkg, 'bin/metatape.js'), ...args], {
        cwd,
        encoding: 'utf8',
        env,
      });
      return { code: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const all = run(['examples']);
    expect(all.code, all.stderr).toBe(0);
    expectAllRan(all.stdout);
    const list = run(['examples', '--list']);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toContain(join(pkg, 'dist/cli/examples/01-cubic.js'));
    // A compiled example also runs on its own.
    const direct = spawnSync(process.execPath, [join(pkg, 'dist/cli/examples/01-cubic.js')], {
      cwd,
      encoding: 'utf8',
    });
    expect(direct.stdout).toBe(`${VALUES.cubic!.join('\n')}\n`);
  });

  it('experiments/seed/*.ts still run directly with tsx', () => {
    const r = spawnSync(process.execPath, ['--import', tsx, 'experiments/seed/01-cubic.ts'], {
      cwd: root,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(`${VALUES.cubic!.join('\n')}\n`);
  });
});
