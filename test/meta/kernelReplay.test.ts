import { describe, expect, it } from 'vitest';
import { KernelProgram, recordKernels } from '../../src/backends/cpu/kernelProgram.js';
import { withNativeLoops } from '../../src/backends/cpu/kernelQueue.js';
import { setCpuKernelThreads } from '../../src/backends/cpu/kernelThreads.js';
import { nativeAddon } from '../../src/backends/cpu/native/addon.js';
import {
  add,
  fromArray,
  GradientTape,
  mamlMlp,
  matmul,
  mul,
  Rng,
  sum,
  type Tensor,
} from '../../src/index.js';
import type { MetaGradient } from '../../src/meta/algorithms/types.js';
import { MAX_SHAPES, MetaGradientReplay } from '../../src/meta/kernelReplay.js';
import { MetaLearner } from '../../src/meta/learner.js';
import type { TaskBatch } from '../../src/meta/tasks.js';
import { recycleTensors, releaseScope } from '../../src/ops/releaseScope.js';
import { adam } from '../../src/optim/adam.js';
import { randomEpisodes, taskSlice } from './fixtures.js';
import { smokeRun } from './smokeRun.js';

const skip = nativeAddon === undefined ? 'the native addon is not built (npm run setup:native)' : undefined;

/** The meta-gradient's numbers, in a fixed order. */
const flat = (g: MetaGradient): number[] => [
  ...g.loss.dataSync(),
  ...g.metric.dataSync(),
  ...Object.keys(g.grads)
    .sort()
    .flatMap((n) => [...g.grads[n]!.dataSync()]),
];

const learnerOf = (options: { kernelReplay?: boolean; multiStepLoss?: boolean } = {}) => {
  // An Omniglot-like MLP with batch norm, order 2: matmuls, broadcasts, reductions, softmax cross-entropy.
  const model = mamlMlp(48, 5, { hidden: [24, 24] });
  return new MetaLearner(model, 'classification', {
    algorithm: 'maml',
    order: 2,
    innerSteps: 2,
    innerLr: 0.4,
    ...options,
  });
};

const batches = (rng: Rng, n: number): TaskBatch[] =>
  Array.from({ length: n }, () =>
    randomEpisodes(rng, { tasks: 6, support: 5, query: 5, features: 48, ways: 5 }),
  );

describe.skipIf(skip !== undefined)(
  `meta-gradients replayed as kernel programs ${skip ? `(skipped: ${skip})` : ''}`,
  () => {
    it('gives, bit for bit, the op-by-op meta-gradient of every new batch and new meta-parameters', () => {
      const rng = new Rng(5);
      const learner = learnerOf();
      const reference = learnerOf({ kernelReplay: false });
      let meta = learner.initMetaParams(learner.model.initParams(rng));
      const tx = adam({ lr: 0.01 });
      let state = tx.init(meta);
      for (const [i, batch] of batches(rng, 6).entries()) {
        const want = flat(withNativeLoops(() => reference.metaGradient(meta, batch)));
        const g = learner.metaGradient(meta, batch);
        expect(flat(g), `iteration ${i}`).toEqual(want);
        // The outer step between iterations recycles storage (release scopes): none of the program's may be
        // handed out again, or the next replay would read another tensor's values.
        const { updates, state: next } = tx.update(g.grads, state, meta);
        state = next;
        meta = Object.fromEntries(Object.entries(meta).map(([n, p]) => [n, add(p, updates[n]!)]));
      }
      const status = learner.replayStatus();
      expect(status).toHaveLength(1);
      expect(status[0]).toMatchObject({ state: 'replaying' });
      expect(status[0]!.kernels).toBeGreaterThan(100);
    });

    it('checks each way the program runs: by a two-thread schedule, and again on one thread', () => {
      const forced = Number(process.env.METATAPE_KERNEL_QUEUE ?? 0);
      const rng = new Rng(11);
      const learner = learnerOf();
      const reference = learnerOf({ kernelReplay: false });
      const meta = learner.initMetaParams(learner.model.initParams(rng));
      const states: string[] = [];
      const step = (batch: TaskBatch, i: number) => {
        const want = flat(withNativeLoops(() => reference.metaGradient(meta, batch)));
        expect(flat(learner.metaGradient(meta, batch)), `iteration ${i}`).toEqual(want);
        const s = learner.replayStatus()[0]!;
        states.push(`${s.state}:${s.schedule?.last ?? 'none'}`);
      };
      try {
        setCpuKernelThreads(1);
        const all = batches(rng, 10);
        for (let i = 0; i < 3; i++) step(all[i]!, i);
        // Two threads from here: two profiled runs, then the schedule's first run, each checked.
        setCpuKernelThreads(2, { queue: true });
        for (let i = 3; i < 7; i++) step(all[i]!, i);
        // One thread again: its replay is checked once more.
        setCpuKernelThreads(1);
        for (let i = 7; i < 10; i++) step(all[i]!, i);
      } finally {
        setCpuKernelThreads(forced >= 2 ? forced : 1, { queue: forced >= 2 });
      }
      const twoThreads = states[5]!.split(':')[1]!;
      expect(['scheduled', 'in order']).toContain(twoThreads);
      expect(states).toEqual([
        'verifying:none',
        'replaying:none',
        'replaying:none',
        'verifying:profiled',
        'verifying:profiled',
        `replaying:${twoThreads}`,
        `replaying:${twoThreads}`,
        'replaying:one thread',
        'replaying:one thread',
        'replaying:one thread',
      ]);
    });

    it('records each shape of meta-batch on its own', () => {
      const rng = new Rng(6);
      const learner = learnerOf();
      const meta = learner.initMetaParams(learner.model.initParams(rng));
      const small = randomEpisodes(rng, { tasks: 3, support: 5, query: 5, features: 48, ways: 5 });
      for (const batch of [...batches(rng, 3), small, small, small]) learner.metaGradient(meta, batch);
      expect(learner.replayStatus().map((s) => s.state)).toEqual(['replaying', 'replaying']);
      // Shapes past MAX_SHAPES run as usual (each recorded one keeps its storage), with the same numbers.
      for (let tasks = 1; tasks <= MAX_SHAPES + 2; tasks++) {
        const batch = randomEpisodes(rng, { tasks, support: 5, query: 5, features: 48, ways: 5 });
        expect(flat(learner.metaGradient(meta, batch))).toEqual(
          flat(withNativeLoops(() => learnerOf({ kernelReplay: false }).metaGradient(meta, batch))),
        );
      }
      expect(learner.replayStatus()).toHaveLength(MAX_SHAPES);
    });

    it('turns itself off, with the reason, where a computation reads on the way or depends on other numbers', () => {
      const rng = new Rng(7);
      const w = fromArray(
        Float32Array.from({ length: 12 }, () => rng.uniformIn(-1, 1)),
        [3, 4],
      );
      const batch = randomEpisodes(rng, { tasks: 2, support: 3, query: 3, features: 3, ways: 2 });
      const loss = (meta: Record<string, Tensor>, b: TaskBatch, scale: number): MetaGradient => {
        const l = sum(mul(matmul(b.supportX, meta.w!), scale));
        return { loss: l, metric: l, grads: { w: mul(meta.w!, scale) } };
      };
      // A read mid-way: not recordable.
      const reads = new MetaGradientReplay((meta, b) => {
        const s = sum(meta.w!).item();
        return loss(meta, b, s);
      });
      // A number from outside its inputs, different at every call: the check against the usual computation fails.
      let calls = 0;
      const drifts = new MetaGradientReplay((meta, b) => loss(meta, b, 1 + calls++));
      const want = (s: number) => flat(loss({ w }, batch, s));
      for (let i = 0; i < 3; i++)
        expect(flat(reads.metaGradient({ w }, batch, 1))).toEqual(want(sum(w).item()));
      expect(reads.status()[0]).toMatchObject({
        state: 'off',
        reason: expect.stringMatching(/touched storage/),
      });
      for (let i = 0; i < 4; i++) {
        const got = flat(drifts.metaGradient({ w }, batch, 1));
        // The recording (scale 1), the check (the replay at scale 1 against the usual at 2, which is returned),
        // then as usual.
        expect(got).toEqual(want(i + 1));
      }
      expect(drifts.status()[0]).toMatchObject({ state: 'off', reason: expect.stringMatching(/differed/) });
      // A program over its storage budget is not kept.
      const big = new MetaGradientReplay((meta, b) => loss(meta, b, 1), undefined, 64);
      for (let i = 0; i < 2; i++) expect(flat(big.metaGradient({ w }, batch, 1))).toEqual(want(1));
      expect(big.status()[0]).toMatchObject({
        state: 'off',
        reason: expect.stringMatching(/storage \(0\.0 GB\) is over/),
      });
    });

    it('never records where it must not: turned off, a multi-step loss, under an enclosing tape', () => {
      const rng = new Rng(8);
      for (const options of [{ kernelReplay: false }, { multiStepLoss: true }]) {
        const learner = learnerOf(options);
        const meta = learner.initMetaParams(learner.model.initParams(rng));
        for (const batch of batches(rng, 3)) learner.metaGradient(meta, batch);
        expect(learner.replayStatus()).toEqual([]);
      }
      // A tape watching the meta-parameters differentiates through the meta-gradient: every call is
      // recorded on the tape, none replayed, and the meta-loss's gradient reaches the meta-parameters.
      const learner = learnerOf();
      const meta = learner.initMetaParams(learner.model.initParams(rng));
      const first = meta[Object.keys(meta)[0]!]!;
      for (const batch of batches(rng, 3)) {
        const tape = new GradientTape();
        const loss = tape.record(() => {
          tape.watch(first);
          return learner.metaGradient(meta, batch).loss;
        });
        const g = tape.gradient(loss, [first])[0]!;
        expect(Math.max(...[...g.dataSync()].map(Math.abs))).toBeGreaterThan(0);
      }
      expect(learner.replayStatus()).toEqual([]);
    });

    it("keeps a program's storage from being handed out again when its tensors are recycled", () => {
      // A program reading a tensor made before it: once that tensor's storage is given back (a release scope
      // recycling it), a new tensor of the same size must not get it, or the program would read its values.
      const x = fromArray(
        Float32Array.from({ length: 1000 }, (_, i) => i),
        [1000],
      );
      const { result, program } = recordKernels(() => mul(x, 2));
      recycleTensors('test', [x], []);
      const other = mul(fromArray(new Float32Array(1000).fill(1), [1000]), -1);
      program!.run();
      expect(result.dataSync()[999]).toBe(1998);
      expect(other.dataSync()[0]).toBe(-1);
    });

    it("shares dead intermediates' memory by a plan: a fraction of the storage, the same numbers", () => {
      const rng = new Rng(8);
      const reference = learnerOf({ kernelReplay: false });
      const meta = reference.initMetaParams(reference.model.initParams(rng));
      const [batch] = batches(rng, 1);
      const compute = () => withNativeLoops(() => reference.metaGradient(meta, batch!));
      const plain = recordKernels(compute);
      const planned = recordKernels(compute, { planMemory: true });
      expect(plain.program).toBeDefined();
      expect(planned.program).toBeDefined();
      expect(flat(planned.result)).toEqual(flat(plain.result));
      // Run again (each run overwrites its storage): still the op-by-op numbers.
      planned.program!.run();
      expect(flat(planned.result)).toEqual(flat(compute()));
      // Slabs count whole (small arrays share 256 KiB buffers) and the inputs are not planned: on this small
      // MLP the plan keeps about 60% (on the Omniglot MLP's 32 tasks, 8.8 MB of 37.9).
      expect(planned.program!.storageBytes()).toBeLessThan(0.75 * plain.program!.storageBytes());
    });

    it('records once more without a plan where the second recording does not make the first allocations', () => {
      // A computation that changes between its recordings: the plan cannot be followed (a planned view handed
      // to an array of another size would be wrong), so it is recorded a third time without one, and the
      // program and result are that recording's.
      const x = fromArray(
        Float32Array.from({ length: 4096 }, (_, i) => i / 4096),
        [64, 64],
      );
      const y = fromArray(new Float32Array(1000).fill(0.5), [1000]);
      // A chain whose links can share memory (each dies two links later, and the release scope gives them
      // back), so a plan is worth recording.
      const chain = (t: Tensor) =>
        releaseScope(
          t.backend,
          'test',
          () => sum(mul(mul(mul(mul(t, 2), 3), 0.5), t)),
          (r) => [r],
        );
      let calls = 0;
      const { result, program } = recordKernels(
        () => {
          calls++;
          return chain(calls === 1 ? x : y);
        },
        { planMemory: true },
      );
      expect(calls).toBe(3);
      const want = chain(y).item();
      expect(result.item()).toBe(want);
      program!.run();
      expect(result.item()).toBe(want);
      expect(want).not.toBe(chain(x).item());
    });

    it('cuts the tasks into slices run at once on the kernel threads: the slices op by op, combined', () => {
      // 7 tasks over 2 threads: slices of 4 and 3, each its own program, run together; the numbers are the
      // slices' meta-gradients computed op by op and summed in float64 with weights 4/7 and 3/7.
      const rng = new Rng(9);
      const learner = learnerOf();
      const reference = learnerOf({ kernelReplay: false });
      const meta = learner.initMetaParams(learner.model.initParams(rng));
      const all = Array.from({ length: 3 }, () =>
        randomEpisodes(rng, { tasks: 7, support: 5, query: 5, features: 48, ways: 5 }),
      );
      setCpuKernelThreads(2, { taskSlices: true });
      try {
        learner.setTaskSlices(2);
        for (let round = 0; round < 2; round++)
          for (const [i, batch] of all.entries()) {
            const parts = [taskSlice(batch, 0, 4), taskSlice(batch, 4, 3)].map((b) =>
              flat(withNativeLoops(() => reference.metaGradient(meta, b))),
            );
            const want = parts[0]!.map((x, j) => Math.fround((4 / 7) * x + (3 / 7) * parts[1]![j]!));
            expect(flat(learner.metaGradient(meta, batch)), `round ${round}, batch ${i}`).toEqual(want);
          }
        expect(learner.replayStatus().map((r) => [r.state, r.slices])).toEqual([['replaying', 2]]);
      } finally {
        learner.setTaskSlices(1);
        const forced = Number(process.env.METATAPE_KERNEL_QUEUE ?? 0);
        setCpuKernelThreads(forced >= 2 ? forced : 1, { queue: forced >= 2 });
      }
      expect(() => learner.setTaskSlices(0)).toThrow(RangeError);
      expect(() => nativeAddon!.runPrograms([{}])).toThrow(/1 to 256 programs from endProgram/);
    });

    it('feeds programs run together before they start, and combines their results after', () => {
      // Two programs reading their inputs (fed by the call) and writing results (combined by it), with two
      // kernel threads and without: the same numbers, those of feeding, running and summing one by one.
      const inputs = [0, 1].map(() => fromArray(new Float32Array(300), [300]));
      const recorded = inputs.map((x) => recordKernels(() => add(mul(x, x), 1)));
      const programs = recorded.map((r) => r.program!);
      const src = [0, 1].map((k) => Float32Array.from({ length: 300 }, (_, i) => (i % 17) - k * 3.5));
      const w = [0.75, 0.25];
      const want = src[0]!.map((a, i) => {
        const b = src[1]![i]!;
        return Math.fround(
          w[0]! * Math.fround(Math.fround(a * a) + 1) + w[1]! * Math.fround(Math.fround(b * b) + 1),
        );
      });
      const forced = Number(process.env.METATAPE_KERNEL_QUEUE ?? 0);
      try {
        for (const threads of [2, 1]) {
          setCpuKernelThreads(threads, { taskSlices: threads > 1 });
          const out = new Float32Array(300);
          const parts = recorded.map((r) => r.result.storage.handle as Float32Array);
          const feeds = inputs.flatMap((x, k) => [x.storage.handle as Float32Array, src[k]!]);
          KernelProgram.runTogether(programs, { feeds, combines: [out, ...parts], weights: w });
          expect([...out], `${threads} threads`).toEqual([...want]);
        }
        // A program twice (two threads on its memory), feeds of unequal lengths, combines of mixed types:
        // refused before anything runs.
        expect(() => KernelProgram.runTogether([programs[0]!, programs[0]!])).toThrow(
          /a program given twice/,
        );
        const a = new Float32Array(4);
        expect(() => KernelProgram.runTogether(programs, { feeds: [a, new Float32Array(5)] })).toThrow(
          /equal byte lengths/,
        );
        expect(() =>
          KernelProgram.runTogether(programs, { combines: [a, new Float64Array(4), a], weights: w }),
        ).toThrow(/Float32Arrays or Float64Arrays of one length/);
      } finally {
        setCpuKernelThreads(forced >= 2 ? forced : 1, { queue: forced >= 2 });
      }
    });

    it('runs what was recorded before a read, so the result is right either way', () => {
      const x = fromArray(Float32Array.of(1, 2, 3, 4), [4]);
      const { result, program } = recordKernels(() => {
        const y = mul(add(x, 1), 2);
        return y.dataSync()[3]! + 0;
      });
      expect(program).toBeUndefined();
      expect(result).toBe(10);
      // Only endProgram's handles are programs.
      expect(() => nativeAddon!.runProgram({})).toThrow(/expected a program/);
    });
  },
);

it('runs where CI requires the native addon', () => {
  // CI builds the addon and sets METATAPE_REQUIRE_NATIVE=1: there a missing addon fails instead of skipping.
  if (process.env.METATAPE_REQUIRE_NATIVE === '1') expect(skip).toBeUndefined();
});

describe.skipIf(skip !== undefined)(
  `metatape run with kernel replay ${skip ? `(skipped: ${skip})` : ''}`,
  () => {
    /** The run's test metrics and its log, with trainer.kernelReplay as given. */
    const run = (replay: boolean) => smokeRun(['trainer.order=2', `trainer.kernelReplay=${replay}`], 'info');

    it('says in the log that it replays, and trains to what the op-by-op run trains to', () => {
      const on = run(true);
      const off = run(false);
      expect(on.log).toMatch(/"kernelReplay":"replaying","kernels":\d+/);
      expect(off.log).not.toMatch(/kernel replay/);
      expect(Object.keys(on.results).length).toBeGreaterThan(4);
      // 50 Adam steps; the two differ at most in the last bits of exp and log (the C library's or V8's).
      for (const [k, v] of Object.entries(off.results))
        expect(Math.abs(on.results[k]! - v)).toBeLessThan(1e-3 * Math.max(1, Math.abs(v)));
    });

    it('with kernels on two threads, says how the replay runs there (by a schedule, or in order)', () => {
      const { log } = smokeRun(
        ['trainer.order=2', 'trainer.threads=2', 'trainer.parallelism=kernels'],
        'info',
      );
      expect(log).toMatch(/"kernelReplay":"replaying".*"schedule":\{"last":"(scheduled|in order)"/);
      expect(log).toMatch(/checked bit for bit, (on 2 threads by a schedule|in order on one thread)/);
    });
  },
);
