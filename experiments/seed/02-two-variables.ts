/**
 * Seed example 2: f(x, y) = x²y + y³ at (2, 1). The inner tape gives the gradient list [2xy, x² + 3y²] =
 * [4, 7]; the outer tape differentiates each entry again: d²f/dx² = 2y = 2 and d²f/dy² = 6y = 6.
 *
 * The code lives in src/cli/examples/ so that the built package ships it (`metatape examples` runs it
 * from an installed package too); this file keeps `npx tsx experiments/seed/02-two-variables.ts` working.
 */
import { pathToFileURL } from 'node:url';
import { main } from '../../src/cli/examples/02-two-variables.js';

export { twoVariables } from '../../src/cli/examples/02-two-variables.js';

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
