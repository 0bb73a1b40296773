import { performance } from 'node:perf_hooks';
import {
  type Backend,
  type BackendCounters,
  diffCounters,
  type KernelTensor,
} from '../../backends/backend.js';
import { Rng } from '../../tensor/random.js';
import type { Shape } from '../../tensor/shape.js';
import type { KernelResult } from './types.js';

/** Deterministic values in [-1, 1) (the seeded Rng), so every run and every backend sees the same inputs. */
function inputs(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.uniformIn(-1, 1));
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = d; // NaN propagates as "not <=", so a NaN result is never ok
  }
  return m;
}

/**
 * Runs an n×n×n matmul and an elementwise `tanh(a*b) + a` over n² elements on `b`, each once cold and three
 * times warm, and compares them with a float64 reference.
 */
export async function timeKernels(b: Backend, n = 256): Promise<KernelResult[]> {
  const shape: Shape = [n, n];
  const av = inputs(n * n, 1);
  const bv = inputs(n * n, 2);
  const kt = (handle: unknown): KernelTensor => ({ handle, shape, dtype: 'float32' });
  const A = kt(b.upload(av, shape, 'float32'));
  const B = kt(b.upload(bv, shape, 'float32'));

  const refMatmul = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      const aik = av[i * n + k]!;
      for (let j = 0; j < n; j++) refMatmul[i * n + j]! += aik * bv[k * n + j]!;
    }
  const refElementwise = Float64Array.from(av, (a, i) => Math.tanh(a * bv[i]!) + a);

  const timed = async (
    kernel: string,
    run: () => unknown,
    ref: Float64Array,
    tolerance: number,
  ): Promise<KernelResult> => {
    let t = performance.now();
    const first = await b.read(kt(run()));
    const firstMs = performance.now() - t;
    let warmMs = Number.POSITIVE_INFINITY;
    let last = first;
    let counters: BackendCounters | undefined;
    for (let r = 0; r < 3; r++) {
      const before = b.counters;
      t = performance.now();
      last = await b.read(kt(run()));
      warmMs = Math.min(warmMs, performance.now() - t);
      if (before && b.counters) counters = diffCounters(b.counters, before);
    }
    const maxAbsError = Math.max(maxAbsDiff(first, ref), maxAbsDiff(last, ref));
    return { kernel, firstMs, warmMs, maxAbsError, tolerance, ok: maxAbsError <= tolerance, counters };
  };
  return [
    // float32 accumulation over k = n terms of size <= 1: error grows like n * 2^-24 * |sum|.
    await timed(`matmul ${n}x${n}x${n}`, () => b.matmul(A, B, false, false, shape), refMatmul, 2e-3),
    await timed(
      `tanh(a*b)+a ${n * n}`,
      () => b.binary('add', kt(b.unary('tanh', kt(b.binary('mul', A, B, shape)))), A, shape),
      refElementwise,
      1e-3,
    ),
  ];
}
