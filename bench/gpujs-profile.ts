/**
 * Where a warm meta-iteration's device time goes on gpujs:webgpu's direct path: every dispatch of one step is
 * replayed on its own and timed (`METATAPE_WEBGPU_PROFILE=1`, see `WebGPUDirect.profile`), then summed by
 * kernel kind (the spec key's head: `matmul`, `fused:matmul`, `fused:gather`, `scatterAddInverse`, ...) and
 * listed per kernel. Usage (the WebGPU runtime's node first in PATH):
 * `METATAPE_WEBGPU_PROFILE=1 npx tsx bench/gpujs-profile.ts [conv4|sinusoid] [warm-up steps] [top]`
 * (`SHOW=n` also prints the n-th kernel's whole key).
 */
import { createGpujsBackend } from '../src/backends/gpujs/index.js';
import { type StepKind, stepper } from './gpujs-steps.js';

const kind = (process.argv[2] ?? 'conv4') as StepKind;
const warm = Number(process.argv[3] ?? 3);
const top = Number(process.argv[4] ?? 20);
if (process.env.METATAPE_WEBGPU_PROFILE !== '1') throw new Error('set METATAPE_WEBGPU_PROFILE=1');
const b = await createGpujsBackend('webgpu', { fusion: true });
if (!b.directDispatch) throw new Error('no direct WebGPU path');
const step = stepper(b, kind);
for (let i = 0; i < warm; i++) await step();
b.startWebgpuProfile();
const t0 = performance.now();
await step();
const wall = performance.now() - t0;
const times = await b.webgpuProfile();
const total = times.reduce((s, t) => s + t.ms, 0);
const byKind = new Map<string, { ms: number; dispatches: number }>();
for (const t of times) {
  const k = t.label.split('|')[0]!;
  const e = byKind.get(k) ?? { ms: 0, dispatches: 0 };
  e.ms += t.ms;
  e.dispatches += t.dispatches;
  byKind.set(k, e);
}
console.log(
  `${kind} o2, gpujs:webgpu: step wall ${wall.toFixed(0)} ms; replayed dispatches ${total.toFixed(0)} ms`,
);
console.log('\n| kind | dispatches | device ms | share |\n|---|---:|---:|---:|');
for (const [k, e] of [...byKind.entries()].sort((a, c) => c[1].ms - a[1].ms))
  console.log(`| ${k} | ${e.dispatches} | ${e.ms.toFixed(1)} | ${((100 * e.ms) / total).toFixed(1)}% |`);
console.log(`\n| kernel (key, cut) | outputs | dispatches | device ms |\n|---|---:|---:|---:|`);
for (const t of times.slice(0, top)) {
  const label = t.label.replace(/\s+/g, ' ').slice(0, 110).replace(/\|/g, '¦');
  console.log(`| ${label} | ${t.outputs} | ${t.dispatches} | ${t.ms.toFixed(1)} |`);
}
// SHOW=<n>: the whole key (a fused kernel's source) of the n-th kernel listed.
const show = process.env.SHOW;
if (show !== undefined) console.log(`\n${times[Number(show)]?.label}`);
await b.destroy();
process.exit(0);
