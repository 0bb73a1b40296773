import { GradientTape } from '../autodiff/tape.js';
import { accuracy, mse, type Reduction, softmaxCrossEntropy } from '../nn/losses.js';
import type { Model } from '../nn/model.js';
import { add, mul } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import { releaseScope } from '../ops/releaseScope.js';
import { broadcastTo, expandDims, slice, stopGradient } from '../ops/shape.js';
import { mapParams, type Params } from '../tensor/params.js';
import { runReadsAsync, runReadsSync } from '../tensor/reads.js';
import type { Tensor } from '../tensor/tensor.js';
import { multiStepWeights } from './algorithms/mamlpp.js';
import { algorithm, lowRankBlocker } from './algorithms/registry.js';
import type {
  AdaptMode,
  InnerRule,
  LearnerHost,
  LearnerOptions,
  MetaAlgorithm,
  MetaGradient,
  StepSizes,
} from './algorithms/types.js';
import { applyFast, detachFast, type FastWeights, type LowRankDelta, LowRankStep } from './fastWeights.js';
import { sgdRule } from './innerRule.js';
import { MetaGradientReplay, type ReplayStatus } from './kernelReplay.js';
import { fixedStepSize, perStepStepSize } from './stepSizes.js';
import type { TaskBatch, TaskKind } from './tasks.js';

export { multiStepWeights } from './algorithms/mamlpp.js';
export type { Algorithm } from './algorithms/registry.js';
export type {
  AdaptMode,
  FastWeightsMode,
  InnerRule,
  LearnerOptions,
  MetaGradient,
} from './algorithms/types.js';

/** `fastWeights: auto` keeps per-task kernel copies below this many elements (all tasks together). */
const AUTO_LOW_RANK_MIN_ELEMENTS = 16_384;

/**
 * MAML and its relatives over a {@link Model}: the inner loop adapts fast weights on each task's support set,
 * the outer loss is the query loss after adaptation. All tasks of a meta-batch run as one set of batched ops:
 * every adapted parameter is broadcast to `[T, ...shape]` (one copy per task; the broadcast's gradient sums
 * the tasks' contributions back), so T small matmuls become one batched matmul. Large Dense kernels skip
 * even that copy: their per-task updates stay low-rank factors (see `fastWeights` in {@link LearnerOptions}).
 *
 * ```ts
 * const learner = new MetaLearner(model, 'regression', { algorithm: 'maml', order: 2, innerSteps: 1, innerLr: 0.01 });
 * const meta = learner.initMetaParams(model.initParams(new Rng(0)));
 * const { loss, grads } = learner.metaGradient(meta, batch);
 * ```
 */
export class MetaLearner implements LearnerHost {
  /** Parameters adapted in the inner loop (all of the model's, or the head only for ANIL). */
  readonly adaptedNames: readonly string[];
  /** The options, with what the algorithm implies (MAML++: learned step sizes, multi-step loss) applied. */
  readonly options: LearnerOptions;
  /** The algorithm's module (see `algorithms/registry.ts`). */
  readonly algorithm: MetaAlgorithm;
  /** Where the inner step sizes come from: fixed, learned per step (LSLR) or per parameter (Meta-SGD). */
  private readonly stepSizes: StepSizes;
  /** The inner update rule: plain SGD unless the options give another, as the algorithm wraps it (iMAML). */
  private readonly rule: InnerRule;
  /** {@link MetaLearner.metaGradient}'s recorded kernels, per shape of meta-batch. */
  private readonly replay: MetaGradientReplay;

  constructor(
    readonly model: Model,
    readonly kind: TaskKind,
    options: LearnerOptions,
  ) {
    this.algorithm = algorithm(options.algorithm);
    this.options = { ...options, ...this.algorithm.implies };
    this.adaptedNames = this.algorithm.adaptedNames?.(model.paramNames) ?? model.paramNames;
    this.stepSizes =
      this.algorithm.stepSizes ?? (this.options.learnInnerLr ? perStepStepSize : fixedStepSize);
    const base = this.options.innerRule ?? sgdRule;
    this.rule = this.algorithm.innerRule?.(base, this.options) ?? base;
    this.replay = new MetaGradientReplay(
      (meta, batch, progress) => this.metaGradientUsual(meta, batch, progress),
      this.options.kernelReplay === false
        ? 'turned off (kernelReplay: false)'
        : this.algorithm.metaGradientReads
          ? `algorithm ${this.algorithm.name} reads scalars on the way`
          : this.options.multiStepLoss
            ? 'the meta-loss anneals with training progress (multi-step loss)'
            : undefined,
    );
  }

  /**
   * Where the replay of each shape's meta-gradient stands (src/meta/kernelReplay.ts): recorded and being
   * verified, replaying, or off and why.
   */
  replayStatus(): ReplayStatus[] {
    return this.replay.status();
  }

  /**
   * Cuts each meta-batch's tasks into `slices` slices whose meta-gradients run at once on the calling
   * thread's kernel threads, as recorded kernel programs (`trainer.parallelism: tasks` without worker
   * threads; src/meta/kernelReplay.ts). 1, the default: the meta-batch whole.
   */
  setTaskSlices(slices: number): void {
    this.replay.setTaskSlices(slices);
  }

  /** Why {@link MetaLearner.setTaskSlices} cannot serve this learner (it takes kernel replay), or undefined. */
  taskSlicesUnavailable(): string | undefined {
    return this.replay.taskSlicesUnavailable();
  }

  /** The meta-parameters: the model's parameters plus any learned inner step sizes (Meta-SGD, MAML++). */
  initMetaParams(modelParams: Params): Params {
    return { ...modelParams, ...this.stepSizes.init(modelParams, this.adaptedNames, this.options) };
  }

  /** The model's own parameters out of a meta-parameter record. */
  modelParams(meta: Params): Params {
    const out: Params = {};
    for (const n of this.model.paramNames) out[n] = meta[n]!;
    return out;
  }

  /** The task loss, per task (`perTask`) or averaged. */
  loss(pred: Tensor, y: Tensor, reduction: Reduction): Tensor {
    return this.kind === 'regression' ? mse(pred, y, reduction) : softmaxCrossEntropy(pred, y, reduction);
  }

  /** The task metric: MSE for regression, accuracy for classification. */
  metric(pred: Tensor, y: Tensor, reduction: Reduction): Tensor {
    return this.kind === 'regression' ? mse(pred, y, reduction) : accuracy(pred, y, reduction);
  }

  /**
   * Adapts the meta-parameters to each task of a batch: `steps` inner updates on `(x, y)` (`[T, K, ...]`).
   * Returns the per-task fast weights (run them with {@link MetaLearner.apply}). `onStep(s, fast)` sees them
   * after each step (s = 1..steps) and after none (s = 0).
   */
  adapt(
    meta: Params,
    x: Tensor,
    y: Tensor,
    steps: number,
    mode: AdaptMode,
    onStep?: (s: number, fast: FastWeights) => void,
  ): FastWeights {
    const T = x.shape[0]!;
    const lowRank = this.lowRankKernels(x, steps);
    const shared: Params = {};
    let fast: Params = {};
    for (const n of this.model.paramNames) {
      const p = meta[n]!;
      if (this.adaptedNames.includes(n) && !lowRank.has(n))
        fast[n] = broadcastTo(expandDims(p, 0), [T, ...p.shape]);
      else shared[n] = p;
    }
    let deltas: ReadonlyMap<string, readonly LowRankDelta[]> = new Map();
    const current = (): FastWeights => ({ params: { ...shared, ...fast }, kernelDeltas: deltas });
    onStep?.(0, mode === 'none' ? detachFast(current()) : current());
    const rule = this.rule;
    let state = rule.init(fast);
    for (let s = 0; s < steps; s++) {
      // First order: the inner gradient is computed on detached copies, so no enclosing tape records it and it
      // enters the update as a constant (the first-order MAML approximation).
      const inner = mode === 'second' ? current() : detachFast(current());
      const inFast: Params = {};
      for (const n of Object.keys(fast)) inFast[n] = inner.params[n]!;
      const tape = new GradientTape();
      const low = new LowRankStep(lowRank, (product) => tape.watch(product));
      const loss = tape.record(() => {
        tape.watch(...Object.values(inFast));
        const pred = applyFast(this.model, inner, x, { onKernelProduct: low.observe });
        // The sum over tasks of each task's mean loss: its gradient w.r.t. task t's copy is task t's gradient.
        return sum(this.loss(pred, y, 'perTask'));
      });
      const grads = tape.gradient(loss, { ...inFast, ...low.products() }, { unconnected: 'zero' });
      const lr = (name: string): Tensor | number => this.innerLr(meta, s, name);
      ({ fast, state } = rule.step(fast, grads, state, lr));
      const next = low.update(deltas, grads, lr);
      deltas = next;
      onStep?.(s + 1, mode === 'none' ? detachFast(current()) : current());
    }
    return mode === 'none' ? detachFast(current()) : current();
  }

  /** Runs the network on per-task inputs `[T, N, ...]` with fast weights from {@link MetaLearner.adapt}. */
  apply(fast: FastWeights, x: Tensor): Tensor {
    return applyFast(this.model, fast, x);
  }

  /** The adapted Dense kernels kept as low-rank updates for `steps` inner steps on support inputs `x`. */
  private lowRankKernels(x: Tensor, steps: number): Set<string> {
    const mode = this.options.fastWeights ?? 'auto';
    const out = new Set<string>();
    if (mode === 'full' || steps === 0) return out;
    // The same rule the config schema applies: `lowRank` that cannot work is an error, `auto` falls back.
    const why = lowRankBlocker(this.options);
    if (why) {
      if (mode !== 'lowRank') return out;
      throw new Error(
        `trainer.fastWeights: got lowRank; low-rank fast weights need the plain SGD inner step with a scalar step size, not ${why}; use auto or full`,
      );
    }
    // Rank after all steps: one term of (examples per task) rows per step. Auto takes low rank when the
    // factors hold fewer numbers than the kernel and the per-task copies are big enough for their passes to
    // outweigh the few extra ops low rank dispatches. Measured on the sinusoid network's 40x40 kernel: 25
    // tasks (40,000 elements of copies) run 1.3x faster in low rank, one task at a time (1,600) 1.15x slower.
    const rank = steps * (x.shape[1] ?? 1);
    const tasks = x.shape[0] ?? 1;
    for (const spec of this.model.specs) {
      if (!spec.lowRankUpdates || !this.adaptedNames.includes(spec.name)) continue;
      const [inDim, outDim] = spec.shape as [number, number];
      const smaller = rank * (inDim + outDim) < inDim * outDim;
      if (mode === 'lowRank' || (smaller && tasks * inDim * outDim >= AUTO_LOW_RANK_MIN_ELEMENTS))
        out.add(spec.name);
    }
    return out;
  }

  private innerLr(meta: Params, step: number, name: string): Tensor | number {
    return this.stepSizes.lr(meta, step, name, this.options);
  }

  /**
   * The meta-loss of a batch (call inside a tape that watches `meta`): query loss after adaptation, or for
   * MAML++'s multi-step loss the weighted sum over steps. `progress` in [0, 1] anneals those weights.
   */
  metaLoss(meta: Params, batch: TaskBatch, progress = 1): { loss: Tensor; metric: Tensor } {
    if (this.algorithm.metaLoss) return this.algorithm.metaLoss(this, meta, batch, progress);
    const { order, innerSteps, multiStepLoss } = this.options;
    const mode: AdaptMode = order === 2 ? 'second' : 'first';
    const weights = multiStepLoss ? multiStepWeights(innerSteps, progress) : undefined;
    let weighted: Tensor | undefined;
    const fast = this.adapt(meta, batch.supportX, batch.supportY, innerSteps, mode, (s, params) => {
      if (!weights || s === 0) return;
      const l = this.loss(this.apply(params, batch.queryX), batch.queryY, 'mean');
      const term = mul(l, weights[s - 1]!);
      weighted = weighted ? add(weighted, term) : term;
    });
    const pred = this.apply(fast, batch.queryX);
    const finalLoss = this.loss(pred, batch.queryY, 'mean');
    return { loss: weighted ?? finalLoss, metric: stopGradient(this.metric(pred, batch.queryY, 'mean')) };
  }

  /**
   * The meta-gradient of one meta-batch with respect to every meta-parameter. Reads synchronously where the
   * algorithm reads scalars (iMAML); {@link MetaLearner.metaGradientAsync} works on every backend.
   */
  metaGradient(meta: Params, batch: TaskBatch, progress = 1): MetaGradient {
    return this.replay.metaGradient(meta, batch, progress);
  }

  /** {@link MetaLearner.metaGradient} computed op by op (what {@link MetaLearner.replay} records). */
  private metaGradientUsual(meta: Params, batch: TaskBatch, progress: number): MetaGradient {
    const first = Object.values(meta)[0];
    if (first === undefined) return this.metaGradientOnce(meta, batch, progress);
    // Every intermediate of the meta-iteration is dead once the meta-gradient is computed: recycled.
    return releaseScope(
      first.backend,
      'MetaLearner.metaGradient',
      () => this.metaGradientOnce(meta, batch, progress),
      metaGradientTensors,
    );
  }

  private metaGradientOnce(meta: Params, batch: TaskBatch, progress: number): MetaGradient {
    if (this.algorithm.metaGradientReads)
      return runReadsSync(this.algorithm.metaGradientReads(this, meta, batch, progress));
    if (this.algorithm.metaGradient) return this.algorithm.metaGradient(this, meta, batch, progress);
    if (this.options.batchedTasks === false && batch.supportX.shape[0]! > 1)
      return this.perTaskGradient(meta, batch, progress);
    const tape = new GradientTape();
    const { loss, metric } = tape.record(() => {
      tape.watch(...Object.values(meta));
      return this.metaLoss(meta, batch, progress);
    });
    return { loss, metric, grads: tape.gradient(loss, meta, { unconnected: 'zero' }) };
  }

  /**
   * {@link MetaLearner.metaGradient} with asynchronous reads, for every backend (WebGPU included): the same
   * meta-gradient. Only an algorithm that reads scalars on the way (iMAML) reads anything here.
   *
   * ```ts
   * const { loss, metric, grads } = await learner.metaGradientAsync(meta, batch);
   * ```
   */
  async metaGradientAsync(meta: Params, batch: TaskBatch, progress = 1): Promise<MetaGradient> {
    if (this.algorithm.metaGradientReads)
      return runReadsAsync(this.algorithm.metaGradientReads(this, meta, batch, progress));
    return this.metaGradient(meta, batch, progress);
  }

  /** The same meta-gradient computed one task at a time (the usual per-task loop; for comparison). */
  private perTaskGradient(meta: Params, batch: TaskBatch, progress: number): MetaGradient {
    const T = batch.supportX.shape[0]!;
    let acc: MetaGradient | undefined;
    for (let t = 0; t < T; t++) {
      const one = (v: Tensor) =>
        slice(
          v,
          v.shape.map((_, i) => (i === 0 ? t : 0)),
          v.shape.map((d, i) => (i === 0 ? 1 : d)),
        );
      const single: TaskBatch = {
        supportX: one(batch.supportX),
        supportY: one(batch.supportY),
        queryX: one(batch.queryX),
        queryY: one(batch.queryY),
      };
      const g = this.metaGradientUsual(meta, single, progress);
      acc = acc
        ? {
            loss: add(acc.loss, g.loss),
            metric: add(acc.metric, g.metric),
            grads: mapParams(acc.grads, (v, n) => add(v, g.grads[n]!)),
          }
        : g;
    }
    const a = acc!;
    return {
      loss: mul(a.loss, 1 / T),
      metric: mul(a.metric, 1 / T),
      grads: mapParams(a.grads, (v) => mul(v, 1 / T)),
    };
  }
}

/** The tensors a meta-gradient hands back, which its release scope keeps. */
function metaGradientTensors(g: MetaGradient): Tensor[] {
  return [g.loss, g.metric, ...Object.values(g.grads)];
}
