import { allocArray, isFloat } from '../tensor/dtype.js';
import { fmtShape, shapesEqual } from '../tensor/shape.js';
import { Storage, Tensor, Variable } from '../tensor/tensor.js';

/**
 * Computes the gradients of one recorded op's inputs from the gradient of its output. Written by each op in
 * differentiable ops, so whatever it computes is itself recorded by enclosing tapes: that is all nested
 * differentiation needs. `needs[i]` says whether input i's gradient is wanted (the rest may be skipped).
 */
export type BackwardFn = (dy: Tensor, needs: readonly boolean[]) => readonly (Tensor | null | undefined)[];

/** One recorded op. */
interface TapeNode {
  readonly name: string;
  readonly inputIds: readonly number[];
  readonly outputId: number;
  readonly backward: BackwardFn;
}

/**
 * The few ops the tape itself needs: `add` to accumulate gradients (recorded, so accumulation is
 * differentiable too) and `stack`/`reshape` for Jacobians. They are installed by the op modules that define
 * them (`src/ops/elementwise.ts`, `src/ops/shape.ts`) when those load, so autodiff knows no op by name and
 * the two folders have no import cycle. Seeds and zeros are made here directly on the backend.
 */
export interface TapeMath {
  add?: (a: Tensor, b: Tensor) => Tensor;
  stack?: (ts: readonly Tensor[], axis: number) => Tensor;
  reshape?: (t: Tensor, shape: readonly number[]) => Tensor;
}

const math: TapeMath = {};

/** @internal Called by the op modules as they load. */
export function installTapeMath(m: TapeMath): void {
  Object.assign(math, m);
}

function need<K extends keyof TapeMath>(k: K): NonNullable<TapeMath[K]> {
  const f = math[k];
  if (!f) throw new Error(`GradientTape: op '${k}' is not loaded; import the package entry (src/index.ts)`);
  return f as NonNullable<TapeMath[K]>;
}

function filled(like: Tensor, value: number): Tensor {
  return new Tensor(
    new Storage(like.backend, like.backend.fill(like.shape, value, like.dtype)),
    like.shape,
    like.dtype,
  );
}

function constantLike(values: Float64Array, shape: readonly number[], like: Tensor): Tensor {
  const data = allocArray(like.dtype, values.length);
  data.set(values);
  return new Tensor(
    new Storage(like.backend, like.backend.upload(data, shape, like.dtype)),
    [...shape],
    like.dtype,
  );
}

/** Tapes currently recording, innermost last. */
const tapeStack: GradientTape[] = [];

let noGradDepth = 0;

/** True when some tape would record an op now (ops skip building backward closures otherwise). */
export function isRecording(): boolean {
  if (noGradDepth > 0) return false;
  for (const t of tapeStack) if (t.isActive()) return true;
  return false;
}

/**
 * Runs `fn` with every tape paused (evaluation, logging, optimizer bookkeeping): nothing it computes is
 * recorded or kept alive by a tape.
 */
export function noGrad<T>(fn: () => T): T {
  noGradDepth++;
  try {
    return fn();
  } finally {
    noGradDepth--;
  }
}

/**
 * Offers a freshly computed op to every recording tape. A tape records it when one of the inputs is watched
 * by it or was produced by an op it recorded. `backward` is only called later, by `gradient()`.
 */
export function recordOp(
  name: string,
  inputs: readonly Tensor[],
  output: Tensor,
  backward: BackwardFn,
): void {
  if (!isFloat(output.dtype) || noGradDepth > 0) return;
  for (const tape of tapeStack) {
    if (tape.isActive()) tape.offer(name, inputs, output, backward);
  }
}

/** Options of a {@link GradientTape}. */
export interface TapeOptions {
  /** Allow several `gradient()` calls (memory is then kept until `reset()` or the tape is dropped). */
  persistent?: boolean;
  /** Watch trainable Variables automatically when an op reads them (default true). */
  watchAccessedVariables?: boolean;
}

/** What may be differentiated against: one tensor, an array, or a record of tensors. */
export type Sources = Tensor | readonly Tensor[] | { readonly [name: string]: Tensor };

/** The gradient structure mirrors the sources structure; `N` is `null` unless zeros were asked for. */
export type Gradients<S, N> = S extends Tensor
  ? Tensor | N
  : S extends readonly Tensor[]
    ? (Tensor | N)[]
    : { [K in keyof S]: Tensor | N };

/** Options of {@link GradientTape.gradient}. */
export interface GradientOptions {
  /** The cotangent seed (same shape as the target); defaults to ones (the gradient of the target's sum). */
  outputGradients?: Tensor;
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
 * enclosing tape that tracks a tensor it touches records it.
 */
export class GradientTape {
  readonly persistent: boolean;
  readonly watchAccessedVariables: boolean;
  /** Nesting level at creation (diagnostics only: identity is per tape, not per level). */
  readonly level: number;
  private nodes: TapeNode[] = [];
  private tracked = new Set<number>();
  private recordingDepth = 0;
  private paused = 0;
  private used = false;

  constructor(options: TapeOptions = {}) {
    this.persistent = options.persistent ?? false;
    this.watchAccessedVariables = options.watchAccessedVariables ?? true;
    this.level = nextTapeLevel++;
  }

  /** Runs `fn` with this tape recording (like the body of TF's `with tf.GradientTape() as tape:`). */
  record<T>(fn: () => T): T {
    if (this.used && !this.persistent) {
      throw new Error(
        'GradientTape: this non-persistent tape already computed its gradient; create a new tape',
      );
    }
    tapeStack.push(this);
    this.recordingDepth++;
    try {
      return fn();
    } finally {
      this.recordingDepth--;
      const i = tapeStack.lastIndexOf(this);
      if (i >= 0) tapeStack.splice(i, 1);
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
      if (!isFloat(t.dtype)) {
        throw new Error(
          `GradientTape.watch: cannot watch a ${t.dtype} tensor; only float tensors are differentiable`,
        );
      }
      this.tracked.add(t.id);
    }
  }

  /** Forgets everything recorded (TF's `reset`). */
  reset(): void {
    this.nodes = [];
    this.tracked.clear();
    this.used = false;
  }

  /** Ids of the trainable Variables this tape watched (explicitly or on access), for inspection. */
  isWatching(t: Tensor): boolean {
    return this.tracked.has(t.id);
  }

  /** @internal */
  isActive(): boolean {
    return this.recordingDepth > 0 && this.paused === 0;
  }

  /** @internal Called by {@link recordOp}. */
  offer(name: string, inputs: readonly Tensor[], output: Tensor, backward: BackwardFn): void {
    let connected = false;
    for (const x of inputs) {
      if (this.watchAccessedVariables && x instanceof Variable && x.trainable && isFloat(x.dtype)) {
        this.tracked.add(x.id);
      }
      if (this.tracked.has(x.id)) connected = true;
    }
    if (!connected) return;
    this.tracked.add(output.id);
    this.nodes.push({ name, inputIds: inputs.map((x) => x.id), outputId: output.id, backward });
  }

  /**
   * The gradient of `target` with respect to `sources` (of the sum of `target` if it is not a scalar, or the
   * vector-Jacobian product with `outputGradients`). The answer has the structure of `sources`.
   */
  gradient<S extends Sources>(
    target: Tensor,
    sources: S,
    options?: GradientOptions & { unconnected?: 'none' },
  ): Gradients<S, null>;
  gradient<S extends Sources>(
    target: Tensor,
    sources: S,
    options: GradientOptions & { unconnected: 'zero' },
  ): Gradients<S, never>;
  gradient<S extends Sources>(target: Tensor, sources: S, options: GradientOptions = {}): Gradients<S, null> {
    const list = flattenSources(sources);
    const seed = options.outputGradients;
    if (seed && !shapesEqual(seed.shape, target.shape)) {
      throw new Error(
        `GradientTape.gradient: outputGradients has shape ${fmtShape(seed.shape)} but the target has ${fmtShape(target.shape)}`,
      );
    }
    this.beginGradient(list, target);
    let grads: Map<number, Tensor>;
    try {
      grads = this.backprop(target, list, seed ?? filled(target, 1));
    } finally {
      this.endGradient();
    }
    const zero = options.unconnected === 'zero';
    const answer = (s: Tensor): Tensor | null => grads.get(s.id) ?? (zero ? filled(s, 0) : null);
    return unflatten(sources, list.map(answer)) as Gradients<S, null>;
  }

  /**
   * The full Jacobian `d target[i...] / d source[j...]`, shape `[...target.shape, ...source.shape]`, one
   * reverse pass per target element (for small problems). Unconnected entries are zeros. Like `gradient`, it
   * is recorded by enclosing tapes, so it can be differentiated again.
   */
  jacobian(target: Tensor, source: Tensor): Tensor {
    this.beginGradient([source], target);
    const rows: Tensor[] = [];
    try {
      for (let i = 0; i < target.size; i++) {
        const seed = new Float64Array(target.size);
        seed[i] = 1;
        const g = this.backprop(target, [source], constantLike(seed, target.shape, target)).get(source.id);
        rows.push(g ?? filled(source, 0));
      }
    } finally {
      this.endGradient();
    }
    const reshape = need('reshape');
    if (rows.length === 0) return reshape(filled(source, 0), [...target.shape, ...source.shape]);
    return reshape(need('stack')(rows, 0), [...target.shape, ...source.shape]);
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
    this.beginGradient([source], target);
    const per = target.size / B;
    const cols: Tensor[] = [];
    try {
      for (let j = 0; j < per; j++) {
        const seed = new Float64Array(target.size);
        for (let b = 0; b < B; b++) seed[b * per + j] = 1;
        const g = this.backprop(target, [source], constantLike(seed, target.shape, target)).get(source.id);
        cols.push(g ?? filled(source, 0));
      }
    } finally {
      this.endGradient();
    }
    const stacked = need('stack')(cols, 1);
    return need('reshape')(stacked, [B, ...target.shape.slice(1), ...source.shape.slice(1)]);
  }

  private beginGradient(sources: readonly Tensor[], target: Tensor): void {
    if (this.used && !this.persistent) {
      throw new Error(
        'GradientTape: a non-persistent tape can compute only one gradient; create it with { persistent: true } to call it several times',
      );
    }
    for (const s of [...sources, target]) {
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

  private backprop(target: Tensor, sources: readonly Tensor[], seed: Tensor): Map<number, Tensor> {
    const add = need('add');
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
    if (!reach.has(target.id)) return grads;
    grads.set(target.id, seed);
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

function flattenSources(sources: Sources): Tensor[] {
  if (Array.isArray(sources)) return [...(sources as readonly Tensor[])];
  if (isTensor(sources)) return [sources];
  return Object.values(sources as Record<string, Tensor>);
}

function unflatten(sources: Sources, values: (Tensor | null)[]): unknown {
  if (Array.isArray(sources)) return values;
  if (isTensor(sources)) return values[0];
  const keys = Object.keys(sources as Record<string, Tensor>);
  return Object.fromEntries(keys.map((k, i) => [k, values[i]]));
}

function isTensor(x: unknown): x is Tensor {
  return typeof x === 'object' && x !== null && 'shape' in x && 'dtype' in x && 'id' in x;
}
