import type { OmniglotManifest } from '../../src/data/omniglot/manifest.js';
import { type OmniglotCharacter, OmniglotImages } from '../../src/data/omniglot/reader.js';

/**
 * A synthetic dataset (at most 12 characters, so that row numbers fit in a byte) of `characters` characters x 20 drawings where every pixel of character c, drawing d is
 * `(c * 20 + d) % 251`, except pixel 0 which is 255 (a marker to check rotations).
 */
export function syntheticImages(characters: number): OmniglotImages {
  const rows = characters * 20;
  const pixels = new Uint8Array(rows * 784);
  for (let r = 0; r < rows; r++) {
    pixels.fill(r % 251, r * 784, (r + 1) * 784);
    pixels[r * 784] = 255;
  }
  const chars: OmniglotCharacter[] = Array.from({ length: characters }, (_, i) => ({
    id: i + 1,
    set: 'background',
    alphabet: 'Synthetic',
    character: i + 1,
  }));
  const drawingRows = Int32Array.from({ length: rows }, (_, i) => i);
  const manifest = { alphabets: [] } as unknown as OmniglotManifest;
  return new OmniglotImages(pixels, chars, drawingRows, manifest);
}
