import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';

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

function launch(dir: string) {
  const r = spawnSync(process.execPath, [join(dir, 'bin/metatape.js')], { cwd: tmpdir(), encoding: 'utf8' });
  return { code: r.status, out: r.stdout.trim(), stderr: r.stderr };
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
});
