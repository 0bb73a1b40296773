/**
 * Seed example 4, the article's warning: differentiating with respect to something the tape did not watch
 * gives `null` (never a silent zero), or zeros only when asked for explicitly.
 *
 * The code lives in src/cli/examples/ so that the built package ships it (`metatape examples` runs it
 * from an installed package too); this file keeps `npx tsx experiments/seed/04-unwatched.ts` working.
 */
import { pathToFileURL } from 'node:url';
import { main } from '../../src/cli/examples/04-unwatched.js';

export { unwatched } from '../../src/cli/examples/04-unwatched.js';

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
