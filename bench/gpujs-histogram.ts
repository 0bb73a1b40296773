/**
 * Which kernels a warm second-order meta-iteration still dispatches on a gpu.js backend with fusion on: a
 * histogram of (backend method that asked for the kernel, kernel kind) per iteration, for the sinusoid and the
 * conv4 step of `bench/gpujs-steps.ts`. A fused kernel is attributed to the method whose input needed it
 * computed (`matmul <- fused`: a pending elementwise value that matmul had to materialize), or to `read` for the
 * loss read at the end of a step. Also prints the process's CPU time per iteration (host modes compute on the CPU).
 * Usage: `npx tsx bench/gpujs-histogram.ts [mode] [kind ...] [iterations] [arrays=N]` (default: webasm, both
 * kinds, 5 sinusoid or 2 conv4 iterations after 3 warm-up ones; `arrays=9` bounds a fused kernel's inputs as
 * the WebGPU runtime here does, 10 storage buffers, so that webasm reproduces its dispatch counts 4x faster).
 * The compiles of every step are printed too: a kernel first compiled after the warm-up breaks the contract
 * that a warm step compiles nothing, even when the measured iterations happen to miss it.
 */
import { createGpujsBackend, type GpujsMode, isGpujsMode } from '../src/backends/gpujs/index.js';
import { STEP_KINDS, type StepKind, stepper } from './gpujs-steps.js';

/** Backend methods that dispatch (or materialize their inputs); the histogram's first column. */
const METHODS = [
  'upload',
  'read',
  'readSync',
  'fill',
  'unary',
  'binary',
  'where',
  'reduce',
  'matmul',
  'transpose',
  'broadcastTo',
  'slice',
  'concat',
  'pad',
  'gather',
  'scatterAdd',
  'cast',
  'adamMoments',
] as const;

/** The kind of a kernel from its cache key: the op before the first `|`, with fused sums and matmuls told apart. */
function kindOf(key: string): string {
  const op = key.slice(0, key.indexOf('|'));
  if (op !== 'fused') return op;
  return key.includes('for (let p = 0;') ? 'fused-matmul' : key.includes('acc = acc') ? 'fused-sum' : op;
}

async function histogram(
  mode: GpujsMode,
  kind: StepKind,
  iterations: number,
  arrays: number | undefined,
): Promise<void> {
  const b = await createGpujsBackend(mode, { fusion: true, ...(arrays ? { fusionArrays: arrays } : {}) });
  const counts = new Map<string, number>();
  let recording = false;
  const stack: string[] = [];
  // Wrap every public method to know who is dispatching, and the private dispatch to count.
  const target = b as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const m of METHODS) {
    // adamMoments is optional (absent with fusion off, and before the backend had it).
    if (typeof target[m] !== 'function') continue;
    const f = target[m]!.bind(b);
    target[m] = (...args: unknown[]) => {
      stack.push(m);
      try {
        return f(...args);
      } finally {
        stack.pop();
      }
    };
  }
  const dispatch = target.dispatch!.bind(b);
  target.dispatch = (...args: unknown[]) => {
    if (recording) {
      const spec = args[0] as { key: string };
      const label = `${stack[0] ?? '?'} <- ${kindOf(spec.key)}`;
      counts.set(label, (counts.get(label) ?? 0) + 1);
    }
    return dispatch(...args);
  };
  try {
    const step = stepper(b, kind);
    const perStep: number[] = [];
    const timed = async () => {
      const c = b.counters.compiles;
      await step();
      perStep.push(b.counters.compiles - c);
    };
    for (let i = 0; i < 3; i++) await timed();
    const before = b.counters;
    recording = true;
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < iterations; i++) await timed();
    const cpu = process.cpuUsage(cpu0);
    recording = false;
    const total = (b.counters.dispatches - before.dispatches) / iterations;
    const compiles = (b.counters.compiles - before.compiles) / iterations;
    // CPU time (user + system) rather than wall time: the machine this runs on is shared and loaded.
    const cpuMs = (cpu.user + cpu.system) / 1000 / iterations;
    console.log(
      `\n${kind} o2 on ${b.name}${arrays ? ` (${arrays} arrays)` : ''}: ${total} dispatches, ${compiles} compiles, ${cpuMs.toFixed(1)} ms CPU per meta-iteration`,
    );
    console.log(`compiles per step: ${perStep.join(' ')}`);
    console.log('| method <- kernel | per iteration |\n|---|---:|');
    for (const [label, n] of [...counts].sort((x, y) => y[1] - x[1]))
      console.log(`| ${label} | ${n / iterations} |`);
  } finally {
    await b.destroy();
  }
}

const args = process.argv.slice(2);
const mode: GpujsMode = args.find(isGpujsMode) ?? 'webasm';
const asked = args.filter((a) => (STEP_KINDS as readonly string[]).includes(a)) as StepKind[];
const count = args.map(Number).find((n) => Number.isInteger(n) && n > 0);
const arrays = args.flatMap((a) => (a.startsWith('arrays=') ? [Number(a.slice(7))] : []))[0];
for (const kind of asked.length > 0 ? asked : STEP_KINDS)
  await histogram(mode, kind, count ?? (kind === 'conv4' ? 2 : 5), arrays);
process.exit(0);
