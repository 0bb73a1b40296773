/**
 * WebGPU meta-iterations through gpu.js's own kernel runner against the direct dispatcher
 * (`src/backends/gpujs/webgpu-direct.ts`), in one process, interleaved round-robin: the sinusoid and conv4
 * steps of `bench/gpujs-steps.ts` (MAML order 2, Adam, loss read back), fusion on in both. Prints per warm
 * meta-iteration the wall milliseconds (median and range), dispatches, compiles, and for the direct path its
 * submits, new bind groups and new pipelines.
 * Usage (the WebGPU runtime's node first in PATH):
 * `PATH=$HOME/.cache/metatape/webgpu-runtime/bin:$PATH npx tsx bench/gpujs-direct.ts [kind ...] [rounds]`
 * (default: sinusoid conv4, 5 rounds).
 */
import { diffCounters } from '../src/backends/backend.js';
import { createGpujsBackend, type GpujsBackend } from '../src/backends/gpujs/index.js';
import { STEP_KINDS, STEP_TASKS, type StepKind, stepper } from './gpujs-steps.js';

interface Variant {
  readonly label: string;
  readonly backend: GpujsBackend;
  readonly step: () => Promise<void>;
  readonly ms: number[];
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function compare(kind: StepKind, rounds: number): Promise<void> {
  const runner = await createGpujsBackend('webgpu', { fusion: true, webgpuDevice: undefined });
  const direct = await createGpujsBackend('webgpu', { fusion: true });
  if (!direct.directDispatch) throw new Error('the direct dispatcher is off (METATAPE_WEBGPU_DIRECT=0?)');
  const variants: Variant[] = [
    { label: "gpu.js's runner", backend: runner, step: stepper(runner, kind), ms: [] },
    { label: 'direct', backend: direct, step: stepper(direct, kind), ms: [] },
  ];
  // Two warm-up iterations each: the first compiles, the second fills pools and caches.
  for (const v of variants) for (let i = 0; i < 2; i++) await v.step();
  const before = variants.map((v) => ({ c: v.backend.counters, w: v.backend.webgpuStats }));
  for (let r = 0; r < rounds; r++)
    for (const v of variants) {
      const t0 = performance.now();
      await v.step();
      v.ms.push(performance.now() - t0);
    }
  console.log(`\n${kind} o2 (${STEP_TASKS[kind]} tasks), gpujs:webgpu, ${rounds} rounds interleaved`);
  console.log(
    '| runner | ms/it median | range | dispatches | compiles | submits | new bind groups | new pipelines |',
  );
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|');
  variants.forEach((v, k) => {
    const c = diffCounters(v.backend.counters, before[k]!.c);
    const w = v.backend.webgpuStats;
    const w0 = before[k]!.w;
    const per = (x: number) => (x / rounds).toFixed(1);
    const direct = w && w0;
    console.log(
      `| ${v.label} | ${median(v.ms).toFixed(1)} | ${Math.min(...v.ms).toFixed(1)}-${Math.max(...v.ms).toFixed(1)} | ` +
        `${per(c.dispatches)} | ${per(c.compiles)} | ${direct ? per(w.submits - w0.submits) : 'one per dispatch'} | ` +
        `${direct ? per(w.bindGroups - w0.bindGroups) : 'one per dispatch'} | ${direct ? per(w.pipelines - w0.pipelines) : '-'} |`,
    );
  });
  const [a, b] = variants.map((v) => median(v.ms));
  console.log(`direct is ${(a! / b!).toFixed(2)}x gpu.js's runner (median ms/it)`);
  for (const v of variants) await v.backend.destroy();
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const kinds = args.filter((a): a is StepKind => (STEP_KINDS as readonly string[]).includes(a));
  const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 5);
  const loadavg = (await import('node:os')).loadavg();
  console.log(`load average ${loadavg.map((x) => x.toFixed(2)).join(' ')}`);
  for (const kind of kinds.length > 0 ? kinds : STEP_KINDS) await compare(kind, rounds);
}

await main();
