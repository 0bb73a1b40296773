import { type CheckGradsOptions, checkGrads, fromArray, type Rng, type Tensor } from '../../src/index.js';
import type { MetaLearner } from '../../src/meta/learner.js';
import type { TaskBatch } from '../../src/meta/tasks.js';
import type { Params } from '../../src/nn/params.js';

/**
 * A classification meta-batch of random inputs: `tasks` tasks, `support` and `query` examples per task of
 * `features` uniform values (float32, or float64 when `float64` is set), labels cycling through `ways` classes.
 */
export function randomEpisodes(
  rng: Rng,
  shape: { tasks: number; support: number; query: number; features: number; ways: number },
  float64 = false,
): TaskBatch {
  const { tasks, features, ways } = shape;
  const inputs = (n: number) => {
    const values = Array.from({ length: tasks * n * features }, () => rng.uniform());
    return fromArray(float64 ? Float64Array.from(values) : Float32Array.from(values), [tasks, n, features]);
  };
  const labels = (n: number) =>
    fromArray(
      Int32Array.from({ length: tasks * n }, (_, i) => i % ways),
      [tasks, n],
    );
  return {
    supportX: inputs(shape.support),
    supportY: labels(shape.support),
    queryX: inputs(shape.query),
    queryY: labels(shape.query),
  };
}

/** Throws (naming the parameter) unless the learner's meta-gradient at `meta` matches central differences. */
export function checkMetaGradient(
  learner: MetaLearner,
  meta: Params,
  batch: TaskBatch,
  options: CheckGradsOptions,
): void {
  const names = Object.keys(meta);
  const f = (...ps: Tensor[]) =>
    learner.metaLoss(Object.fromEntries(names.map((n, i) => [n, ps[i]!])), batch).loss;
  checkGrads(
    f,
    names.map((n) => meta[n]!),
    options,
  );
}

/** Tasks `[start, start + count)` of a meta-batch, copied: one slice of it, as the task threads cut it. */
export function taskSlice(batch: TaskBatch, start: number, count: number): TaskBatch {
  const cut = (t: Tensor) => {
    const per = t.size / t.shape[0]!;
    return fromArray(t.dataSync().slice(start * per, (start + count) * per), [count, ...t.shape.slice(1)]);
  };
  return {
    supportX: cut(batch.supportX),
    supportY: cut(batch.supportY),
    queryX: cut(batch.queryX),
    queryY: cut(batch.queryY),
  };
}
