import { describe, expect, it } from 'vitest';
import { DataConfigError } from '../../src/data/errors.js';
import { OmniglotEpisodeSampler } from '../../src/data/omniglot/episodes.js';
import type { OmniglotClass } from '../../src/data/omniglot/splits.js';
import { Rng } from '../../src/tensor/random.js';
import { syntheticImages } from './fixtures.js';

const images = syntheticImages(12);
const classes: OmniglotClass[] = Array.from({ length: 12 }, (_, i) => ({ characterId: i + 1, rotation: 0 }));

// The row an example came from, recovered from its (constant) pixel value.
const rowOf = (x: Float32Array, example: number) => Math.round(x[example * 784 + 1]! * 255);

describe('OmniglotEpisodeSampler', () => {
  const sampler = new OmniglotEpisodeSampler(images, classes, {
    ways: 5,
    shots: 2,
    queries: 3,
    metaBatch: 4,
  });

  it('returns [T, N*K, 784] support and [T, N*Q, 784] query arrays with matching shapes', () => {
    const b = sampler.sample(new Rng(1));
    expect(b.shapes).toEqual({
      supportX: [4, 10, 784],
      supportY: [4, 10],
      queryX: [4, 15, 784],
      queryY: [4, 15],
      classIndex: [4, 5],
    });
    expect(b.supportX.length).toBe(4 * 10 * 784);
    expect(b.queryY.length).toBe(60);
    expect(Math.max(...b.supportX)).toBe(1);
    expect(Math.min(...b.supportX)).toBeGreaterThanOrEqual(0);
  });

  it('labels 0..N-1 consistently: every example of a label comes from that label class, support and query disjoint', () => {
    const b = sampler.sample(new Rng(2));
    for (let e = 0; e < 4; e++) {
      const used = new Set<number>();
      const labels = new Set<number>();
      for (const [x, y, per] of [
        [b.supportX, b.supportY, 2],
        [b.queryX, b.queryY, 3],
      ] as const) {
        for (let i = 0; i < 5 * per; i++) {
          const label = y[e * 5 * per + i]!;
          labels.add(label);
          expect(label).toBe(Math.floor(i / per));
          const row = rowOf(x, e * 5 * per + i);
          const character = b.classIndex[e * 5 + label]!;
          expect(Math.floor(row / 20)).toBe(character);
          expect(used.has(row)).toBe(false);
          used.add(row);
        }
      }
      expect([...labels].sort()).toEqual([0, 1, 2, 3, 4]);
      expect(new Set(b.classIndex.subarray(e * 5, e * 5 + 5)).size).toBe(5);
    }
  });

  it('shuffles the class-to-label assignment across episodes', () => {
    const b = sampler.sample(new Rng(3));
    const firsts = new Set<number>();
    for (let e = 0; e < 4; e++) firsts.add(b.classIndex[e * 5]!);
    expect(firsts.size).toBeGreaterThan(1);
  });

  it('is reproducible from the RNG state alone, regardless of earlier calls', () => {
    const fresh = new OmniglotEpisodeSampler(images, classes, sampler.options);
    sampler.sample(new Rng(99));
    const a = sampler.sample(new Rng(7));
    const b = fresh.sample(new Rng(7));
    expect(b.supportX).toEqual(a.supportX);
    expect(b.queryY).toEqual(a.queryY);
    expect(b.classIndex).toEqual(a.classIndex);
    expect(sampler.sample(new Rng(8)).classIndex).not.toEqual(a.classIndex);
  });

  it('applies class rotations counterclockwise', () => {
    const rotated = new OmniglotEpisodeSampler(images, [{ characterId: 1, rotation: 1 }], {
      ways: 1,
      shots: 1,
      queries: 0,
      metaBatch: 1,
    });
    const x = rotated.sample(new Rng(1)).supportX;
    // Marker at source (0, 0) lands at (27, 0) after a 90-degree counterclockwise turn.
    expect(x[27 * 28]).toBe(1);
    expect(x[0]).toBeLessThan(1);
  });

  it('augments with random rotations and shifts when switched on', () => {
    const one = [{ characterId: 1, rotation: 0 as const }];
    const aug = new OmniglotEpisodeSampler(images, one, {
      ways: 1,
      shots: 20,
      queries: 0,
      metaBatch: 8,
      augment: { randomRotation: true, maxShift: 2 },
    });
    const x = aug.sample(new Rng(4)).supportX;
    const markerPositions = new Set<number>();
    let zeroFilled = 0;
    for (let i = 0; i < 160; i++) {
      const img = x.subarray(i * 784, (i + 1) * 784);
      const p = img.indexOf(1);
      if (p >= 0) markerPositions.add(p);
      if (img.includes(0)) zeroFilled++;
    }
    expect(markerPositions.size).toBeGreaterThan(4);
    expect(zeroFilled).toBeGreaterThan(0);
  });

  it('rejects impossible configurations', () => {
    expect(
      () => new OmniglotEpisodeSampler(images, classes, { ways: 13, shots: 1, queries: 1, metaBatch: 1 }),
    ).toThrow(DataConfigError);
    expect(
      () => new OmniglotEpisodeSampler(images, classes, { ways: 5, shots: 10, queries: 11, metaBatch: 1 }),
    ).toThrow(/exceeds the 20 drawings/);
    expect(
      () =>
        new OmniglotEpisodeSampler(images, [{ characterId: 99, rotation: 0 }], {
          ways: 1,
          shots: 1,
          queries: 1,
          metaBatch: 1,
        }),
    ).toThrow(/character 99/);
  });
});
