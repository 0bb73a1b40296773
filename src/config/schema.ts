import { z } from 'zod';
import { ALGORITHM_CONFIG, ALGORITHM_NAMES, algorithm, lowRankBlocker } from '../meta/algorithms/registry.js';

// Every object is strict so that a typo (`innerStep`) is an error instead of a silently ignored key, and
// nested objects use `.prefault({})` (not `.default`) so their own field defaults are filled in when the
// whole section is omitted.

const range = (lo: number, hi: number) =>
  z
    .tuple([z.number(), z.number()])
    .refine(([a, b]) => a <= b, { message: 'expected [min, max] with min <= max' })
    .default([lo, hi]);

const posInt = () => z.number().int().min(1);

/** Backends a run can ask for; `auto` picks the fastest one that initializes. */
export const BACKENDS = [
  'cpu',
  'auto',
  'gpujs',
  'gpujs:webgpu',
  'gpujs:headlessgl',
  'gpujs:webasm',
  'gpujs:cpu',
] as const;

/** Sinusoid regression (MAML paper section 5.1). */
export const sinusoidDataSchema = z.strictObject({
  kind: z.literal('sinusoid'),
  amplitude: range(0.1, 5).describe('Amplitude range [min, max] tasks are drawn from uniformly.'),
  phase: range(0, Math.PI).describe('Phase range [min, max] in radians.'),
  xRange: range(-5, 5).describe('Input range [min, max] points are drawn from uniformly.'),
  shots: posInt().default(10).describe('K: support points per task.'),
  queryShots: posInt().default(10).describe('Query points per task.'),
});

/** Omniglot N-way K-shot classification. */
export const omniglotDataSchema = z.strictObject({
  kind: z.literal('omniglot'),
  root: z
    .string()
    .min(1)
    .default('datasets/omniglot')
    .describe('Folder prepared by `metatape datasets prepare`.'),
  split: z
    .enum(['maml', 'vinyals'])
    .default('maml')
    .describe('Class split: `maml` (1200 train chars, random) or `vinyals` (fixed lists).'),
  ways: z.number().int().min(2).default(5),
  shots: posInt().default(1).describe('K: support examples per class.'),
  queryShots: posInt().default(15).describe('Query examples per class.'),
  augmentRotations: z.boolean().default(true).describe('Rotations by 90° as extra classes.'),
  imageSize: posInt().default(28),
});

/** Task distribution. */
export const dataSchema = z.discriminatedUnion('kind', [sinusoidDataSchema, omniglotDataSchema]);

/** Hidden-layer activations. */
export const ACTIVATIONS = ['relu', 'leakyRelu', 'tanh', 'sigmoid', 'softplus', 'elu'] as const;

/** Weight initialisers: a name, or MAML's reference code's `{ kind: truncatedNormal, std: 0.01 }`. */
const kernelInit = () =>
  z
    .union([
      z.enum(['glorotUniform', 'heNormal', 'heUniform']),
      z.strictObject({ kind: z.enum(['normal', 'truncatedNormal']), std: z.number().positive() }),
    ])
    .default('glorotUniform')
    .describe('How Dense kernels are initialised (biases start at zero).');

const hidden = (d: number[]) => z.array(posInt()).default(d).describe('Hidden layer widths.');

/** Model architecture. */
export const modelSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('mlp'),
    hidden: hidden([40, 40]),
    activation: z.enum(ACTIVATIONS).default('relu'),
    batchNorm: z.boolean().default(false),
    kernelInit: kernelInit(),
  }),
  z.strictObject({
    kind: z.literal('maml-mlp').describe('The MAML paper Omniglot MLP (256-128-64-64, batch norm).'),
    hidden: hidden([256, 128, 64, 64]),
    activation: z.enum(ACTIVATIONS).default('relu'),
    batchNorm: z.boolean().default(true),
  }),
  z.strictObject({
    kind: z.literal('conv4'),
    filters: posInt().default(64),
    pooling: z.enum(['maxpool', 'stride']).default('maxpool'),
  }),
]);

const beta = (d: number) => z.number().min(0).lt(1).default(d);

/** Optimizer of the inner (task-adaptation) loop. */
export const innerOptimizerSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('sgd') }),
  z.strictObject({ kind: z.literal('momentum'), momentum: beta(0.9) }),
  z.strictObject({ kind: z.literal('adam'), beta1: beta(0.9), beta2: beta(0.999) }),
]);

/** Optimizer of the outer (meta) loop. */
export const outerOptimizerSchema = z.strictObject({
  kind: z.enum(['adam', 'sgd', 'adamw']).default('adam'),
  lr: z.number().positive().default(1e-3),
  beta1: beta(0.9),
  beta2: beta(0.999),
  weightDecay: z.number().min(0).default(0),
});

/** Meta-training settings. */
export const trainerSchema = z
  .strictObject({
    algorithm: z
      .enum(ALGORITHM_NAMES)
      .default('maml')
      .describe('Meta-learning algorithm; one module each in src/meta/algorithms (see registry.ts).'),
    order: z
      .literal([1, 2])
      .default(2)
      .describe('1 = first-order MAML, 2 = full second-order meta-gradient.'),
    innerSteps: posInt().default(1),
    innerLr: z.number().positive().default(0.01),
    innerOptimizer: innerOptimizerSchema.default({ kind: 'sgd' }),
    learnInnerLr: z.boolean().default(false).describe('MAML++: learn per-step, per-layer inner step sizes.'),
    multiStepLoss: z
      .boolean()
      .default(false)
      .describe('MAML++: query loss after every inner step, annealed.'),
    metaBatchSize: posInt().default(25).describe('Tasks per meta-update.'),
    iterations: posInt().describe('Meta-updates to run.'),
    outerOptimizer: outerOptimizerSchema.prefault({}),
    clipGradNorm: z
      .number()
      .positive()
      .nullable()
      .default(null)
      .describe('Clip the meta-gradient norm; null = off.'),
    reptileOuterLr: z
      .number()
      .positive()
      .default(1)
      .describe('Reptile interpolation step (algorithm: reptile).'),
    batchedTasks: z.boolean().default(true).describe('Adapt all tasks of a meta-batch in one batched pass.'),
    fastWeights: z
      .enum(['auto', 'full', 'lowRank'])
      .default('auto')
      .describe(
        'Per-task Dense kernels: full copies [T, in, out], or the shared kernel plus exact low-rank inner-step updates (much faster for wide layers); auto picks per layer. Low rank needs the SGD inner step (not metasgd or innerOptimizer momentum/adam).',
      ),
    kernelReplay: z
      .boolean()
      .default(true)
      .describe(
        "Record each shape of meta-batch's native kernels once, check the recording against the usual computation, then replay it without the per-op JavaScript (the same numbers bit for bit as computing every op on the native loops; CPU backend with the native kernels, npm run setup:native). A recording keeps every intermediate (conv4's: 4.2 GB) and is not kept past a quarter of the machine's memory; false gives that memory back. Off by itself where a computation cannot be replayed (iMAML, MAML++'s multi-step loss).",
      ),
    threads: z
      .union([posInt(), z.literal('auto')])
      .default(1)
      .describe(
        "Threads on the CPU backend, used as trainer.parallelism says (the same meta-gradient up to float rounding; bitwise reproducible for a given count). 'auto' = the cores this process may use. iMAML, whose tasks are coupled, uses threads with parallelism kernels only.",
      ),
    parallelism: z
      .enum(['auto', 'kernels', 'tasks'])
      .default('auto')
      .describe(
        "How trainer.threads above 1 are used: 'tasks' cuts the meta-batch's tasks into one slice per thread and combines the slices' meta-gradients (the same numbers up to float rounding): with the native kernels (npm run setup:native) each slice's meta-gradient is a recorded kernel program and the programs run at once on kernel threads, else each slice runs on a worker thread; 'kernels' queues the kernels of one meta-gradient to an executor thread while the main thread records the next ops, and splits the big ones (matmul, elementwise loops, copies, Adam) over the threads (bit for bit the 1-thread numbers; it needs the native kernels); 'auto' is tasks where the slices run as kernel programs (the meta-gradient is replayed: not iMAML, not MAML++'s multi-step loss, not kernelReplay: false), else kernels where the native kernels are loaded, else tasks.",
      ),
    // Sections of algorithms with options of their own (trainer.imaml), from the algorithm registry.
    ...ALGORITHM_CONFIG,
  })
  // A conflict the schema can know is a config error before anything runs (not a failed run folder).
  .superRefine((t, ctx) => {
    if (
      typeof t.threads === 'number' &&
      t.threads > 1 &&
      t.parallelism === 'tasks' &&
      algorithm(t.algorithm).splitsOverTasks === false
    )
      ctx.addIssue({
        code: 'custom',
        path: ['threads'],
        input: t.threads,
        message: `algorithm ${t.algorithm} couples the tasks of a meta-batch (one conjugate-gradient solve), so its tasks cannot be split over threads; use 1, auto, or trainer.parallelism kernels`,
      });
    if (t.fastWeights !== 'lowRank') return;
    const why = lowRankBlocker(t);
    if (why)
      ctx.addIssue({
        code: 'custom',
        path: ['fastWeights'],
        input: t.fastWeights,
        message: `low-rank fast weights need the plain SGD inner step with a scalar step size, not ${why}; use auto or full`,
      });
  });

/** Evaluation settings. */
export const evalSchema = z.strictObject({
  tasks: posInt()
    .default(600)
    .describe('Test tasks for the final evaluation (600 gives ~±0.3% 95% CI on Omniglot).'),
  steps: z
    .array(z.number().int().min(0))
    .min(1)
    .default([1, 5, 10])
    .describe('Inner steps to report at test time.'),
  shots: z
    .array(posInt())
    .min(1)
    .optional()
    .describe("Support shots to evaluate at (default: the data's shots)."),
  every: z
    .number()
    .int()
    .min(0)
    .default(0)
    .describe('Iterations between mid-run evaluations; 0 = only at the end.'),
  evalTasksDuringTraining: posInt().default(100),
});

/** Logging cadence. */
export const loggingSchema = z.strictObject({
  every: posInt().default(100).describe('Iterations between log lines and metrics rows.'),
  checkpointEvery: posInt().default(1000).describe('Iterations between checkpoints.'),
});

/** Output location. */
export const outputSchema = z.strictObject({
  dir: z.string().min(1).default('experiments').describe('Runs go to <dir>/<name>/<timestamp>/.'),
});

const baseSchema = z.strictObject({
  $schema: z.string().optional().describe('Editor hint; ignored.'),
  name: z
    .string()
    .regex(
      /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
      'letters, digits, ".", "_" or "-", starting with a letter or digit',
    )
    .describe('Experiment name; the run folder is <output.dir>/<name>/<timestamp>/.'),
  seed: z.number().int().min(0).default(0),
  backend: z.enum(BACKENDS).default('cpu'),
  dtype: z.enum(['float32', 'float64']).default('float32'),
  data: dataSchema,
  model: modelSchema,
  trainer: trainerSchema,
  eval: evalSchema.prefault({}),
  logging: loggingSchema.prefault({}),
  output: outputSchema.prefault({}),
});

/** The experiment config schema: strict, with defaults; `eval.shots` defaults to `[data.shots]`. */
export const experimentConfigSchema = baseSchema.transform(({ $schema: _ignored, ...cfg }) => ({
  ...cfg,
  eval: { ...cfg.eval, shots: cfg.eval.shots ?? [cfg.data.shots] },
}));

/** A validated experiment config with every default filled in. */
export type ExperimentConfig = z.output<typeof experimentConfigSchema>;

/** What a config file may contain (defaults optional). */
export type ExperimentConfigInput = z.input<typeof experimentConfigSchema>;

/** Data section of a resolved config. */
export type DataConfig = ExperimentConfig['data'];
/** Model section of a resolved config. */
export type ModelConfig = ExperimentConfig['model'];
/** Trainer section of a resolved config. */
export type TrainerConfig = ExperimentConfig['trainer'];
/** Eval section of a resolved config. */
export type EvalConfig = ExperimentConfig['eval'];
/** Backend names accepted in configs. */
export type BackendName = (typeof BACKENDS)[number];
