/**
 * The interfaces between the CLI and the modules that do the work. The CLI owns run folders, logging,
 * progress, metrics files, status and signals; the trainer and evaluator own the math. They live in the
 * library (`src/meta/contracts.ts`), so that its public types never pull in the CLI; `cli/contracts.ts`
 * re-exports them (see `src/cli/modules.ts` for the exact module paths the CLI imports).
 */
import type { ExperimentConfig } from '../config/schema.js';
import type { MetricsLog } from '../io/metrics.js';
import type { Headline, RunFolder } from '../io/runFolder.js';
import type { Logger } from '../log/logger.js';
import type { Progress, ProgressOptions } from '../log/progress.js';

/** Where a resumed run continues from. */
export interface ResumePoint {
  /** Checkpoint file to load (verify with `loadCheckpoint(path, { configHash })`). */
  checkpointPath: string;
  /** Iteration stored in that checkpoint; training continues at `iteration + 1`. */
  iteration: number;
}

/** Everything a trainer gets from `metatape run` / `resume` / `sweep`. */
export interface ExperimentContext {
  /** Validated config, defaults filled in; `config.backend` already reflects `--backend` / `METATAPE_BACKEND`. */
  config: ExperimentConfig;
  /** The run folder (`run.dir`); write plots/extra artifacts here. `config.yaml`/`config.json` are written. */
  run: RunFolder;
  /** Logger bound to this run (stderr + `<run>/log.jsonl`). */
  logger: Logger;
  /** Makes a progress reporter (bar on a TTY, periodic log lines otherwise); call `stop()` when done. */
  createProgress(options: Omit<ProgressOptions, 'logger'>): Progress;
  /**
   * Metrics log of the run (`metrics.jsonl` appended per row, `metrics.arrow` on `flush()`). Append a row
   * every `config.logging.every` iterations; call `flush()` after each checkpoint. The CLI flushes once more
   * at the end, whatever happens.
   */
  metrics: MetricsLog;
  /** `trainingConfigHash(config)`: store it in checkpoints and pass it when loading them. */
  configHash: string;
  /** Path for the checkpoint of an iteration (folder created): `<run>/checkpoints/iter-0001000.ckpt`. */
  checkpointPath(iteration: number): Promise<string>;
  /** Set when resuming. */
  resumeFrom?: ResumePoint;
  /**
   * Aborted on the first Ctrl-C / SIGTERM: save a checkpoint at the next iteration boundary and return with
   * `interrupted: true`. (A second Ctrl-C exits at once.)
   */
  signal: AbortSignal;
  /** Report the latest iteration / headline so `metatape ls` shows live progress (written to `status.json`). */
  reportStatus(update: { iteration: number; headline?: Headline }): Promise<void>;
}

/** What a finished (or interrupted) training run reports back. */
export interface ExperimentSummary {
  /** Last completed iteration. */
  iteration: number;
  /** True when it stopped early because `signal` was aborted. */
  interrupted: boolean;
  /** The number `metatape ls` and `sweep` show, e.g. `{ metric: 'test/acc@5steps', value: 0.987 }`. */
  headline?: Headline;
  /** Any final scalar results (evaluation means, CIs, wall time...), printed at the end of the run. */
  results?: Record<string, number>;
}

/** `src/meta/experiment.ts` must export `runExperiment` with this type. */
export type RunExperiment = (context: ExperimentContext) => Promise<ExperimentSummary>;

/** Shape of the trainer module the CLI imports lazily. */
export interface TrainerModule {
  runExperiment: RunExperiment;
}

/** What `metatape eval` asks for; unset fields fall back to `config.eval`. */
export interface EvaluationRequest {
  tasks?: number;
  steps?: number[];
  shots?: number[];
  /** Which split's tasks to evaluate on. */
  split: 'val' | 'test';
}

/** Everything an evaluator gets from `metatape eval`. */
export interface EvaluationContext {
  config: ExperimentConfig;
  runDir: string;
  /** Checkpoint to evaluate (the newest unless `--checkpoint` was given). */
  checkpointPath: string;
  configHash: string;
  request: EvaluationRequest;
  logger: Logger;
  createProgress(options: Omit<ProgressOptions, 'logger'>): Progress;
  signal: AbortSignal;
}

/** One cell of an evaluation table: mean and 95% confidence half-width over tasks. */
export interface EvaluationResult {
  split: 'val' | 'test';
  shots: number;
  steps: number;
  metric: string;
  mean: number;
  ci95: number;
  tasks: number;
}

/** What an evaluator returns; the CLI prints it and appends it to `<run>/eval.jsonl` / `eval.arrow`. */
export interface EvaluationSummary {
  results: EvaluationResult[];
  headline?: Headline;
}

/** `src/meta/evaluate.ts` must export `evaluateRun` with this type. */
export type EvaluateRun = (context: EvaluationContext) => Promise<EvaluationSummary>;

/** Shape of the evaluator module the CLI imports lazily. */
export interface EvaluatorModule {
  evaluateRun: EvaluateRun;
}
