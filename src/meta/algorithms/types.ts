import type { ExperimentConfig, TrainerConfig } from '../../config/schema.js';
import type { Reduction } from '../../nn/losses.js';
import type { Model } from '../../nn/model.js';
import type { GradientTransformation } from '../../optim/types.js';
import type { Params } from '../../tensor/params.js';
import type { HostReads } from '../../tensor/reads.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { FastWeights } from '../fastWeights.js';
import type { TaskBatch } from '../tasks.js';

/**
 * How an inner loop is differentiated: through it (`second`), around it (`first`: each inner gradient is a
 * constant, the update still connects the fast weights to the meta-parameters), or not at all (`none`: the
 * adapted weights come back cut off from every tape; evaluation and Reptile).
 */
export type AdaptMode = 'second' | 'first' | 'none';

/**
 * A differentiable inner-loop update: `init` makes per-task state for the fast weights, `step` returns new
 * fast weights, taking each parameter's step size from `lr(name)` (a number, or a learned tensor). Written in
 * tensor ops, so a second-order meta-gradient flows through it. Plain SGD is one (see `innerRule.ts`).
 */
export interface InnerRule {
  init(fast: Params): unknown;
  step(
    fast: Params,
    grads: Params,
    state: unknown,
    lr: (name: string) => Tensor | number,
  ): { fast: Params; state: unknown };
}

/** How Dense kernels are adapted per task: `fastWeights` in {@link LearnerOptions}. */
export type FastWeightsMode = TrainerConfig['fastWeights'];

/**
 * Options of a `MetaLearner`: the trainer config's fields (`trainer.*`, same names and meanings; see
 * `src/config/schema.ts`), the required ones being those without a usable default, plus an inner rule.
 * `fastWeights`: `full` gives each task a copy `[T, in, out]` of a Dense kernel; `lowRank` keeps the shared
 * kernel plus one rank-N factor pair per inner step; `auto` (default) takes low rank where the factors are
 * smaller than the kernel and all tasks' copies would hold at least 16,384 numbers. Low rank needs the plain
 * SGD inner step with a scalar (or learned per-step scalar) step size. `kernelReplay` (default true): replay each
 * shape's meta-gradient as recorded native kernels (src/meta/kernelReplay.ts); `METATAPE_REPLAY=0` turns it
 * off everywhere.
 */
export type LearnerOptions = Pick<TrainerConfig, 'algorithm' | 'order' | 'innerSteps' | 'innerLr'> &
  Partial<
    Pick<TrainerConfig, 'learnInnerLr' | 'multiStepLoss' | 'batchedTasks' | 'fastWeights' | 'kernelReplay'>
  > & {
    /** iMAML's settings (`trainer.imaml`); what is absent takes the defaults. */
    imaml?: Partial<NonNullable<TrainerConfig['imaml']>>;
    /** Inner update rule; plain SGD when absent. */
    innerRule?: InnerRule;
  };

/** The result of one meta-gradient computation. */
export interface MetaGradient {
  /** Meta-loss (query loss after adaptation), a scalar tensor. */
  loss: Tensor;
  /** Query metric after adaptation (MSE or accuracy), a scalar tensor. */
  metric: Tensor;
  grads: Params;
}

/** What an algorithm module may use of the learner that runs it (the shared inner loop and losses). */
export interface LearnerHost {
  readonly model: Model;
  readonly options: LearnerOptions;
  readonly adaptedNames: readonly string[];
  loss(pred: Tensor, y: Tensor, reduction: Reduction): Tensor;
  metric(pred: Tensor, y: Tensor, reduction: Reduction): Tensor;
  modelParams(meta: Params): Params;
  adapt(
    meta: Params,
    x: Tensor,
    y: Tensor,
    steps: number,
    mode: AdaptMode,
    onStep?: (s: number, fast: FastWeights) => void,
  ): FastWeights;
  apply(fast: FastWeights, x: Tensor): Tensor;
}

/**
 * Where the inner step sizes come from: a fixed number, or meta-parameters learned with the rest (one per
 * step and tensor for MAML++'s LSLR, one per parameter element for Meta-SGD).
 */
export interface StepSizes {
  /** The extra meta-parameters holding learned step sizes (empty for a fixed step size). */
  init(modelParams: Params, adaptedNames: readonly string[], options: LearnerOptions): Params;
  /** The step size of parameter `name` at inner step `step` (0-based). */
  lr(meta: Params, step: number, name: string, options: LearnerOptions): Tensor | number;
  /** One number (or one learned scalar) per tensor and step: what low-rank fast weights need. */
  readonly scalar: boolean;
  /** True when the step sizes are learned (they then need the plain SGD inner rule). */
  readonly learned: boolean;
}

/**
 * One meta-learning algorithm. Everything it does differently from plain MAML is here; what is absent
 * falls back to MAML's behaviour (adapt every parameter with the inner rule, differentiate the query loss
 * after adaptation through or around the inner loop, outer step with `trainer.outerOptimizer`).
 */
export interface MetaAlgorithm {
  /** The name in configs (`trainer.algorithm`). */
  readonly name: string;
  /** One line for the README and `metatape` help: what it is and its reference. */
  readonly doc: string;
  /** Trainer options this algorithm always sets (MAML++: learned step sizes and the multi-step loss). */
  readonly implies?: Partial<Pick<LearnerOptions, 'learnInnerLr' | 'multiStepLoss'>>;
  /** Its step sizes, when not the fixed `trainer.innerLr` (or LSLR with `trainer.learnInnerLr`). */
  readonly stepSizes?: StepSizes;
  /**
   * The inner update, when not `base` (the trainer's: SGD, or `trainer.innerOptimizer`) as it is; iMAML wraps
   * it with its proximal term. Used in training and evaluation alike. An algorithm with one rules out low-rank
   * fast weights (see `lowRankBlocker`).
   */
  innerRule?(base: InnerRule, options: LearnerOptions): InnerRule;
  /** The parameters the inner loop adapts, out of the model's (all of them by default). */
  adaptedNames?(paramNames: readonly string[]): string[];
  /** The meta-loss of a batch, when not the query loss after adaptation (call inside a tape). */
  metaLoss?(
    host: LearnerHost,
    meta: Params,
    batch: TaskBatch,
    progress: number,
  ): { loss: Tensor; metric: Tensor };
  /**
   * False when the meta-gradient is not a mean of per-task terms (iMAML: one conjugate-gradient solve couples
   * the tasks), so a meta-batch cannot be split over threads (`trainer.threads`) without changing it.
   */
  splitsOverTasks?: false;
  /** The meta-gradient, when not the gradient of the meta-loss by one tape (Reptile). */
  metaGradient?(host: LearnerHost, meta: Params, batch: TaskBatch, progress: number): MetaGradient;
  /**
   * The meta-gradient as a {@link HostReads} computation, for one whose control flow reads scalars on the way
   * (iMAML's conjugate gradient): written once, run with synchronous reads by `MetaLearner.metaGradient` and
   * with asynchronous ones (WebGPU) by `MetaLearner.metaGradientAsync`. An algorithm defines this or
   * `metaGradient`, not both.
   */
  metaGradientReads?(
    host: LearnerHost,
    meta: Params,
    batch: TaskBatch,
    progress: number,
  ): HostReads<MetaGradient>;
  /** The outer optimizer, when not `trainer.outerOptimizer` (before gradient clipping). */
  outerOptimizer?(config: ExperimentConfig): GradientTransformation<unknown>;
}
