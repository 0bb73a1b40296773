import { anil } from './anil.js';
import { imaml, imamlConfig } from './imaml.js';
import { maml } from './maml.js';
import { mamlpp } from './mamlpp.js';
import { metasgd } from './metasgd.js';
import { pretrain } from './pretrain.js';
import { reptile } from './reptile.js';
import type { MetaAlgorithm } from './types.js';

/**
 * Every meta-learning algorithm of the trainer, by its config name. The config schema's `trainer.algorithm`
 * enum, the learner, the factories and the README table (`algorithmTable()`) all come from here: adding an
 * algorithm is its module plus one line in this record.
 */
export const ALGORITHMS = {
  maml,
  anil,
  metasgd,
  mamlpp,
  reptile,
  pretrain,
  imaml,
} as const satisfies Record<string, MetaAlgorithm>;

/** The meta-learning algorithms of the trainer. */
export type Algorithm = keyof typeof ALGORITHMS;

/**
 * The trainer config sections of algorithms with options of their own (`trainer.<name>`), merged into the
 * trainer schema. Optional: a config without them keeps its hash.
 */
export const ALGORITHM_CONFIG = {
  imaml: imamlConfig.optional(),
};

/** The algorithm names, in registry order (the config schema's enum). */
export const ALGORITHM_NAMES = Object.keys(ALGORITHMS) as [Algorithm, ...Algorithm[]];

/** The module of an algorithm; an unknown name is an error listing the known ones. */
export function algorithm(name: string): MetaAlgorithm {
  const a = (ALGORITHMS as Record<string, MetaAlgorithm>)[name];
  if (!a) throw new Error(`unknown algorithm '${name}'; known: ${ALGORITHM_NAMES.join(', ')}`);
  return a;
}

/**
 * Whether `trainer.order` changes what an algorithm computes: the order picks how the default meta-loss
 * differentiates the inner loop (through it, or around it), so algorithms with their own meta-loss or
 * meta-gradient (pretrain, Reptile, iMAML) ignore it.
 */
export function usesOrder(name: string): boolean {
  const a = algorithm(name);
  return !a.metaLoss && !a.metaGradient && !a.metaGradientReads;
}

/** An algorithm at one order, by the name `metatape compare --algorithms` gives it (`maml`, `fomaml`, `imaml`). */
export interface AlgorithmVariant {
  readonly name: string;
  readonly algorithm: Algorithm;
  /** `trainer.order`; absent for an algorithm that ignores it (see {@link usesOrder}). */
  readonly order?: 1 | 2;
}

/**
 * Every algorithm variant, in registry order: an algorithm whose order matters by its own name at order 2
 * and as `fo<name>` at order 1 (first-order MAML is `fomaml`); any other by its name alone.
 */
export function algorithmVariants(): AlgorithmVariant[] {
  return ALGORITHM_NAMES.flatMap((name): AlgorithmVariant[] =>
    usesOrder(name)
      ? [
          { name, algorithm: name, order: 2 },
          { name: `fo${name}`, algorithm: name, order: 1 },
        ]
      : [{ name, algorithm: name }],
  );
}

/** Whether an algorithm (with `trainer.learnInnerLr`) learns its inner step sizes. */
export function learnsStepSizes(name: string, learnInnerLr = false): boolean {
  const a = algorithm(name);
  return a.stepSizes?.learned ?? (learnInnerLr || a.implies?.learnInnerLr === true);
}

/** Whether an algorithm's step sizes are one scalar per tensor and step (what low-rank fast weights need). */
export function scalarStepSizes(name: string): boolean {
  return algorithm(name).stepSizes?.scalar ?? true;
}

/**
 * The one rule for low-rank fast weights (config schema, factories and learner all ask it): why they cannot
 * be used for these settings, or undefined. They need the plain SGD inner step with one step size per tensor.
 */
export function lowRankBlocker(t: {
  algorithm: string;
  innerOptimizer?: { kind: string };
  innerRule?: unknown;
}): string | undefined {
  if (!scalarStepSizes(t.algorithm) || algorithm(t.algorithm).innerRule)
    return `trainer.algorithm: ${t.algorithm}`;
  if (t.innerOptimizer && t.innerOptimizer.kind !== 'sgd')
    return `trainer.innerOptimizer.kind: ${t.innerOptimizer.kind}`;
  if (t.innerRule) return 'an inner rule other than SGD';
  return undefined;
}

/** The README table of the algorithms: name and one-line description. */
export function algorithmTable(): string {
  const rows = ALGORITHM_NAMES.map((n) => `| \`${n}\` | ${ALGORITHMS[n].doc} |`);
  return ['| `trainer.algorithm` | What it does |', '| --- | --- |', ...rows].join('\n');
}
