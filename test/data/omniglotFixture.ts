/**
 * A tiny deterministic "Omniglot" written at test time, in the real source formats, so that the preparation,
 * the readers and the splits run their real code paths without the full archives: two `.npz` sets, an
 * `id_to_alphabet.csv`, a PNG zip in the official layout and Vinyals-style split lists, with an
 * {@link OmniglotSourceSpec} carrying their counts, sizes and digests. About 150 KB on disk.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { PNG } from 'pngjs';
import { bytesDigest } from '../../src/data/checksum.js';
import type { OmniglotSet, OmniglotSourceSpec, SourceFile } from '../../src/data/omniglot/constants.js';

/** One fixture alphabet. Names are real ones so that the embedded Vinyals rule sorts them into subsets. */
export interface FixtureAlphabet {
  set: OmniglotSet;
  name: string;
  characters: number;
}

/**
 * The fixture's alphabets, in ID order: under the Vinyals rule Latin, Greek and Gurmukhi (its first
 * characters) are train, Hebrew val, Kannada and Tengwar test.
 */
export const FIXTURE_ALPHABETS: readonly FixtureAlphabet[] = [
  { set: 'background', name: 'Latin', characters: 4 },
  { set: 'background', name: 'Greek', characters: 3 },
  { set: 'background', name: 'Hebrew', characters: 3 },
  { set: 'evaluation', name: 'Gurmukhi', characters: 3 },
  { set: 'evaluation', name: 'Kannada', characters: 3 },
  { set: 'evaluation', name: 'Tengwar', characters: 2 },
];

/** Characters per set and in all. */
export const FIXTURE_COUNTS = { background: 10, evaluation: 8, total: 18 } as const;

const SIDE = 105;
const DRAWINGS = 20;

/** Where {@link writeOmniglotFixture} put things. */
export interface OmniglotFixture {
  /** The folder with the `.npz` files and `id_to_alphabet.csv` (pass as `from`). */
  dir: string;
  /** The spec of those files (pass as `spec`). */
  spec: OmniglotSourceSpec;
  /** A PNG zip of the background set in the official layout. */
  pngZip: string;
  /** The folder of `train.txt`, `val.txt`, `trainval.txt` and `test.txt`. */
  vinyalsDir: string;
  /** `images[set]`: characters x 20 x 105 x 105 bytes, 1 = white, 0 = ink, as written. */
  images: Record<OmniglotSet, Uint8Array>;
}

// A small LCG: the fixture must be identical on every machine and run.
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Drawing `drawing` (0-based) of character `id`: three thick strokes whose end points depend on the character
 * and are jittered per drawing, so drawings of a character are alike but not identical, and resampling and
 * inversion have something to act on.
 */
export function fixtureDrawing(id: number, drawing: number): Uint8Array {
  const img = new Uint8Array(SIDE * SIDE).fill(1);
  const shape = lcg(id * 7919);
  const jitter = lcg(id * 104_729 + drawing * 31 + 1);
  for (let stroke = 0; stroke < 3; stroke++) {
    const pt = () => 15 + shape() * 75 + (jitter() - 0.5) * 8;
    const [x0, y0, x1, y1] = [pt(), pt(), pt(), pt()];
    const steps = Math.ceil(Math.hypot(x1 - x0, y1 - y0)) + 1;
    for (let i = 0; i <= steps; i++) {
      const x = x0 + ((x1 - x0) * i) / steps;
      const y = y0 + ((y1 - y0) * i) / steps;
      for (let dy = -2; dy <= 2; dy++) {
        for (let dx = -2; dx <= 2; dx++) {
          const px = Math.round(x + dx);
          const py = Math.round(y + dy);
          if (px >= 0 && px < SIDE && py >= 0 && py < SIDE) img[py * SIDE + px] = 0;
        }
      }
    }
  }
  return img;
}

/** A `.npy` file (format 1.0, C order) holding `payload`. */
export function npyBytes(descr: string, shape: number[], payload: Uint8Array, fortran = false): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + header.length + 1;
  header += `${' '.repeat((64 - (total % 64)) % 64)}\n`;
  const out = new Uint8Array(10 + header.length + payload.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(payload, 10 + header.length);
  return out;
}

// A fixed member time keeps the zips byte-identical across runs.
const MTIME = new Date(Date.UTC(2020, 0, 1));

function sourceFile(name: string, bytes: Uint8Array): SourceFile {
  return { name, bytes: bytes.length, sha256: bytesDigest(bytes) };
}

function alphabetRanges(): { a: FixtureAlphabet; firstId: number; lastId: number }[] {
  let next = 1;
  return FIXTURE_ALPHABETS.map((a) => {
    const range = { a, firstId: next, lastId: next + a.characters - 1 };
    next += a.characters;
    return range;
  });
}

/** Writes the fixture into `dir` (created) and returns its spec and paths. */
export async function writeOmniglotFixture(dir: string): Promise<OmniglotFixture> {
  await mkdir(join(dir, 'splits', 'vinyals'), { recursive: true });
  const ranges = alphabetRanges();
  const images = {} as Record<OmniglotSet, Uint8Array>;
  const npz = {} as Record<OmniglotSet, SourceFile>;
  const sets = {} as OmniglotSourceSpec['sets'];
  let firstId = 1;
  for (const set of ['background', 'evaluation'] as const) {
    const characters = FIXTURE_COUNTS[set];
    const pixels = new Uint8Array(characters * DRAWINGS * SIDE * SIDE);
    const labels = new BigInt64Array(characters * DRAWINGS);
    for (let c = 0; c < characters; c++) {
      for (let d = 0; d < DRAWINGS; d++) {
        pixels.set(fixtureDrawing(firstId + c, d), (c * DRAWINGS + d) * SIDE * SIDE);
        labels[c * DRAWINGS + d] = BigInt(c);
      }
    }
    images[set] = pixels;
    const bytes = zipSync(
      {
        'images.npy': npyBytes('|b1', [characters, DRAWINGS, SIDE, SIDE], pixels),
        'labels.npy': npyBytes('<i8', [characters, DRAWINGS], new Uint8Array(labels.buffer)),
      },
      { mtime: MTIME },
    );
    const name = `images_${set}.npz`;
    await writeFile(join(dir, name), bytes);
    npz[set] = sourceFile(name, bytes);
    sets[set] = { characters, firstId, alphabets: ranges.filter((r) => r.a.set === set).length };
    firstId += characters;
  }

  const csv = new TextEncoder().encode(
    `set,alphabet,first_id,last_id,n_characters\n${ranges
      .map(
        (r) =>
          `${r.a.set},${r.a.name},${String(r.firstId).padStart(4, '0')},${String(r.lastId).padStart(4, '0')},${r.a.characters}`,
      )
      .join('\n')}\n`,
  );
  await writeFile(join(dir, 'id_to_alphabet.csv'), csv);

  // The background set as the official archive lays it out.
  const members: Record<string, Uint8Array> = {};
  for (const r of ranges.filter((x) => x.a.set === 'background')) {
    for (let id = r.firstId; id <= r.lastId; id++) {
      const nn = String(id - r.firstId + 1).padStart(2, '0');
      for (let d = 0; d < DRAWINGS; d++) {
        const src = images.background.subarray(
          ((id - 1) * DRAWINGS + d) * SIDE * SIDE,
          ((id - 1) * DRAWINGS + d + 1) * SIDE * SIDE,
        );
        const png = new PNG({ width: SIDE, height: SIDE, colorType: 0 });
        for (let p = 0; p < src.length; p++) {
          const v = src[p]! ? 255 : 0;
          png.data.fill(v, p * 4, p * 4 + 3);
          png.data[p * 4 + 3] = 255;
        }
        const path = `images_background/${r.a.name}/character${nn}/${String(id).padStart(4, '0')}_${String(d + 1).padStart(2, '0')}.png`;
        members[path] = new Uint8Array(PNG.sync.write(png, { colorType: 0 }));
      }
    }
  }
  const pngZip = join(dir, 'images_background_fixture.zip');
  await writeFile(pngZip, zipSync(members, { mtime: MTIME, level: 0 }));

  // Vinyals-style lists, one class a line, in reverse ID order (the embedded rule gives ID order), so a test
  // comparing them compares sets, not sequences.
  const subsetOf = (name: string, nn: number) =>
    name === 'Hebrew'
      ? 'val'
      : name === 'Kannada' || name === 'Tengwar' || (name === 'Gurmukhi' && nn >= 42)
        ? 'test'
        : 'train';
  const lists: Record<string, string[]> = { train: [], val: [], test: [] };
  for (const r of ranges) {
    for (let id = r.firstId; id <= r.lastId; id++) {
      const nn = id - r.firstId + 1;
      for (const rot of ['000', '090', '180', '270']) {
        lists[subsetOf(r.a.name, nn)]!.push(`${r.a.name}/character${String(nn).padStart(2, '0')}/rot${rot}`);
      }
    }
  }
  lists.trainval = [...lists.train!, ...lists.val!];
  const vinyalsDir = join(dir, 'splits', 'vinyals');
  for (const [list, lines] of Object.entries(lists)) {
    await writeFile(join(vinyalsDir, `${list}.txt`), `${[...lines].reverse().join('\n')}\n`);
  }

  const spec: OmniglotSourceSpec = { sets, npz, alphabetCsv: sourceFile('id_to_alphabet.csv', csv) };
  return { dir, spec, pngZip, vinyalsDir, images };
}
