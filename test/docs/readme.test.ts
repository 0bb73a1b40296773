import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('README examples run as written', () => {
  it('has TypeScript examples', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });
  blocks.forEach((code, i) => {
    it(`example ${i + 1}`, () => {
      // Examples import from './src/index.js' as a reader in the repository root would; run them from there.
      const dir = mkdtempSync(join(root, '.readme-example-'));
      try {
        const file = join(dir, 'example.ts');
        writeFileSync(file, code.replaceAll("'./src/", "'../src/"));
        const out = execFileSync(process.execPath, ['--import', 'tsx', file], {
          cwd: root,
          encoding: 'utf8',
        });
        expect(out.length).toBeGreaterThanOrEqual(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
  it('the first example prints 27 and 18', () => {
    const dir = mkdtempSync(join(root, '.readme-example-'));
    try {
      const file = join(dir, 'example.ts');
      writeFileSync(file, blocks[0]!.replaceAll("'./src/", "'../src/"));
      const out = execFileSync(process.execPath, ['--import', 'tsx', file], { cwd: root, encoding: 'utf8' });
      expect(out.trim()).toBe('27 18');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
