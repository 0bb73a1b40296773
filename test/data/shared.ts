import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * The read-only full Omniglot sources: `../shared/datasets/omniglot` beside the checkout, as CI lays it out
 * (override with METATAPE_OMNIGLOT_SOURCE). A fresh clone usually lacks it; the tests that need the full
 * archives are then skipped, and small generated fixtures (test/data/omniglotFixture.ts) cover the same code.
 */
export const SHARED_OMNIGLOT = resolve(process.env.METATAPE_OMNIGLOT_SOURCE ?? '../shared/datasets/omniglot');

/** Whether the full archives are there (the npz files, the alphabet table and the Vinyals lists). */
export const hasSharedOmniglot = [
  'images_background.npz',
  'images_evaluation.npz',
  'id_to_alphabet.csv',
  'images_background_small1.zip',
  join('splits', 'vinyals', 'train.txt'),
].every((f) => existsSync(join(SHARED_OMNIGLOT, f)));

/** Why the full-archive tests are skipped, for describe titles (empty when they run). */
export const sharedSkipReason = hasSharedOmniglot
  ? ''
  : `skipped: ${SHARED_OMNIGLOT} not found; set METATAPE_OMNIGLOT_SOURCE`;

/**
 * The title of a describe block that needs the full archives, with the reason when it is skipped; also prints
 * a one-line notice of what was skipped and why, so it shows in the test output.
 */
export function sharedTitle(what: string): string {
  if (hasSharedOmniglot) return `full Omniglot archives: ${what}`;
  console.warn(`[metatape tests] skipped "${what}": ${sharedSkipReason.replace(/^skipped: /, '')}`);
  return `full Omniglot archives: ${what} (${sharedSkipReason})`;
}
