import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { COMPUTE_HEAP_FLAG } from '../../src/meta/workerHeap.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

/**
 * A package folder with bin/metatape.js and stand-ins for the CLI: src/cli/main.ts prints SRC (run through
 * tsx), dist/cli/main.js prints DIST.
 */
function fakePackage(parts: { src?: boolean; dist?: boolean; tsx?: boolean }): string {
  const dir = mkdtempSync(join(tmpdir(), 'mt-launcher-'));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(root, 'bin'), join(dir, 'bin'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{"type": "module"}\n');
  if (parts.tsx) symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  const old = new Date(Date.UTC(2025, 0, 1));
  if (parts.src) {
    mkdirSync(join(dir, 'src/cli'), { recursive: true });
    writeFileSync(join(dir, 'src/cli/main.ts'), "const where: string = 'SRC';\nconsole.log(where);\n");
    utimesSync(join(dir, 'src/cli/main.ts'), old, old);
  }
  if (parts.dist) {
    mkdirSync(join(dir, 'dist/cli'), { recursive: true });
    writeFileSync(join(dir, 'dist/cli/main.js'), "console.log('DIST');\n");
  }
  return dir;
}

function launch(dir: string, env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []) {
  const r = spawnSync(process.execPath, [...nodeArgs, join(dir, 'bin/metatape.js')], {
    cwd: tmpdir(),
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  return { code: r.status, out: r.stdout.trim(), stderr: r.stderr };
}

/** A package whose CLI stand-in prints the node flags it runs with, then its arguments. */
function flagsPackage(
  main = 'console.log(JSON.stringify([process.execArgv, process.argv.slice(2)]));\n',
): string {
  const dir = fakePackage({ dist: true });
  writeFileSync(join(dir, 'dist/cli/main.js'), main);
  return dir;
}

describe('bin/metatape.js', () => {
  it('runs dist/ in an installed package (no src/, no tsx)', () => {
    expect(launch(fakePackage({ dist: true }))).toMatchObject({ code: 0, out: 'DIST' });
  });

  it('runs the sources through tsx in a checkout without dist/', () => {
    expect(launch(fakePackage({ src: true, tsx: true }))).toMatchObject({ code: 0, out: 'SRC' });
  });

  it('prefers a dist/ built after the last source change, and the sources once one is newer', () => {
    const dir = fakePackage({ src: true, dist: true, tsx: true });
    expect(launch(dir)).toMatchObject({ code: 0, out: 'DIST' });
    utimesSync(join(dir, 'src/cli/main.ts'), new Date(), new Date(Date.now() + 60_000));
    expect(launch(dir)).toMatchObject({ code: 0, out: 'SRC' });
  });

  it('runs a stale dist/ when tsx is missing, and says what is missing when both are', () => {
    const stale = fakePackage({ src: true, dist: true });
    utimesSync(join(stale, 'src/cli/main.ts'), new Date(), new Date(Date.now() + 60_000));
    expect(launch(stale)).toMatchObject({ code: 0, out: 'DIST' });
    const none = launch(fakePackage({ src: true }));
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('needs dist/ (npm run build) or tsx (npm install)');
  });

  it('starts the CLI with a 128 MB initial old generation, passing its arguments on', () => {
    const dir = flagsPackage();
    const r = spawnSync(process.execPath, [join(dir, 'bin/metatape.js'), 'run', 'a b.yaml'], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    const [flags, args] = JSON.parse(r.stdout) as [string[], string[]];
    expect(flags).toContain('--initial-old-space-size=128');
    // The launcher (plain JS) spells the size out; it must stay the one worker threads and bench processes get.
    expect(flags).toContain(COMPUTE_HEAP_FLAG);
    expect(args).toEqual(['run', 'a b.yaml']);
  });

  it('keeps a heap size already set, honours METATAPE_OLD_SPACE_MB, and rejects a bad value', () => {
    const dir = flagsPackage();
    const flags = (r: { out: string }) => (JSON.parse(r.out) as [string[]])[0];
    expect(flags(launch(dir, {}, ['--initial-old-space-size=64']))).toEqual(['--initial-old-space-size=64']);
    expect(flags(launch(dir, { METATAPE_OLD_SPACE_MB: '0' }))).toEqual([]);
    expect(flags(launch(dir, { METATAPE_OLD_SPACE_MB: '256' }))).toEqual(['--initial-old-space-size=256']);
    const bad = launch(dir, { METATAPE_OLD_SPACE_MB: '12x' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('METATAPE_OLD_SPACE_MB: expected a non-negative integer');
  });

  it("passes SIGTERM to the CLI and exits with the CLI's code", async () => {
    const dir = flagsPackage(
      "process.on('SIGTERM', () => { console.log('TERM'); process.exit(7); });\nconsole.log('READY');\nsetInterval(() => {}, 1000);\n",
    );
    const child = spawn(process.execPath, [join(dir, 'bin/metatape.js')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    const done = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('READY') && !out.includes('TERM')) child.kill('SIGTERM');
    });
    expect(await done).toBe(7);
    expect(out).toContain('TERM');
  });
});
