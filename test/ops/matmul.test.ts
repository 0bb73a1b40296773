import { describe, expect, it } from 'vitest';
import { fromArray, matmul, Rng, slice, zeros } from '../../src/index.js';

// A batch of inputs against one shared matrix runs as a single tall product ([B·m, k] x [k, n]); it must give
// exactly what one product per batch entry gives.
describe('matmul of a batch against a shared matrix', () => {
  const rng = new Rng(4);
  const random = (shape: number[]) =>
    fromArray(
      Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform() - 0.5),
      shape,
    );

  for (const transposeB of [false, true]) {
    it(`equals one product per batch entry (transposeB: ${transposeB})`, () => {
      const a = random([2, 3, 4, 5]);
      const b = transposeB ? random([6, 5]) : random([5, 6]);
      const c = matmul(a, b, { transposeB });
      expect(c.shape).toEqual([2, 3, 4, 6]);
      for (let i = 0; i < 2; i++) {
        for (let j = 0; j < 3; j++) {
          const one = slice(c, [i, j, 0, 0], [1, 1, 4, 6]).dataSync();
          const ref = matmul(
            fromArray(Float64Array.from(slice(a, [i, j, 0, 0], [1, 1, 4, 5]).dataSync()), [4, 5]),
            b,
            { transposeB },
          ).dataSync();
          one.forEach((v, k) => {
            expect(v).toBeCloseTo(ref[k]!, 14);
          });
        }
      }
    });
  }

  it('an empty inner dimension gives zeros of the right shape', () => {
    const c = matmul(zeros([2, 3, 0]), zeros([0, 4]));
    expect(c.shape).toEqual([2, 3, 4]);
    expect([...c.dataSync()].every((v) => v === 0)).toBe(true);
  });
});
