import { UsageError } from '../config/errors.js';

/** One training run of a comparison: an order, a number of inner steps and a seed. */
export interface Variant {
  /** Folder name and label, e.g. `o2-k5-s1`. */
  id: string;
  order: 1 | 2;
  innerSteps: number;
  seed: number;
}

/** What `metatape compare` varies. */
export interface ComparePlanInput {
  orders: readonly number[];
  innerSteps: readonly number[];
  seeds: readonly number[];
}

/**
 * Parses a comma-separated list of non-negative integers (`1,2,5`); `flag` names the option in errors.
 * Duplicates are dropped and the order is kept.
 */
export function parseIntList(flag: string, text: string | number): number[] {
  const parts = String(text)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const values = parts.map(Number);
  if (values.length === 0 || values.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new UsageError(`${flag}: got ${JSON.stringify(text)}; expected integers like 1,2,5`);
  }
  return [...new Set(values)];
}

/**
 * `--seeds 3` means three seeds counted up from the config's seed; `--seeds 0,7,9` lists them. Both orders
 * get the same list, so each seed fixes the same initialisation and task stream for every variant.
 */
export function parseSeeds(text: string | number, baseSeed: number): number[] {
  const s = String(text).trim();
  if (/^\d+$/.test(s)) {
    const count = Number(s);
    if (count < 1) throw new UsageError(`--seeds: got ${s}; expected at least 1`);
    return Array.from({ length: count }, (_, i) => baseSeed + i);
  }
  return parseIntList('--seeds', s);
}

/**
 * Every (order, inner steps, seed) combination. Orders vary fastest, so with two workers the first- and
 * second-order runs of a pair train side by side and share whatever contention the machine has.
 */
export function planVariants(input: ComparePlanInput): Variant[] {
  for (const o of input.orders) {
    if (o !== 1 && o !== 2) throw new UsageError(`--orders: got ${o}; MAML orders are 1 and 2`);
  }
  for (const k of input.innerSteps) {
    if (k < 1) throw new UsageError(`--inner-steps: got ${k}; expected at least 1`);
  }
  const variants: Variant[] = [];
  for (const innerSteps of input.innerSteps) {
    for (const seed of input.seeds) {
      for (const order of input.orders) {
        variants.push({
          id: variantId(order as 1 | 2, innerSteps, seed),
          order: order as 1 | 2,
          innerSteps,
          seed,
        });
      }
    }
  }
  return variants;
}

/** `o<order>-k<inner steps>-s<seed>`. */
export function variantId(order: number, innerSteps: number, seed: number): string {
  return `o${order}-k${innerSteps}-s${seed}`;
}
