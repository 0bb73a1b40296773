/**
 * The worker side of {@link MetaGradientThreads} (src/meta/threads.ts): builds its own learner from the
 * recipe, then answers jobs (the meta-gradient of a slice of a meta-batch) one at a time. Every failure is
 * caught and sent back as a message, so the main thread, which waits synchronously, always hears back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { fromArray } from '../ops/creation.js';
import type { Params } from '../tensor/params.js';
import type { Tensor } from '../tensor/tensor.js';
import type { MetaLearner } from './learner.js';
import type { Job, JobResult, ReadyMessage, WireTensor, WorkerInit } from './threadProtocol.js';

const init = workerData as WorkerInit;
const done = new Int32Array(init.signal);
const port = parentPort!;

const toTensor = (w: WireTensor): Tensor => fromArray(w.data, w.shape);

/** A copy of the tensor's data (never its storage, which may live in WebAssembly memory), ready to transfer. */
const toWire = (t: Tensor): WireTensor => ({
  data: t.dataSync().slice(),
  shape: [...t.shape],
  dtype: t.dtype,
});

const message = (err: unknown): string =>
  err instanceof Error ? `${err.name}: ${err.message}${err.stack ? `\n${err.stack}` : ''}` : String(err);

function run(learner: MetaLearner, job: Job): JobResult {
  const meta: Params = {};
  for (const [name, w] of Object.entries(job.meta)) meta[name] = toTensor(w);
  const b = job.batch;
  const { loss, metric, grads } = learner.metaGradient(
    meta,
    {
      supportX: toTensor(b.supportX),
      supportY: toTensor(b.supportY),
      queryX: toTensor(b.queryX),
      queryY: toTensor(b.queryY),
    },
    job.progress,
  );
  const out: Record<string, WireTensor> = {};
  for (const [name, g] of Object.entries(grads)) out[name] = toWire(g);
  return { ok: true, loss: loss.item(), metric: metric.item(), grads: out };
}

function reply(result: JobResult): void {
  const transfer = result.ok ? Object.values(result.grads).map((g) => g.data.buffer as ArrayBuffer) : [];
  init.reply.postMessage(result, transfer);
  // The main thread blocks in Atomics.wait on this count; the message is already queued when it wakes.
  Atomics.add(done, 0, 1);
  Atomics.notify(done, 0);
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
