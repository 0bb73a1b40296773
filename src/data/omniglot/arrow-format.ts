/**
 * The Arrow IPC layout of a prepared Omniglot set: one row per drawing, sorted by character ID then drawing,
 * written in record batches of whole characters so a streaming reader holds one batch at a time.
 */
import {
  Dictionary,
  Field,
  FixedSizeList,
  Int8,
  Int16,
  makeData,
  RecordBatch,
  Schema,
  Struct,
  Table,
  tableToIPC,
  Uint8,
  Utf8,
  vectorFromArray,
} from 'apache-arrow';
import type { Alphabet } from './alphabets.js';
import { DRAWINGS, IMAGE_PIXELS, IMAGE_SIZE, type OmniglotSet } from './constants.js';

/** Column names, shared by writer and reader. */
export const COLUMNS = {
  /** The set (`background` / `evaluation`), dictionary-encoded. */
  set: 'set',
  /** The alphabet's folder name, dictionary-encoded. */
  alphabet: 'alphabet',
  /** The global 1-based character ID (1..1623). */
  characterId: 'character_id',
  /** The 1-based character index within its alphabet (the NN of `characterNN`). */
  character: 'character',
  /** The 1-based drawing number (1..20). */
  drawing: 'drawing',
  /** 28 x 28 uint8 pixels, row-major, 255 = ink. */
  pixels: 'pixels',
} as const;

/** File name of a prepared set. */
export function arrowFileName(set: OmniglotSet): string {
  return `omniglot-${set}-${IMAGE_SIZE}.arrow`;
}

// 50 characters (1,000 drawings, ~784 kB of pixels) per batch bounds a streaming reader's working memory.
const CHARACTERS_PER_BATCH = 50;

/**
 * Encodes a preprocessed set as an Arrow IPC file.
 *
 * @param pixels `characters * 20 * 784` bytes from {@link preprocessSet}.
 * @param alphabets the set's alphabets (others are ignored).
 * @param metadata string metadata stored in the schema (filter, source digests...).
 */
export function encodeSetArrow(
  set: OmniglotSet,
  firstId: number,
  characters: number,
  pixels: Uint8Array,
  alphabets: readonly Alphabet[],
  metadata: Record<string, string>,
): Uint8Array {
  const own = alphabets.filter((a) => a.set === set).sort((a, b) => a.firstId - b.firstId);
  const setType = new Dictionary(new Utf8(), new Int8(), 0);
  const alphabetType = new Dictionary(new Utf8(), new Int8(), 1);
  const pixelType = new FixedSizeList(IMAGE_PIXELS, new Field('pixel', new Uint8(), false));
  const schema = new Schema(
    [
      new Field(COLUMNS.set, setType, false),
      new Field(COLUMNS.alphabet, alphabetType, false),
      new Field(COLUMNS.characterId, new Int16(), false),
      new Field(COLUMNS.character, new Int16(), false),
      new Field(COLUMNS.drawing, new Int8(), false),
      new Field(COLUMNS.pixels, pixelType, false),
    ],
    new Map(Object.entries({ ...metadata, image_size: String(IMAGE_SIZE), set })),
  );
  // One dictionary vector per column for every batch: the IPC file format cannot replace dictionaries.
  const setDict = vectorFromArray([set], new Utf8());
  const alphabetDict = vectorFromArray(
    own.map((a) => a.name),
    new Utf8(),
  );
  const batches: RecordBatch[] = [];
  for (let c0 = 0; c0 < characters; c0 += CHARACTERS_PER_BATCH) {
    const c1 = Math.min(characters, c0 + CHARACTERS_PER_BATCH);
    const n = (c1 - c0) * DRAWINGS;
    const setIdx = new Int8Array(n);
    const alphabetIdx = new Int8Array(n);
    const characterId = new Int16Array(n);
    const character = new Int16Array(n);
    const drawing = new Int8Array(n);
    let a = 0;
    for (let c = c0; c < c1; c++) {
      const id = firstId + c;
      while (own[a]!.lastId < id) a++;
      for (let d = 0; d < DRAWINGS; d++) {
        const r = (c - c0) * DRAWINGS + d;
        alphabetIdx[r] = a;
        characterId[r] = id;
        character[r] = id - own[a]!.firstId + 1;
        drawing[r] = d + 1;
      }
    }
    const pixelSlice = pixels.subarray(c0 * DRAWINGS * IMAGE_PIXELS, c1 * DRAWINGS * IMAGE_PIXELS);
    const children = [
      makeData({ type: setType, length: n, nullCount: 0, data: setIdx, dictionary: setDict }),
      makeData({ type: alphabetType, length: n, nullCount: 0, data: alphabetIdx, dictionary: alphabetDict }),
      makeData({ type: new Int16(), length: n, nullCount: 0, data: characterId }),
      makeData({ type: new Int16(), length: n, nullCount: 0, data: character }),
      makeData({ type: new Int8(), length: n, nullCount: 0, data: drawing }),
      makeData({
        type: pixelType,
        length: n,
        nullCount: 0,
        child: makeData({ type: new Uint8(), length: n * IMAGE_PIXELS, nullCount: 0, data: pixelSlice }),
      }),
    ];
    batches.push(
      new RecordBatch(
        schema,
        makeData({ type: new Struct(schema.fields), length: n, nullCount: 0, children }),
      ),
    );
  }
  return tableToIPC(new Table(schema, batches), 'file');
}
