import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { algorithmTable } from '../../src/meta/algorithms/registry.js';

describe('README algorithm table', () => {
  it('is the registry’s table, so a new algorithm module shows up in the docs', () => {
    const readme = readFileSync(join(resolve(import.meta.dirname, '../..'), 'README.md'), 'utf8');
    expect(readme).toContain(`${algorithmTable()}\n`);
  });
});
