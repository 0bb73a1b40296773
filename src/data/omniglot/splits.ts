/**
 * Class splits of Omniglot. A class is a character at one rotation (multiples of 90 degrees count as new
 * classes, as in MAML and Vinyals et al.).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DataConfigError, DatasetFileError } from '../errors.js';
import type { Alphabet } from './alphabets.js';
import { TOTAL_CHARACTERS } from './constants.js';

/** Quarter turns counterclockwise: 0, 90, 180 or 270 degrees. */
export type QuarterTurns = 0 | 1 | 2 | 3;

/** A class: one character at one rotation. */
export interface OmniglotClass {
  /** Global 1-based character ID. */
  characterId: number;
  rotation: QuarterTurns;
}

/** A partition of classes into meta-train, meta-validation and meta-test. */
export interface OmniglotSplit {
  train: OmniglotClass[];
  val: OmniglotClass[];
  test: OmniglotClass[];
}

/** The subsets a split can be asked for. */
export type SplitSubset = keyof OmniglotSplit;

/** Options of {@link mamlSplit}. */
export interface MamlSplitOptions {
  /**
   * Characters in the dataset, IDs 1..characters (default 1,623, all of Omniglot; a prepared dataset's count
   * is `manifestCharacters(manifest)`, which differs only for a small synthetic Omniglot).
   */
  characters?: number;
  /**
   * Characters for meta-training plus validation (default 1,200 of 1,623, as MAML; for another `characters`
   * the same proportion, rounded).
   */
  trainCharacters?: number;
  /** How many of those (the last ones) to hold out for validation (default 0; MAML's code uses 100). */
  valCharacters?: number;
  /** Rotations as extra classes (default true); when false each character is one class at rotation 0. */
  rotations?: boolean;
}

/** MAML's meta-training characters out of the full 1,623. */
const MAML_TRAIN_CHARACTERS = 1200;

/**
 * MAML's protocol with the common deterministic convention: characters in ID order (background 1..964, then
 * evaluation 965..1623), the first 1,200 for meta-training and the remaining 423 for meta-testing, each
 * character contributing 4 classes (its rotations). MAML's own code shuffles the folder list with Python's
 * RNG in filesystem order, which is not reproducible across machines; ID order is.
 *
 * @throws DataConfigError when the counts do not fit in the dataset's characters.
 */
export function mamlSplit(options: MamlSplitOptions = {}): OmniglotSplit {
  const total = options.characters ?? TOTAL_CHARACTERS;
  const trainCharacters =
    options.trainCharacters ?? Math.round((total * MAML_TRAIN_CHARACTERS) / TOTAL_CHARACTERS);
  const valCharacters = options.valCharacters ?? 0;
  if (
    !Number.isInteger(trainCharacters) ||
    !Number.isInteger(valCharacters) ||
    valCharacters < 0 ||
    trainCharacters <= valCharacters ||
    trainCharacters >= total
  ) {
    throw new DataConfigError(
      `mamlSplit: need 0 <= valCharacters < trainCharacters < ${total}, got ${valCharacters} / ${trainCharacters}`,
    );
  }
  const rotations: QuarterTurns[] = options.rotations === false ? [0] : [0, 1, 2, 3];
  const classes = (from: number, to: number): OmniglotClass[] => {
    const out: OmniglotClass[] = [];
    for (let id = from; id <= to; id++)
      for (const rotation of rotations) out.push({ characterId: id, rotation });
    return out;
  };
  const trainEnd = trainCharacters - valCharacters;
  return {
    train: classes(1, trainEnd),
    val: classes(trainEnd + 1, trainCharacters),
    test: classes(trainCharacters + 1, total),
  };
}

/** The Vinyals list names. */
export type VinyalsList = 'train' | 'val' | 'trainval' | 'test';

/**
 * Parses a Vinyals split list (`Alphabet/characterNN/rotDDD` per line) into classes.
 *
 * @param alphabets the alphabet table (from the manifest) used to turn names into character IDs.
 * @param name the list's file name, used in errors.
 * @throws DatasetFileError on a malformed line, an unknown alphabet or character, or a duplicate class.
 */
export function parseVinyalsList(
  text: string,
  alphabets: readonly Alphabet[],
  name: string,
): OmniglotClass[] {
  const byName = new Map(alphabets.map((a) => [a.name, a]));
  const seen = new Set<string>();
  const out: OmniglotClass[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line.length === 0) return;
    const m = /^(.+)\/character(\d+)\/rot(000|090|180|270)$/.exec(line);
    const alphabet = m ? byName.get(m[1]!) : undefined;
    const nn = m ? Number(m[2]) : 0;
    if (!m || !alphabet || nn < 1 || nn > alphabet.lastId - alphabet.firstId + 1) {
      throw new DatasetFileError(name, `line ${i + 1}: unknown class ${JSON.stringify(line)}`);
    }
    if (seen.has(line)) throw new DatasetFileError(name, `line ${i + 1}: duplicate class ${line}`);
    seen.add(line);
    out.push({ characterId: alphabet.firstId + nn - 1, rotation: (Number(m[3]) / 90) as QuarterTurns });
  });
  return out;
}

/**
 * Reads `<dir>/<list>.txt` (e.g. the shared `splits/vinyals` folder).
 *
 * @throws DatasetFileError naming the file when it is missing or malformed.
 */
export async function readVinyalsList(
  dir: string,
  list: VinyalsList,
  alphabets: readonly Alphabet[],
): Promise<OmniglotClass[]> {
  const path = join(dir, `${list}.txt`);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new DatasetFileError(
      path,
      'missing split list',
      'It ships in ../shared/datasets/omniglot/splits/vinyals',
      {
        cause,
      },
    );
  }
  return parseVinyalsList(text, alphabets, path);
}

// The published lists split by alphabet, except Gurmukhi, whose characters 42-45 are in test. Encoding that
// rule lets users of `--download` (who lack the list files) get the same classes; a test checks it against
// the files.
const VINYALS_VAL_ALPHABETS = ['Hebrew', 'Mkhedruli_(Georgian)', 'Armenian', 'Early_Aramaic', 'Bengali'];
const VINYALS_TEST_ALPHABETS = [
  'Kannada',
  'Keble',
  'Malayalam',
  'Manipuri',
  'Mongolian',
  'Old_Church_Slavonic_(Cyrillic)',
  'Oriya',
  'Syriac_(Serto)',
  'Sylheti',
  'Tengwar',
  'Tibetan',
  'ULOG',
];
const VINYALS_SPLIT_ALPHABET = { name: 'Gurmukhi', firstTestCharacter: 42 };

/**
 * The Vinyals et al. (2016) split (train 1,028 / val 172 / test 423 characters, 4 rotations each) from the
 * embedded rule, in character-ID order. Same classes as the published lists, not the same order; use
 * {@link readVinyalsList} for the lists' exact order.
 */
export function vinyalsSplit(alphabets: readonly Alphabet[]): OmniglotSplit {
  const split: OmniglotSplit = { train: [], val: [], test: [] };
  for (const a of [...alphabets].sort((x, y) => x.firstId - y.firstId)) {
    for (let id = a.firstId; id <= a.lastId; id++) {
      const nn = id - a.firstId + 1;
      let subset: SplitSubset = 'train';
      if (VINYALS_VAL_ALPHABETS.includes(a.name)) subset = 'val';
      else if (VINYALS_TEST_ALPHABETS.includes(a.name)) subset = 'test';
      else if (a.name === VINYALS_SPLIT_ALPHABET.name && nn >= VINYALS_SPLIT_ALPHABET.firstTestCharacter) {
        subset = 'test';
      }
      for (const rotation of [0, 1, 2, 3] as const) split[subset].push({ characterId: id, rotation });
    }
  }
  return split;
}
