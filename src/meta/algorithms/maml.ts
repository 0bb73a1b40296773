import type { MetaAlgorithm } from './types.js';

/**
 * MAML (Finn et al. 2017): the query loss after a few inner SGD steps, differentiated through the inner loop
 * (`trainer.order: 2`) or around it (`order: 1`, first-order MAML / FOMAML). It is the default behaviour of
 * every hook of {@link MetaAlgorithm}, so it overrides nothing.
 */
export const maml: MetaAlgorithm = {
  name: 'maml',
  doc: 'MAML (Finn et al. 2017): query loss after inner SGD steps; order 2 differentiates through the inner loop, order 1 is first-order MAML (FOMAML).',
};
