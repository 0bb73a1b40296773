import { isFloat } from '../tensor/dtype.js';
import type { Tensor } from '../tensor/tensor.js';
import { Variable } from '../tensor/tensor.js';
import type { ForwardAccumulator } from './forward.js';
import { visibleStack, withLevelsBelow } from './stack.js';
import type { GradientTape } from './tape.js';

/**
 * The two hooks every differentiable computation calls, whoever defines it (the ops in `src/ops`, the tape's
 * own primitives in `./tapeMath.ts`): offer a result to the recording tapes ({@link recordOp}) and give it a
 * tangent on the accumulators ({@link pushTangentsBy}). They know no op by name and import the tape and the
 * accumulator classes for their types only, so this file sits under both (no import cycle).
 */

/**
 * Computes the gradients of one recorded op's inputs from the gradient of its output. Written by each op in
 * differentiable ops, so whatever it computes is itself recorded by enclosing tapes: that is all nested
 * differentiation needs. `needs[i]` says whether input i's gradient is wanted (the rest may be skipped).
 */
export type BackwardFn = (dy: Tensor, needs: readonly boolean[]) => readonly (Tensor | null | undefined)[];

/**
 * The forward (JVP) rule of one op: from the tangents of its inputs (`null` where an input has none, i.e. a
 * zero tangent; at least one is non-null), its output `y` and its inputs, the tangent of the output. Written
 * in differentiable ops, so enclosing accumulators and tapes differentiate it again: forward mode nests to
 * any order, and with reverse mode in either order. A tangent of a broadcastable shape is broadcast to `y`'s
 * shape by `pushTangents` (`./forward.ts`, the one place that does it); `null` means a zero tangent.
 */
export type TangentRule = (
  tangents: readonly (Tensor | null)[],
  y: Tensor,
  inputs: readonly Tensor[],
) => Tensor | null | undefined;

/** True when some visible tape would record an op now (ops skip building backward closures otherwise). */
export function isRecording(): boolean {
  for (const d of visibleStack()) if (d.kind === 'tape' && d.isActive()) return true;
  return false;
}

/**
 * Offers a freshly computed op to every visible recording tape. A tape records it when one of the inputs is
 * watched by it or was produced by an op it recorded. `backward` is only called later, by `gradient()`.
 */
export function recordOp(
  name: string,
  inputs: readonly Tensor[],
  output: Tensor,
  backward: BackwardFn,
): void {
  if (!isFloat(output.dtype)) return;
  for (const d of visibleStack()) {
    if (d.kind === 'tape' && d.isActive()) (d as GradientTape).offer(name, inputs, output, backward);
  }
}

/** True when some visible accumulator computes tangents now (ops skip `pushTangents` otherwise). */
export function isForwardActive(): boolean {
  for (const d of visibleStack()) if (d.kind === 'forward' && d.isActive()) return true;
  return false;
}

/**
 * Gives `output` a tangent on every visible accumulator that holds a tangent of one of `inputs`, computed
 * by `tangent` from the inputs' tangents on that accumulator (`null` where none). Accumulators are served
 * outermost first, and each computation runs seeing only the levels below its accumulator: outer
 * accumulators (and tapes) then differentiate it, which is all nesting needs.
 */
export function pushTangentsBy(
  inputs: readonly Tensor[],
  output: Tensor,
  tangent: (ts: readonly (Tensor | null)[]) => Tensor | null | undefined,
): void {
  if (!isFloat(output.dtype)) return;
  const stack = visibleStack();
  for (let k = 0; k < stack.length; k++) {
    const d = stack[k]!;
    if (d.kind !== 'forward' || !d.isActive()) continue;
    const acc = d as ForwardAccumulator;
    const ts = inputs.map((x) => (isFloat(x.dtype) ? acc.tangentOf(x) : null));
    if (!ts.some((t) => t !== null)) continue;
    const t = withLevelsBelow(k, () => tangent(ts));
    if (t) acc.setTangent(output, t);
  }
}

/**
 * Reads a Variable into a plain tensor recorded as an identity op (TensorFlow's ReadVariableOp): a later
 * `assign` cannot change what a gradient rule sees, and the read stays connected to the Variable on every
 * tape, so rules that reuse their inputs (pow, mul) remain differentiable by enclosing tapes.
 */
export function readVariable(v: Variable): Tensor {
  const snap = v.snapshot();
  recordOp('readVariable', [v], snap, (dy) => [dy]);
  // The snapshot carries the Variable's tangent, so rules that reuse it stay connected for accumulators too.
  if (isForwardActive()) pushTangentsBy([v], snap, ([t]) => t);
  return snap;
}

/** The inputs a gradient rule may keep: Variables read into snapshots (see {@link readVariable}). */
export function savedInputs(inputs: readonly Tensor[]): Tensor[] {
  return inputs.map((x) => (x instanceof Variable ? readVariable(x) : x));
}
