import { describe, expect, it } from 'vitest';
import { recycledBytes } from '../../src/backends/cpu/alloc.js';
import { getBackend } from '../../src/backends/registry.js';
import {
  add,
  dense,
  fromArray,
  GradientTape,
  Model,
  mul,
  ReleasedStorageError,
  Rng,
  recycleTensors,
  releaseScope,
  reshape,
  sum,
  type Tensor,
} from '../../src/index.js';
import { MetaLearner } from '../../src/meta/learner.js';
import { sinusoidSource, type TaskBatch } from '../../src/meta/tasks.js';
import { outerStep, type TrainState } from '../../src/meta/trainIteration.js';
import { BatchNormState } from '../../src/nn/batchNormState.js';
import { adam } from '../../src/optim/adam.js';
import { applyUpdates } from '../../src/optim/tree.js';

const vec = (n: number, seed: number) => {
  const rng = new Rng(seed);
  return fromArray(
    Float32Array.from({ length: n }, () => rng.normal()),
    [n],
  );
};

describe('releaseScope', () => {
  it('keeps the results, recycles the rest, and a recycled tensor throws instead of reading reused memory', () => {
    const x = vec(1000, 1);
    const before = recycledBytes();
    let inner: Tensor | undefined;
    const y = releaseScope(
      getBackend(),
      'test',
      () => {
        inner = mul(x, x);
        return add(inner, x);
      },
      (r) => [r],
    );
    expect(recycledBytes()).toBeGreaterThanOrEqual(before + 4000);
    // The kept result survives later scopes that reuse the recycled arrays.
    const want = Array.from(x.dataSync(), (v) => Math.fround(Math.fround(v * v) + v));
    releaseScope(
      getBackend(),
      'scribble',
      () => mul(add(x, 7), 3),
      () => [],
    );
    expect(Array.from(y.dataSync())).toEqual(want);
    expect(() => inner!.dataSync()).toThrow(ReleasedStorageError);
    expect(() => add(inner!, 1)).toThrow(/release scope "test"/);
  });

  it('keeps a view of a result together with its base (they share one handle)', () => {
    const x = vec(600, 2);
    const flat = releaseScope(
      getBackend(),
      'view',
      () => reshape(mul(x, 2), [20, 30]),
      (r) => [r],
    );
    releaseScope(
      getBackend(),
      'scribble',
      () => mul(x, -5),
      () => [],
    );
    expect(Array.from(flat.dataSync())).toEqual(Array.from(x.dataSync(), (v) => v * 2));
  });

  it('nests: what an inner scope keeps, the outer one recycles unless it keeps it too', () => {
    const x = vec(500, 3);
    let fromInner: Tensor | undefined;
    const out = releaseScope(
      getBackend(),
      'outer',
      () => {
        fromInner = releaseScope(
          getBackend(),
          'inner',
          () => mul(x, 3),
          (r) => [r],
        );
        return add(fromInner, 1);
      },
      (r) => [r],
    );
    expect(() => fromInner!.dataSync()).toThrow(/"outer"/);
    expect(Array.from(out.dataSync())).toEqual(
      Array.from(x.dataSync(), (v) => Math.fround(Math.fround(v * 3) + 1)),
    );
  });

  it('recycles nothing while a tape records (the tape needs the intermediates for its gradient)', () => {
    const x = vec(300, 4);
    const tape = new GradientTape();
    const loss = tape.record(() => {
      tape.watch(x);
      const h = releaseScope(
        getBackend(),
        'under a tape',
        () => mul(mul(x, x), x),
        (r) => [r],
      );
      return sum(h);
    });
    const g = tape.gradient(loss, x) as Tensor;
    expect(Array.from(g.dataSync())).toEqual(
      Array.from(x.dataSync(), (v) => Math.fround(Math.fround(v * v) * 3)),
    );
  });

  it('tracks storage up to its byte budget and leaves the rest to the garbage collector', () => {
    const x = vec(1000, 6);
    const made: Tensor[] = [];
    releaseScope(
      getBackend(),
      'budget',
      () => {
        // 4000 bytes each: the first two fit a 6000-byte budget (it runs out during the second).
        for (let i = 0; i < 4; i++) made.push(mul(x, i + 2));
      },
      () => [],
      { maxTrackedBytes: 6000 },
    );
    expect(() => made[0]!.dataSync()).toThrow(ReleasedStorageError);
    expect(() => made[1]!.dataSync()).toThrow(ReleasedStorageError);
    expect(Array.from(made[3]!.dataSync())).toEqual(Array.from(x.dataSync(), (v) => Math.fround(v * 5)));
  });

  it('a cached constant first made inside a scope stays usable after it', () => {
    const x = vec(100, 5);
    const odd = 1.2345678;
    releaseScope(
      getBackend(),
      'constants',
      () => mul(x, odd),
      () => [],
    );
    expect(() => mul(x, odd).dataSync()).not.toThrow();
  });
});

describe('MetaLearner.metaGradient recycles its intermediates', () => {
  function setup() {
    const model = new Model(
      [dense(40, { activation: 'relu' }), dense(40, { activation: 'relu' }), dense(1)],
      [1],
    );
    const rng = new Rng(1);
    const learner = new MetaLearner(model, 'regression', {
      algorithm: 'maml',
      order: 2,
      innerSteps: 2,
      innerLr: 0.01,
    });
    const meta = learner.initMetaParams(model.initParams(rng));
    const source = sinusoidSource({ shots: 10, queryShots: 10 });
    const batches: TaskBatch[] = [0, 1].map(() => source.sample(rng, 4, 'train'));
    return { meta, learner, batches };
  }

  it('gives bit for bit the meta-gradient of a run without recycling, on reused memory', () => {
    const { meta, learner, batches } = setup();
    // Reference: under a recording tape nothing is recycled, and the numbers are the same ops'.
    const outer = new GradientTape();
    const want = outer.record(() => learner.metaGradient(meta, batches[1]!));
    // The first call fills the free lists; the second runs on recycled arrays.
    learner.metaGradient(meta, batches[0]!);
    const bytes = recycledBytes();
    const got = learner.metaGradient(meta, batches[1]!);
    expect(bytes).toBeGreaterThan(0);
    expect(got.loss.item()).toBe(want.loss.item());
    for (const [name, t] of Object.entries(got.grads))
      expect(Array.from(t.dataSync())).toEqual(Array.from(want.grads[name]!.dataSync()));
  });
});

describe('state that outlives a release scope', () => {
  it('batch-norm running statistics updated inside a scope stay readable after it', () => {
    const state = new BatchNormState();
    state.declare('bn', 100);
    const x = vec(100, 7);
    releaseScope(
      getBackend(),
      'running stats',
      () => {
        state.update('bn', mul(x, 2), mul(x, x), 0.9);
      },
      () => [],
    );
    const { mean } = state.get('bn', 'float32');
    expect(Array.from(mean.dataSync())).toEqual(
      Array.from(x.dataSync(), (v) =>
        Math.fround(Math.fround(0 * 0.9) + Math.fround(Math.fround(v * 2) * Math.fround(0.1))),
      ),
    );
  });
});

describe('recycleTensors', () => {
  it('recycles the dead tensors but storage a live one shares, once each, and a recycled one throws', () => {
    const a = vec(1000, 11);
    const b = vec(1000, 12);
    const view = reshape(a, [10, 100]);
    const before = recycledBytes();
    // a is dead, but its view is live: they share storage, so a stays. b is named twice.
    recycleTensors('test', [a, b, b], [view]);
    expect(recycledBytes() - before).toBe(4000);
    expect(() => b.dataSync()).toThrow(ReleasedStorageError);
    expect(() => add(b, a)).toThrow(/recycleTensors|test/);
    expect(view.dataSync()[3]).toBe(a.dataSync()[3]);
    // The next array of that length is b's, handed out once.
    const c = mul(a, 2);
    const d = mul(a, 3);
    expect(recycledBytes()).toBe(before);
    expect(c.dataSync()[5]).toBe(Math.fround(a.dataSync()[5]! * 2));
    expect(d.dataSync()[5]).toBe(Math.fround(a.dataSync()[5]! * 3));
  });

  it('recycles nothing while a tape records (it may keep those tensors for its gradient)', () => {
    const a = vec(1000, 13);
    const before = recycledBytes();
    const tape = new GradientTape();
    tape.record(() => {
      tape.watch(a);
      recycleTensors('test', [a], []);
    });
    expect(recycledBytes()).toBe(before);
    expect(a.dataSync().length).toBe(1000);
  });

  it('does not recycle a second time what an enclosing scope created and then drops', () => {
    const x = vec(1000, 14);
    const before = recycledBytes();
    releaseScope(
      getBackend(),
      'outer',
      () => {
        const t = mul(x, x);
        recycleTensors('test', [t], []);
        return x;
      },
      () => [],
    );
    // Once, by recycleTensors; the scope's end skips it. Twice would hand one array to two tensors.
    expect(recycledBytes() - before).toBe(4000);
  });
});

describe('outerStep', () => {
  it('gives the composed update, recycles the replaced state, and the next step reuses it', () => {
    const grads = (step: number) => ({ w: vec(1000, 23 + step), b: vec(300, 33 + step) });
    const tx = adam({ lr: 1e-2 });
    // The reference first: the same steps composed without recycling.
    let refMeta: Record<string, Tensor> = { w: vec(1000, 21), b: vec(300, 22) };
    let refState = tx.init(refMeta);
    const want: number[][] = [];
    for (let step = 0; step < 3; step++) {
      const r = tx.update(grads(step), refState, refMeta);
      refMeta = applyUpdates(refMeta, r.updates);
      refState = r.state;
      want.push([...refMeta.w!.dataSync(), ...refMeta.b!.dataSync()]);
    }
    let state: TrainState<ReturnType<typeof tx.init>> = {
      meta: { w: vec(1000, 21), b: vec(300, 22) },
      optState: tx.init({ w: vec(1000, 21), b: vec(300, 22) }),
    };
    const held: number[] = [];
    for (let step = 0; step < 3; step++) {
      const g = grads(step);
      const old = state;
      const before = recycledBytes();
      state = outerStep(tx, g, state);
      held.push(recycledBytes());
      // At least the gradients, updates, old parameters and both old moments went back: 5 * 1300 floats,
      // less the new parameters and moments taken from what earlier steps gave back.
      if (step === 0) expect(recycledBytes()).toBeGreaterThanOrEqual(before + 1300 * 4);
      expect(() => old.meta.w!.dataSync()).toThrow(ReleasedStorageError);
      expect(() => g.b.dataSync()).toThrow(ReleasedStorageError);
      expect([...state.meta.w!.dataSync(), ...state.meta.b!.dataSync()]).toEqual(want[step]);
    }
    // Steady state: each step takes back as much as it hands out (gradients included), so nothing grows.
    expect(held[2]).toBe(held[1]);
  });
});
