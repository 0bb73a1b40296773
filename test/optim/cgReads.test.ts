/**
 * truncatedCg written once as a HostReads computation: the sync driver and the async one give exactly the
 * result of the implementation it replaced (test/optim/cgAtMain.ts), on every kind of stop, in float32 and
 * float64, with about half the reads.
 */
import { afterAll, describe, expect, it } from 'vitest';
import {
  add,
  fromArray,
  getBackend,
  getDefaultFloat,
  matmul,
  mul,
  Rng,
  reshape,
  setDefaultFloat,
  type Tensor,
} from '../../src/index.js';
import { type TruncatedCgOptions, truncatedCg, truncatedCgAsync } from '../../src/optim/index.js';
import { truncatedCgAtMain } from './cgAtMain.js';

afterAll(() => setDefaultFloat('float32'));

const N = 6;

/** v -> C v with C = s · MᵀM + shift · I for a seeded M: SPD, indefinite or negative definite by s and shift. */
function curvature(seed: number, scale: number, shift: number): (v: Tensor) => Tensor {
  const rng = new Rng(seed);
  const m = Array.from({ length: N * N }, () => rng.normal());
  const c = new Float64Array(N * N);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < N; k++) s += m[k * N + i]! * m[k * N + j]!;
      c[i * N + j] = scale * s + (i === j ? shift : 0);
    }
  }
  const C = fromArray(inDefaultFloat(c), [N, N]);
  return (v) => reshape(matmul(C, reshape(v, [N, 1])), [N]);
}

function gradient(seed: number): Tensor {
  const rng = new Rng(seed);
  return fromArray(inDefaultFloat(Float64Array.from({ length: N }, () => rng.normal())), [N]);
}

/** `values` as the default float's array (fromArray takes the dtype from the array). */
function inDefaultFloat(values: Float64Array): Float32Array | Float64Array {
  return getDefaultFloat() === 'float32' ? Float32Array.from(values) : values;
}

interface Case {
  name: string;
  apply: () => (v: Tensor) => Tensor;
  options: TruncatedCgOptions;
  stop: string;
}

const CASES: Case[] = [
  {
    name: 'SPD, adaptive forcing',
    apply: () => curvature(1, 1, 0.5),
    options: { maxIterations: 50 },
    stop: 'converged',
  },
  {
    name: 'SPD, tight forcing',
    apply: () => curvature(2, 1, 0.1),
    options: { maxIterations: 50, forcing: 1e-12 },
    stop: 'converged',
  },
  {
    name: 'SPD, capped (iMAML: forcing 0, damping)',
    apply: () => curvature(3, 1, 0),
    options: { maxIterations: 4, forcing: 0, damping: 1 },
    stop: 'maxIterations',
  },
  {
    name: 'indefinite: negative curvature after the first step',
    apply: () => curvature(4, 1, -3),
    options: { maxIterations: 50, forcing: 0 },
    stop: 'negativeCurvature',
  },
  {
    name: 'negative definite, undamped: scaled steepest descent',
    apply: () => curvature(5, -1, -1),
    options: { maxIterations: 10 },
    stop: 'negativeCurvature',
  },
  {
    name: 'negative definite, damped: -g / lambda',
    apply: () => curvature(6, -1, -3),
    options: { maxIterations: 10, damping: 2 },
    stop: 'negativeCurvature',
  },
  {
    name: 'flat: zero curvature',
    apply: () => curvature(7, 0, 0),
    options: { maxIterations: 10 },
    stop: 'zeroCurvature',
  },
];

for (const dtype of ['float64', 'float32'] as const) {
  describe(`truncatedCg, sync and async, match the implementation they replaced (${dtype})`, () => {
    for (const c of CASES) {
      it(c.name, async () => {
        setDefaultFloat(dtype);
        const apply = c.apply();
        const g = gradient(100 + c.name.length);
        expect(g.dtype).toBe(dtype);
        const ref = truncatedCgAtMain(apply, g, c.options);
        expect(ref.stop).toBe(c.stop);
        const expected = { ...ref, p: Array.from(ref.p.dataSync()) };
        const sync = truncatedCg(apply, g, c.options);
        expect({ ...sync, p: Array.from(sync.p.dataSync()) }).toEqual(expected);
        const viaAsync = await truncatedCgAsync(apply, g, c.options);
        expect({ ...viaAsync, p: Array.from(viaAsync.p.dataSync()) }).toEqual(expected);
      });
    }
  });
}

describe('truncatedCg reads', () => {
  it('two per CG iteration plus one, where reading each scalar alone took four plus three', () => {
    setDefaultFloat('float64');
    const apply = curvature(3, 1, 0);
    const g = gradient(9);
    const counted = (run: () => unknown): number => {
      const before = getBackend().counters!.reads;
      run();
      return getBackend().counters!.reads - before;
    };
    for (const n of [1, 3, 5]) {
      const options = { maxIterations: n, forcing: 0, damping: 1 };
      expect(truncatedCg(apply, g, options).stop).toBe('maxIterations');
      expect(counted(() => truncatedCg(apply, g, options))).toBe(2 * n + 1);
      expect(counted(() => truncatedCgAtMain(apply, g, options))).toBe(4 * n + 3);
    }
  });

  it('solves the damped system it is given (the async driver too)', async () => {
    setDefaultFloat('float64');
    const apply = curvature(11, 1, 0.3);
    const g = gradient(12);
    const { p, stop } = await truncatedCgAsync(apply, g, { maxIterations: 60, forcing: 1e-12, damping: 0.5 });
    expect(stop).toBe('converged');
    // (C + 0.5 I) p = -g
    const residual = add(add(apply(p), mul(p, 0.5)), g).dataSync();
    for (const r of residual) expect(Math.abs(r)).toBeLessThan(1e-9);
  });
});
