import { execSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
/** The README's shell lines that read Arrow files with what npm installs (`npx arrow2csv`, `node -e`). */
const npmReaders = [...readme.matchAll(/```sh\n([\s\S]*?)```/g)]
  .flatMap((m) => m[1]!.split('\n'))
  .filter((line) => /^(npx arrow2csv|node -e ".*apache-arrow)/.test(line));

describe("the README's Arrow readers from npm run as written", () => {
  it('lists them', () => {
    expect(npmReaders.length).toBe(2);
  });
  it('arrow2csv prints the comparison table with the columns asked for', () => {
    const out = execSync(npmReaders.find((l) => l.startsWith('npx'))!, { cwd: root, encoding: 'utf8' });
    const lines = out.trim().split('\n');
    expect(lines[0]).toMatch(/"variant: Utf8".*"order: .*".*"innerSteps: .*".*"headline: Float64"/);
    expect(lines.length).toBeGreaterThan(2);
    expect(out).toMatch(/"o2-k1-s0"/);
  });
  it('a node one-liner reads rows through apache-arrow', () => {
    const out = execSync(npmReaders.find((l) => l.startsWith('node'))!, { cwd: root, encoding: 'utf8' });
    expect(out).toMatch(/"variant": "o1-k1-s0"/);
    expect(out).toMatch(/"headline": 0\.\d+/);
  });
});
