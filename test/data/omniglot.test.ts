import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetFileError } from '../../src/data/errors.js';
import { parseAlphabetCsv } from '../../src/data/omniglot/alphabets.js';
import { omniglotInfo } from '../../src/data/omniglot/info.js';
import {
  assembleRawSet,
  type PngDrawing,
  readOmniglotPngArchive,
} from '../../src/data/omniglot/png-archive.js';
import { type PrepareOmniglotResult, prepareOmniglot } from '../../src/data/omniglot/prepare.js';
import { createPreprocessor } from '../../src/data/omniglot/preprocess.js';
import { type OmniglotImages, openOmniglot } from '../../src/data/omniglot/reader.js';
import { createOmniglotEpisodeSource } from '../../src/data/omniglot/source.js';
import { decodeNpzSet } from '../../src/data/omniglot/sources.js';
import { Rng } from '../../src/tensor/random.js';
import { FIXTURE_COUNTS, type OmniglotFixture, writeOmniglotFixture } from './omniglotFixture.js';
import { hasSharedOmniglot, SHARED_OMNIGLOT, sharedTitle } from './shared.js';

const SOURCE_FILES = ['images_background.npz', 'images_evaluation.npz', 'id_to_alphabet.csv'];

let tmp: string;
let fixture: OmniglotFixture;
let out: string;
let prepared: PrepareOmniglotResult;
let images: OmniglotImages;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'metatape-omniglot-'));
  fixture = await writeOmniglotFixture(join(tmp, 'fixture'));
  out = join(tmp, 'prepared');
  prepared = await prepareOmniglot({ from: fixture.dir, out, spec: fixture.spec });
  images = await openOmniglot(out, { verify: 'sha256' });
});

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A private copy of the fixture's sources, for corrupting. */
async function copySources(name: string): Promise<string> {
  const dir = join(tmp, name);
  await mkdir(dir, { recursive: true });
  for (const f of SOURCE_FILES) await copyFile(join(fixture.dir, f), join(dir, f));
  return dir;
}

describe('prepareOmniglot (generated fixture)', () => {
  it('writes two Arrow files, a manifest and a card, and nothing else', async () => {
    expect((await readdir(out)).sort()).toEqual([
      'README.md',
      'manifest.json',
      'omniglot-background-28.arrow',
      'omniglot-evaluation-28.arrow',
    ]);
    const card = await readFile(join(out, 'README.md'), 'utf8');
    expect(card).toContain(prepared.manifest.files[0]!.sha256);
  });

  it('records what was prepared: sets, IDs, alphabets and the source digests', () => {
    const [bg, ev] = prepared.manifest.files;
    expect(bg).toMatchObject({ set: 'background', characters: 10, firstId: 1, rows: 200 });
    expect(ev).toMatchObject({ set: 'evaluation', characters: 8, firstId: 11, rows: 160 });
    expect(images.rows).toBe(FIXTURE_COUNTS.total * 20);
    expect(images.characters.length).toBe(FIXTURE_COUNTS.total);
    expect(prepared.manifest.alphabets.map((a) => a.name)).toEqual([
      'Latin',
      'Greek',
      'Hebrew',
      'Gurmukhi',
      'Kannada',
      'Tengwar',
    ]);
    expect(images.characters[5]).toEqual({ id: 6, set: 'background', alphabet: 'Greek', character: 2 });
    expect(images.characters[17]).toEqual({ id: 18, set: 'evaluation', alphabet: 'Tengwar', character: 2 });
    expect(prepared.manifest.source.files).toEqual([
      {
        name: 'id_to_alphabet.csv',
        bytes: fixture.spec.alphabetCsv.bytes,
        digest: `sha256:${fixture.spec.alphabetCsv.sha256}`,
      },
      ...(['background', 'evaluation'] as const).map((s) => ({
        name: fixture.spec.npz[s].name,
        bytes: fixture.spec.npz[s].bytes,
        digest: `sha256:${fixture.spec.npz[s].sha256}`,
      })),
    ]);
  });

  it('stores inverted 28x28 uint8 pixels: dark background, bright ink, full range', () => {
    let min = 255;
    let max = 0;
    let border = 0;
    for (let r = 0; r < images.rows; r++) {
      const img = images.image(r);
      border += img[0]! + img[27]! + img[27 * 28]! + img[783]!;
      for (const v of img) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
    expect(min).toBe(0);
    expect(max).toBe(255);
    expect(border).toBe(0); // strokes keep 15 px off the edges, so corners are background after inversion
  });

  it('resizes each drawing as the preprocessor does, from the source pixels', () => {
    const pre = createPreprocessor();
    const small = new Uint8Array(784);
    const perImage = 105 * 105;
    for (const [id, drawing] of [
      [1, 1],
      [10, 20],
      [11, 1],
      [18, 7],
    ] as const) {
      const set = id <= 10 ? 'background' : 'evaluation';
      const index = (id - (set === 'background' ? 1 : 11)) * 20 + drawing - 1;
      pre.convert(fixture.images[set].subarray(index * perImage, (index + 1) * perImage), small);
      expect(images.imageOf(id, drawing)).toEqual(small);
      // The ink area survives resampling: the share of ink matches the source's within a few percent.
      const sourceInk =
        fixture.images[set]
          .subarray(index * perImage, (index + 1) * perImage)
          .reduce((s, v) => s + 1 - v, 0) / perImage;
      const preparedInk = small.reduce((s, v) => s + v, 0) / 784 / 255;
      expect(Math.abs(preparedInk - sourceInk)).toBeLessThan(0.02);
    }
  });

  it('is deterministic: re-preparing gives byte-identical files', async () => {
    const again = await prepareOmniglot({ from: fixture.dir, out: join(tmp, 'again'), spec: fixture.spec });
    expect(again.manifest).toEqual(prepared.manifest);
    for (const f of prepared.manifest.files) {
      expect(
        Buffer.compare(await readFile(join(tmp, 'again', f.file)), await readFile(join(out, f.file))),
      ).toBe(0);
    }
  });

  it('checks the sources against the spec: the real Omniglot spec rejects the fixture', async () => {
    const dest = join(tmp, 'out-real-spec');
    const error = await prepareOmniglot({ from: fixture.dir, out: dest }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatasetFileError);
    expect((error as Error).message).toMatch(
      /id_to_alphabet\.csv: truncated source file \(225 of 1905 bytes\)/,
    );
    expect(await readdir(dest).catch(() => [])).toEqual([]);
  });

  it('rejects a spec whose set sizes disagree with the arrays', async () => {
    const spec = {
      ...fixture.spec,
      sets: { ...fixture.spec.sets, evaluation: { ...fixture.spec.sets.evaluation, characters: 9 } },
    };
    await expect(
      prepareOmniglot({ from: fixture.dir, out: join(tmp, 'out-bad-spec'), spec }),
    ).rejects.toThrow(/id_to_alphabet\.csv: evaluation alphabets cover 8 characters/);
  });

  it.each([
    ['truncated', async (p: string) => truncate(p, 1000), /truncated source file/],
    [
      'mismatched',
      async (p: string) => {
        const b = await readFile(p);
        b[5000] = b[5000]! ^ 0xff;
        await writeFile(p, b);
      },
      /sha256 mismatch/,
    ],
    ['missing', async (p: string) => rm(p), /missing source file/],
  ])(
    'a %s input is an error naming the file and how to get it; nothing is written',
    async (kind, damage, problem) => {
      const src = await copySources(`src-${kind}`);
      const bad = join(src, 'images_evaluation.npz');
      await damage(bad);
      const dest = join(tmp, `out-${kind}`);
      const error = await prepareOmniglot({ from: src, out: dest, spec: fixture.spec }).catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(DatasetFileError);
      expect((error as DatasetFileError).file).toBe(bad);
      expect((error as Error).message).toMatch(problem);
      expect((error as Error).message).toContain('--download');
      expect((error as Error).message).toContain('--from');
      expect(await readdir(dest).catch(() => [])).toEqual([]);
    },
  );

  it('leaves no temporary files behind when publishing fails', async () => {
    const dest = join(tmp, 'out-blocked');
    await mkdir(join(dest, 'manifest.json'), { recursive: true }); // rename onto a folder fails
    await expect(prepareOmniglot({ from: fixture.dir, out: dest, spec: fixture.spec })).rejects.toThrow();
    const left = await readdir(dest);
    expect(left.filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe('PNG archive reader (generated fixture)', () => {
  let drawings: PngDrawing[];
  beforeAll(async () => {
    drawings = readOmniglotPngArchive(await readFile(fixture.pngZip), fixture.pngZip);
  });

  it('matches the npz pixels for the same drawings, before and after preprocessing', async () => {
    expect(drawings.length).toBe(FIXTURE_COUNTS.background * 20);
    const raw = decodeNpzSet(
      await readFile(join(fixture.dir, 'images_background.npz')),
      'bg',
      'background',
      fixture.spec.sets.background,
    );
    const alphabets = parseAlphabetCsv(
      await readFile(join(fixture.dir, 'id_to_alphabet.csv'), 'utf8'),
      'csv',
      fixture.spec.sets,
    );
    const pre = createPreprocessor();
    const small = new Uint8Array(784);
    const perImage = 105 * 105;
    for (const d of drawings) {
      const offset = ((d.id - 1) * 20 + d.drawing - 1) * perImage;
      expect(
        Buffer.compare(Buffer.from(d.pixels), Buffer.from(raw.images.subarray(offset, offset + perImage))),
      ).toBe(0);
      pre.convert(d.pixels, small);
      expect(Buffer.compare(Buffer.from(small), Buffer.from(images.imageOf(d.id, d.drawing)))).toBe(0);
      const a = alphabets.find((x) => x.name === d.alphabet)!;
      expect(d.id - a.firstId + 1).toBe(d.characterInAlphabet);
    }
  });

  it('assembles a complete set and derives the alphabet table from the folders', () => {
    const { raw, alphabets } = assembleRawSet(
      drawings,
      'background',
      fixture.pngZip,
      fixture.spec.sets.background,
    );
    expect(raw.characters).toBe(10);
    expect(Buffer.compare(Buffer.from(raw.images), Buffer.from(fixture.images.background))).toBe(0);
    expect(alphabets.map((a) => [a.name, a.firstId, a.lastId]).sort()).toEqual([
      ['Greek', 5, 7],
      ['Hebrew', 8, 10],
      ['Latin', 1, 4],
    ]);
  });

  it('an incomplete PNG archive is an error naming it', () => {
    expect(() =>
      assembleRawSet(drawings.slice(1), 'background', fixture.pngZip, fixture.spec.sets.background),
    ).toThrow(/images_background_fixture\.zip: drawing .* missing/);
    // Against the real background set's 964 characters, the fixture is incomplete too.
    expect(() => assembleRawSet(drawings, 'background', fixture.pngZip)).toThrow(/drawing 11_1 is missing/);
  });

  it('names the archive when it is corrupt', () => {
    expect(() => readOmniglotPngArchive(new Uint8Array([1, 2, 3]), 'bad.zip')).toThrow(/bad\.zip/);
  });
});

describe('openOmniglot (generated fixture)', () => {
  async function copyPrepared(name: string): Promise<string> {
    const dir = join(tmp, name);
    await mkdir(dir, { recursive: true });
    for (const f of await readdir(out)) await copyFile(join(out, f), join(dir, f));
    return dir;
  }

  it('loads just one set when asked', async () => {
    const bg = await openOmniglot(out, { sets: ['background'] });
    expect(bg.rows).toBe(200);
    expect(bg.imageOf(10, 20)).toEqual(images.imageOf(10, 20));
    expect(() => bg.indexOf(11)).toThrow(RangeError);
  });

  it('rejects a truncated file, naming it and the prepare command', async () => {
    const dir = await copyPrepared('truncated');
    const file = join(dir, 'omniglot-evaluation-28.arrow');
    await truncate(file, 10_000);
    await expect(openOmniglot(dir)).rejects.toThrow(file);
    await expect(openOmniglot(dir)).rejects.toThrow('metatape datasets prepare omniglot --from');
  });

  it('rejects a same-size corrupt file when verifying sha256', async () => {
    const dir = await copyPrepared('flipped');
    const file = join(dir, 'omniglot-background-28.arrow');
    const b = await readFile(file);
    b[b.length - 5000] = b[b.length - 5000]! ^ 0xff;
    await writeFile(file, b);
    await expect(openOmniglot(dir, { verify: 'sha256' })).rejects.toThrow(
      /omniglot-background-28\.arrow.*sha256/,
    );
  });

  it('rejects a missing manifest or file', async () => {
    await expect(openOmniglot(join(tmp, 'nowhere'))).rejects.toThrow(/manifest\.json.*prepare omniglot/);
    const dir = await copyPrepared('missing');
    await rm(join(dir, 'omniglot-background-28.arrow'));
    await expect(openOmniglot(dir)).rejects.toThrow(/omniglot-background-28\.arrow: missing/);
  });
});

describe('episodes on the prepared fixture', () => {
  it('draws MAML train and test episodes from disjoint characters (the split scales to the dataset)', async () => {
    const opts = { images, ways: 5, shots: 1, queries: 5, metaBatch: 8 } as const;
    const train = await createOmniglotEpisodeSource({ ...opts, rng: new Rng(1), subset: 'train' });
    const test = await createOmniglotEpisodeSource({ ...opts, rng: new Rng(2), subset: 'test' });
    // 1,200 of 1,623 in proportion: 13 of 18 characters for training, 4 rotations each.
    expect(train.sampler.classes.length).toBe(52);
    expect(test.sampler.classes.length).toBe(20);
    const chars = (src: typeof train) => {
      const seen = new Set<number>();
      for (let i = 0; i < 10; i++) {
        for (const c of src.next().classIndex) seen.add(src.sampler.classes[c]!.characterId);
      }
      return seen;
    };
    const a = chars(train);
    const b = chars(test);
    expect([...a].every((id) => id <= 13)).toBe(true);
    expect([...b].every((id) => id > 13)).toBe(true);
    expect(a.size).toBeGreaterThan(5);
  });

  it('uses the Vinyals lists when given, or the embedded rule', async () => {
    const opts = { images, rng: new Rng(1), ways: 5, shots: 1, queries: 1, metaBatch: 2 } as const;
    const fromFile = await createOmniglotEpisodeSource({
      ...opts,
      split: 'vinyals',
      subset: 'val',
      vinyalsListsDir: fixture.vinyalsDir,
    });
    const embedded = await createOmniglotEpisodeSource({ ...opts, split: 'vinyals', subset: 'val' });
    expect(fromFile.sampler.classes.length).toBe(12);
    const key = (c: { characterId: number; rotation: number }) => `${c.characterId}/${c.rotation}`;
    expect(new Set(embedded.sampler.classes.map(key))).toEqual(new Set(fromFile.sampler.classes.map(key)));
    expect(fromFile.next().supportX.length).toBe(2 * 5 * 784);
  });
});

describe('omniglotInfo (generated fixture)', () => {
  it('summarises counts, splits and checksums and writes a contact sheet', async () => {
    const sheet = join(tmp, 'sheet.png');
    const info = await omniglotInfo({ dir: out, contactSheet: sheet });
    expect(info.counts.total).toEqual({ alphabets: 6, characters: 18, images: 360 });
    expect(info.counts.background.images).toBe(200);
    expect(info.splits.maml.train).toEqual({ characters: 13, classes: 52 });
    expect(info.splits.maml.test).toEqual({ characters: 5, classes: 20 });
    expect(info.splits.vinyals.train.characters).toBe(10);
    expect(info.splits.vinyals.val.characters).toBe(3);
    expect(info.splits.vinyals.test.characters).toBe(5);
    expect(info.files.map((f) => f.sha256)).toEqual(prepared.manifest.files.map((f) => f.sha256));
    const png = PNG.sync.read(await readFile(sheet));
    expect(png.width).toBe(6 * 56 + 7 * 2);
    expect(png.height).toBe(56 + 2 * 2);
  });
});

describe('--download (network stubbed; the real fetch is not tested here)', () => {
  it('rejects bytes that fail the md5, naming the URL, and writes nothing', async () => {
    const dest = join(tmp, 'out-download');
    const fakeFetch = async () => ({ ok: true, status: 200, arrayBuffer: async () => new ArrayBuffer(10) });
    const error = await prepareOmniglot({ download: true, out: dest, fetchImpl: fakeFetch }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DatasetFileError);
    expect((error as DatasetFileError).file).toMatch(
      /brendenlake\/omniglot\/master\/python\/images_background\.zip$/,
    );
    expect((error as Error).message).toMatch(/md5/);
    expect(await readdir(dest).catch(() => [])).toEqual([]);
  });

  it('reports a failed request with the shared-folder alternative', async () => {
    const offline = async () => {
      throw new Error('getaddrinfo ENOTFOUND');
    };
    await expect(
      prepareOmniglot({ download: true, out: join(tmp, 'out-offline'), fetchImpl: offline }),
    ).rejects.toThrow(/download failed.*--from/);
  });
});

describe.skipIf(!hasSharedOmniglot)(sharedTitle('prepare, read and sample the real Omniglot'), () => {
  let realOut: string;
  let real: PrepareOmniglotResult;
  let realImages: OmniglotImages;
  const SMALL1 = join(SHARED_OMNIGLOT, 'images_background_small1.zip');

  beforeAll(async () => {
    realOut = join(tmp, 'real');
    real = await prepareOmniglot({ from: SHARED_OMNIGLOT, out: realOut });
    realImages = await openOmniglot(realOut, { verify: 'sha256' });
  });

  it('has 19,280 + 13,180 images of 1,623 characters in 50 alphabets', () => {
    const [bg, ev] = real.manifest.files;
    expect(bg!.rows).toBe(19_280);
    expect(ev!.rows).toBe(13_180);
    expect(realImages.rows).toBe(32_460);
    expect(realImages.characters.length).toBe(1623);
    expect(real.manifest.alphabets.length).toBe(50);
    expect(realImages.characters[708]).toEqual({
      id: 709,
      set: 'background',
      alphabet: 'Alphabet_of_the_Magi',
      character: 1,
    });
    expect(realImages.characters[1622]).toMatchObject({
      id: 1623,
      set: 'evaluation',
      alphabet: 'ULOG',
      character: 26,
    });
  });

  it('stores inverted pixels with the real ink share, and a known image: Arcadian character 1, drawing 1', () => {
    let sum = 0;
    for (const v of realImages.pixels) sum += v;
    // Ink is about 7-8% of the area, so the mean is small; inverted data would have a mean near 1.
    const mean = sum / realImages.pixels.length / 255;
    expect(mean).toBeGreaterThan(0.05);
    expect(mean).toBeLessThan(0.11);
    const img = realImages.imageOf(1, 1);
    // Regression value of the lanczos3 pipeline; the area of ink is preserved by resampling (~8.7%).
    expect(img.reduce((s, v) => s + v, 0) / 784 / 255).toBeCloseTo(0.086845, 5);
  });

  it('is deterministic: re-preparing gives the same manifest', async () => {
    const again = await prepareOmniglot({ from: SHARED_OMNIGLOT, out: join(tmp, 'real-again') });
    expect(again.manifest).toEqual(real.manifest);
  });

  it('reads the official PNG subset, matching the npz pixels before and after preprocessing', async () => {
    const drawings = readOmniglotPngArchive(await readFile(SMALL1), SMALL1);
    expect(drawings.length).toBeGreaterThan(2000);
    const raw = decodeNpzSet(
      await readFile(join(SHARED_OMNIGLOT, 'images_background.npz')),
      'bg',
      'background',
    );
    const pre = createPreprocessor();
    const small = new Uint8Array(784);
    const perImage = 105 * 105;
    for (const d of drawings) {
      const offset = ((d.id - 1) * 20 + d.drawing - 1) * perImage;
      expect(
        Buffer.compare(Buffer.from(d.pixels), Buffer.from(raw.images.subarray(offset, offset + perImage))),
        `${d.id}_${d.drawing}`,
      ).toBe(0);
      pre.convert(d.pixels, small);
      expect(Buffer.compare(Buffer.from(small), Buffer.from(realImages.imageOf(d.id, d.drawing)))).toBe(0);
    }
    expect(() => assembleRawSet(drawings, 'background', SMALL1)).toThrow(
      /images_background_small1\.zip: drawing .* missing/,
    );
  });

  it('draws MAML episodes (4,800 / 1,692 classes) and Vinyals val episodes (688 classes)', async () => {
    const opts = { images: realImages, ways: 5, shots: 1, queries: 5, metaBatch: 4 } as const;
    const train = await createOmniglotEpisodeSource({ ...opts, rng: new Rng(1), subset: 'train' });
    const test = await createOmniglotEpisodeSource({ ...opts, rng: new Rng(2), subset: 'test' });
    expect(train.sampler.classes.length).toBe(4800);
    expect(test.sampler.classes.length).toBe(1692);
    const fromFile = await createOmniglotEpisodeSource({
      ...opts,
      rng: new Rng(1),
      split: 'vinyals',
      subset: 'val',
      vinyalsListsDir: join(SHARED_OMNIGLOT, 'splits', 'vinyals'),
    });
    expect(fromFile.sampler.classes.length).toBe(688);
  });

  it('summarises the real counts and splits', async () => {
    const info = await omniglotInfo({ dir: realOut, verify: 'size' });
    expect(info.counts.total).toEqual({ alphabets: 50, characters: 1623, images: 32_460 });
    expect(info.splits.maml.train).toEqual({ characters: 1200, classes: 4800 });
    expect(info.splits.maml.test).toEqual({ characters: 423, classes: 1692 });
    expect(info.splits.vinyals.train.characters).toBe(1028);
    expect(info.splits.vinyals.val.characters).toBe(172);
  });
});
