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
  it('the examples print what the README says', () => {
    const outputs = blocks.map((code) => {
      const dir = mkdtempSync(join(root, '.readme-example-'));
      try {
        const file = join(dir, 'example.ts');
        writeFileSync(file, code.replaceAll("'./src/", "'../src/"));
        return execFileSync(process.execPath, ['--import', 'tsx', file], {
          cwd: root,
          encoding: 'utf8',
        }).trim();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
    expect(outputs[0]).toBe('27 18');
    expect(outputs[1]).toBe('4.441705703735352 10.094785690307617\n[ 6, 0 ] [ 6, 0 ]\n8 12');
    expect(Number(/final loss ([\d.]+)/.exec(outputs[2]!)![1])).toBeLessThan(0.01);
    expect(outputs[3]).toBe('converged 22 1.000000 1.000000 1.000000 1.000000 1.000000');
    expect(outputs[4]).toBe('784x256 32x5x784 32x5x256\ntrue 784x256');
  });
});
