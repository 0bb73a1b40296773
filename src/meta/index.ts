/**
 * The meta-learning API for programs (the CLI and `runExperiment` build on it): {@link MetaLearner} (MAML,
 * ANIL, Meta-SGD, MAML++, Reptile, pretraining, iMAML: one module each under `./algorithms/`, listed in
 * `./algorithms/registry.ts`), fast weights, task sources, the evaluation protocol and
 * {@link MetaGradientThreads} (a meta-batch's tasks split over worker threads).
 * Omniglot's task source lives in `./omniglotTasks.js` and is not re-exported, so that importing metatape does
 * not load Apache Arrow.
 */

export type { ProgramSchedule } from '../backends/cpu/native/addon.js';
export {
  ALGORITHM_NAMES,
  ALGORITHMS,
  algorithm,
  algorithmTable,
} from './algorithms/registry.js';
export type { LearnerHost, MetaAlgorithm, StepSizes } from './algorithms/types.js';
export { type AdaptationEvalOptions, type AdaptationScore, evaluateAdaptation, meanCi } from './evaluate.js';
export {
  applyFast,
  detachFast,
  type FastApplyOptions,
  type FastWeights,
  type LowRankDelta,
  materialize,
} from './fastWeights.js';
export { optimizerRule, proximalRule, sgdRule } from './innerRule.js';
export { MetaGradientReplay, type ReplayState, type ReplayStatus } from './kernelReplay.js';
export {
  type AdaptMode,
  type Algorithm,
  type FastWeightsMode,
  type InnerRule,
  type LearnerOptions,
  type MetaGradient,
  MetaLearner,
  multiStepWeights,
} from './learner.js';
export {
  type SinusoidSourceOptions,
  sinusoidSource,
  type TaskBatch,
  type TaskKind,
  type TaskSource,
} from './tasks.js';
export {
  type LearnerRecipe,
  MetaGradientThreads,
  resolveThreads,
  splitTasks,
  ThreadError,
  type ThreadOptions,
  taskProgramsUnavailable,
} from './threads.js';
export { outerStep, type TrainState } from './trainIteration.js';
