import { isForwardActive, isRecording } from '../autodiff/record.js';
import type { AdamConstants } from '../backends/backend.js';
import { shapesEqual } from '../tensor/shape.js';
import { Storage, Tensor } from '../tensor/tensor.js';
import { add, div, mul, sqrt, square, sub } from './elementwise.js';

export type { AdamConstants } from '../backends/backend.js';

/** The results of {@link adamMoments}. */
export interface AdamMoments {
  /** The new first moment `m + s1 (g - m)`. */
  m: Tensor;
  /** The new second moment `v + s2 (g² - v)`. */
  v: Tensor;
  /** The step `scale · m' / (sqrt(v' [+ epsRoot]) + epsHat)`. */
  u: Tensor;
}

/**
 * Adam's moment update and step for one tensor, as composed by `src/optim/adam.ts`:
 * `m' = m + s1 (g - m)`, `v' = v + s2 (g² - v)`, `u = scale · m' / (sqrt(v' + epsRoot) + epsHat)`.
 *
 * Eleven small elementwise ops per parameter are mostly fixed per-op cost on small tensors (the sinusoid
 * MLP's biases have 40 elements), so where nothing can differentiate them (no tape recording, no forward
 * accumulator active: the usual outer-loop update) a backend with a fused kernel computes all three in one
 * pass, with the same rounding as the composition (bit for bit). Anywhere else they are composed of the
 * differentiable primitives, so an update on a tape (a learned optimizer, Adam in an inner loop) keeps its
 * gradients to any order.
 *
 * ```ts
 * const { m, v, u } = adamMoments(grad, mu, nu, { s1: 0.1, s2: 0.001, epsRoot: 0, epsHat: 1e-8, scale: -1e-3 });
 * ```
 */
export function adamMoments(g: Tensor, m: Tensor, v: Tensor, c: AdamConstants): AdamMoments {
  const backend = g.backend;
  if (
    backend.adamMoments !== undefined &&
    !isRecording() &&
    !isForwardActive() &&
    g.dtype !== 'int32' &&
    m.backend === backend &&
    v.backend === backend &&
    m.dtype === g.dtype &&
    v.dtype === g.dtype &&
    shapesEqual(m.shape, g.shape) &&
    shapesEqual(v.shape, g.shape)
  ) {
    const [hm, hv, hu] = backend.adamMoments(g, m, v, c);
    const wrap = (h: unknown) => new Tensor(new Storage(backend, h), g.shape, g.dtype);
    return { m: wrap(hm), v: wrap(hv), u: wrap(hu) };
  }
  const mNew = add(m, mul(sub(g, m), c.s1));
  const vNew = add(v, mul(sub(square(g), v), c.s2));
  const root = c.epsRoot > 0 ? sqrt(add(vNew, c.epsRoot)) : sqrt(vNew);
  return { m: mNew, v: vNew, u: mul(div(mNew, add(root, c.epsHat)), c.scale) };
}

/** One parameter's results of {@link adamStep}. */
export interface AdamStepped {
  /** The parameter after the step, `p + u`. */
  p: Tensor;
  /** The new first moment. */
  m: Tensor;
  /** The new second moment. */
  v: Tensor;
}

/**
 * Adam's whole step for many parameters at once, fused: per parameter `k`, {@link adamMoments} of
 * `grads[k]`, `m[k]`, `v[k]` and then `params[k] + u`, without `u`: the numbers of those two steps, bit for
 * bit, in one kernel call for every parameter (each pass over a parameter's arrays is memory-bound; the
 * Omniglot MLP's 18 parameters took 36 calls). Undefined where nothing may be fused (a tape recording or a
 * forward accumulator active, mixed backends, dtypes or shapes) or the backend has no fused kernel for these
 * (`Backend.adamStep`): compose {@link adamMoments} and `add` there.
 */
export function adamStep(
  params: readonly Tensor[],
  grads: readonly Tensor[],
  m: readonly Tensor[],
  v: readonly Tensor[],
  c: AdamConstants,
): AdamStepped[] | undefined {
  const backend = params[0]?.backend;
  if (backend?.adamStep === undefined || isRecording() || isForwardActive()) return undefined;
  // Plain loops: on the sinusoid MLP the whole outer step is a few microseconds, and closures per parameter
  // cost a measurable share of the iteration.
  for (let k = 0; k < params.length; k++) {
    const p = params[k]!;
    if (p.backend !== backend || !sameAs(grads[k], p) || !sameAs(m[k], p) || !sameAs(v[k], p))
      return undefined;
  }
  const out = backend.adamStep(params, grads, m, v, c);
  if (out === undefined) return undefined;
  const stepped: AdamStepped[] = new Array(out.length);
  for (let k = 0; k < out.length; k++) {
    const p = params[k]!;
    const [hp, hm, hv] = out[k]!;
    stepped[k] = {
      p: new Tensor(new Storage(backend, hp), p.shape, p.dtype),
      m: new Tensor(new Storage(backend, hm), p.shape, p.dtype),
      v: new Tensor(new Storage(backend, hv), p.shape, p.dtype),
    };
  }
  return stepped;
}

/** Whether `t` has `p`'s backend, dtype and shape. */
function sameAs(t: Tensor | undefined, p: Tensor): boolean {
  return t !== undefined && t.backend === p.backend && t.dtype === p.dtype && shapesEqual(t.shape, p.shape);
}
