import type { MetaAlgorithm } from './types.js';

/** ANIL (Raghu et al. 2020): MAML whose inner loop adapts only the head (the last layer with parameters). */
export const anil: MetaAlgorithm = {
  name: 'anil',
  doc: 'ANIL (Raghu et al. 2020): MAML with an inner loop that adapts only the head (the last layer with parameters).',
  adaptedNames(names) {
    const lastLayer = names.at(-1)!.split('/')[0]!;
    return names.filter((n) => n.split('/')[0] === lastLayer);
  },
};
