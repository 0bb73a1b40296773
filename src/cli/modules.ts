/**
 * Lazy loaders for the modules that do the work. They are imported on demand so that `--help`, `ls` and
 * friends start fast and do not load the tensor core. The typed imports make tsc check that the trainer and
 * evaluator still satisfy the contracts in src/meta/contracts.ts.
 */
import type { EvaluatorModule, TrainerModule } from '../meta/contracts.js';

/** Loads the trainer (`src/meta/experiment.ts`, which exports `runExperiment`). */
export async function loadTrainer(): Promise<TrainerModule> {
  return import('../meta/experiment.js');
}

/** Loads the evaluator (`src/meta/evaluate.ts`, which exports `evaluateRun`). */
export async function loadEvaluator(): Promise<EvaluatorModule> {
  return import('../meta/evaluate.js');
}
