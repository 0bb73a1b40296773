import { afterEach, describe, expect, it } from 'vitest';
import { recordKernels } from '../../../src/backends/cpu/kernelProgram.js';
import { syncKernels } from '../../../src/backends/cpu/kernelQueue.js';
import { kernelThreadsUnavailable, setCpuKernelThreads } from '../../../src/backends/cpu/kernelThreads.js';
import { add, exp, fromArray, matmul, mul, relu, sum, type Tensor } from '../../../src/index.js';
import { Rng } from '../../../src/tensor/random.js';

/** `n` deterministic values in [-1, 1). */
const random = (n: number, seed: number): Float32Array => {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.uniformIn(-1, 1));
};

/**
 * A computation with independent branches (two products of the same input, a bias row beside them), big
 * kernels that split, products that split as the pool splits them, and small ones: what a schedule may run
 * side by side, split, or keep in order.
 */
function branches(x: Tensor, w1: Tensor, w2: Tensor, w3: Tensor, bias: Tensor): Tensor[] {
  const a = relu(add(matmul(x, w1), bias));
  const b = exp(mul(matmul(x, w2), 0.01));
  const c = mul(a, b);
  const d = matmul(c, w3);
  return [c, d, sum(d, { axis: [0] }), sum(mul(a, a))];
}

// 47 rows by 333 columns: products that split over columns where OpenBLAS's last bits depend on the split,
// so a schedule that split them otherwise than the pool would show.
const SHAPES = { x: [47, 256], w1: [256, 333], w2: [256, 333], w3: [333, 96], bias: [333] } as const;
type Inputs = Record<keyof typeof SHAPES, Tensor>;

const inputs = (seed: number): Inputs =>
  Object.fromEntries(
    Object.entries(SHAPES).map(([name, shape], i) => [
      name,
      fromArray(
        random(
          shape.reduce((p, q) => p * q, 1),
          seed * 10 + i,
        ),
        [...shape],
      ),
    ]),
  ) as Inputs;

const run = (i: Inputs): Tensor[] => branches(i.x, i.w1, i.w2, i.w3, i.bias);

/** Every tensor's bytes equal. */
function expectSameBits(got: readonly Tensor[], want: readonly Tensor[], what: string): void {
  expect(got.length).toBe(want.length);
  for (let k = 0; k < got.length; k++) {
    const g = got[k]!.dataSync() as Float32Array;
    const w = want[k]!.dataSync() as Float32Array;
    expect(
      Buffer.from(g.buffer, g.byteOffset, g.byteLength).equals(
        Buffer.from(w.buffer, w.byteOffset, w.byteLength),
      ),
      `${what}, output ${k}`,
    ).toBe(true);
  }
}

const skip = kernelThreadsUnavailable();
describe.skipIf(skip !== undefined)(
  `kernel programs scheduled over two threads ${skip ? `(skipped: ${skip})` : ''}`,
  () => {
    afterEach(() => {
      setCpuKernelThreads(1);
    });

    it('profiles twice, then runs by the schedule, bit for bit the op-by-op computation on new inputs', () => {
      setCpuKernelThreads(2, { queue: true });
      const fed = inputs(1);
      const { program, result } = recordKernels(() => run(fed));
      if (program === undefined) throw new Error('not recorded');
      expectSameBits(result, run(inputs(1)), 'the recording');
      // The recording's own run is the first profiled one.
      expect(program.schedule()).toMatchObject({ last: 'profiled', profiled: 1, planned: false });
      const seen: string[] = [];
      for (let r = 2; r <= 9; r++) {
        const next = inputs(r);
        syncKernels();
        for (const name of Object.keys(SHAPES) as (keyof Inputs)[])
          (fed[name].storage.handle as Float32Array).set(next[name].dataSync() as Float32Array);
        program.run();
        expectSameBits(result, run(next), `run ${r}`);
        seen.push(program.schedule()!.last);
      }
      const s = program.schedule()!;
      expect(s.planned).toBe(true);
      // Two independent products a quarter-gigaflop each: a schedule that does not gain is a wrong plan.
      expect(s.worthwhile).toBe(true);
      expect(seen).toEqual(['profiled', ...Array(7).fill('scheduled')]);
      expect(s.lists[0] + s.lists[1]).toBe(program.kernels + s.split);
      expect(s.split).toBeGreaterThan(0);
      expect(s.plannedMs).toBeGreaterThan(0);
      expect(s.plannedMs).toBeLessThan(s.serialMs);
      expect(s.criticalMs).toBeLessThanOrEqual(s.serialMs * (1 + 1e-9));
    });

    it('runs in order, unscheduled, on one thread', () => {
      setCpuKernelThreads(1);
      const fed = inputs(3);
      const { program } = recordKernels(() => run(fed));
      if (program === undefined) throw new Error('not recorded');
      program.run();
      expect(program.schedule()).toBeUndefined();
    });
  },
);
