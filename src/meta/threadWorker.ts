/**
 * The worker side of {@link MetaGradientThreads} (src/meta/threads.ts): builds its own learner from the
 * recipe, then answers jobs (the meta-gradient of a slice of a meta-batch) one at a time. Every failure is
 * caught and sent back as a message, so the main thread, which waits synchronously, always hears back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { fromArray } from '../ops/creation.js';
import { recycleTensors } from '../ops/releaseScope.js';
import type { Params } from '../tensor/params.js';
import type { MetaLearner } from './learner.js';
import {
  type Job,
  type JobResult,
  type ReadyMessage,
  readInto,
  signalViews,
  slotView,
  type WorkerInit,
} from './threadProtocol.js';

const init = workerData as WorkerInit;
const { state, scalars } = signalViews(init.signal);
const port = parentPort!;

const message = (err: unknown): string =>
  err instanceof Error ? `${err.name}: ${err.message}${err.stack ? `\n${err.stack}` : ''}` : String(err);

function run(learner: MetaLearner, job: Job): JobResult {
  // fromArray copies, so nothing computed here aliases the shared buffers the main thread rewrites next call.
  const meta: Params = {};
  for (const slot of job.metaSlots) meta[slot.name] = fromArray(slotView(job.meta, slot), slot.shape);
  const b: Params = {};
  for (const slot of job.batchSlots) b[slot.name] = fromArray(slotView(job.batch, slot), slot.shape);
  const { loss, metric, grads } = learner.metaGradient(
    meta,
    { supportX: b.supportX!, supportY: b.supportY!, queryX: b.queryX!, queryY: b.queryY! },
    job.progress,
  );
  for (const slot of job.metaSlots) {
    const g = grads[slot.name];
    if (!g) throw new Error(`the meta-gradient has no entry for ${slot.name}`);
    const out = slotView(job.grads, slot);
    if (g.size !== out.length)
      throw new Error(`the gradient of ${slot.name} has ${g.size} elements, the parameter ${out.length}`);
    readInto(g, out);
  }
  const result: JobResult = { ok: true, loss: loss.item(), metric: metric.item() };
  // Everything this job made is dead now (its results are in the shared buffers): recycled, the next job's
  // copies and gradients reuse it instead of being new external memory that V8 collects with pauses.
  recycleTensors('threadWorker', [...Object.values(meta), ...Object.values(b), ...Object.values(grads)], []);
  return result;
}

function reply(result: JobResult): void {
  if (result.ok) {
    scalars[0] = result.loss;
    scalars[1] = result.metric;
    state[1] = 1;
  } else {
    init.reply.postMessage(result);
    state[1] = 0;
  }
  // The main thread blocks in Atomics.wait on this count; the scalars, or the message, are in place when it
  // wakes (Atomics.add orders the writes above before it).
  Atomics.add(state, 0, 1);
  Atomics.notify(state, 0);
}

let learner: MetaLearner | undefined;
try {
  const mod = (await import(init.recipe.module)) as Record<string, unknown>;
  const build = mod[init.recipe.exportName];
  if (typeof build !== 'function')
    throw new Error(`${init.recipe.module} has no exported function ${init.recipe.exportName}`);
  learner = (await build(init.recipe.arg)) as MetaLearner;
  port.postMessage({ ready: true } satisfies ReadyMessage);
} catch (err) {
  port.postMessage({ ready: false, error: message(err) } satisfies ReadyMessage);
}

port.on('message', (job: Job) => {
  let result: JobResult;
  try {
    if (!learner) throw new Error('the worker has no learner (building it failed)');
    result = run(learner, job);
  } catch (err) {
    result = { ok: false, error: message(err) };
  }
  reply(result);
});
