import { perParameterStepSize } from '../stepSizes.js';
import type { MetaAlgorithm } from './types.js';

/** Meta-SGD (Li et al. 2017): MAML with a learned inner step size per parameter element. */
export const metasgd: MetaAlgorithm = {
  name: 'metasgd',
  doc: 'Meta-SGD (Li et al. 2017): MAML with a learned inner step size for every parameter element (starting at trainer.innerLr).',
  stepSizes: perParameterStepSize,
};
