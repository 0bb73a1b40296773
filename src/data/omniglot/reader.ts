/**
 * Opening prepared Omniglot files. Record batches are streamed from each Arrow file (random-access reads of
 * one batch at a time through a file handle), and only the pixel bytes and small index columns are kept.
 */
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Dictionary,
  type FixedSizeList,
  type Int,
  RecordBatchReader,
  type Uint8,
  type Vector,
} from 'apache-arrow';
import { fileDigest } from '../checksum.js';
import { DatasetFileError } from '../errors.js';
import { COLUMNS } from './arrow-format.js';
import { DRAWINGS, IMAGE_PIXELS, IMAGE_SIZE, type OmniglotSet, prepareCommand } from './constants.js';
import { type OmniglotManifest, readManifest } from './manifest.js';

/** How thoroughly {@link openOmniglot} checks files against the manifest. */
export type VerifyLevel = 'size' | 'sha256';

/** Options of {@link openOmniglot}. */
export interface OpenOmniglotOptions {
  /**
   * `sha256` (default: every byte checked against the manifest, so a damaged file is never trained on) or
   * `size` (instant; for callers that just verified the same files).
   */
  verify?: VerifyLevel;
  /** Only load these sets (default both). */
  sets?: readonly OmniglotSet[];
}

/** One character (class before rotation). */
export interface OmniglotCharacter {
  /** Global 1-based ID (1..1623). */
  id: number;
  set: OmniglotSet;
  alphabet: string;
  /** 1-based index within the alphabet (the NN of `characterNN`). */
  character: number;
}

/**
 * Prepared Omniglot images in memory: one `Uint8Array` of pixels (255 = ink) and per-character row lists.
 * Every character has exactly 20 drawings.
 */
export class OmniglotImages {
  /** Row-major `rows x 28 x 28` pixels, 0..255, 255 = ink. */
  readonly pixels: Uint8Array;
  /** Characters in ascending ID order. */
  readonly characters: readonly OmniglotCharacter[];
  /** The manifest the files were checked against. */
  readonly manifest: OmniglotManifest;
  /** Side of an image (28). */
  readonly imageSize = IMAGE_SIZE;
  /** `characters.length x 20` row indexes: `drawingRows[c * 20 + d]` is drawing d+1 of character c. */
  readonly drawingRows: Int32Array;
  private readonly indexById: Map<number, number>;

  constructor(
    pixels: Uint8Array,
    characters: OmniglotCharacter[],
    drawingRows: Int32Array,
    manifest: OmniglotManifest,
  ) {
    this.pixels = pixels;
    this.characters = characters;
    this.drawingRows = drawingRows;
    this.manifest = manifest;
    this.indexById = new Map(characters.map((c, i) => [c.id, i]));
  }

  /** Number of images. */
  get rows(): number {
    return this.pixels.length / IMAGE_PIXELS;
  }

  /** Position of a character ID in {@link characters}; throws a RangeError when it is not loaded. */
  indexOf(id: number): number {
    const i = this.indexById.get(id);
    if (i === undefined) throw new RangeError(`character ${id} is not loaded`);
    return i;
  }

  /** The rows of a character's 20 drawings, in drawing order (a view; do not modify). */
  rowsOf(id: number): Int32Array {
    const i = this.indexOf(id);
    return this.drawingRows.subarray(i * DRAWINGS, (i + 1) * DRAWINGS);
  }

  /** The 784 pixels of one row (a view; do not modify). */
  image(row: number): Uint8Array {
    return this.pixels.subarray(row * IMAGE_PIXELS, (row + 1) * IMAGE_PIXELS);
  }

  /** The 784 pixels of drawing `drawing` (1-based) of character `id` (a view). */
  imageOf(id: number, drawing: number): Uint8Array {
    if (!(drawing >= 1 && drawing <= DRAWINGS)) throw new RangeError(`drawing must be 1..20, got ${drawing}`);
    return this.image(this.rowsOf(id)[drawing - 1]!);
  }

  /** `Alphabet/characterNN`, the class key used by the Vinyals split lists (without rotation). */
  keyOf(character: OmniglotCharacter): string {
    return `${character.alphabet}/character${String(character.character).padStart(2, '0')}`;
  }
}

/**
 * Opens the prepared files in `dir` (default `datasets/omniglot`), checking each against the manifest first.
 *
 * @example
 * const images = await openOmniglot('datasets/omniglot');
 * const firstDrawing = images.imageOf(1, 1); // 784 bytes
 * @throws DatasetFileError naming the file, and the command that recreates it, when the manifest or a file is
 *   missing, has the wrong size or digest, or does not hold what the manifest says.
 */
export async function openOmniglot(
  dir = join('datasets', 'omniglot'),
  options: OpenOmniglotOptions = {},
): Promise<OmniglotImages> {
  const manifest = await readManifest(dir);
  const wanted = manifest.files.filter((f) => options.sets?.includes(f.set) ?? true);
  const hint = `Recreate it: ${prepareCommand(dir)}`;
  for (const f of wanted) {
    const path = join(dir, f.file);
    const size = await stat(path).then(
      (s) => s.size,
      () => -1,
    );
    if (size < 0) throw new DatasetFileError(path, 'missing prepared file', hint);
    if (size !== f.bytes) {
      throw new DatasetFileError(
        path,
        `size ${size} bytes, manifest says ${f.bytes} (truncated or stale)`,
        hint,
      );
    }
    if ((options.verify ?? 'sha256') === 'sha256') {
      const digest = await fileDigest(path);
      if (digest !== f.sha256) throw new DatasetFileError(path, 'sha256 does not match the manifest', hint);
    }
  }

  const totalRows = wanted.reduce((s, f) => s + f.rows, 0);
  const pixels = new Uint8Array(totalRows * IMAGE_PIXELS);
  const characterId = new Int16Array(totalRows);
  const drawing = new Int8Array(totalRows);
  const characters = new Map<number, OmniglotCharacter>();
  let row = 0;
  for (const f of wanted) {
    const path = join(dir, f.file);
    const end = row + f.rows;
    try {
      row = await readArrowFile(path, f.set, row, end, pixels, characterId, drawing, characters);
    } catch (cause) {
      if (cause instanceof DatasetFileError) throw cause;
      throw new DatasetFileError(path, `unreadable Arrow file (${(cause as Error).message})`, hint, {
        cause,
      });
    }
    if (row !== end)
      throw new DatasetFileError(path, `holds ${row - end + f.rows} rows, manifest says ${f.rows}`, hint);
  }

  const sorted = [...characters.values()].sort((a, b) => a.id - b.id);
  const index = new Map(sorted.map((c, i) => [c.id, i]));
  const drawingRows = new Int32Array(sorted.length * DRAWINGS).fill(-1);
  for (let r = 0; r < totalRows; r++) {
    drawingRows[index.get(characterId[r]!)! * DRAWINGS + drawing[r]! - 1] = r;
  }
  const gap = drawingRows.indexOf(-1);
  if (gap >= 0) {
    const c = sorted[Math.floor(gap / DRAWINGS)]!;
    throw new DatasetFileError(
      dir,
      `character ${c.id} lacks drawing ${(gap % DRAWINGS) + 1}`,
      `Recreate it: ${prepareCommand(dir)}`,
    );
  }
  return new OmniglotImages(pixels, sorted, drawingRows, manifest);
}

// Copies one file's batches into the shared arrays; returns the next free row.
async function readArrowFile(
  path: string,
  set: OmniglotSet,
  start: number,
  end: number,
  pixels: Uint8Array,
  characterId: Int16Array,
  drawing: Int8Array,
  characters: Map<number, OmniglotCharacter>,
): Promise<number> {
  const handle = await open(path, 'r');
  let row = start;
  try {
    const reader = await RecordBatchReader.from(handle);
    await reader.open();
    for await (const batch of reader) {
      const n = batch.numRows;
      if (row + n > end) throw new Error('more rows than the manifest says');
      const pix = batch.getChild(COLUMNS.pixels) as Vector<FixedSizeList<Uint8>> | null;
      const ids = batch.getChild(COLUMNS.characterId) as Vector<Int> | null;
      const draws = batch.getChild(COLUMNS.drawing) as Vector<Int> | null;
      const alphabets = batch.getChild(COLUMNS.alphabet) as Vector<Dictionary> | null;
      const nn = batch.getChild(COLUMNS.character) as Vector<Int> | null;
      if (!pix || !ids || !draws || !alphabets || !nn) throw new Error('missing columns');
      let offset = row;
      // A column may span several Data chunks; copy each chunk's contiguous values directly.
      for (const data of pix.data) {
        const values = data.children[0]!.values as Uint8Array;
        const first = data.offset * IMAGE_PIXELS;
        pixels.set(values.subarray(first, first + data.length * IMAGE_PIXELS), offset * IMAGE_PIXELS);
        offset += data.length;
      }
      characterId.set(ids.toArray() as Int16Array, row);
      drawing.set(draws.toArray() as Int8Array, row);
      const nnValues = nn.toArray() as Int16Array;
      for (let i = 0; i < n; i += DRAWINGS) {
        const id = characterId[row + i]!;
        if (!characters.has(id)) {
          characters.set(id, { id, set, alphabet: String(alphabets.get(i)), character: nnValues[i]! });
        }
      }
      row += n;
    }
  } finally {
    await handle.close();
  }
  return row;
}
