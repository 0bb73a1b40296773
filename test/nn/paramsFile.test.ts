import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  conv4,
  decodeParams,
  encodeParams,
  loadParams,
  mlp,
  PARAMS_FILE_MAGIC,
  ParamsFileError,
  Rng,
  saveParams,
  tensor,
} from '../../src/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'metatape-params-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const same = (a: { dataSync(): ArrayLike<number>; shape: readonly number[]; dtype: string }, b: typeof a) => {
  expect(b.shape).toEqual(a.shape);
  expect(b.dtype).toBe(a.dtype);
  expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
};

describe('saveParams / loadParams', () => {
  it('round-trips a model, its metadata and mixed dtypes', async () => {
    const net = conv4([8, 8, 1], 3, { filters: 2, pooling: 'stride' });
    const params = net.initParams(new Rng(1));
    const extra = {
      ...params,
      f64: tensor(Float64Array.from([Math.PI, -0, 1e-300]), [3]),
      i32: tensor(Int32Array.from([-7, 2 ** 31 - 1]), [2], 'int32'),
      scalar: tensor(Float64Array.from([42]), []),
      empty: tensor(new Float32Array(0), [0, 3]),
    };
    const path = join(dir, 'a.mtp');
    const meta = { arch: 'conv4', iteration: 1200, config: { ways: 3, nested: [1, 'x'] } };
    await saveParams(path, extra, meta);
    const loaded = await loadParams(path);
    expect(loaded.meta).toEqual(meta);
    expect(Object.keys(loaded.params)).toEqual(Object.keys(extra));
    for (const k of Object.keys(extra)) same(extra[k as keyof typeof extra], loaded.params[k]!);
    // No temporary file is left behind.
    expect(await readdir(dir)).toEqual(['a.mtp']);
  });

  it('checks names and shapes against a model', async () => {
    const net = mlp(2, [3], 1);
    const path = join(dir, 'mlp.mtp');
    await saveParams(path, net.initParams(new Rng(2)));
    await expect(loadParams(path, net.specs)).resolves.toBeDefined();
    await expect(loadParams(path, mlp(2, [4], 1).specs)).rejects.toThrow(
      /mlp\.mtp: parameter '0\.dense\/kernel': shape \[2,3\] in the file, the model expects \[2,4\]/,
    );
    await expect(loadParams(path, mlp(2, [3, 3], 1).specs)).rejects.toThrow(
      /parameter '2\.dense\/kernel': missing from the file/,
    );
    await expect(loadParams(path, net.specs.slice(0, 2))).rejects.toThrow(
      /parameter '1\.dense\/kernel': in the file but not among the expected/,
    );
  });

  it('writes the documented layout', async () => {
    const bytes = await encodeParams({ w: tensor(Float32Array.from([1, 2]), [2]) }, { note: 'hi' });
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe(PARAMS_FILE_MAGIC);
    expect(view.getUint32(8, true)).toBe(1);
    const h = view.getUint32(12, true);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(24, 24 + h)));
    expect(header).toEqual({
      meta: { note: 'hi' },
      tensors: [{ name: 'w', dtype: 'float32', shape: [2], offset: 0, byteLength: 8 }],
    });
    const start = Math.ceil((24 + h) / 8) * 8;
    expect(Number(view.getBigUint64(16, true))).toBe(8);
    expect(view.getFloat32(start, true)).toBe(1);
    expect(bytes.byteLength).toBe(start + 8 + 32);
  });

  describe('corrupt files are clear errors naming the file', () => {
    let good: Uint8Array;
    beforeAll(async () => {
      good = await encodeParams(
        { a: tensor(Float32Array.from([1, 2, 3]), [3]), b: tensor(Float32Array.from([4]), [1]) },
        { x: 1 },
      );
    });
    const load = async (bytes: Uint8Array, name: string) => {
      const path = join(dir, name);
      await writeFile(path, bytes);
      return loadParams(path);
    };

    it('truncated', async () => {
      await expect(load(good.subarray(0, good.byteLength - 5), 't.mtp')).rejects.toThrow(
        /t\.mtp: truncated: \d+ bytes, the header announces \d+/,
      );
      await expect(load(good.subarray(0, 10), 't2.mtp')).rejects.toThrow(
        /t2\.mtp: truncated or not a parameter file/,
      );
      await expect(load(new Uint8Array(0), 'empty.mtp')).rejects.toThrow(ParamsFileError);
    });

    it('a flipped payload bit fails the checksum', async () => {
      const bad = good.slice();
      bad[bad.byteLength - 40]! ^= 1;
      await expect(load(bad, 'flip.mtp')).rejects.toThrow(/flip\.mtp: corrupt: SHA-256 checksum mismatch/);
    });

    it('wrong magic, unsupported version, trailing bytes', async () => {
      const magic = good.slice();
      magic[0] = 0x58;
      await expect(load(magic, 'm.mtp')).rejects.toThrow(/m\.mtp: not a metatape parameter file/);
      const version = good.slice();
      new DataView(version.buffer).setUint32(8, 9, true);
      await expect(load(version, 'v.mtp')).rejects.toThrow(/v\.mtp: format version 9 is not supported/);
      const long = new Uint8Array(good.byteLength + 3);
      long.set(good);
      await expect(load(long, 'l.mtp')).rejects.toThrow(/l\.mtp: corrupt: 3 unexpected trailing bytes/);
    });

    it('a header that lies (with a valid checksum) names the parameter', () => {
      const forge = (mutate: (h: { tensors: Record<string, unknown>[] }) => void): Uint8Array => {
        const view = new DataView(good.buffer, good.byteOffset);
        const h = view.getUint32(12, true);
        const header = JSON.parse(new TextDecoder().decode(good.subarray(24, 24 + h)));
        mutate(header);
        // Re-encode by hand: same payload, new header, fresh checksum.
        const text = new TextEncoder().encode(JSON.stringify(header));
        const payloadLength = Number(view.getBigUint64(16, true));
        const oldStart = Math.ceil((24 + h) / 8) * 8;
        const start = Math.ceil((24 + text.byteLength) / 8) * 8;
        const out = new Uint8Array(start + payloadLength + 32);
        out.set(good.subarray(0, 24));
        new DataView(out.buffer).setUint32(12, text.byteLength, true);
        out.set(text, 24);
        out.set(good.subarray(oldStart, oldStart + payloadLength), start);
        out.set(
          createHash('sha256')
            .update(out.subarray(0, out.byteLength - 32))
            .digest(),
          out.byteLength - 32,
        );
        return out;
      };
      expect(() =>
        decodeParams(
          forge(() => undefined),
          'ok.mtp',
        ),
      ).not.toThrow();
      expect(() =>
        decodeParams(
          forge((hd) => {
            hd.tensors[1]!.shape = [2];
          }),
          'f.mtp',
        ),
      ).toThrow(/f\.mtp: parameter 'b': corrupt header: 4 bytes do not hold float32\[2\]/);
      expect(() =>
        decodeParams(
          forge((hd) => {
            hd.tensors[1]!.offset = 64;
          }),
          'f.mtp',
        ),
      ).toThrow(/parameter 'b': corrupt header: offset 64/);
      expect(() =>
        decodeParams(
          forge((hd) => {
            hd.tensors[0]!.dtype = 'bfloat16';
          }),
          'f.mtp',
        ),
      ).toThrow(/parameter 'a': corrupt header: unknown dtype/);
      expect(() =>
        decodeParams(
          forge((hd) => {
            hd.tensors[1]!.name = 'a';
          }),
          'f.mtp',
        ),
      ).toThrow(/parameter 'a': corrupt header: duplicate/);
    });

    it('a missing file', async () => {
      await expect(loadParams(join(dir, 'nope.mtp'))).rejects.toThrow(/nope\.mtp: could not read/);
    });
  });

  it('a failed save leaves the previous file intact', async () => {
    const path = join(dir, 'keep.mtp');
    await saveParams(path, { a: tensor(Float32Array.from([1]), [1]) });
    const before = await readFile(path);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(saveParams(path, { a: tensor(Float32Array.from([2]), [1]) }, cyclic)).rejects.toThrow(
      /metadata is not JSON-serialisable/,
    );
    expect(await readFile(path)).toEqual(before);
  });
});
