import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { trainerSchema } from '../../src/config/schema.js';
import { dense, Model, Rng } from '../../src/index.js';
import { ALGORITHM_NAMES, ALGORITHMS, algorithmTable } from '../../src/meta/algorithms/registry.js';
import { MetaLearner } from '../../src/meta/learner.js';
import { sinusoidSource } from '../../src/meta/tasks.js';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));
const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });

describe('the algorithm registry', () => {
  it('is the config schema’s trainer.algorithm enum', () => {
    expect(trainerSchema.shape.algorithm.unwrap().options).toEqual(ALGORITHM_NAMES);
    expect(ALGORITHM_NAMES).toEqual(['maml', 'anil', 'metasgd', 'mamlpp', 'reptile', 'pretrain', 'imaml']);
    for (const [name, a] of Object.entries(ALGORITHMS)) expect(a.name).toBe(name);
  });

  it('no algorithm is chosen by name outside its module', () => {
    // `algorithm === 'x'`, `.algorithm == x`, `'x' === ...` and `case 'x':` (also for the fo<name> variants).
    const names = `(fo)?(${ALGORITHM_NAMES.join('|')})`;
    const named = new RegExp(
      `(algorithm\\s*[!=]==?)|(['"]${names}['"]\\s*[!=]==?)|(case\\s+['"]${names}['"])`,
    );
    const hits = files(SRC)
      .filter((f) => !f.includes('/meta/algorithms/'))
      .flatMap((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .filter((line) => named.test(line))
          .map((line) => `${f}: ${line.trim()}`),
      );
    expect(hits).toEqual([]);
  });

  it('gives the README table, one row per algorithm', () => {
    const table = algorithmTable().split('\n');
    expect(table).toHaveLength(2 + ALGORITHM_NAMES.length);
    expect(table[2]).toMatch(/^\| `maml` \| MAML \(Finn et al\. 2017\)/);
  });

  it('one low-rank rule: a learner asked for lowRank with Meta-SGD throws, as the config schema does', () => {
    const model = new Model([dense(1)], [1]);
    const learner = new MetaLearner(model, 'regression', {
      algorithm: 'metasgd',
      order: 2,
      innerSteps: 1,
      innerLr: 0.1,
      fastWeights: 'lowRank',
    });
    const batch = sinusoidSource({ shots: 2, queryShots: 2 }).sample(new Rng(0), 2, 'train');
    const meta = learner.initMetaParams(model.initParams(new Rng(0)));
    expect(() => learner.metaGradient(meta, batch)).toThrow(
      /not trainer.algorithm: metasgd; use auto or full/,
    );
  });
});
