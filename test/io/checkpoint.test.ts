import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type CheckpointArrays,
  CheckpointError,
  type CheckpointMeta,
  decodeCheckpoint,
  encodeCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
} from '../../src/io/checkpoint.js';
import {
  checkpointPath,
  latestCheckpoint,
  listCheckpoints,
  prepareCheckpointPath,
} from '../../src/io/checkpointFiles.js';

const meta: CheckpointMeta = {
  iteration: 1000,
  configHash: 'abc123',
  rng: { tasks: [1, 2, 3, 4], init: [5, 6, 7, 8] },
  optimizer: { kind: 'adam', step: 1000, beta1: 0.9 },
  extra: { bestValLoss: 0.25 },
};

function arrays(): CheckpointArrays {
  return {
    'param/dense1.w': { shape: [2, 3], dtype: 'float32', data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) },
    'param/dense1.b': { shape: [3], dtype: 'float64', data: Float64Array.from([0.1, -0.2, Math.PI]) },
    'optim/m/dense1.w': { shape: [2, 3], dtype: 'float32', data: new Float32Array(6).fill(0.5) },
    labels: { shape: [5], dtype: 'int32', data: Int32Array.from([0, 1, 2, 3, -4]) },
    empty: { shape: [0], dtype: 'float32', data: new Float32Array(0) },
  };
}

describe('checkpoint', () => {
  it('round-trips arrays and header', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-ckpt-'));
    const file = join(dir, 'c.ckpt');
    await saveCheckpoint(file, meta, arrays());
    const c = await loadCheckpoint(file, {
      configHash: 'abc123',
      arrays: { 'param/dense1.w': { shape: [2, 3], dtype: 'float32' } },
    });
    expect(c).toMatchObject({
      iteration: 1000,
      configHash: 'abc123',
      rng: meta.rng,
      optimizer: meta.optimizer,
      extra: meta.extra,
      version: 1,
    });
    for (const [name, a] of Object.entries(arrays())) {
      expect(c.arrays[name]!.shape).toEqual(a.shape);
      expect(c.arrays[name]!.dtype).toBe(a.dtype);
      expect(c.arrays[name]!.data).toEqual(a.data);
      expect(c.arrays[name]!.data.constructor).toBe(a.data.constructor);
    }
    expect(readdirSync(dir)).toEqual(['c.ckpt']);
  });

  it('detects a flipped payload byte and names the file and array', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mt-ckpt-'));
    const file = join(dir, 'c.ckpt');
    await saveCheckpoint(file, meta, arrays());
    const bytes = readFileSync(file);
    bytes[bytes.length - 30]! ^= 0xff;
    writeFileSync(file, bytes);
    const err = await loadCheckpoint(file).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(
      new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: array '.+' checksum mismatch`),
    );
  });

  it('detects header corruption, truncation, bad magic and missing files', async () => {
    const good = encodeCheckpoint(meta, arrays());
    const header = Uint8Array.from(good);
    header[60]! ^= 0x01;
    expect(() => decodeCheckpoint(header, 'h.ckpt')).toThrow(/h\.ckpt: header checksum mismatch/);
    expect(() => decodeCheckpoint(good.subarray(0, good.length - 8), 't.ckpt')).toThrow(
      /t\.ckpt: size is .*\(truncated or corrupt\)/,
    );
    expect(() =>
      decodeCheckpoint(new TextEncoder().encode('{"not": "a checkpoint"} padding padding padding'), 'j.json'),
    ).toThrow(/j\.json: not a metatape checkpoint \(bad magic/);
    expect(() => decodeCheckpoint(new Uint8Array(3), 's.ckpt')).toThrow(/s\.ckpt: not a metatape checkpoint/);
    const version = Uint8Array.from(good);
    new DataView(version.buffer).setUint32(8, 99, true);
    expect(() => decodeCheckpoint(version, 'v.ckpt')).toThrow(
      /v\.ckpt: checkpoint format version 99 is not supported/,
    );
    await expect(loadCheckpoint(join(tmpdir(), 'mt-none.ckpt'))).rejects.toThrow(
      /mt-none\.ckpt: cannot read \(ENOENT\)/,
    );
  });

  it('rejects mismatched config hash and shapes', () => {
    const bytes = encodeCheckpoint(meta, arrays());
    expect(() => decodeCheckpoint(bytes, 'c.ckpt', { configHash: 'zzz' })).toThrow(
      /c\.ckpt: was written for config hash abc123/,
    );
    expect(() =>
      decodeCheckpoint(bytes, 'c.ckpt', {
        arrays: { 'param/dense1.w': { shape: [3, 2], dtype: 'float32' } },
      }),
    ).toThrow(/array 'param\/dense1\.w' is float32 \[2, 3\] but the model expects float32 \[3, 2\]/);
    expect(() =>
      decodeCheckpoint(bytes, 'c.ckpt', { arrays: { nope: { shape: [1], dtype: 'float32' } } }),
    ).toThrow(/array 'nope' is missing/);
  });

  it('refuses inconsistent arrays on save', () => {
    expect(() =>
      encodeCheckpoint(meta, { a: { shape: [2, 2], dtype: 'float32', data: new Float32Array(3) } }),
    ).toThrow(/array 'a' has shape \[2, 2\] \(4 elements\) but 3 values/);
    expect(() =>
      encodeCheckpoint(meta, { a: { shape: [1], dtype: 'float64', data: new Float32Array(1) } }),
    ).toThrow(/declared float64 but holds a Float32Array/);
  });

  it('names and finds checkpoint files in a run folder', async () => {
    const run = mkdtempSync(join(tmpdir(), 'mt-run-'));
    expect(await latestCheckpoint(run)).toBeUndefined();
    for (const it of [20, 100, 3]) await saveCheckpoint(await prepareCheckpointPath(run, it), meta, {});
    expect((await listCheckpoints(run)).map((c) => c.iteration)).toEqual([3, 20, 100]);
    expect((await latestCheckpoint(run))?.path).toBe(checkpointPath(run, 100));
    expect(checkpointPath(run, 100)).toMatch(/checkpoints\/iter-0000100\.ckpt$/);
  });
});
