import { describe, expect, it } from 'vitest';
import { recordKernels } from '../../../src/backends/cpu/kernelProgram.js';
import { syncKernels } from '../../../src/backends/cpu/kernelQueue.js';
import { kernelThreadsUnavailable, setCpuKernelThreads } from '../../../src/backends/cpu/kernelThreads.js';
import { add, exp, fromArray, matmul, mul, relu, sum, type Tensor } from '../../../src/index.js';
import { Rng } from '../../../src/tensor/random.js';

// Read by the addon at a schedule's first measured run: try the other way every 3 runs, so that a few runs
// take both (its own process: vitest runs each file in a fork).
process.env.METATAPE_SCHEDULE_REFRESH = '3';

const values = (n: number, seed: number): Float32Array => {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, () => r.uniformIn(-1, 1));
};

/** Two independent products of one input, and what follows from both. */
const compute = (x: Tensor, w1: Tensor, w2: Tensor): Tensor[] => {
  const a = relu(matmul(x, w1));
  const b = exp(mul(matmul(x, w2), 0.01));
  return [add(a, b), sum(mul(a, b), { axis: [0] })];
};

const skip = kernelThreadsUnavailable();
describe.skipIf(skip !== undefined)(
  `a scheduled program's two ways of running ${skip ? `(skipped: ${skip})` : ''}`,
  () => {
    it('goes between its schedule and running in order as measured, with the same bits either way', () => {
      setCpuKernelThreads(2, { queue: true });
      try {
        // Products split over columns at a part boundary where OpenBLAS's last bits change (47x64 by 64x333:
        // one thread and two differ in 509 elements here), so a way of running that split them otherwise
        // would show.
        const inputs = (seed: number) => [
          fromArray(values(47 * 64, seed), [47, 64]),
          fromArray(values(64 * 333, seed + 1), [64, 333]),
          fromArray(values(64 * 333, seed + 2), [64, 333]),
        ];
        const fed = inputs(1);
        const { program, result } = recordKernels(() => compute(fed[0]!, fed[1]!, fed[2]!));
        if (program === undefined) throw new Error('not recorded');
        const ways = new Set<string>();
        for (let r = 2; r <= 24; r++) {
          const next = inputs(r * 3);
          syncKernels();
          for (let i = 0; i < 3; i++)
            (fed[i]!.storage.handle as Float32Array).set(next[i]!.dataSync() as Float32Array);
          program.run();
          const want = compute(next[0]!, next[1]!, next[2]!);
          for (let k = 0; k < want.length; k++)
            expect(
              Buffer.from((result[k]!.dataSync() as Float32Array).buffer).equals(
                Buffer.from((want[k]!.dataSync() as Float32Array).buffer),
              ),
              `run ${r}, output ${k}`,
            ).toBe(true);
          ways.add(program.schedule()!.last);
        }
        const s = program.schedule()!;
        expect(s.worthwhile).toBe(true);
        expect([...ways].sort()).toEqual(['in order', 'profiled', 'scheduled']);
        expect(s.inOrderMs).toBeGreaterThan(0);
        expect(s.scheduledMs).toBeGreaterThan(0);
      } finally {
        setCpuKernelThreads(1);
      }
    });
  },
);
