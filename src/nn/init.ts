import { fill, randomNormal, randomUniform, truncatedNormal } from '../ops/creation.js';
import type { Rng } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';

/** Parameter initialisers (all seeded through an explicit {@link Rng}). */
export type Initializer =
  | 'glorotUniform'
  | 'heNormal'
  | 'heUniform'
  | 'zeros'
  | 'ones'
  | { kind: 'normal'; std: number }
  | { kind: 'truncatedNormal'; std: number }
  | { kind: 'uniform'; limit: number };

/**
 * Draws a parameter. `fanIn`/`fanOut` are the number of inputs/outputs per unit (for a conv kernel
 * `[kh, kw, cin, cout]`: `kh*kw*cin` and `kh*kw*cout`).
 */
export function initialize(
  init: Initializer,
  shape: number[],
  fanIn: number,
  fanOut: number,
  rng: Rng,
): Tensor {
  if (init === 'zeros') return fill(shape, 0);
  if (init === 'ones') return fill(shape, 1);
  if (init === 'glorotUniform') {
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    return randomUniform(shape, rng, -limit, limit);
  }
  if (init === 'heNormal') return truncatedNormal(shape, rng, 0, Math.sqrt(2 / fanIn) / 0.8796256610342398);
  if (init === 'heUniform') {
    const limit = Math.sqrt(6 / fanIn);
    return randomUniform(shape, rng, -limit, limit);
  }
  if (init.kind === 'normal') return randomNormal(shape, rng, 0, init.std);
  if (init.kind === 'truncatedNormal') return truncatedNormal(shape, rng, 0, init.std);
  return randomUniform(shape, rng, -init.limit, init.limit);
}
