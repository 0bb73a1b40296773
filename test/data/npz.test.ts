import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatasetFileError } from '../../src/data/errors.js';
import { parseNpy } from '../../src/data/npy.js';
import { decodeNpz, readNpz } from '../../src/data/npz.js';
import { FIXTURE_COUNTS, npyBytes, type OmniglotFixture, writeOmniglotFixture } from './omniglotFixture.js';
import { hasSharedOmniglot, SHARED_OMNIGLOT, sharedTitle } from './shared.js';

const SHARED = SHARED_OMNIGLOT;

const npy = npyBytes;

describe('npy', () => {
  it('parses bool (normalising 0xff to 1), uint8, int64 and float32', () => {
    expect([...(parseNpy(npy('|b1', [3], new Uint8Array([0, 255, 1])), 'x').data as Uint8Array)]).toEqual([
      0, 1, 1,
    ]);
    const u8 = parseNpy(npy('|u1', [2, 2], new Uint8Array([1, 2, 3, 4])), 'x');
    expect(u8.shape).toEqual([2, 2]);
    const i64 = parseNpy(npy('<i8', [2], new Uint8Array(new BigInt64Array([5n, -7n]).buffer)), 'x');
    expect([...(i64.data as BigInt64Array)]).toEqual([5n, -7n]);
    const f32 = parseNpy(npy('<f4', [2], new Uint8Array(new Float32Array([1.5, -2]).buffer)), 'x');
    expect([...(f32.data as Float32Array)]).toEqual([1.5, -2]);
    expect(parseNpy(npy('<f4', [], new Uint8Array(new Float32Array([3]).buffer)), 'x').shape).toEqual([]);
  });

  it('names the file on truncation, bad magic, Fortran order and unknown dtypes', () => {
    const good = npy('|u1', [4], new Uint8Array([1, 2, 3, 4]));
    expect(() => parseNpy(good.subarray(0, good.length - 1), 'a.npy')).toThrow(/a\.npy.*truncated/);
    expect(() => parseNpy(new Uint8Array(20), 'b.npy')).toThrow(/b\.npy.*magic/);
    expect(() => parseNpy(npy('|u1', [1], new Uint8Array(1), true), 'c.npy')).toThrow(/c\.npy.*Fortran/);
    expect(() => parseNpy(npy('>i4', [1], new Uint8Array(4)), 'd.npy')).toThrow(/d\.npy.*unsupported dtype/);
  });
});

describe('npz (generated Omniglot fixture)', () => {
  let tmp: string;
  let fixture: OmniglotFixture;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'metatape-npz-'));
    fixture = await writeOmniglotFixture(tmp);
  });
  afterAll(() => rm(tmp, { recursive: true, force: true }));

  it('reads an Omniglot-layout archive: bool images, int64 labels, the pixels as written', async () => {
    const { images, labels } = await readNpz(join(fixture.dir, 'images_evaluation.npz'));
    expect(images!.dtype).toBe('bool');
    expect(images!.shape).toEqual([FIXTURE_COUNTS.evaluation, 20, 105, 105]);
    expect(labels!.dtype).toBe('int64');
    expect(labels!.shape).toEqual([FIXTURE_COUNTS.evaluation, 20]);
    expect((labels!.data as BigInt64Array)[20 * 7 + 19]).toBe(7n);
    expect(
      Buffer.compare(Buffer.from(images!.data as Uint8Array), Buffer.from(fixture.images.evaluation)),
    ).toBe(0);
  });

  it('inflates only the arrays asked for', async () => {
    const out = await readNpz(join(fixture.dir, 'images_background.npz'), ['labels']);
    expect(Object.keys(out)).toEqual(['labels']);
    expect(out.labels!.shape).toEqual([FIXTURE_COUNTS.background, 20]);
  });
});

describe('npz', () => {
  it('errors name the archive when it is missing, truncated or lacks an array', async () => {
    await expect(readNpz('/nonexistent/x.npz')).rejects.toThrow(/\/nonexistent\/x\.npz/);
    const zip = zipSync({ 'a.npy': npy('|u1', [1], new Uint8Array([9])) });
    expect(() => decodeNpz(zip.subarray(0, zip.length - 10), 'cut.npz')).toThrow(DatasetFileError);
    expect(() => decodeNpz(zip.subarray(0, zip.length - 10), 'cut.npz')).toThrow(/cut\.npz/);
    expect(() => decodeNpz(zip, 'z.npz', ['b'])).toThrow(/z\.npz.*no array 'b'/);
    expect(decodeNpz(zip, 'z.npz').a!.data).toEqual(new Uint8Array([9]));
  });
});

describe.skipIf(!hasSharedOmniglot)(sharedTitle('npz archives'), () => {
  it('reads the shared Omniglot background archive', async () => {
    const { images, labels } = await readNpz(`${SHARED}/images_background.npz`);
    expect(images!.dtype).toBe('bool');
    expect(images!.shape).toEqual([964, 20, 105, 105]);
    expect(labels!.dtype).toBe('int64');
    expect(labels!.shape).toEqual([964, 20]);
    const l = labels!.data as BigInt64Array;
    expect(l[20 * 963 + 19]).toBe(963n);
    const px = images!.data as Uint8Array;
    let ink = 0;
    for (let i = 0; i < px.length; i += 13) ink += 1 - px[i]!;
    // Mostly white background: ink covers under a tenth of the pixels.
    expect(ink / (px.length / 13)).toBeGreaterThan(0.03);
    expect(ink / (px.length / 13)).toBeLessThan(0.12);
  });

  it('inflates only the arrays asked for', async () => {
    const out = await readNpz(`${SHARED}/images_evaluation.npz`, ['labels']);
    expect(Object.keys(out)).toEqual(['labels']);
    expect(out.labels!.shape).toEqual([659, 20]);
  });
});
