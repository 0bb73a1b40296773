import type { MetaAlgorithm } from './types.js';

/**
 * MAML++ (Antoniou et al. 2019): MAML with learned per-step, per-layer step sizes (LSLR) and the multi-step
 * loss (the query loss after every inner step, annealed to the last). Both are also trainer options of
 * `maml` (`learnInnerLr`, `multiStepLoss`); this algorithm turns them on.
 */
export const mamlpp: MetaAlgorithm = {
  name: 'mamlpp',
  doc: 'MAML++ (Antoniou et al. 2019): MAML with learned per-step, per-layer inner step sizes (LSLR) and the annealed multi-step loss.',
  implies: { learnInnerLr: true, multiStepLoss: true },
};

/**
 * MAML++'s multi-step loss weights: uniform at the start, annealed linearly to all weight on the last step
 * by 30% of training (Antoniou et al. 2019 anneal over the first epochs; the schedule's length is a choice).
 */
export function multiStepWeights(steps: number, progress: number): number[] {
  const a = Math.min(1, progress / 0.3);
  return Array.from({ length: steps }, (_, s) => (1 - a) / steps + (s === steps - 1 ? a : 0));
}
