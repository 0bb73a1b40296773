/**
 * `metatape datasets info`: a summary of the prepared dataset (counts, splits, checksums) and optionally a
 * contact sheet.
 */
import { join } from 'node:path';
import { writeFileAtomic } from '../../io/atomic.js';
import { DRAWINGS, type OmniglotSet } from './constants.js';
import { renderContactSheet } from './contact-sheet.js';
import { manifestCharacters } from './manifest.js';
import { openOmniglot, type VerifyLevel } from './reader.js';
import { mamlSplit, type OmniglotSplit, vinyalsSplit } from './splits.js';

/** Options of {@link omniglotInfo}. */
export interface OmniglotInfoOptions {
  /** Prepared dataset folder; default `datasets/omniglot`. */
  dir?: string;
  /** Manifest check; default `sha256` (info is the place to pay for a full check). */
  verify?: VerifyLevel;
  /** When given, a contact sheet PNG (first drawing of each alphabet's first character) is written here. */
  contactSheet?: string;
}

/** Class and character counts of one split. */
export interface SplitSummary {
  train: { characters: number; classes: number };
  val: { characters: number; classes: number };
  test: { characters: number; classes: number };
}

/** The summary {@link omniglotInfo} returns (JSON-serialisable). */
export interface OmniglotInfo {
  dir: string;
  imageSize: number;
  filter: string;
  counts: Record<OmniglotSet | 'total', { alphabets: number; characters: number; images: number }>;
  splits: { maml: SplitSummary; vinyals: SplitSummary };
  files: {
    file: string;
    set: OmniglotSet;
    rows: number;
    bytes: number;
    sha256: string;
    verified: VerifyLevel;
  }[];
  sources: { kind: string; files: { name: string; bytes: number; digest: string }[] };
  /** Path of the contact sheet, when one was asked for. */
  contactSheet?: string;
}

/**
 * Opens the prepared dataset (verifying it) and summarises it.
 *
 * @throws DatasetFileError when the prepared files are missing or damaged, naming the file and the command
 *   that recreates it.
 */
export async function omniglotInfo(options: OmniglotInfoOptions = {}): Promise<OmniglotInfo> {
  const dir = options.dir ?? join('datasets', 'omniglot');
  const verify = options.verify ?? 'sha256';
  const images = await openOmniglot(dir, { verify });
  const { manifest } = images;
  const count = (set?: OmniglotSet) => {
    const chars = images.characters.filter((c) => set === undefined || c.set === set);
    return {
      alphabets: manifest.alphabets.filter((a) => set === undefined || a.set === set).length,
      characters: chars.length,
      images: chars.length * DRAWINGS,
    };
  };
  const info: OmniglotInfo = {
    dir,
    imageSize: manifest.imageSize,
    filter: manifest.filter,
    counts: { background: count('background'), evaluation: count('evaluation'), total: count() },
    splits: {
      maml: summarise(mamlSplit({ characters: manifestCharacters(manifest) })),
      vinyals: summarise(vinyalsSplit(manifest.alphabets)),
    },
    files: manifest.files.map((f) => ({
      file: f.file,
      set: f.set,
      rows: f.rows,
      bytes: f.bytes,
      sha256: f.sha256,
      verified: verify,
    })),
    sources: manifest.source,
  };
  if (options.contactSheet !== undefined) {
    const rows = manifest.alphabets.map((a) => images.rowsOf(a.firstId)[0]!);
    await writeFileAtomic(options.contactSheet, renderContactSheet(images, rows, { columns: 10 }));
    info.contactSheet = options.contactSheet;
  }
  return info;
}

function summarise(split: OmniglotSplit): SplitSummary {
  const part = (classes: OmniglotSplit['train']) => ({
    characters: new Set(classes.map((c) => c.characterId)).size,
    classes: classes.length,
  });
  return { train: part(split.train), val: part(split.val), test: part(split.test) };
}
