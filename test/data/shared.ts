import { resolve } from 'node:path';

/** The read-only shared Omniglot sources (override with METATAPE_OMNIGLOT_SOURCE). */
export const SHARED_OMNIGLOT = resolve(process.env.METATAPE_OMNIGLOT_SOURCE ?? '../shared/datasets/omniglot');
