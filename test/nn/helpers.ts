import { type Model, type Params, type Tensor, tensor, withDefaultFloat } from '../../src/index.js';
import { values } from './reference.js';

/** A float64 tensor of deterministic values in [lo, hi). */
export function f64(shape: number[], seed = 1, lo = -1, hi = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tensor(
    Float64Array.from(values(n, seed), (v) => lo + ((v + 1) / 2) * (hi - lo)),
    shape,
  );
}

/** Parameters for `model` in float64 with deterministic values (seeded per parameter). */
export function f64Params(model: Model, seed = 7, scale = 1): Params {
  const out: Params = {};
  model.specs.forEach((s, i) => {
    out[s.name] = f64(s.shape, seed + 31 * i, -scale, scale);
  });
  return out;
}

/** Per-task copies `[T, ...]` of each parameter, perturbed differently per task. */
export function perTaskParams(model: Model, tasks: number, seed = 11): { stacked: Params; each: Params[] } {
  const each = Array.from({ length: tasks }, (_, t) => f64Params(model, seed + 1000 * t));
  const stacked: Params = {};
  for (const s of model.specs) {
    const data = new Float64Array(tasks * s.shape.reduce((a, b) => a * b, 1));
    each.forEach((p, t) => {
      data.set(p[s.name]!.dataSync(), (t * data.length) / tasks);
    });
    stacked[s.name] = tensor(data, [tasks, ...s.shape]);
  }
  return { stacked, each };
}

/** Max absolute difference of two tensors' values (shapes must match). */
export function maxDiff(a: Tensor, b: Tensor): number {
  if (a.shape.join() !== b.shape.join()) throw new Error(`shapes differ: [${a.shape}] vs [${b.shape}]`);
  const x = a.dataSync();
  const y = b.dataSync();
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

/** Runs `fn` with float64 as the default float (parameter initialisers then draw float64). */
export const inF64 = <T>(fn: () => T): T => withDefaultFloat('float64', fn);
