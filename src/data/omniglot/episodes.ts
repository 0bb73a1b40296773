/**
 * N-way K-shot episode sampling over prepared Omniglot images, a meta-batch at a time. Every draw comes from
 * the RNG passed in, and a batch depends only on that RNG's state (no hidden sampler state), so resuming an
 * RNG state resumes the exact episode stream.
 */
import { DataConfigError } from '../errors.js';
import { rotationTables } from '../image/rotate.js';
import type { RandomSource } from '../random-source.js';
import { DRAWINGS, IMAGE_PIXELS, IMAGE_SIZE } from './constants.js';
import type { OmniglotImages } from './reader.js';
import type { OmniglotClass } from './splits.js';

/** Optional augmentations, all off by default. */
export interface EpisodeAugmentation {
  /**
   * Rotate each sampled class by a random multiple of 90 degrees for the episode, on top of its own rotation
   * (the original MAML TensorFlow code's augmentation; pair it with rotation-free classes).
   */
  randomRotation?: boolean;
  /** Shift each image by up to this many pixels in x and y (uniform, zero fill). */
  maxShift?: number;
}

/** Shape of the episodes to draw. */
export interface EpisodeOptions {
  /** Classes per episode, N. */
  ways: number;
  /** Support examples per class, K. */
  shots: number;
  /** Query examples per class, Q (drawn without overlap with the support). */
  queries: number;
  /** Episodes per batch, T. */
  metaBatch: number;
  augment?: EpisodeAugmentation;
}

/**
 * A meta-batch of T episodes. Examples are class-major within an episode (`n * K + k`); labels 0..N-1 are
 * assigned to the sampled classes in random order, independently per episode.
 */
export interface EpisodeBatch {
  /** [T, N*K, 784], values in 0..1 (1 = ink). */
  supportX: Float32Array;
  /** [T, N*K], labels 0..N-1. */
  supportY: Int32Array;
  /** [T, N*Q, 784]. */
  queryX: Float32Array;
  /** [T, N*Q]. */
  queryY: Int32Array;
  /** [T, N]: for each episode and label, the index of its class in the sampler's class list. */
  classIndex: Int32Array;
  shapes: {
    supportX: [number, number, number];
    supportY: [number, number];
    queryX: [number, number, number];
    queryY: [number, number];
    classIndex: [number, number];
  };
}

// Bytes to floats by table lookup: cheaper than a divide per pixel in the hot loop.
const TO_UNIT = Float32Array.from({ length: 256 }, (_, v) => v / 255);
const ROTATIONS = rotationTables(IMAGE_SIZE);

/** Draws meta-batches of episodes from a fixed class list. */
export class OmniglotEpisodeSampler {
  /** The classes episodes are drawn from (e.g. a split's `train`). */
  readonly classes: readonly OmniglotClass[];
  readonly options: Readonly<EpisodeOptions>;
  private readonly images: OmniglotImages;
  // Per class: first row index of its 20 drawings in images.drawingRows, and its rotation.
  private readonly classRowBase: Int32Array;
  private readonly classRotation: Uint8Array;
  private readonly classPerm: Int32Array;
  private readonly drawingPerm: Int32Array;

  /**
   * @throws DataConfigError when N exceeds the classes, K + Q exceeds 20 drawings, a count is not a positive
   *   integer, or a class's character is not loaded.
   */
  constructor(images: OmniglotImages, classes: readonly OmniglotClass[], options: EpisodeOptions) {
    const { ways, shots, queries, metaBatch } = options;
    for (const [name, v, min] of [
      ['ways', ways, 1],
      ['shots', shots, 1],
      ['queries', queries, 0],
      ['metaBatch', metaBatch, 1],
    ] as const) {
      if (!Number.isInteger(v) || v < min)
        throw new DataConfigError(`episodes: ${name} must be an integer >= ${min}, got ${v}`);
    }
    if (ways > classes.length) {
      throw new DataConfigError(
        `episodes: ${ways}-way needs ${ways} classes, the split has ${classes.length}`,
      );
    }
    if (shots + queries > DRAWINGS) {
      throw new DataConfigError(
        `episodes: shots + queries = ${shots + queries} exceeds the ${DRAWINGS} drawings per class`,
      );
    }
    const maxShift = options.augment?.maxShift ?? 0;
    if (!Number.isInteger(maxShift) || maxShift < 0 || maxShift >= IMAGE_SIZE) {
      throw new DataConfigError(
        `episodes: maxShift must be an integer in 0..${IMAGE_SIZE - 1}, got ${maxShift}`,
      );
    }
    this.images = images;
    this.classes = classes;
    this.options = { ...options };
    this.classRowBase = new Int32Array(classes.length);
    this.classRotation = new Uint8Array(classes.length);
    classes.forEach((c, i) => {
      let index: number;
      try {
        index = images.indexOf(c.characterId);
      } catch {
        throw new DataConfigError(`episodes: class character ${c.characterId} is not in the loaded images`);
      }
      this.classRowBase[i] = index * DRAWINGS;
      this.classRotation[i] = c.rotation;
    });
    this.classPerm = Int32Array.from({ length: classes.length }, (_, i) => i);
    this.drawingPerm = Int32Array.from({ length: DRAWINGS }, (_, i) => i);
  }

  /** Draws one meta-batch, advancing `rng`. */
  sample(rng: RandomSource): EpisodeBatch {
    const { ways: n, shots: k, queries: q, metaBatch: t } = this.options;
    const randomRotation = this.options.augment?.randomRotation ?? false;
    const maxShift = this.options.augment?.maxShift ?? 0;
    const supportX = new Float32Array(t * n * k * IMAGE_PIXELS);
    const queryX = new Float32Array(t * n * q * IMAGE_PIXELS);
    const supportY = new Int32Array(t * n * k);
    const queryY = new Int32Array(t * n * q);
    const classIndex = new Int32Array(t * n);
    const chosen = new Int32Array(n);
    const drawings = new Int32Array(k + q);
    for (let e = 0; e < t; e++) {
      choose(rng, this.classPerm, n, chosen);
      for (let label = 0; label < n; label++) {
        const c = chosen[label]!;
        classIndex[e * n + label] = c;
        let rotation = this.classRotation[c]!;
        if (randomRotation) rotation = (rotation + rng.int(4)) % 4;
        choose(rng, this.drawingPerm, k + q, drawings);
        for (let j = 0; j < k + q; j++) {
          const row = this.images.drawingRows[this.classRowBase[c]! + drawings[j]!]!;
          const isSupport = j < k;
          const slot = isSupport ? (e * n + label) * k + j : (e * n + label) * q + (j - k);
          (isSupport ? supportY : queryY)[slot] = label;
          const dx = maxShift > 0 ? rng.int(2 * maxShift + 1) - maxShift : 0;
          const dy = maxShift > 0 ? rng.int(2 * maxShift + 1) - maxShift : 0;
          copyImage(
            this.images.pixels,
            row * IMAGE_PIXELS,
            rotation,
            dx,
            dy,
            isSupport ? supportX : queryX,
            slot * IMAGE_PIXELS,
          );
        }
      }
    }
    return {
      supportX,
      supportY,
      queryX,
      queryY,
      classIndex,
      shapes: {
        supportX: [t, n * k, IMAGE_PIXELS],
        supportY: [t, n * k],
        queryX: [t, n * q, IMAGE_PIXELS],
        queryY: [t, n * q],
        classIndex: [t, n],
      },
    };
  }
}

// Draws m distinct entries of perm by a partial Fisher-Yates shuffle, then undoes the swaps so the result
// depends only on the RNG, never on earlier calls.
function choose(rng: RandomSource, perm: Int32Array, m: number, out: Int32Array): void {
  const size = perm.length;
  const swaps = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(size - i);
    swaps[i] = j;
    const tmp = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = tmp;
    out[i] = perm[i]!;
  }
  for (let i = m - 1; i >= 0; i--) {
    const j = swaps[i]!;
    const tmp = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = tmp;
  }
}

function copyImage(
  pixels: Uint8Array,
  src: number,
  rotation: number,
  dx: number,
  dy: number,
  out: Float32Array,
  dst: number,
): void {
  if (dx === 0 && dy === 0) {
    copyRotated(pixels, src, rotation, out, dst);
    return;
  }
  const table = ROTATIONS[rotation]!;
  // Shifted copy: output (y, x) takes rotated (y - dy, x - dx); out is freshly zeroed, so skipping is a fill.
  for (let y = 0; y < IMAGE_SIZE; y++) {
    const sy = y - dy;
    if (sy < 0 || sy >= IMAGE_SIZE) continue;
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const sx = x - dx;
      if (sx < 0 || sx >= IMAGE_SIZE) continue;
      out[dst + y * IMAGE_SIZE + x] = TO_UNIT[pixels[src + table[sy * IMAGE_SIZE + sx]!]!]!;
    }
  }
}

// Unshifted copies with index arithmetic instead of the gather table: about twice as fast, and this is the
// hot loop of every batch. Same mapping as rotationTable (counterclockwise).
function copyRotated(
  pixels: Uint8Array,
  src: number,
  rotation: number,
  out: Float32Array,
  dst: number,
): void {
  const s = IMAGE_SIZE;
  const last = s - 1;
  if (rotation === 0) {
    for (let p = 0; p < IMAGE_PIXELS; p++) out[dst + p] = TO_UNIT[pixels[src + p]!]!;
  } else if (rotation === 2) {
    const end = src + IMAGE_PIXELS - 1;
    for (let p = 0; p < IMAGE_PIXELS; p++) out[dst + p] = TO_UNIT[pixels[end - p]!]!;
  } else if (rotation === 1) {
    for (let i = 0; i < s; i++) {
      const from = src + last - i;
      const to = dst + i * s;
      for (let j = 0; j < s; j++) out[to + j] = TO_UNIT[pixels[from + j * s]!]!;
    }
  } else {
    for (let i = 0; i < s; i++) {
      const from = src + last * s + i;
      const to = dst + i * s;
      for (let j = 0; j < s; j++) out[to + j] = TO_UNIT[pixels[from - j * s]!]!;
    }
  }
}
