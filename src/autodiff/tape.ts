import { isFloat } from '../tensor/dtype.js';
import { fmtShape, shapesEqual } from '../tensor/shape.js';
import { type Tensor, Variable } from '../tensor/tensor.js';
import { flattenNest, isTensor, type Nest, type NestOf, unflattenNest } from './nest.js';
import type { BackwardFn } from './record.js';
import { popDifferentiator, pushDifferentiator } from './stack.js';
import { add, constantLike, filled, reshape, stack } from './tapeMath.js';

/*
 * The tape records ops that others define (through `recordOp`, ./record.ts) and knows none by name. What its
 * own work needs (adding gradients, Jacobians' stacking) comes from ./tapeMath.ts, imported like any module:
 * nothing is installed into the tape at import time.
 */

export { noGrad } from './stack.js';

/** One recorded op. */
interface TapeNode {
  readonly name: string;
  readonly inputIds: readonly number[];
  readonly outputId: number;
  readonly backward: BackwardFn;
}

/** Options of a {@link GradientTape}. */
export interface TapeOptions {
  /** Allow several `gradient()` calls (memory is then kept until `reset()` or the tape is dropped). */
  persistent?: boolean;
  /** Watch trainable Variables automatically when an op reads them (default true). */
  watchAccessedVariables?: boolean;
  /** A name for error messages (default `tape<level>`). */
  name?: string;
}

/**
 * What may be differentiated against: a tensor or any nest of arrays and records of tensors (TensorFlow's
 * `sources`); the answer has the same structure.
 */
export type Sources = Nest;

/** The gradient structure mirrors the sources structure; `N` is `null` unless zeros were asked for. */
export type Gradients<S, N> = NestOf<S, N>;

/** Options of {@link GradientTape.gradient}. */
export interface GradientOptions {
  /**
   * The cotangent seed: for one target a tensor of its shape, for a nest of targets the same nest of seeds
   * (TF's `output_gradients`). Defaults to ones (the gradient of the targets' sum).
   */
  outputGradients?: Nest;
  /** What an unconnected source gets: `null` (default, as TensorFlow's `UnconnectedGradients.NONE`) or zeros. */
  unconnected?: 'none' | 'zero';
}

let nextTapeLevel = 0;

/**
 * A reverse-mode tape with the semantics of TensorFlow's `tf.GradientTape`.
 *
 * ```ts
 * const x = variable(3);
 * const outer = new GradientTape();
 * const inner = new GradientTape();
 * const dydx = outer.record(() => {
 *   const y = inner.record(() => pow(x, 3));
 *   return inner.gradient(y, x); // 27, and recorded by `outer`
 * });
 * const d2ydx2 = outer.gradient(dydx, x); // 18
 * ```
 *
 * Each tape keeps its own set of the tensors it tracks (its trace level), so nested tapes never confuse whose
 * perturbation is whose: an inner tape's backward pass runs while the inner tape itself is paused, and every
 * enclosing tape that tracks a tensor it touches records it. Tapes share one stack with
 * `ForwardAccumulator`s, so the two nest in either order (see `src/autodiff/stack.ts`).
 */
export class GradientTape {
  /** @internal Tells tapes from accumulators on the shared stack. */
  readonly kind = 'tape' as const;
  readonly persistent: boolean;
  readonly watchAccessedVariables: boolean;
  /** Nesting level at creation (diagnostics only: identity is per tape, not per level). */
  readonly level: number;
  /** The name errors use. */
  readonly name: string;
  private nodes: TapeNode[] = [];
  private tracked = new Set<number>();
  /** Watched Variables in the order first watched (TF's `watched_variables()`). */
  private variables = new Map<number, Variable>();
  private recording = false;
  private paused = 0;
  private used = false;

  constructor(options: TapeOptions = {}) {
    this.persistent = options.persistent ?? false;
    this.watchAccessedVariables = options.watchAccessedVariables ?? true;
    this.level = nextTapeLevel++;
    this.name = options.name ?? `tape${this.level}`;
  }

  /**
   * Runs `fn` with this tape recording (like the body of TF's `with tf.GradientTape() as tape:`). Entering
   * a tape that is already recording is an error, as in TensorFlow ("Tape is still recording").
   */
  record<T>(fn: () => T): T {
    if (this.recording) {
      throw new Error(
        `GradientTape '${this.name}': record() entered while this tape is already recording; a tape cannot be re-entered (use a new tape to nest)`,
      );
    }
    if (this.used && !this.persistent) {
      throw new Error(
        `GradientTape '${this.name}': this non-persistent tape already computed its gradient; create a new tape`,
      );
    }
    pushDifferentiator(this);
    this.recording = true;
    try {
      return fn();
    } finally {
      this.recording = false;
      popDifferentiator(this);
    }
  }

  /** Runs `fn` without recording on this tape (TF's `stop_recording`). */
  stopRecording<T>(fn: () => T): T {
    this.paused++;
    try {
      return fn();
    } finally {
      this.paused--;
    }
  }

  /** Watches tensors so that gradients with respect to them can be taken. */
  watch(...tensors: Tensor[]): void {
    for (const t of tensors) {
      if (!isTensor(t))
        throw new TypeError(`GradientTape '${this.name}'.watch: ${String(t)} is not a Tensor`);
      if (!isFloat(t.dtype)) {
        throw new Error(
          `GradientTape.watch: cannot watch a ${t.dtype} tensor; only float tensors are differentiable`,
        );
      }
      this.track(t);
    }
  }

  /** Forgets everything recorded (TF's `reset`). */
  reset(): void {
    this.nodes = [];
    this.tracked.clear();
    this.variables.clear();
    this.used = false;
  }

  /** Whether this tape tracks `t` (watched, or computed from something watched). */
  isWatching(t: Tensor): boolean {
    return this.tracked.has(t.id);
  }

  /**
   * The Variables this tape watched, explicitly or on access, in the order first watched (TensorFlow's
   * `watched_variables()`): e.g. to check that a model's every parameter is trained.
   */
  watchedVariables(): Variable[] {
    return [...this.variables.values()];
  }

  /** @internal */
  isActive(): boolean {
    return this.recording && this.paused === 0;
  }

  private track(t: Tensor): void {
    this.tracked.add(t.id);
    if (t instanceof Variable && !this.variables.has(t.id)) this.variables.set(t.id, t);
  }

  /** @internal Called by {@link recordOp}. */
  offer(name: string, inputs: readonly Tensor[], output: Tensor, backward: BackwardFn): void {
    let connected = false;
    for (const x of inputs) {
      if (this.watchAccessedVariables && x instanceof Variable && x.trainable && isFloat(x.dtype)) {
        this.track(x);
      }
      if (this.tracked.has(x.id)) connected = true;
    }
    if (!connected) return;
    this.tracked.add(output.id);
    this.nodes.push({ name, inputIds: inputs.map((x) => x.id), outputId: output.id, backward });
  }

  /**
   * The gradient of `target` with respect to `sources` (of the sum of `target` if it is not a scalar, or the
   * vector-Jacobian product with `outputGradients`). The target may be a nest of tensors: their gradients
   * are summed (TF). The answer has the structure of `sources`, any nest of arrays and records.
   */
  gradient<S extends Sources>(
    target: Nest,
    sources: S,
    options?: GradientOptions & { unconnected?: 'none' },
  ): Gradients<S, null>;
  gradient<S extends Sources>(
    target: Nest,
    sources: S,
    options: GradientOptions & { unconnected: 'zero' },
  ): Gradients<S, never>;
  gradient<S extends Sources>(target: Nest, sources: S, options: GradientOptions = {}): Gradients<S, null> {
    const where = `GradientTape '${this.name}'.gradient`;
    const list = flattenNest(sources, where, 'sources');
    const targets = flattenNest(target, where, 'target');
    const seeds = this.seedsFor(targets, target, options.outputGradients, where);
    this.beginGradient(list, targets);
    let grads: Map<number, Tensor>;
    try {
      grads = this.backprop(targets, list, seeds);
    } finally {
      this.endGradient();
    }
    const zero = options.unconnected === 'zero';
    const answer = (s: Tensor): Tensor | null => grads.get(s.id) ?? (zero ? filled(s, 0) : null);
    return unflattenNest(sources, list.map(answer)) as Gradients<S, null>;
  }

  private seedsFor(
    targets: readonly Tensor[],
    target: Nest,
    given: Nest | undefined,
    where: string,
  ): Tensor[] {
    if (given === undefined) return targets.map((t) => filled(t, 1));
    const seeds = flattenNest(given, where, 'outputGradients');
    if (seeds.length !== targets.length) {
      throw new Error(`${where}: ${seeds.length} outputGradients for ${targets.length} targets`);
    }
    seeds.forEach((s, i) => {
      const t = targets[i]!;
      if (!shapesEqual(s.shape, t.shape)) {
        const which = isTensor(target) ? 'the target' : `target ${i}`;
        throw new Error(
          `${where}: outputGradients has shape ${fmtShape(s.shape)} but ${which} has ${fmtShape(t.shape)}`,
        );
      }
    });
    return seeds;
  }

  /**
   * The full Jacobian `d target[i...] / d source[j...]`, shape `[...target.shape, ...source.shape]`, one
   * reverse pass per target element (for small problems). Unconnected entries are zeros. Like `gradient`, it
   * is recorded by enclosing tapes, so it can be differentiated again.
   */
  jacobian(target: Tensor, source: Tensor): Tensor {
    this.beginGradient([source], [target]);
    const rows: Tensor[] = [];
    try {
      for (let i = 0; i < target.size; i++) {
        const seed = new Float64Array(target.size);
        seed[i] = 1;
        const g = this.backprop([target], [source], [constantLike(seed, target.shape, target)]).get(
          source.id,
        );
        rows.push(g ?? filled(source, 0));
      }
    } finally {
      this.endGradient();
    }
    const shape = [...target.shape, ...source.shape];
    if (rows.length === 0) return filled(source, 0, shape);
    return reshape(stack(rows, 0), shape);
  }

  /**
   * Per-example Jacobians when row b of `target` depends only on row b of `source` (TF's batch_jacobian):
   * shape `[B, ...target.shape.slice(1), ...source.shape.slice(1)]`.
   */
  batchJacobian(target: Tensor, source: Tensor): Tensor {
    const B = target.shape[0];
    if (B === undefined || source.shape[0] !== B) {
      throw new Error('batchJacobian: target and source need the same leading (batch) dimension');
    }
    this.beginGradient([source], [target]);
    const per = target.size / B;
    const cols: Tensor[] = [];
    try {
      for (let j = 0; j < per; j++) {
        const seed = new Float64Array(target.size);
        for (let b = 0; b < B; b++) seed[b * per + j] = 1;
        const g = this.backprop([target], [source], [constantLike(seed, target.shape, target)]).get(
          source.id,
        );
        cols.push(g ?? filled(source, 0));
      }
    } finally {
      this.endGradient();
    }
    const shape = [B, ...target.shape.slice(1), ...source.shape.slice(1)];
    if (cols.length === 0) return filled(source, 0, shape);
    return reshape(stack(cols, 1), shape);
  }

  private beginGradient(sources: readonly Tensor[], targets: readonly Tensor[]): void {
    if (this.used && !this.persistent) {
      throw new Error(
        `GradientTape '${this.name}': a non-persistent tape can compute only one gradient; create it with { persistent: true } to call it several times`,
      );
    }
    for (const s of [...sources, ...targets]) {
      if (!isFloat(s.dtype)) throw new Error(`GradientTape: cannot differentiate a ${s.dtype} tensor`);
    }
    this.used = true;
    this.paused++;
  }

  private endGradient(): void {
    this.paused--;
    if (!this.persistent) {
      // Release everything the forward pass kept alive.
      this.nodes = [];
      this.tracked.clear();
    }
  }

  private backprop(
    targets: readonly Tensor[],
    sources: readonly Tensor[],
    seeds: readonly Tensor[],
  ): Map<number, Tensor> {
    const sourceIds = new Set(sources.map((s) => s.id));
    // Forward sweep: which recorded tensors depend on a source. Only those need gradients.
    const reach = new Set(sourceIds);
    for (const node of this.nodes) {
      for (const id of node.inputIds) {
        if (reach.has(id)) {
          reach.add(node.outputId);
          break;
        }
      }
    }
    const grads = new Map<number, Tensor>();
    targets.forEach((t, i) => {
      if (!reach.has(t.id)) return;
      const prev = grads.get(t.id);
      grads.set(t.id, prev ? add(prev, seeds[i]!) : seeds[i]!);
    });
    if (grads.size === 0) return grads;
    // Nodes were recorded in execution order, so the reverse order is a reverse topological order.
    for (let n = this.nodes.length - 1; n >= 0; n--) {
      const node = this.nodes[n]!;
      const dy = grads.get(node.outputId);
      if (!dy) continue;
      if (!sourceIds.has(node.outputId)) grads.delete(node.outputId);
      const needs = node.inputIds.map((id) => reach.has(id));
      if (!needs.includes(true)) continue;
      const inputGrads = node.backward(dy, needs);
      for (let i = 0; i < node.inputIds.length; i++) {
        const g = inputGrads[i];
        if (!needs[i] || !g) continue;
        const id = node.inputIds[i]!;
        const prev = grads.get(id);
        grads.set(id, prev ? add(prev, g) : g);
      }
    }
    return grads;
  }
}
