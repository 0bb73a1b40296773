import { UsageError } from '../config/errors.js';
import { algorithmVariants } from '../meta/algorithms/registry.js';

/**
 * One line of a comparison: what its variants set on top of the base config, and its name in variant ids,
 * tables and plots. `--orders 1,2` gives `o1` and `o2` (the config's algorithm at each order);
 * `--algorithms maml,fomaml,imaml` gives the registry's algorithm variants.
 */
export interface Method {
  name: string;
  /** `trainer.algorithm` to set; absent: the config's. */
  algorithm?: string;
  /** `trainer.order` to set; absent: the config's (an algorithm that ignores the order). */
  order?: 1 | 2;
}

/** One training run of a comparison: a method, a number of inner steps and a seed. */
export interface Variant extends Omit<Method, 'name'> {
  /** Folder name and label, e.g. `o2-k5-s1` or `fomaml-k5-s1`. */
  id: string;
  /** The method's name. */
  method: string;
  innerSteps: number;
  seed: number;
}

/** What `metatape compare` varies. */
export interface ComparePlanInput {
  methods: readonly Method[];
  innerSteps: readonly number[];
  seeds: readonly number[];
}

/** `--orders 1,2`: the config's algorithm at each order, named `o1`, `o2`. */
export function orderMethods(orders: readonly number[]): Method[] {
  return orders.map((o) => {
    if (o !== 1 && o !== 2) throw new UsageError(`--orders: got ${o}; MAML orders are 1 and 2`);
    return { name: `o${o}`, order: o };
  });
}

/**
 * `--algorithms maml,fomaml,imaml`: the registry's algorithm variants by name (see `algorithmVariants` in
 * `src/meta/algorithms/registry.ts`); an unknown name is an error listing the allowed ones. Duplicates are
 * dropped and the order is kept (the first is the baseline of the ratio table).
 */
export function parseAlgorithms(text: string): Method[] {
  const known = algorithmVariants();
  const names = [
    ...new Set(
      String(text)
        .split(',')
        .map((n) => n.trim())
        .filter((n) => n !== ''),
    ),
  ];
  if (names.length === 0)
    throw new UsageError(`--algorithms: got ${JSON.stringify(text)}; expected names like maml,fomaml`);
  return names.map((name) => {
    const v = known.find((k) => k.name === name);
    if (!v) {
      throw new UsageError(
        `--algorithms: unknown '${name}'; allowed: ${known.map((k) => k.name).join(', ')}`,
      );
    }
    return { name: v.name, algorithm: v.algorithm, ...(v.order ? { order: v.order } : {}) };
  });
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
 * Every (method, inner steps, seed) combination. Methods vary fastest, so with two workers the runs of a
 * pair (first and second order, say) train side by side and share whatever contention the machine has.
 */
export function planVariants(input: ComparePlanInput): Variant[] {
  for (const k of input.innerSteps) {
    if (k < 1) throw new UsageError(`--inner-steps: got ${k}; expected at least 1`);
  }
  const variants: Variant[] = [];
  for (const innerSteps of input.innerSteps) {
    for (const seed of input.seeds) {
      for (const m of input.methods) {
        const { name, ...sets } = m;
        variants.push({ id: variantId(name, innerSteps, seed), method: name, ...sets, innerSteps, seed });
      }
    }
  }
  return variants;
}

/** `<method>-k<inner steps>-s<seed>`, e.g. `o2-k5-s1` or `fomaml-k5-s1` (read back by `methodOfId`, collect.ts). */
export function variantId(method: string, innerSteps: number, seed: number): string {
  return `${method}-k${innerSteps}-s${seed}`;
}
