import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { getDefaultFloat } from '../backends/registry.js';
import type { ExperimentConfig } from '../config/schema.js';
import { OmniglotEpisodeSampler } from '../data/omniglot/episodes.js';
import { manifestCharacters } from '../data/omniglot/manifest.js';
import { openOmniglot } from '../data/omniglot/reader.js';
import { mamlSplit, type OmniglotClass, readVinyalsList, vinyalsSplit } from '../data/omniglot/splits.js';
import { fromArray } from '../ops/creation.js';
import type { TaskSource } from './tasks.js';

type OmniglotData = Extract<ExperimentConfig['data'], { kind: 'omniglot' }>;

/** Where the Vinyals split lists live beside a checkout (the shared dataset copy), if present. */
const VINYALS_LISTS = join('..', 'shared', 'datasets', 'omniglot', 'splits', 'vinyals');

/**
 * N-way K-shot Omniglot episodes as a {@link TaskSource}: images flattened to `[784]` for the MLPs or kept
 * as `[28, 28, 1]` (NHWC) for conv4; labels int32. Train tasks come from the split's training classes, test
 * tasks from its test classes, never overlapping.
 */
export async function omniglotTaskSource(
  data: OmniglotData,
  options: { flatImages: boolean },
): Promise<TaskSource> {
  // Every byte against the manifest's sha256 before training: a damaged file is never trained on.
  const images = await openOmniglot(data.root, { verify: 'sha256' });
  const classes: Record<'train' | 'test', readonly OmniglotClass[]> =
    data.split === 'vinyals'
      ? existsSync(VINYALS_LISTS)
        ? {
            train: await readVinyalsList(VINYALS_LISTS, 'train', images.manifest.alphabets),
            test: await readVinyalsList(VINYALS_LISTS, 'test', images.manifest.alphabets),
          }
        : vinyalsSplit(images.manifest.alphabets)
      : mamlSplit({ characters: manifestCharacters(images.manifest), rotations: data.augmentRotations });
  const side = data.imageSize;
  const samplers = new Map<string, OmniglotEpisodeSampler>();
  const samplerFor = (subset: 'train' | 'test', count: number, shots: number): OmniglotEpisodeSampler => {
    const key = `${subset}/${count}/${shots}`;
    let s = samplers.get(key);
    if (!s) {
      s = new OmniglotEpisodeSampler(images, classes[subset], {
        ways: data.ways,
        shots,
        queries: data.queryShots,
        metaBatch: count,
      });
      samplers.set(key, s);
    }
    return s;
  };
  return {
    kind: 'classification',
    inputShape: options.flatImages ? [side * side] : [side, side, 1],
    outputDim: data.ways,
    sample(rng, count, split, shots) {
      const b = samplerFor(split === 'train' ? 'train' : 'test', count, shots ?? data.shots).sample(rng);
      const xShape = (shape: [number, number, number]) =>
        options.flatImages ? shape : [shape[0], shape[1], side, side, 1];
      // Pixels come as float32; a float64 run (gradient checks, `dtype: float64`) gets them in float64.
      const pixels = (x: Float32Array) => (getDefaultFloat() === 'float64' ? Float64Array.from(x) : x);
      return {
        supportX: fromArray(pixels(b.supportX), xShape(b.shapes.supportX)),
        supportY: fromArray(b.supportY, b.shapes.supportY),
        queryX: fromArray(pixels(b.queryX), xShape(b.shapes.queryX)),
        queryY: fromArray(b.queryY, b.shapes.queryY),
      };
    },
  };
}
