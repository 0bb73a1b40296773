import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataConfigError, DatasetFileError } from '../../src/data/errors.js';
import { parseAlphabetCsv } from '../../src/data/omniglot/alphabets.js';
import {
  mamlSplit,
  parseVinyalsList,
  readVinyalsList,
  vinyalsSplit,
} from '../../src/data/omniglot/splits.js';
import { SHARED_OMNIGLOT } from './shared.js';

const alphabets = parseAlphabetCsv(
  await readFile(join(SHARED_OMNIGLOT, 'id_to_alphabet.csv'), 'utf8'),
  'id_to_alphabet.csv',
);
const key = (c: { characterId: number; rotation: number }) => `${c.characterId}/${c.rotation}`;

describe('alphabet table', () => {
  it('tiles 964 background and 659 evaluation IDs in 30 + 20 alphabets', () => {
    expect(alphabets.length).toBe(50);
    expect(alphabets.find((a) => a.name === 'Alphabet_of_the_Magi')).toMatchObject({
      firstId: 709,
      lastId: 728,
    });
  });

  it('rejects overlapping ranges, naming the file', () => {
    const bad =
      'set,alphabet,first_id,last_id,n_characters\nbackground,A,0001,0964,964\nbackground,B,0964,0964,1\n';
    expect(() => parseAlphabetCsv(bad, 'bad.csv')).toThrow(/bad\.csv/);
  });
});

describe('mamlSplit', () => {
  it('gives 1,200 train and 423 test characters, 4 rotations each, disjoint', () => {
    const s = mamlSplit();
    expect(s.train.length).toBe(4800);
    expect(s.test.length).toBe(1692);
    expect(s.val.length).toBe(0);
    const train = new Set(s.train.map((c) => c.characterId));
    expect(train.size).toBe(1200);
    expect(s.test.some((c) => train.has(c.characterId))).toBe(false);
    expect(new Set(s.train.map((c) => c.rotation))).toEqual(new Set([0, 1, 2, 3]));
  });

  it('can hold out validation characters and drop rotations', () => {
    const s = mamlSplit({ valCharacters: 100, rotations: false });
    expect(s.train.length).toBe(1100);
    expect(s.val.length).toBe(100);
    expect(s.val[0]!.characterId).toBe(1101);
    expect(s.test.length).toBe(423);
    expect(() => mamlSplit({ trainCharacters: 2000 })).toThrow(DataConfigError);
  });
});

describe('Vinyals split', () => {
  const lists = join(SHARED_OMNIGLOT, 'splits', 'vinyals');

  it.each([
    ['train', 4112],
    ['val', 688],
    ['trainval', 4800],
    ['test', 1692],
  ] as const)('reads %s.txt (%i classes) and the embedded rule agrees', async (list, count) => {
    const fromFile = await readVinyalsList(lists, list, alphabets);
    expect(fromFile.length).toBe(count);
    const rule = vinyalsSplit(alphabets);
    const embedded = list === 'trainval' ? [...rule.train, ...rule.val] : rule[list];
    expect(new Set(embedded.map(key))).toEqual(new Set(fromFile.map(key)));
  });

  it('keeps test characters out of train', () => {
    const s = vinyalsSplit(alphabets);
    const train = new Set(s.train.map((c) => c.characterId));
    expect(s.test.some((c) => train.has(c.characterId))).toBe(false);
    expect(new Set(s.test.map((c) => c.characterId)).size).toBe(423);
  });

  it('names the list on an unknown class or a missing file', async () => {
    expect(() => parseVinyalsList('Nope/character01/rot000\n', alphabets, 'x.txt')).toThrow(/x\.txt: line 1/);
    expect(() => parseVinyalsList('Latin/character99/rot000\n', alphabets, 'x.txt')).toThrow(
      DatasetFileError,
    );
    await expect(readVinyalsList('/nonexistent', 'val', alphabets)).rejects.toThrow(
      /\/nonexistent\/val\.txt/,
    );
  });
});
