/**
 * The slice of a seedable RNG the data layer needs. `Rng` from `src/tensor/random.ts` satisfies it
 * structurally; depending on this interface rather than the class keeps the data layer free of the tensor core.
 */
export interface RandomSource {
  /** A float in [0, 1). */
  uniform(): number;
  /** An integer in 0..n-1. */
  int(n: number): number;
}
