import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataConfigError, DatasetFileError } from '../../src/data/errors.js';
import { type Alphabet, parseAlphabetCsv } from '../../src/data/omniglot/alphabets.js';
import {
  mamlSplit,
  parseVinyalsList,
  readVinyalsList,
  vinyalsSplit,
} from '../../src/data/omniglot/splits.js';
import { FIXTURE_COUNTS, type OmniglotFixture, writeOmniglotFixture } from './omniglotFixture.js';
import { hasSharedOmniglot, SHARED_OMNIGLOT, sharedTitle } from './shared.js';

const key = (c: { characterId: number; rotation: number }) => `${c.characterId}/${c.rotation}`;

let tmp: string;
let fixture: OmniglotFixture;
let alphabets: Alphabet[];
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'metatape-splits-'));
  fixture = await writeOmniglotFixture(tmp);
  alphabets = parseAlphabetCsv(
    await readFile(join(fixture.dir, 'id_to_alphabet.csv'), 'utf8'),
    'id_to_alphabet.csv',
    fixture.spec.sets,
  );
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

describe('alphabet table (generated fixture)', () => {
  it('tiles the spec sets: 10 background and 8 evaluation IDs in 3 + 3 alphabets', () => {
    expect(alphabets.length).toBe(6);
    expect(alphabets.find((a) => a.name === 'Hebrew')).toMatchObject({
      set: 'background',
      firstId: 8,
      lastId: 10,
    });
  });

  it('is checked against the counts it is given: the real ones reject the fixture table', async () => {
    const text = await readFile(join(fixture.dir, 'id_to_alphabet.csv'), 'utf8');
    expect(() => parseAlphabetCsv(text, 'fixture.csv')).toThrow(
      /fixture\.csv: background alphabets cover 10 characters in 3 alphabets, expected 964 in 30/,
    );
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

  it('splits a smaller dataset in the same proportion, or as asked', () => {
    const s = mamlSplit({ characters: FIXTURE_COUNTS.total });
    expect(new Set(s.train.map((c) => c.characterId)).size).toBe(13); // round(18 * 1200 / 1623)
    expect(s.test.map((c) => c.characterId).at(-1)).toBe(18);
    expect(mamlSplit({ characters: 18, trainCharacters: 10, valCharacters: 2 }).val.length).toBe(8);
    expect(() => mamlSplit({ characters: 18, trainCharacters: 18 })).toThrow(/< 18/);
  });
});

describe('Vinyals split (generated fixture lists)', () => {
  it.each([
    ['train', 40],
    ['val', 12],
    ['trainval', 52],
    ['test', 20],
  ] as const)('reads %s.txt (%i classes) and the embedded rule agrees', async (list, count) => {
    const fromFile = await readVinyalsList(fixture.vinyalsDir, list, alphabets);
    expect(fromFile.length).toBe(count);
    const rule = vinyalsSplit(alphabets);
    const embedded = list === 'trainval' ? [...rule.train, ...rule.val] : rule[list];
    expect(new Set(embedded.map(key))).toEqual(new Set(fromFile.map(key)));
  });

  it('keeps test characters out of train', () => {
    const s = vinyalsSplit(alphabets);
    const train = new Set(s.train.map((c) => c.characterId));
    expect(s.test.some((c) => train.has(c.characterId))).toBe(false);
    expect(new Set(s.test.map((c) => c.characterId)).size).toBe(5);
  });

  it('names the list on an unknown class, a duplicate or a missing file', async () => {
    expect(() => parseVinyalsList('Nope/character01/rot000\n', alphabets, 'x.txt')).toThrow(/x\.txt: line 1/);
    expect(() => parseVinyalsList('Latin/character05/rot000\n', alphabets, 'x.txt')).toThrow(
      DatasetFileError,
    );
    expect(() =>
      parseVinyalsList('Latin/character01/rot000\nLatin/character01/rot000\n', alphabets, 'x.txt'),
    ).toThrow(/line 2: duplicate/);
    await expect(readVinyalsList('/nonexistent', 'val', alphabets)).rejects.toThrow(
      /\/nonexistent\/val\.txt/,
    );
  });
});

describe.skipIf(!hasSharedOmniglot)(sharedTitle('alphabet table and Vinyals lists'), () => {
  let real: Alphabet[];
  beforeAll(async () => {
    real = parseAlphabetCsv(
      await readFile(join(SHARED_OMNIGLOT, 'id_to_alphabet.csv'), 'utf8'),
      'id_to_alphabet.csv',
    );
  });
  const lists = join(SHARED_OMNIGLOT, 'splits', 'vinyals');

  it('tiles 964 background and 659 evaluation IDs in 30 + 20 alphabets', () => {
    expect(real.length).toBe(50);
    expect(real.find((a) => a.name === 'Alphabet_of_the_Magi')).toMatchObject({ firstId: 709, lastId: 728 });
  });

  it.each([
    ['train', 4112],
    ['val', 688],
    ['trainval', 4800],
    ['test', 1692],
  ] as const)('reads %s.txt (%i classes) and the embedded rule agrees', async (list, count) => {
    const fromFile = await readVinyalsList(lists, list, real);
    expect(fromFile.length).toBe(count);
    const rule = vinyalsSplit(real);
    const embedded = list === 'trainval' ? [...rule.train, ...rule.val] : rule[list];
    expect(new Set(embedded.map(key))).toEqual(new Set(fromFile.map(key)));
  });

  it('keeps test characters out of train', () => {
    const s = vinyalsSplit(real);
    const train = new Set(s.train.map((c) => c.characterId));
    expect(s.test.some((c) => train.has(c.characterId))).toBe(false);
    expect(new Set(s.test.map((c) => c.characterId)).size).toBe(423);
  });

  it('rejects a character beyond its alphabet', () => {
    expect(() => parseVinyalsList('Latin/character99/rot000\n', real, 'x.txt')).toThrow(DatasetFileError);
  });
});
