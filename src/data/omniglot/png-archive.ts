/**
 * A reader for the original Omniglot archives' layout:
 * `<root>/<Alphabet>/characterNN/<ID>_<drawing>.png`, each a 105x105 1-bit PNG.
 */
import { unzipSync } from 'fflate';
import { PNG } from 'pngjs';
import { DatasetFileError } from '../errors.js';
import type { Alphabet } from './alphabets.js';
import { DRAWINGS, type OmniglotSet, SET_INFO, type SetInfo, SOURCE_SIZE } from './constants.js';
import type { RawOmniglotSet } from './raw-set.js';

/** One drawing read from an archive. */
export interface PngDrawing {
  alphabet: string;
  /** The folder's NN: the character's 1-based index within its alphabet. */
  characterInAlphabet: number;
  /** The global 1-based character ID from the file name. */
  id: number;
  /** 1-based drawing number. */
  drawing: number;
  /** 105 x 105 bytes, 1 for white background and 0 for ink (as in the `.npz` files). */
  pixels: Uint8Array;
}

const PATH = /^(?:[^/]+\/)?([^/]+)\/character(\d+)\/(\d{4})_(\d{2})\.png$/;

/**
 * Decodes every drawing in an Omniglot PNG archive (official full set or a `_small` subset).
 *
 * @param name the archive's path, used in errors.
 * @throws DatasetFileError when the zip is corrupt, a PNG is undecodable or not 105x105, or a path does not
 *   follow the layout.
 */
export function readOmniglotPngArchive(bytes: Uint8Array, name: string): PngDrawing[] {
  let members: Record<string, Uint8Array>;
  try {
    members = unzipSync(bytes, { filter: (f) => f.name.endsWith('.png') });
  } catch (cause) {
    throw new DatasetFileError(name, `corrupt or truncated zip archive (${(cause as Error).message})`, '', {
      cause,
    });
  }
  const out: PngDrawing[] = [];
  for (const [path, data] of Object.entries(members)) {
    if (path.split('/').some((part) => part.startsWith('.') || part === '__MACOSX')) continue;
    const m = PATH.exec(path);
    if (!m)
      throw new DatasetFileError(name, `unexpected member ${path} (want <Alphabet>/characterNN/ID_DD.png)`);
    let png: PNG;
    try {
      png = PNG.sync.read(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    } catch (cause) {
      throw new DatasetFileError(`${name}:${path}`, `undecodable PNG (${(cause as Error).message})`, '', {
        cause,
      });
    }
    if (png.width !== SOURCE_SIZE || png.height !== SOURCE_SIZE) {
      throw new DatasetFileError(`${name}:${path}`, `image is ${png.width}x${png.height}, expected 105x105`);
    }
    const pixels = new Uint8Array(SOURCE_SIZE * SOURCE_SIZE);
    // pngjs expands to 8-bit RGBA; the source is 1-bit grey, so the red channel alone decides.
    for (let p = 0; p < pixels.length; p++) pixels[p] = png.data[p * 4]! >= 128 ? 1 : 0;
    out.push({
      alphabet: m[1]!,
      characterInAlphabet: Number(m[2]),
      id: Number(m[3]),
      drawing: Number(m[4]),
      pixels,
    });
  }
  return out;
}

/**
 * Assembles a complete set from an official archive's drawings and derives its alphabet table from the folder
 * names.
 *
 * @throws DatasetFileError naming `name` when drawings are missing, duplicated, outside the set's ID range, or
 *   a folder's NN disagrees with the ID.
 * @param info the set's expected counts (default the real Omniglot's).
 */
export function assembleRawSet(
  drawings: readonly PngDrawing[],
  set: OmniglotSet,
  name: string,
  info: SetInfo = SET_INFO[set],
): { raw: RawOmniglotSet; alphabets: Alphabet[] } {
  const { characters, firstId } = info;
  const perImage = SOURCE_SIZE * SOURCE_SIZE;
  const images = new Uint8Array(characters * DRAWINGS * perImage);
  const seen = new Uint8Array(characters * DRAWINGS);
  const ranges = new Map<string, Alphabet>();
  for (const d of drawings) {
    const c = d.id - firstId;
    if (c < 0 || c >= characters || d.drawing < 1 || d.drawing > DRAWINGS) {
      throw new DatasetFileError(name, `drawing ${d.id}_${d.drawing} is outside the ${set} set`);
    }
    const slot = c * DRAWINGS + d.drawing - 1;
    if (seen[slot]) throw new DatasetFileError(name, `drawing ${d.id}_${d.drawing} appears twice`);
    seen[slot] = 1;
    images.set(d.pixels, slot * perImage);
    const a = ranges.get(d.alphabet) ?? { set, name: d.alphabet, firstId: d.id, lastId: d.id };
    a.firstId = Math.min(a.firstId, d.id);
    a.lastId = Math.max(a.lastId, d.id);
    ranges.set(d.alphabet, a);
  }
  const missing = seen.indexOf(0);
  if (missing >= 0) {
    const id = firstId + Math.floor(missing / DRAWINGS);
    throw new DatasetFileError(name, `drawing ${id}_${(missing % DRAWINGS) + 1} is missing`);
  }
  for (const d of drawings) {
    if (d.id - ranges.get(d.alphabet)!.firstId + 1 !== d.characterInAlphabet) {
      throw new DatasetFileError(name, `${d.alphabet}/character${d.characterInAlphabet} holds ID ${d.id}`);
    }
  }
  return { raw: { set, firstId, characters, images }, alphabets: [...ranges.values()] };
}
