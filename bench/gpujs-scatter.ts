/**
 * What conv's gradient scatter costs one conv4 5-way 1-shot second-order MAML meta-iteration on a gpu.js mode
 * (fusion on; bench/gpujs-steps.ts's step: 2 tasks, one inner step, Adam): each scatterAdd call's shapes and
 * loop steps, against the `outputs x indices` a scan of the whole index list costs, and the process's CPU time
 * per warm iteration (user + system; on a shared machine CPU time, not wall time, is the comparable figure).
 *
 *   npx tsx bench/gpujs-scatter.ts [mode] [iterations]      # default: webasm 3
 *
 * The backend's own loop-step count (`stats.scatterLoopSteps`) is printed where it exists, so the script also
 * runs on commits before the inverse index (there only the scan count applies).
 */
import type { KernelTensor } from '../src/backends/backend.js';
import {
  createGpujsBackend,
  type GpujsMode,
  isGpujsMode,
  releaseWebGPU,
} from '../src/backends/gpujs/index.js';
import { type Shape, sizeOf } from '../src/tensor/shape.js';
import { stepper } from './gpujs-steps.js';

const modeArg = process.argv[2] ?? 'webasm';
if (!isGpujsMode(modeArg)) throw new Error(`unknown gpu.js mode '${modeArg}'`);
const mode: GpujsMode = modeArg;
const iterations = Number(process.argv[3] ?? 3);

const b = await createGpujsBackend(mode, { fusion: true });
/** The backend's loop-step counter, absent before the inverse index existed. */
const loopSteps = () => (b.stats as { scatterLoopSteps?: number }).scatterLoopSteps;
const calls: { shape: string; scan: number; steps: number | undefined }[] = [];
const scatterAdd = b.scatterAdd.bind(b);
b.scatterAdd = (u: KernelTensor, i: KernelTensor, axis: number, outShape: Shape) => {
  const before = loopSteps();
  const out = scatterAdd(u, i, axis, outShape);
  const after = loopSteps();
  calls.push({
    shape: `updates ${u.shape.join('x')} -> ${outShape.join('x')} (axis ${axis}, indices ${i.shape.join('x')})`,
    scan: sizeOf(outShape) * sizeOf(i.shape),
    steps: before === undefined || after === undefined ? undefined : after - before,
  });
  return out;
};

const step = stepper(b, 'conv4');
// Three warm-up iterations (compiles settle at the fourth step with fusion: see measureSteps).
for (let k = 0; k < 3; k++) await step();
const cpuMs: number[] = [];
const c0 = b.counters;
for (let k = 0; k < iterations; k++) {
  calls.length = 0;
  const t = process.cpuUsage();
  await step();
  const d = process.cpuUsage(t);
  cpuMs.push((d.user + d.system) / 1000);
}
const c1 = b.counters;

console.log(`conv4 5w1s order-2 meta-iteration on ${b.name}, fusion on, ${iterations} warm iterations`);
console.log('| scatterAdd call | loop steps, scanning every index | loop steps, this backend |');
console.log('|---|---:|---:|');
for (const c of calls) console.log(`| ${c.shape} | ${c.scan} | ${c.steps ?? 'n/a'} |`);
const total = (f: (c: (typeof calls)[number]) => number | undefined) =>
  calls.every((c) => f(c) !== undefined) ? calls.reduce((s, c) => s + f(c)!, 0) : 'n/a';
console.log(`| total per iteration | ${total((c) => c.scan)} | ${total((c) => c.steps)} |`);
const sorted = [...cpuMs].sort((x, y) => x - y);
console.log(
  `CPU ms per iteration: ${cpuMs.map((x) => x.toFixed(0)).join(', ')} (median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)}); ` +
    `dispatches ${(c1.dispatches - c0.dispatches) / iterations}, compiles ${(c1.compiles - c0.compiles) / iterations}, uploads ${(c1.uploads - c0.uploads) / iterations} per iteration`,
);
await b.destroy();
await releaseWebGPU();
process.exit(0);
