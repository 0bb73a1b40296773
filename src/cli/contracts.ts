/**
 * The interfaces between the CLI and the modules that do the work, defined by the library in
 * `src/meta/contracts.ts` (imports point from `cli` to `meta`, never back) and re-exported here.
 */
export type {
  EvaluateRun,
  EvaluationContext,
  EvaluationRequest,
  EvaluationResult,
  EvaluationSummary,
  EvaluatorModule,
  ExperimentContext,
  ExperimentSummary,
  ResumePoint,
  RunExperiment,
  TrainerModule,
} from '../meta/contracts.js';
