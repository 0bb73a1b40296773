/**
 * WebGPU meta-iterations through gpu.js's own kernel runner against the direct dispatcher
 * (`src/backends/gpujs/webgpu-direct.ts`): the sinusoid and conv4 steps of `bench/gpujs-steps.ts` (MAML order 2,
 * Adam, loss read back), fusion on in both. Each measurement is its own process (two runners in one process
 * share one device, and each one's queued work lands in the other's timings), alternating runner and direct,
 * round-robin. Prints per warm meta-iteration the wall milliseconds (median over rounds of each process's
 * median, and the range), dispatches and compiles, and for the direct path its submits, new bind groups, new
 * pipelines and output buffers reused from its pool.
 * Usage (the WebGPU runtime's node first in PATH):
 * `PATH=$HOME/.cache/metatape/webgpu-runtime/bin:$PATH npx tsx bench/gpujs-direct.ts [kind ...] [rounds]`
 * (default: sinusoid conv4, 3 rounds; each process runs 3 warm-up and then 3 timed iterations).
 */
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { diffCounters } from '../src/backends/backend.js';
import { createGpujsBackend } from '../src/backends/gpujs/index.js';
import { STEP_KINDS, STEP_TASKS, type StepKind, stepper } from './gpujs-steps.js';

const RUNNERS = ['runner', 'direct'] as const;
type Runner = (typeof RUNNERS)[number];
const LABEL: Record<Runner, string> = { runner: "gpu.js's runner", direct: 'direct' };
const WARMUP = 3;
const TIMED = 3;

/** What one process measured, per warm iteration. */
interface Measured {
  readonly ms: number;
  readonly dispatches: number;
  readonly compiles: number;
  readonly submits?: number;
  readonly bindGroups?: number;
  readonly pipelines?: number;
  readonly poolHits?: number;
  readonly poolMisses?: number;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The child: one runner, one kind; prints a Measured as JSON on its last line. */
async function measureOne(runner: Runner, kind: StepKind): Promise<void> {
  const b = await createGpujsBackend(
    'webgpu',
    runner === 'direct' ? { fusion: true } : { fusion: true, webgpuDevice: undefined },
  );
  if ((runner === 'direct') !== b.directDispatch) throw new Error(`could not get the ${runner} path`);
  const step = stepper(b, kind);
  for (let i = 0; i < WARMUP; i++) await step();
  const c0 = b.counters;
  const w0 = b.webgpuStats;
  const ms: number[] = [];
  for (let i = 0; i < TIMED; i++) {
    const t0 = performance.now();
    await step();
    ms.push(performance.now() - t0);
  }
  const c = diffCounters(b.counters, c0);
  const w = b.webgpuStats;
  const per = (x: number) => x / TIMED;
  const out: Measured = {
    ms: median(ms),
    dispatches: per(c.dispatches),
    compiles: per(c.compiles),
    ...(w && w0
      ? {
          submits: per(w.submits - w0.submits),
          bindGroups: per(w.bindGroups - w0.bindGroups),
          pipelines: per(w.pipelines - w0.pipelines),
          poolHits: per(w.poolHits - w0.poolHits),
          poolMisses: per(w.poolMisses - w0.poolMisses),
        }
      : {}),
  };
  await b.destroy();
  console.log(JSON.stringify(out));
  process.exit(0);
}

function spawnOne(runner: Runner, kind: StepKind): Measured {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, [...process.execArgv, self, '--one', runner, kind], {
    encoding: 'utf8',
    timeout: 600_000,
  });
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || !last.startsWith('{'))
    throw new Error(`${runner} ${kind} failed (status ${r.status}):\n${r.stderr.slice(-2000)}`);
  return JSON.parse(last) as Measured;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--one') return measureOne(args[1] as Runner, args[2] as StepKind);
  const kinds = args.filter((a): a is StepKind => (STEP_KINDS as readonly string[]).includes(a));
  const rounds = Number(args.find((a) => /^\d+$/.test(a)) ?? 3);
  console.log(
    `load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  for (const kind of kinds.length > 0 ? kinds : STEP_KINDS) {
    const got: Record<Runner, Measured[]> = { runner: [], direct: [] };
    for (let r = 0; r < rounds; r++) for (const runner of RUNNERS) got[runner].push(spawnOne(runner, kind));
    console.log(
      `\n${kind} o2 (${STEP_TASKS[kind]} tasks), gpujs:webgpu, ${rounds} rounds of one process per runner, alternating`,
    );
    console.log(
      '| runner | ms/it median | range | dispatches | compiles | submits | new bind groups | new pipelines | pool hits / misses |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const runner of RUNNERS) {
      const m = got[runner];
      const last = m.at(-1)!;
      const ms = m.map((x) => x.ms);
      const f = (x: number | undefined) => (x === undefined ? 'one per dispatch' : x.toFixed(1));
      console.log(
        `| ${LABEL[runner]} | ${median(ms).toFixed(1)} | ${Math.min(...ms).toFixed(1)}-${Math.max(...ms).toFixed(1)} | ` +
          `${last.dispatches.toFixed(1)} | ${last.compiles.toFixed(1)} | ${f(last.submits)} | ${f(last.bindGroups)} | ` +
          `${last.pipelines === undefined ? '-' : last.pipelines.toFixed(1)} | ` +
          `${last.poolHits === undefined ? '-' : `${last.poolHits.toFixed(1)} / ${last.poolMisses!.toFixed(1)}`} |`,
      );
    }
    const ratio = median(got.runner.map((x) => x.ms)) / median(got.direct.map((x) => x.ms));
    console.log(`direct: ${ratio.toFixed(2)}x gpu.js's runner (median ms/it)`);
  }
}

await main();
