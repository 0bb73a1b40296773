import { kernelThreadsUnavailable } from '../backends/cpu/kernelThreads.js';
import { setBackend, setDefaultFloat } from '../backends/registry.js';
import type { ExperimentConfig } from '../config/schema.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import type { Params } from '../nn/params.js';
import { Rng } from '../tensor/random.js';
import { algorithm } from './algorithms/registry.js';
import { type BackendChoice, selectBackend } from './backendChoice.js';
import { paramsFromArrays } from './checkpointArrays.js';
import { buildModel, buildSource, learnerOptions, TrainerConfigError } from './factories.js';
import { MetaLearner } from './learner.js';
import type { TaskKind, TaskSource } from './tasks.js';
import type { LearnerRecipe } from './threadProtocol.js';
import { resolveThreads } from './threads.js';

/** The pieces of a run that training, resume and evaluation share. */
export interface Setup {
  learner: MetaLearner;
  source: TaskSource;
  /** A generator for a named purpose, derived from the run's seed (`init`, `tasks`, `eval/...`). */
  rngFor(purpose: string): Rng;
  metricName: 'mse' | 'accuracy';
  /** The backend in use, why it was chosen (`auto` explains its pick) and the device behind it. */
  backend: BackendChoice;
}

/** Builds backend, dtype, task source, model and learner from a config. */
export async function setup(config: ExperimentConfig): Promise<Setup> {
  setDefaultFloat(config.dtype);
  const flatImages = config.model.kind !== 'conv4';
  const widest =
    config.model.kind === 'conv4' ? config.model.filters * 9 : Math.max(...(config.model.hidden ?? [64]));
  const backend = await selectBackend(config.backend, { matmul: widest });
  await setBackend(backend.name);
  const source = await buildSource(config, { flatImages });
  const model = buildModel(config, source);
  const learner = new MetaLearner(model, source.kind, learnerOptions(config));
  return {
    learner,
    source,
    rngFor: (purpose) => new Rng(seedFor(config.seed, purpose)),
    metricName: source.kind === 'regression' ? 'mse' : 'accuracy',
    backend,
  };
}

/**
 * Every random stream of a run is seeded from the run's one seed and the stream's purpose, so adding an
 * evaluation never shifts the training stream, and a resumed run draws exactly what it would have drawn.
 */
export function seedFor(seed: number, purpose: string): number {
  let h = 2166136261 ^ seed;
  for (let i = 0; i < purpose.length; i++) h = Math.imul(h ^ purpose.charCodeAt(i), 16777619);
  return (h ^ (seed * 0x9e3779b1)) >>> 0;
}

/** Loads a checkpoint's meta-parameters for `metatape eval`. */
export async function restoreForEvaluation(
  config: ExperimentConfig,
  checkpointPath: string,
  configHash: string,
): Promise<Setup & { meta: Params }> {
  const s = await setup(config);
  const ckpt = await loadCheckpoint(checkpointPath, { configHash });
  return { ...s, meta: paramsFromArrays(ckpt.arrays, 'param/') };
}

/** What a worker thread needs to build a run's learner without loading its data: the config and the task shapes. */
export interface WorkerLearnerArg {
  config: ExperimentConfig;
  kind: TaskKind;
  inputShape: number[];
  outputDim: number;
}

/**
 * A worker thread's copy of a run's learner (the {@link LearnerRecipe} of {@link learnerRecipe}): the CPU
 * backend, the config's dtype, the same model and learner options as {@link setup}, no data.
 */
export async function workerLearner(arg: WorkerLearnerArg): Promise<MetaLearner> {
  setDefaultFloat(arg.config.dtype);
  await setBackend('cpu');
  return new MetaLearner(buildModel(arg.config, arg), arg.kind, learnerOptions(arg.config));
}

/** The recipe by which worker threads rebuild the learner of a config whose tasks come from `source`. */
export function learnerRecipe(config: ExperimentConfig, source: TaskSource): LearnerRecipe {
  const arg: WorkerLearnerArg = {
    config,
    kind: source.kind,
    inputShape: [...source.inputShape],
    outputDim: source.outputDim,
  };
  return { module: import.meta.url, exportName: 'workerLearner', arg };
}

/**
 * The thread count of a run's meta-gradient (`trainer.threads`). Threads run the CPU backend only, so a
 * count above 1 on another backend is an error, and `auto` there is 1; so is `auto` with an algorithm that
 * couples the tasks (iMAML) where kernel threads cannot serve it.
 */
export function trainerThreads(config: ExperimentConfig, s: Pick<Setup, 'backend' | 'learner'>): number {
  const { threads, metaBatchSize, parallelism } = config.trainer;
  const coupled = s.learner.algorithm.splitsOverTasks === false;
  const unthreadable = coupled && (parallelism === 'tasks' || kernelThreadsUnavailable() !== undefined);
  if (threads === 'auto' && (s.backend.name !== 'cpu' || unthreadable)) return 1;
  if (threads !== 'auto' && threads > 1 && s.backend.name !== 'cpu')
    throw new TrainerConfigError(
      `trainer.threads: got ${threads}; worker threads run the CPU backend only, and this run uses ${s.backend.name}; use 1 or backend: cpu`,
    );
  return resolveThreads(threads, metaBatchSize);
}

/** How a run's threads compute its meta-gradient: big kernels split over them, or tasks split over workers. */
export type Parallelism = 'kernels' | 'tasks';

/**
 * `trainer.parallelism` for a run with `threads` threads (trainerThreads): 'auto' is tasks where the
 * learner's task slices run as kernel programs on the native kernel threads (`taskSlicesUnavailable`: the
 * native kernels are loaded and its meta-gradient replays; faster than kernels on the Omniglot MLP and
 * conv4: bench/RESULTS.md, "Two threads"), else kernels where the native kernels are loaded, else tasks (on
 * worker threads). An explicit 'kernels' without them is an error that says why they are off.
 */
export function trainerParallelism(
  config: ExperimentConfig,
  threads: number,
  learner?: Pick<MetaLearner, 'taskSlicesUnavailable'>,
): Parallelism {
  const { parallelism: asked, algorithm: name } = config.trainer;
  const unavailable = kernelThreadsUnavailable();
  if (asked === 'tasks' || threads === 1) return 'tasks';
  if (asked === 'kernels' && unavailable !== undefined)
    throw new TrainerConfigError(
      `trainer.parallelism: got kernels with ${threads} threads, but ${unavailable}; run npm run setup:native, or use tasks`,
    );
  const coupled = algorithm(name).splitsOverTasks === false;
  if (unavailable !== undefined && coupled)
    throw new TrainerConfigError(
      `trainer.threads: got ${threads}; algorithm ${name} couples the tasks of a meta-batch, so only parallelism kernels can use more threads, and ${unavailable}; use 1, or run npm run setup:native`,
    );
  if (asked === 'kernels' || coupled) return 'kernels';
  if (unavailable !== undefined || (learner !== undefined && learner.taskSlicesUnavailable() === undefined))
    return 'tasks';
  return 'kernels';
}
