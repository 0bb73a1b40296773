import { pushTangents } from '../autodiff/forward.js';
import {
  type BackwardFn,
  isForwardActive,
  isRecording,
  recordOp,
  savedInputs,
  type TangentRule,
} from '../autodiff/record.js';
import { sumTo } from '../autodiff/tapeMath.js';
import type { Backend } from '../backends/backend.js';
import { getBackend, getDefaultFloat } from '../backends/registry.js';
import type { DType } from '../tensor/dtype.js';
import { broadcastedAxes, fmtShape, type Shape, shapesEqual } from '../tensor/shape.js';
import { Storage, Tensor } from '../tensor/tensor.js';
import { outsideReleaseScopes } from './releaseScope.js';

/** A tensor or a plain number (converted to a scalar of the other operand's dtype). */
export type TensorLike = Tensor | number;

/**
 * The gradient rule of an op: from the output's gradient `dy`, the output `y` and the (snapshot) inputs,
 * the gradient of each input, written in differentiable ops. A gradient may have a broadcast shape: the
 * engine sums it back to the input's shape (the one place where broadcasting is undone).
 */
export type GradRule = (
  dy: Tensor,
  y: Tensor,
  inputs: readonly Tensor[],
  needs: readonly boolean[],
) => readonly (Tensor | null | undefined)[];

/**
 * The forward (JVP) rule of an op: from the inputs' tangents (`null` for none), the output and the inputs,
 * the output's tangent, written in differentiable ops (see `src/autodiff/forward.ts`). A tangent may have a
 * broadcastable shape: forward mode broadcasts it to the output's shape (the one place that does it).
 */
export type JvpRule = TangentRule;

/**
 * Runs one op: checks the inputs share a backend, dispatches the kernel (no waiting), wraps the handle in a
 * Tensor and, when a tape is recording, records the op with its gradient rule.
 */
export function runOp(
  name: string,
  inputs: readonly Tensor[],
  outShape: Shape,
  outDtype: DType,
  kernel: (backend: Backend) => unknown,
  grad?: GradRule,
  jvp?: JvpRule,
): Tensor {
  const backend = inputs.length > 0 ? commonBackend(name, inputs) : getBackend();
  const out = new Tensor(new Storage(backend, kernel(backend)), outShape, outDtype);
  if (grad && isRecording()) attachGradient(name, inputs, out, grad);
  // Forward mode: accumulators holding an input's tangent give `out` one (a reverse-only op falls back).
  if (isForwardActive()) pushTangents(name, inputs, out, jvp, grad && backwardFn(name, grad, out, inputs));
  return out;
}

/** Records a result computed without a kernel (a reshape view, say) as an op with a gradient rule. */
export function recordView(
  name: string,
  inputs: readonly Tensor[],
  out: Tensor,
  grad: GradRule,
  jvp?: JvpRule,
): Tensor {
  if (isRecording()) attachGradient(name, inputs, out, grad);
  if (isForwardActive()) pushTangents(name, inputs, out, jvp, backwardFn(name, grad, out, inputs));
  return out;
}

function attachGradient(name: string, inputs: readonly Tensor[], out: Tensor, grad: GradRule): void {
  const saved = savedInputs(inputs);
  recordOp(name, saved, out, backwardFn(name, grad, out, saved));
}

// --- Gradient rule checks (issue 15): what a rule returns is checked where it is produced. ---

/** Thrown when an op's gradient rule returns the wrong number of gradients or a gradient of the wrong shape. */
export class GradientRuleError extends Error {
  override readonly name = 'GradientRuleError';
}

/**
 * Checks a rule's output (tinygrad: one gradient per input; tfjs: each gradient's shape): one entry per input,
 * each null/undefined or a tensor whose shape sums back to the input's (equal, or broadcast from it).
 */
export function checkGradients(name: string, gs: readonly unknown[], inputs: readonly Tensor[]): void {
  if (gs.length !== inputs.length) {
    throw new GradientRuleError(
      `${name}: gradient rule returned ${gs.length} gradient(s) for ${inputs.length} input(s)`,
    );
  }
  gs.forEach((g, i) => {
    if (g === null || g === undefined) return;
    const want = inputs[i]!.shape;
    if (!(g instanceof Tensor)) {
      throw new GradientRuleError(`${name}: gradient rule returned a non-tensor for input ${i}`);
    }
    const off = g.rank - want.length;
    const fits = off >= 0 && want.every((d, k) => d === 1 || d === g.shape[off + k]);
    if (!fits) {
      throw new GradientRuleError(
        `${name}: gradient ${i} has shape ${fmtShape(g.shape)}; input ${i} has shape ${fmtShape(want)} (not a broadcast of it)`,
      );
    }
  });
}

// --- end of gradient rule checks ---

/** The tape's view of a gradient rule: checked, then input gradients summed back to the inputs' shapes. */
function backwardFn(name: string, grad: GradRule, out: Tensor, saved: readonly Tensor[]): BackwardFn {
  return (dy, needs) => {
    const gs = grad(dy, out, saved, needs);
    checkGradients(name, gs, saved);
    return gs.map((g, i) => {
      if (!g) return g;
      const want = saved[i]!.shape;
      if (shapesEqual(g.shape, want)) return g;
      return sumTo(g, want);
    });
  };
}

function commonBackend(name: string, inputs: readonly Tensor[]): Backend {
  const b = inputs[0]!.backend;
  for (let i = 1; i < inputs.length; i++) {
    if (inputs[i]!.backend !== b) {
      throw new Error(
        `${name}: inputs live on different backends (${b.name} and ${inputs[i]!.backend.name})`,
      );
    }
  }
  return b;
}

/**
 * Cached constant scalars by backend, dtype and value. Nested maps keyed by the number itself: building a
 * string key per call cost more than the small ops that use the scalar. -0 gets its own key (a Map treats
 * it as 0) and NaN is one entry (a Map treats NaN as equal to itself).
 */
const scalarCache = new Map<Backend, Map<DType, Map<number | '-0', Tensor>>>();

/** A cached constant scalar (constants are never watched, so sharing them is safe). */
export function constScalar(value: number, dtype: DType, backend: Backend = getBackend()): Tensor {
  let byDtype = scalarCache.get(backend);
  if (byDtype === undefined) {
    byDtype = new Map();
    scalarCache.set(backend, byDtype);
  }
  let byValue = byDtype.get(dtype);
  if (byValue === undefined) {
    byValue = new Map();
    byDtype.set(dtype, byValue);
  }
  const key = Object.is(value, -0) ? '-0' : value;
  let t = byValue.get(key);
  if (t === undefined) {
    const data =
      dtype === 'float64'
        ? Float64Array.of(value)
        : dtype === 'int32'
          ? Int32Array.of(value)
          : Float32Array.of(value);
    // Outside release scopes: the cache outlives whichever scope first asked for this constant.
    t = outsideReleaseScopes(
      () => new Tensor(new Storage(backend, backend.upload(data, [], dtype)), [], dtype),
    );
    if (byValue.size > 1024) byValue.clear();
    byValue.set(key, t);
  }
  return t;
}

/** Converts numbers to scalars matching `like`'s dtype and backend (or the defaults). */
export function toTensor(x: TensorLike, like?: Tensor): Tensor {
  if (typeof x === 'number')
    return constScalar(x, like && like.dtype !== 'int32' ? like.dtype : getDefaultFloat(), like?.backend);
  return x;
}

/** Converts a pair of operands, numbers adopting the tensor's dtype; mismatched dtypes are an error. */
export function toPair(name: string, a: TensorLike, b: TensorLike): [Tensor, Tensor] {
  const ta = typeof a === 'number' ? toTensor(a, typeof b === 'number' ? undefined : b) : a;
  const tb = typeof b === 'number' ? toTensor(b, ta) : b;
  if (ta.dtype !== tb.dtype) {
    throw new Error(`${name}: dtypes differ (${ta.dtype} and ${tb.dtype}); cast one operand first`);
  }
  return [ta, tb];
}

/** The axes to sum a gradient of shape `full` over to give shape `small`. */
export function axesToSum(small: Shape, full: Shape, name: string): number[] {
  if (small.length > full.length) {
    throw new Error(`${name}: cannot reduce a gradient of shape ${fmtShape(full)} to ${fmtShape(small)}`);
  }
  return broadcastedAxes(small, full);
}
