import { afterEach, describe, expect, it } from 'vitest';
import { configureKernelThreads, kernelQueueStats } from '../../../src/backends/cpu/kernelQueue.js';
import { kernelThreadsUnavailable, setCpuKernelThreads } from '../../../src/backends/cpu/kernelThreads.js';
import { nativeAddon } from '../../../src/backends/cpu/native/addon.js';
import { add, cast, fromArray, mamlMlp, mul, Rng, relu, sum, type Tensor } from '../../../src/index.js';
import { MetaLearner } from '../../../src/meta/learner.js';
import { randomEpisodes } from '../../meta/fixtures.js';

const skip = kernelThreadsUnavailable();

/** Whether the arrays hold the same bits, pair by pair (NaN payloads and -0 included). */
const sameBits = (got: readonly Float32Array[], want: readonly Float32Array[]): boolean =>
  got.length === want.length &&
  got.every((a, i) =>
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(
      Buffer.from(want[i]!.buffer, want[i]!.byteOffset, want[i]!.byteLength),
    ),
  );

/** `n` deterministic values in [-2, 2). */
const random = (rng: Rng, n: number): Float32Array =>
  Float32Array.from({ length: n }, () => rng.uniformIn(-2, 2));

describe.skipIf(skip !== undefined)(`the kernel queue ${skip ? `(skipped: ${skip})` : ''}`, () => {
  const addon = nativeAddon!;
  afterEach(() => {
    setCpuKernelThreads(1);
  });

  it('runs kernels in an order that keeps every read and write of overlapping memory as written', () => {
    // Random programs of binary ops over a few arrays, outputs written over inputs and in place: read after
    // write, write after read and write after write everywhere, with small kernels (which the JS thread may
    // run while it waits) and big ones (which split) mixed. Queued, they must end as they end run directly.
    const rng = new Rng(7);
    for (let program = 0; program < 40; program++) {
      const sizes = [40_000, 3_000, 40_000, 3_000, 100_003, 257];
      const start = sizes.map((n) => random(rng, n));
      const ops: [op: number, a: number, b: number, out: number][] = [];
      for (let k = 0; k < 60; k++) {
        // Operands of one length (or a length-1 scalar), out of that length too.
        const a = Math.floor(rng.uniform() * sizes.length);
        const same = sizes.flatMap((n, i) => (n === sizes[a] ? [i] : []));
        const pick = () => same[Math.floor(rng.uniform() * same.length)]!;
        ops.push([Math.floor(rng.uniform() * 3), a, pick(), pick()]);
      }
      const runAll = (): Float32Array[] => {
        const arrays = start.map((a) => a.slice());
        for (const [op, a, b, out] of ops) addon.binary(op, arrays[a]!, arrays[b]!, arrays[out]!);
        addon.syncKernels(0);
        return arrays;
      };
      const direct = runAll();
      configureKernelThreads(2, true);
      const queued = runAll();
      setCpuKernelThreads(1);
      expect(sameBits(queued, direct), `program ${program}`).toBe(true);
    }
  });

  it('returns before a queued kernel has run, and its result is there after a sync', () => {
    configureKernelThreads(2, true);
    const n = 1 << 22;
    const a = new Float32Array(n).fill(1.5);
    const out = new Float32Array(n);
    const before = kernelQueueStats()!.kernels;
    // 30 passes over 16 MB: tens of milliseconds of work queued in a fraction of that.
    for (let i = 0; i < 30; i++) addon.binary(0, a, out, out);
    const queuedAll = kernelQueueStats()!.kernels;
    addon.syncKernels(0);
    expect(kernelQueueStats()!.kernels - before).toBe(30);
    expect(queuedAll - before).toBeLessThan(30);
    expect(out.every((v) => v === 45)).toBe(true);
  });

  it('still throws at the call for arguments a kernel cannot take', () => {
    configureKernelThreads(2, true);
    expect(() => addon.binary(0, new Float32Array(3), new Float32Array(4), new Float32Array(3))).toThrow(
      /binary/,
    );
    expect(() => addon.unary(99, new Float32Array(3), new Float32Array(3))).toThrow(/unary/);
  });

  it('gives a second-order meta-gradient bit for bit as the split kernels do, and close to one thread', () => {
    // An Omniglot-like MLP with batch norm, order 2: matmuls, broadcasts, reductions, softmax cross-entropy.
    const model = mamlMlp(64, 5, { hidden: [32, 32] });
    const rng = new Rng(3);
    const learner = new MetaLearner(model, 'classification', {
      algorithm: 'maml',
      order: 2,
      innerSteps: 2,
      innerLr: 0.4,
    });
    const meta = learner.initMetaParams(model.initParams(rng));
    const batch = randomEpisodes(rng, { tasks: 16, support: 5, query: 5, features: 64, ways: 5 });
    const grads = (): Float32Array[] => {
      const g = learner.metaGradient(meta, batch);
      return [
        g.loss,
        ...Object.keys(g.grads)
          .sort()
          .map((k) => g.grads[k]!),
      ].map((t: Tensor) => t.dataSync() as Float32Array);
    };
    const one = grads();
    setCpuKernelThreads(2);
    const split = grads();
    setCpuKernelThreads(2, { queue: true });
    const queued = grads();
    const again = grads();
    expect(sameBits(queued, split)).toBe(true);
    expect(sameBits(again, queued)).toBe(true);
    for (let i = 0; i < one.length; i++)
      for (let j = 0; j < one[i]!.length; j++)
        expect(Math.abs(queued[i]![j]! - one[i]![j]!)).toBeLessThan(
          1e-4 * Math.max(1, Math.abs(one[i]![j]!)),
        );
  });

  it('computes exp and log as JavaScript does, rounded to float32 (the only ops from the C library)', () => {
    // Every float32 exponent, with random mantissas, both signs, and the special values.
    const rng = new Rng(11);
    const words = new Uint32Array(1 << 20);
    for (let i = 0; i < words.length; i++)
      words[i] = ((i % 512) << 23) ^ Math.floor(rng.uniform() * 0x800000);
    const x = new Float32Array(words.buffer);
    x.set([0, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN, 1, -1, 88.72, -103.97]);
    configureKernelThreads(2, true);
    for (const [code, f] of [
      [8, Math.exp],
      [9, Math.log],
    ] as const) {
      const native = new Float32Array(x.length);
      addon.unary(code, x, native);
      addon.syncKernels(0);
      const js = Float32Array.from(x, f);
      let differ = 0;
      for (let i = 0; i < x.length; i++)
        if (!Object.is(native[i], js[i]) && !(Number.isNaN(native[i]) && Number.isNaN(js[i]))) differ++;
      expect(differ, f.name).toBe(0);
    }
  });

  it('leaves storage a JS kernel touches alone until the kernels queued on it have run', () => {
    // float64 ops run in JavaScript: each waits for the queued float32 kernels whose storage it reads.
    setCpuKernelThreads(2, { queue: true });
    const rng = new Rng(5);
    const a = fromArray(random(rng, 70_000), [700, 100]);
    const chain = (): number => {
      let t = a;
      for (let i = 0; i < 20; i++) t = relu(add(mul(t, a), a));
      return sum(cast(t, 'float64')).item();
    };
    const viaQueue = chain();
    setCpuKernelThreads(1);
    expect(viaQueue).toBe(chain());
  });
});

describe('the kernel queue without the native addon', () => {
  it.skipIf(skip === undefined)('is refused for more than one thread', () => {
    expect(() => setCpuKernelThreads(2, { queue: true })).toThrow(/native kernels are off/);
  });
});
