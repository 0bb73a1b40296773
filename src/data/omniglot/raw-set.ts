/**
 * The in-memory form of one source set before preprocessing, whichever format it came from.
 */
import type { OmniglotSet } from './constants.js';

/**
 * One Omniglot set at source resolution: `images` holds `characters x 20 x 105 x 105` bytes in C order, 1 for
 * white background and 0 for ink (the `.npz` convention); character index `i` is ID `firstId + i`.
 */
export interface RawOmniglotSet {
  set: OmniglotSet;
  firstId: number;
  characters: number;
  images: Uint8Array;
}
