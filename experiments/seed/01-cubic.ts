/**
 * Seed example 1: f(x) = x³ at x = 3 with two nested tapes. Prints the first derivative (27) and the
 * second (18). Run: `npx tsx experiments/seed/01-cubic.ts` or `npx metatape examples cubic`.
 *
 * The code lives in src/cli/examples/ so that the built package ships it (`metatape examples` runs it
 * from an installed package too); this file keeps `npx tsx experiments/seed/01-cubic.ts` working.
 */
import { pathToFileURL } from 'node:url';
import { main } from '../../src/cli/examples/01-cubic.js';

export { cubic } from '../../src/cli/examples/01-cubic.js';

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
