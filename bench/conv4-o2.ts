/**
 * conv4 o2 (2 tasks, Adam, loss read back) ms per warm meta-iteration on one gpu.js mode, mirroring
 * bench/gpujs-steps.ts's stepper. Usage: npx tsx bench/conv4-o2.ts [mode] [warmup] [timed]
 */

import { createGpujsBackend } from '../src/backends/gpujs/index.js';
import { getBackend, useBackend } from '../src/backends/registry.js';
import { fromArray, Rng } from '../src/index.js';
import { adam } from '../src/optim/adam.js';
import { applyUpdates } from '../src/optim/tree.js';
import { metaSetup } from './fairWorker.js';

const mode = (process.argv[2] ?? 'webgpu') as 'webgpu';
const warm = Number(process.argv[3] ?? 3);
const timed = Number(process.argv[4] ?? 3);
const b = await createGpujsBackend(mode, {});
useBackend(b);
const rng = new Rng(1);
const { model, learner } = metaSetup({ kind: 'conv4', order: 2, innerSteps: 1 });
let meta = learner.initMetaParams(model.initParams(rng));
const tx = adam({ lr: 1e-3 });
let state = tx.init(meta);
const tasks = 2;
const floats = (shape: number[]) =>
  fromArray(
    Float32Array.from({ length: shape.reduce((a, c) => a * c, 1) }, () => rng.uniformIn(-1, 1)),
    shape,
  );
const labels = () =>
  fromArray(
    Int32Array.from({ length: tasks * 5 }, (_, i) => i % 5),
    [tasks, 5],
  );
const batch = {
  supportX: floats([tasks, 5, 28, 28, 1]),
  supportY: labels(),
  queryX: floats([tasks, 5, 28, 28, 1]),
  queryY: labels(),
};
const ms: number[] = [];
const losses: number[] = [];
for (let i = 0; i < warm + timed; i++) {
  const t0 = performance.now();
  const g = learner.metaGradient(meta, batch);
  const u = tx.update(g.grads, state, meta);
  meta = applyUpdates(meta, u.updates);
  state = u.state;
  const recorded = performance.now() - t0;
  const l = await g.loss.data();
  losses.push(l[0]!);
  const dt = performance.now() - t0;
  if (i >= warm) ms.push(dt);
  console.error(
    `it ${i}: ${dt.toFixed(1)} ms (host recorded the step in ${recorded.toFixed(1)} ms) loss ${l[0]}`,
  );
}
ms.sort((a, c) => a - c);
console.log(JSON.stringify({ name: b.name, median: ms[Math.floor(ms.length / 2)], min: ms[0], ms, losses }));
useBackend(getBackend());
process.exit(0);
