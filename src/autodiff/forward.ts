import { isFloat } from '../tensor/dtype.js';
import { fmtShape, shapesEqual } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { flattenNest, isTensor, type Nest, type NestOf, unflattenNest } from './nest.js';
import { type BackwardFn, pushTangentsBy, type TangentRule } from './record.js';
import { popDifferentiator, pushDifferentiator } from './stack.js';
import { GradientTape } from './tape.js';
import { add, broadcastTo, filled, mul, sumTo } from './tapeMath.js';

export type { TangentRule } from './record.js';

/** Options of a {@link ForwardAccumulator}. */
export interface ForwardAccumulatorOptions {
  /** A name for error messages (default `accumulator<n>`). */
  name?: string;
}

/** Options of {@link ForwardAccumulator.jvp}. */
export interface JvpOptions {
  /** What a tensor without a tangent gets: `null` (default, TF's `UnconnectedGradients.NONE`) or zeros. */
  unconnected?: 'none' | 'zero';
}

let nextAccumulator = 0;

/**
 * Forward-mode differentiation with the semantics of TensorFlow's `tf.autodiff.ForwardAccumulator`: it
 * watches `primals` with the given `tangents` (a direction v), and while it records, every op with an
 * input that has a tangent computes the tangent of its output by its forward rule, so `acc.jvp(y)` is the
 * Jacobian-vector product J v at once, without a backward pass.
 *
 * ```ts
 * const x = tensor(1.1);
 * const outer = new ForwardAccumulator(x, tensor(1));
 * const inner = new ForwardAccumulator(x, tensor(1));
 * const dy = outer.record(() => {
 *   const y = inner.record(() => pow(x, 3.5));
 *   return inner.jvp(y)!; // 3.5 · 1.1^2.5 = 4.4417055
 * });
 * outer.jvp(dy); // 3.5 · 2.5 · 1.1^1.5 = 10.0947852
 * ```
 *
 * Accumulators and {@link GradientTape}s share one stack, ordered by entry: an outer one differentiates the
 * work of the inner ones, never the reverse. So an accumulator around a tape's `gradient()` gives a
 * Hessian-vector product (forward-over-reverse), and a tape around an accumulator differentiates a JVP
 * (reverse-over-forward). Tangents are held weakly: one lives as long as its primal.
 */
export class ForwardAccumulator {
  /** @internal Tells accumulators from tapes on the shared stack. */
  readonly kind = 'forward' as const;
  /** The name errors use. */
  readonly name: string;
  private readonly tangents = new WeakMap<Tensor, Tensor>();
  private recording = false;
  private paused = 0;

  /**
   * Watches each primal with its tangent: `primals` and `tangents` are the same nest (or one tensor each);
   * a tangent needs its primal's shape and dtype. A number tangent of a tensor primal means that constant
   * everywhere.
   */
  constructor(primals: Nest, tangents: Nest | number, options: ForwardAccumulatorOptions = {}) {
    this.name = options.name ?? `accumulator${nextAccumulator++}`;
    const where = `ForwardAccumulator '${this.name}'`;
    const ps = flattenNest(primals, where, 'primals');
    const ts =
      typeof tangents === 'number' && isTensor(primals)
        ? [filled(primals, tangents)]
        : flattenNest(tangents, where, 'tangents');
    if (ps.length !== ts.length) {
      throw new Error(`${where}: ${ps.length} primals but ${ts.length} tangents`);
    }
    ps.forEach((p, i) => {
      const t = ts[i]!;
      if (!isFloat(p.dtype))
        throw new Error(`${where}: primal ${i} is ${p.dtype}; only float tensors have tangents`);
      if (t.dtype !== p.dtype || !shapesEqual(t.shape, p.shape)) {
        throw new Error(
          `${where}: tangent ${i} is ${t.dtype}${fmtShape(t.shape)} but its primal is ${p.dtype}${fmtShape(p.shape)}`,
        );
      }
      this.tangents.set(p, t);
    });
  }

  /**
   * Runs `fn` with this accumulator computing tangents (the body of TF's `with ForwardAccumulator(...)`).
   * Entering an accumulator that is already recording is an error.
   */
  record<T>(fn: () => T): T {
    if (this.recording) {
      throw new Error(`ForwardAccumulator '${this.name}': record() entered while it is already recording`);
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

  /** Runs `fn` without computing tangents on this accumulator. */
  stopRecording<T>(fn: () => T): T {
    this.paused++;
    try {
      return fn();
    } finally {
      this.paused--;
    }
  }

  /**
   * The tangents of `primals` (a tensor or any nest of them, answered in the same structure): J v for a
   * computed tensor, the given tangent for a watched one, and `null` (or zeros with `{ unconnected: 'zero' }`)
   * for one that does not depend on the watched primals. A `null` leaf (an unconnected gradient) stays `null`.
   */
  jvp<P extends Nest<Tensor | null>>(
    primals: P,
    options?: JvpOptions & { unconnected?: 'none' },
  ): NestOf<P, null>;
  jvp<P extends Nest<Tensor | null>>(
    primals: P,
    options: JvpOptions & { unconnected: 'zero' },
  ): NestOf<P, never>;
  jvp<P extends Nest<Tensor | null>>(primals: P, options: JvpOptions = {}): NestOf<P, null> {
    const list = flattenNest(primals, `ForwardAccumulator '${this.name}'.jvp`, 'primals', true);
    const zero = options.unconnected === 'zero';
    const answer = (p: Tensor | null): Tensor | null =>
      p && (this.tangents.get(p) ?? (zero ? filled(p, 0) : null));
    return unflattenNest(primals, list.map(answer)) as NestOf<P, null>;
  }

  /** @internal */
  isActive(): boolean {
    return this.recording && this.paused === 0;
  }

  /** @internal The tangent of `t` on this accumulator, or null. */
  tangentOf(t: Tensor): Tensor | null {
    return this.tangents.get(t) ?? null;
  }

  /** @internal */
  setTangent(t: Tensor, tangent: Tensor): void {
    this.tangents.set(t, tangent);
  }
}

/**
 * Gives `output` a tangent on every visible accumulator that holds a tangent of one of `inputs`, by the
 * op's forward `rule` (see `pushTangentsBy` in ./record.ts for the nesting). An op with a reverse rule but
 * no forward rule falls back to the double-VJP trick (TF does the same): `u -> VJP(u)` is linear, so the
 * VJP of `<VJP(u), t>` with respect to u is J t.
 */
export function pushTangents(
  name: string,
  inputs: readonly Tensor[],
  output: Tensor,
  rule: TangentRule | undefined,
  backward: BackwardFn | undefined,
): void {
  if (!rule && !backward) return;
  pushTangentsBy(inputs, output, (ts) => {
    const raw = rule ? rule(ts, output, inputs) : doubleVjp(name, ts, output, backward!);
    return raw ? fitTangent(name, raw, output) : null;
  });
}

/** Checks a rule's tangent where it is produced: the output's dtype, and its shape after broadcasting. */
function fitTangent(name: string, t: Tensor, y: Tensor): Tensor {
  if (t.dtype !== y.dtype) {
    throw new Error(`${name}: forward rule gave a ${t.dtype} tangent for a ${y.dtype} output`);
  }
  if (shapesEqual(t.shape, y.shape)) return t;
  try {
    return broadcastTo(t, y.shape);
  } catch {
    throw new Error(
      `${name}: forward rule gave a tangent of shape ${fmtShape(t.shape)} for an output of shape ${fmtShape(y.shape)}`,
    );
  }
}

function doubleVjp(
  name: string,
  ts: readonly (Tensor | null)[],
  y: Tensor,
  backward: BackwardFn,
): Tensor | null {
  const u = filled(y, 0);
  const tape = new GradientTape({ watchAccessedVariables: false, name: `forward fallback of ${name}` });
  const s = tape.record(() => {
    tape.watch(u);
    const gs = backward(
      u,
      ts.map((t) => t !== null),
    );
    let total: Tensor | null = null;
    gs.forEach((g, i) => {
      const t = ts[i];
      if (!g || !t) return;
      const term = sumTo(mul(g, t), []);
      total = total ? add(total, term) : term;
    });
    return total as Tensor | null;
  });
  return s ? tape.gradient(s, u) : null;
}
