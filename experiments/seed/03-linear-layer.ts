/**
 * Seed example 3: a linear layer (1 input, 2 units) on the input [[2]], MSE loss against [[3, 5]].
 * The inner tape gives dL/dW and dL/db; the outer tape differentiates those gradients again (TF semantics:
 * the gradient of their sum). With W = [[w1, w2]], b = [b1, b2], x = 2, t = [3, 5]:
 *   L = ((2 w1 + b1 - 3)² + (2 w2 + b2 - 5)²) / 2
 *   dL/dW = [[2 (2 w1 + b1 - 3), 2 (2 w2 + b2 - 5)]],  dL/db = [2 w1 + b1 - 3, 2 w2 + b2 - 5]
 *   d(sum dL/dW)/dW = [[4, 4]], d(sum dL/dW)/db = [2, 2]; d(sum dL/db)/dW = [[2, 2]], d(sum dL/db)/db = [1, 1].
 *
 * The code lives in src/cli/examples/ so that the built package ships it (`metatape examples` runs it
 * from an installed package too); this file keeps `npx tsx experiments/seed/03-linear-layer.ts` working.
 */
import { pathToFileURL } from 'node:url';
import { main } from '../../src/cli/examples/03-linear-layer.js';

export { linearLayer } from '../../src/cli/examples/03-linear-layer.js';

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
