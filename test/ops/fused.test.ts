import { describe, expect, it } from 'vitest';
import { GradientTape, noGrad } from '../../src/autodiff/index.js';
import { fromArray } from '../../src/ops/creation.js';
import { add, mul } from '../../src/ops/elementwise.js';
import { type AdamConstants, adamMoments } from '../../src/ops/fused.js';
import { sum } from '../../src/ops/reduce.js';
import type { Tensor } from '../../src/tensor/tensor.js';

/** Values with zeros, signed zeros, tiny and large magnitudes, so rounding differences would show. */
function values(n: number, seed: number, positive = false): number[] {
  let s = seed;
  const next = () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647;
  };
  const special = [0, -0, 1e-30, 3e-8, 1, 7.5, 1e6];
  return Array.from({ length: n }, (_, i) => {
    const x = i % 9 === 0 ? special[i % special.length]! : (next() * 2 - 1) * 10 ** (next() * 6 - 3);
    return positive ? Math.abs(x) : x;
  });
}

const CONSTS: AdamConstants[] = [
  { s1: 1 - 0.9, s2: 1 - 0.999, epsRoot: 0, epsHat: 1e-8 * Math.sqrt(1 - 0.999 ** 3), scale: -1e-3 * 0.7 },
  { s1: 0.25, s2: 0.01, epsRoot: 1e-16, epsHat: 1e-6, scale: 0.4 },
];

/** Each element exactly (its shortest round-trip decimal, -0 kept apart from 0), for bit-for-bit comparison. */
const bits = (t: Tensor) => Array.from(t.dataSync(), (x) => (Object.is(x, -0) ? '-0' : String(x)));

describe('adamMoments', () => {
  // 40 (JS loops in the composition) and 1600 (wasm SIMD loops for float32) elements.
  for (const dtype of ['float32', 'float64'] as const)
    for (const [ci, c] of CONSTS.entries())
      for (const n of [40, 1600])
        it(`fused equals the composed ops bit for bit (${dtype}, constants ${ci}, ${n} elements)`, () => {
          const Arr = dtype === 'float32' ? Float32Array : Float64Array;
          const g = fromArray(Arr.from(values(n, 1)), [n]);
          const m = fromArray(Arr.from(values(n, 2)), [n]);
          const v = fromArray(Arr.from(values(n, 3, true)), [n]);
          const fused = noGrad(() => adamMoments(g, m, v, c));
          // A recording tape that watches g makes the op compose the differentiable primitives.
          const tape = new GradientTape();
          tape.watch(g);
          const composed = tape.record(() => adamMoments(g, m, v, c));
          expect(fused.m.dtype).toBe(dtype);
          expect(bits(fused.m)).toEqual(bits(composed.m));
          expect(bits(fused.v)).toEqual(bits(composed.v));
          expect(bits(fused.u)).toEqual(bits(composed.u));
        });

  it('is differentiable when a tape records it (the composed path): d sum(u + 3m) / d g by finite differences', () => {
    const c = CONSTS[1]!;
    const g0 = [0.3, -1.2, 2.5];
    const m = fromArray(Float64Array.from([0.1, 0.2, -0.3]), [3]);
    const v = fromArray(Float64Array.from([0.5, 0.05, 1.5]), [3]);
    const f = (g: Tensor) => {
      const r = adamMoments(g, m, v, c);
      return sum(add(r.u, mul(r.m, 3)));
    };
    const g = fromArray(Float64Array.from(g0), [3]);
    const tape = new GradientTape();
    tape.watch(g);
    const y = tape.record(() => f(g));
    const grad = Array.from(tape.gradient(y, g)!.dataSync());
    const h = 1e-6;
    const numeric = g0.map((_, i) => {
      const plus = g0.slice();
      const minus = g0.slice();
      plus[i]! += h;
      minus[i]! -= h;
      const at = (x: number[]) => noGrad(() => f(fromArray(Float64Array.from(x), [3])).item());
      return (at(plus) - at(minus)) / (2 * h);
    });
    for (let i = 0; i < 3; i++) expect(grad[i]).toBeCloseTo(numeric[i]!, 6);
    expect(grad.some((x) => x !== 0)).toBe(true);
  });
});
