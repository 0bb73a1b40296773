import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { axisWeights, createResampler } from '../../src/data/image/resample.js';
import { rotationTable } from '../../src/data/image/rotate.js';
import { stageFile, writeFileAtomic } from '../../src/io/atomic.js';

describe('resampling', () => {
  it.each(['box', 'triangle', 'lanczos3'] as const)(
    '%s weights sum to one and keep a constant image',
    (filter) => {
      const w = axisWeights(105, 28, filter);
      for (let o = 0; o < 28; o++) {
        const sum = w.weights.subarray(o * w.taps, (o + 1) * w.taps).reduce((a, b) => a + b, 0);
        expect(sum).toBeCloseTo(1, 5);
      }
      const out = createResampler(105, 105, 28, 28, filter).resize(
        new Float32Array(105 * 105).fill(0.5),
        new Float32Array(784),
      );
      for (const v of out) expect(v).toBeCloseTo(0.5, 5);
    },
  );

  it('antialiases: a one-pixel line survives shrinking as a faint line', () => {
    const src = new Float32Array(105 * 105);
    for (let y = 0; y < 105; y++) src[y * 105 + 52] = 1;
    const out = createResampler(105, 105, 28, 28, 'box').resize(src, new Float32Array(784));
    const row = out.subarray(14 * 28, 15 * 28);
    // The line's weight in its output pixel: 1/3 or 1/4 (3.75 input pixels per output pixel).
    const sum = row.reduce((a, b) => a + b, 0);
    expect(sum).toBeGreaterThan(0.2);
    expect(sum).toBeLessThan(0.4);
  });

  it('box covers every input pixel exactly once', () => {
    const w = axisWeights(105, 28, 'box');
    const hits = new Float64Array(105);
    for (let o = 0; o < 28; o++) {
      for (let k = 0; k < w.taps; k++)
        if (w.weights[o * w.taps + k]! > 0) hits[w.start[o]! + k] = hits[w.start[o]! + k]! + 1;
    }
    expect([...hits].every((h) => h === 1)).toBe(true);
  });
});

describe('rotation tables', () => {
  it('turn counterclockwise like numpy.rot90', () => {
    // 3x3 image 0..8: rot90 gives [[2,5,8],[1,4,7],[0,3,6]].
    const img = [0, 1, 2, 3, 4, 5, 6, 7, 8];
    expect([...rotationTable(3, 1)].map((i) => img[i])).toEqual([2, 5, 8, 1, 4, 7, 0, 3, 6]);
    expect([...rotationTable(3, 2)].map((i) => img[i])).toEqual([8, 7, 6, 5, 4, 3, 2, 1, 0]);
    expect([...rotationTable(3, 3)].map((i) => img[i])).toEqual([6, 3, 0, 7, 4, 1, 8, 5, 2]);
  });
});

describe('atomic writes', () => {
  it('publishes complete files and leaves no temporary file behind', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'metatape-atomic-'));
    await writeFileAtomic(join(dir, 'a.txt'), 'hello');
    expect(await readFile(join(dir, 'a.txt'), 'utf8')).toBe('hello');
    const staged = await stageFile(join(dir, 'b.txt'), 'unpublished');
    expect((await readdir(dir)).sort()).toEqual(['a.txt', staged.tempPath.slice(dir.length + 1)].sort());
    await staged.discard();
    expect(await readdir(dir)).toEqual(['a.txt']);
    await rm(dir, { recursive: true });
  });
});
