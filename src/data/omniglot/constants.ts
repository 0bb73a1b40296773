/**
 * Fixed facts about Omniglot and its source files (from the shared folder's README), embedded so that
 * verification does not depend on a file that could itself be damaged.
 */

/** The two Omniglot sets, in ID order. */
export type OmniglotSet = 'background' | 'evaluation';

/** Both sets in ID order (background IDs come first). */
export const OMNIGLOT_SETS: readonly OmniglotSet[] = ['background', 'evaluation'];

/** Drawings of each character. */
export const DRAWINGS = 20;
/** Side of the original images. */
export const SOURCE_SIZE = 105;
/** Side of the prepared images (as MAML). */
export const IMAGE_SIZE = 28;
/** Pixels of one prepared image. */
export const IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE;
/** Characters in all of Omniglot. */
export const TOTAL_CHARACTERS = 1623;

/** Per set: character count and first character ID (IDs are 1-based and contiguous across the sets). */
export const SET_INFO: Record<OmniglotSet, SetInfo> = {
  background: { characters: 964, firstId: 1, alphabets: 30 },
  evaluation: { characters: 659, firstId: 965, alphabets: 20 },
};

/** A source file with its expected size and digest. */
export interface SourceFile {
  name: string;
  bytes: number;
  sha256: string;
}

/** The `.npz` source of each set. */
export const NPZ_SOURCES: Record<OmniglotSet, SourceFile> = {
  background: {
    name: 'images_background.npz',
    bytes: 3_340_794,
    sha256: '8bf84167413cd00beacdce3fe582f780ab538d8dbef043a6d688f2527bbce199',
  },
  evaluation: {
    name: 'images_evaluation.npz',
    bytes: 2_415_269,
    sha256: '0b84c7ffd94c4841c0040e529c86a82eaaccb986d8eadad5673f7991b7475276',
  },
};

/** The character-ID range of each alphabet. */
export const ALPHABET_CSV: SourceFile = {
  name: 'id_to_alphabet.csv',
  bytes: 1_905,
  sha256: '3f5d42313a48cd8b1ad9b629f7ba4652576cd1b625035d259cd3f10002e31446',
};

/**
 * What a set of Omniglot source files holds and how to verify them: the set sizes, first IDs and alphabet
 * counts, and the size and sha256 of each `.npz` and of `id_to_alphabet.csv`. The preparation and the source
 * readers take one (default {@link OMNIGLOT_SPEC}, the real files), so that a small synthetic Omniglot with
 * its own counts and digests goes through exactly the code paths the real one does; a spec never loosens a
 * check, it only says what to check against.
 */
export interface OmniglotSourceSpec {
  /** Per set: characters, first character ID and alphabets (IDs contiguous across the sets, from 1). */
  sets: Record<OmniglotSet, SetInfo>;
  /** The `.npz` source of each set. */
  npz: Record<OmniglotSet, SourceFile>;
  /** The alphabet table. */
  alphabetCsv: SourceFile;
}

/** One set's counts. */
export interface SetInfo {
  characters: number;
  firstId: number;
  alphabets: number;
}

/** The official 5-alphabet subset in the original PNG layout (used to test the PNG reader). */
export const SMALL1_ZIP: SourceFile = {
  name: 'images_background_small1.zip',
  bytes: 1_319_022,
  sha256: 'f38eb80f801274ac2b4dff5b24289016bfaba4a7d5bb50deebf27104ad6cb8a4',
};

/** The real Omniglot sources (the shared folder's files), the default spec everywhere. */
export const OMNIGLOT_SPEC: OmniglotSourceSpec = {
  sets: SET_INFO,
  npz: NPZ_SOURCES,
  alphabetCsv: ALPHABET_CSV,
};

/** An official archive from `brendenlake/omniglot`, checked by md5 as its publisher lists. */
export interface OfficialArchive {
  name: string;
  url: string;
  bytes: number;
  md5: string;
}

/** The official PNG archives of each set, for `--download`. */
export const OFFICIAL_ARCHIVES: Record<OmniglotSet, OfficialArchive> = {
  background: {
    name: 'images_background.zip',
    url: 'https://raw.githubusercontent.com/brendenlake/omniglot/master/python/images_background.zip',
    bytes: 9_464_212,
    md5: '68d2efa1b9178cc56df9314c21c6e718',
  },
  evaluation: {
    name: 'images_evaluation.zip',
    url: 'https://raw.githubusercontent.com/brendenlake/omniglot/master/python/images_evaluation.zip',
    bytes: 6_462_886,
    md5: '6b91aef0f799c5bb55b94e3f2daec811',
  },
};

/** The command that (re)creates the prepared files, quoted in errors. */
export const PREPARE_COMMAND = 'metatape datasets prepare omniglot --from ../shared/datasets/omniglot';

/**
 * The command that (re)creates the prepared files in `dir`: with `--dir` unless `dir` is the default
 * `datasets/omniglot`, so that following the hint writes where the config reads.
 */
export function prepareCommand(dir: string): string {
  const normal = dir.replace(/\/+$/, '');
  return normal === 'datasets/omniglot' || normal === './datasets/omniglot'
    ? PREPARE_COMMAND
    : `${PREPARE_COMMAND} --dir ${/[\s'"$`\\]/.test(dir) ? JSON.stringify(dir) : dir}`;
}

/** How to obtain missing or damaged source files, quoted in errors. */
export const SOURCE_HINT =
  'Get the source files from the shared folder (metatape datasets prepare omniglot --from ../shared/datasets/omniglot) ' +
  'or fetch the official archives (metatape datasets prepare omniglot --download)';
