/**
 * The MAML preprocessing: 105x105 binary drawings are resized to 28x28 with an antialiasing filter and
 * inverted so that ink is bright (1.0 after scaling), then stored as uint8 0..255.
 */
import { createResampler, type ResampleFilter, type Resampler } from '../image/resample.js';
import { DRAWINGS, IMAGE_PIXELS, IMAGE_SIZE, SOURCE_SIZE } from './constants.js';
import type { RawOmniglotSet } from './raw-set.js';

/** The default filter: Pillow's Lanczos, which MAML's `resize_images.py` asks for. */
export const DEFAULT_FILTER: ResampleFilter = 'lanczos3';

/** Converts one source drawing after another with shared scratch buffers. */
export interface OmniglotPreprocessor {
  readonly filter: ResampleFilter;
  /**
   * Preprocesses one 105x105 drawing (1 = white, 0 = ink) into 784 uint8 pixels (255 = full ink) at
   * `out[offset..offset+784)`.
   */
  convert(source: Uint8Array, out: Uint8Array, offset?: number): void;
}

/** Builds a preprocessor for `filter`. */
export function createPreprocessor(filter: ResampleFilter = DEFAULT_FILTER): OmniglotPreprocessor {
  const resampler: Resampler = createResampler(SOURCE_SIZE, SOURCE_SIZE, IMAGE_SIZE, IMAGE_SIZE, filter);
  const ink = new Float32Array(SOURCE_SIZE * SOURCE_SIZE);
  const small = new Float32Array(IMAGE_PIXELS);
  return {
    filter,
    convert(source, out, offset = 0) {
      // Inverting before resizing equals inverting after, as the weights sum to one; doing it first lets the
      // clamp below absorb Lanczos overshoot on both ends in one place.
      for (let p = 0; p < ink.length; p++) ink[p] = 1 - source[p]!;
      resampler.resize(ink, small);
      for (let p = 0; p < IMAGE_PIXELS; p++) {
        const v = Math.round(small[p]! * 255);
        out[offset + p] = Math.min(255, Math.max(0, v));
      }
    },
  };
}

/** Preprocesses a whole set into `characters * 20 * 784` bytes in (character, drawing, pixel) order. */
export function preprocessSet(raw: RawOmniglotSet, filter: ResampleFilter = DEFAULT_FILTER): Uint8Array {
  const pre = createPreprocessor(filter);
  const count = raw.characters * DRAWINGS;
  const perSource = SOURCE_SIZE * SOURCE_SIZE;
  const out = new Uint8Array(count * IMAGE_PIXELS);
  for (let i = 0; i < count; i++) {
    pre.convert(raw.images.subarray(i * perSource, (i + 1) * perSource), out, i * IMAGE_PIXELS);
  }
  return out;
}
