/**
 * The alphabet table: which contiguous character-ID range belongs to which alphabet of which set.
 */
import { DatasetFileError } from '../errors.js';
import { type OmniglotSet, SET_INFO, type SetInfo } from './constants.js';

/** One alphabet and its character-ID range (inclusive, 1-based). */
export interface Alphabet {
  set: OmniglotSet;
  name: string;
  firstId: number;
  lastId: number;
}

/**
 * Parses `id_to_alphabet.csv` (`set,alphabet,first_id,last_id,n_characters`) and checks that the ranges
 * tile each set's IDs exactly.
 *
 * @param name the file name used in errors.
 * @param sets the counts the table must tile (default the real Omniglot's).
 * @throws DatasetFileError on a malformed row or ranges that overlap, leave gaps or disagree with the counts.
 */
export function parseAlphabetCsv(
  text: string,
  name: string,
  sets: Record<OmniglotSet, SetInfo> = SET_INFO,
): Alphabet[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim().length > 0);
  if (lines[0]?.trim() !== 'set,alphabet,first_id,last_id,n_characters') {
    throw new DatasetFileError(name, 'unexpected header (want set,alphabet,first_id,last_id,n_characters)');
  }
  const alphabets = lines.slice(1).map((line, i) => {
    const [set, alphabet, first, last, n] = line.split(',');
    const firstId = Number(first);
    const lastId = Number(last);
    if (
      (set !== 'background' && set !== 'evaluation') ||
      !alphabet ||
      !Number.isInteger(firstId) ||
      !Number.isInteger(lastId) ||
      lastId - firstId + 1 !== Number(n)
    ) {
      throw new DatasetFileError(name, `malformed row ${i + 2}: ${JSON.stringify(line)}`);
    }
    return { set, name: alphabet, firstId, lastId } satisfies Alphabet;
  });
  checkAlphabetTable(alphabets, name, sets);
  return alphabets;
}

/**
 * Checks that alphabets (in any order) tile the background and evaluation ID ranges with no gap or overlap.
 *
 * @param sets the counts to tile (default the real Omniglot's).
 * @throws DatasetFileError naming `source` when they do not.
 */
export function checkAlphabetTable(
  alphabets: readonly Alphabet[],
  source: string,
  sets: Record<OmniglotSet, SetInfo> = SET_INFO,
): void {
  for (const set of ['background', 'evaluation'] as const) {
    const info = sets[set];
    const ranges = alphabets.filter((a) => a.set === set).sort((a, b) => a.firstId - b.firstId);
    let next = info.firstId;
    for (const a of ranges) {
      if (a.firstId !== next || a.lastId < a.firstId) {
        throw new DatasetFileError(
          source,
          `${set} alphabet ${a.name} starts at ID ${a.firstId}, expected ${next}`,
        );
      }
      next = a.lastId + 1;
    }
    if (next !== info.firstId + info.characters || ranges.length !== info.alphabets) {
      throw new DatasetFileError(
        source,
        `${set} alphabets cover ${next - info.firstId} characters in ${ranges.length} alphabets, ` +
          `expected ${info.characters} in ${info.alphabets}`,
      );
    }
  }
}
