/**
 * The episode source the trainer and CLI use: opens the prepared images, resolves a split and returns a
 * meta-batch generator bound to an explicit RNG.
 */
import { join } from 'node:path';
import { DataConfigError } from '../errors.js';
import type { RandomSource } from '../random-source.js';
import { type EpisodeBatch, type EpisodeOptions, OmniglotEpisodeSampler } from './episodes.js';
import { manifestCharacters } from './manifest.js';
import { type OmniglotImages, openOmniglot, type VerifyLevel } from './reader.js';
import {
  type MamlSplitOptions,
  mamlSplit,
  type OmniglotClass,
  readVinyalsList,
  vinyalsSplit,
} from './splits.js';

/** Which protocol's classes to draw from. */
export type OmniglotSplitName = 'maml' | 'vinyals';

/** Options of {@link createOmniglotEpisodeSource}. */
export interface OmniglotEpisodeSourceOptions extends EpisodeOptions {
  /** The RNG every episode draws from (e.g. `new Rng(seed)` or a fork of the run's RNG). */
  rng: RandomSource;
  /** Which subset of the split; `trainval` is train + val. */
  subset: 'train' | 'val' | 'trainval' | 'test';
  /** Split protocol; default `maml`. */
  split?: OmniglotSplitName;
  /** Options of the MAML split (train/val character counts, rotations). */
  maml?: MamlSplitOptions;
  /**
   * Folder with the Vinyals `*.txt` lists (e.g. `../shared/datasets/omniglot/splits/vinyals`); without it the
   * embedded rule gives the same classes in ID order.
   */
  vinyalsListsDir?: string;
  /** Prepared dataset folder; default `datasets/omniglot`. */
  dir?: string;
  /** Already-opened images (skips reading; share one copy between train and test sources). */
  images?: OmniglotImages;
  /** Manifest check when opening; default `sha256`. */
  verify?: VerifyLevel;
}

/** A stream of meta-batches. */
export interface EpisodeSource {
  /** The underlying sampler (its `classes` are the split's classes). */
  readonly sampler: OmniglotEpisodeSampler;
  /** The opened images, for sharing with another source. */
  readonly images: OmniglotImages;
  /** Draws the next meta-batch from the bound RNG. */
  next(): EpisodeBatch;
}

/**
 * Creates an episode source over a split of prepared Omniglot.
 *
 * @example
 * const train = await createOmniglotEpisodeSource({
 *   rng: new Rng(1), subset: 'train', ways: 5, shots: 1, queries: 15, metaBatch: 32,
 * });
 * const batch = train.next(); // batch.supportX: Float32Array [32, 5, 784]
 * @throws DatasetFileError when the prepared files are missing or damaged (see {@link openOmniglot}).
 * @throws DataConfigError on impossible episode shapes or an unknown subset.
 */
export async function createOmniglotEpisodeSource(
  options: OmniglotEpisodeSourceOptions,
): Promise<EpisodeSource> {
  const images =
    options.images ??
    (await openOmniglot(options.dir ?? join('datasets', 'omniglot'), { verify: options.verify ?? 'sha256' }));
  const classes = await resolveClasses(images, options);
  const sampler = new OmniglotEpisodeSampler(images, classes, options);
  const { rng } = options;
  return { sampler, images, next: () => sampler.sample(rng) };
}

async function resolveClasses(
  images: OmniglotImages,
  options: OmniglotEpisodeSourceOptions,
): Promise<OmniglotClass[]> {
  const { subset } = options;
  const split = options.split ?? 'maml';
  if (split === 'vinyals' && options.vinyalsListsDir !== undefined) {
    return readVinyalsList(options.vinyalsListsDir, subset, images.manifest.alphabets);
  }
  const parts =
    split === 'vinyals'
      ? vinyalsSplit(images.manifest.alphabets)
      : mamlSplit({ characters: manifestCharacters(images.manifest), ...options.maml });
  switch (subset) {
    case 'train':
    case 'val':
    case 'test':
      return parts[subset];
    case 'trainval':
      return [...parts.train, ...parts.val];
    default:
      throw new DataConfigError(`episodes: unknown subset ${JSON.stringify(subset)}`);
  }
}
