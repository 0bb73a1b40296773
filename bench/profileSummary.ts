/**
 * "Where the time goes": self time of a V8 CPU profile (`node --cpu-prof`) grouped into the cost classes of
 * bench/PROFILE.md. Only the steady state counts: samples between the first and the last one taken inside
 * the worker's timed loop (`runMeta` of bench/fairWorker.ts, or a worker thread's jobs), so start-up (module loading, compilation, the
 * fixture read) and the idle loader thread stay out, while garbage collection in between stays in.
 *
 * Usage: tsx bench/profileSummary.ts <file.cpuprofile | dir of them> [--top N]
 * A directory holds one profile per thread; the one with the most samples in `runMeta` is summarised.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** The cost classes, in table order. */
export const CLASSES = [
  'op dispatch / engine',
  'tape bookkeeping',
  'elementwise: wasm SIMD (+ copies in/out)',
  'elementwise: JS loops',
  'elementwise: native (npm run setup:native)',
  'matmul (wasm or native BLAS, + JS setup)',
  'reductions',
  'layout copies (broadcastTo, transpose, slice, concat)',
  'allocation',
  'GC',
  'other (meta, nn, optim, bench, V8/Node)',
] as const;
export type CostClass = (typeof CLASSES)[number];

const ALLOC_FUNCTIONS = new Set([
  'createUnsafeBuffer',
  'createUnsafeArrayBuffer',
  'FastBuffer',
  'allocUnsafeSlow',
  'allocUninit',
  'allocArray',
  'Float32Array',
  'Float64Array',
  'Int32Array',
  'ArrayBuffer',
]);

/** A frame of a wasm function or of V8's JS-to-wasm call wrapper. */
const isWasmFrame = (f: CallFrame): boolean =>
  f.url.startsWith('wasm://') || f.functionName.startsWith('js-to-wasm');

/** The class of one frame; `caller` is the nearest JS frame above a wasm frame (wasm has no file of its own). */
function classify(f: CallFrame, caller: CallFrame | undefined): CostClass {
  const name = f.functionName;
  const url = f.url;
  if (name === '(garbage collector)') return 'GC';
  if (ALLOC_FUNCTIONS.has(name)) return 'allocation';
  if (isWasmFrame(f)) {
    const c = caller?.url ?? '';
    if (c.includes('/matmul')) return 'matmul (wasm or native BLAS, + JS setup)';
    if (caller?.functionName === 'colsum' || c.includes('/cpu/reduce')) return 'reductions';
    return 'elementwise: wasm SIMD (+ copies in/out)';
  }
  // The per-op loops that src/backends/cpu/elementwise.ts generates with `new Function` have no URL.
  if (url === '' && name === '(anonymous)') return 'elementwise: JS loops';
  if (url === '' && name.startsWith('(')) return 'other (meta, nn, optim, bench, V8/Node)';
  if (url === '') return 'elementwise: JS loops';
  // The native addon's loops count as self time of their JS wrappers (a native frame has no JS of its own).
  if (url.includes('/backends/cpu/native/elementwise'))
    return name === 'colsum' ? 'reductions' : 'elementwise: native (npm run setup:native)';
  if (url.includes('/backends/cpu/elementwiseWasm'))
    return name === 'colsum' ? 'reductions' : 'elementwise: wasm SIMD (+ copies in/out)';
  if (url.includes('/backends/cpu/elementwise')) return 'elementwise: JS loops';
  if (url.includes('/backends/cpu/matmul') || url.includes('/wasm/matmulWasm'))
    return 'matmul (wasm or native BLAS, + JS setup)';
  if (url.includes('/backends/cpu/reduce')) return 'reductions';
  if (url.includes('/backends/cpu/strided') || url.includes('/backends/cpu/indexing'))
    return 'layout copies (broadcastTo, transpose, slice, concat)';
  if (url.includes('/backends/cpu/cpuBackend')) {
    return ['broadcastTo', 'transpose', 'slice', 'concat', 'pad'].includes(name)
      ? 'layout copies (broadcastTo, transpose, slice, concat)'
      : 'op dispatch / engine';
  }
  if (url.includes('/backends/cpu/alloc') || url.includes('node:internal/buffer')) return 'allocation';
  if (url.includes('/src/autodiff/')) return 'tape bookkeeping';
  if (url.includes('/src/ops/') || url.includes('/src/tensor/') || url.includes('/src/backends/'))
    return 'op dispatch / engine';
  return 'other (meta, nn, optim, bench, V8/Node)';
}

export interface Summary {
  totalMs: number;
  byClass: Map<CostClass, number>;
  byFunction: Map<string, number>;
}

/**
 * The frames whose samples count: the bench worker's timed loop, or, in a worker thread's profile of a
 * `trainer.threads` run, the job function of src/meta/threadWorker.ts.
 */
const isTimedLoop = (f: CallFrame): boolean =>
  f.functionName === 'runMeta' || (f.functionName === 'run' && /threadWorker\.[jt]s$/.test(f.url));

/** Steady-state self time of one profile by class and by function (ms). */
export function summarise(p: CpuProfile): Summary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const inLoop = new Map<number, boolean>();
  const underRunMeta = (id: number): boolean => {
    const known = inLoop.get(id);
    if (known !== undefined) return known;
    const n = byId.get(id)!;
    const up = parent.get(id);
    const v = isTimedLoop(n.callFrame) || (up !== undefined && underRunMeta(up));
    inLoop.set(id, v);
    return v;
  };
  const times: number[] = [];
  let t = 0;
  for (const d of p.timeDeltas) {
    t += d;
    times.push(t);
  }
  let first = -1;
  let last = -1;
  p.samples.forEach((id, i) => {
    if (!underRunMeta(id)) return;
    if (first < 0) first = i;
    last = i;
  });
  const byClass = new Map<CostClass, number>(CLASSES.map((c) => [c, 0]));
  const byFunction = new Map<string, number>();
  let totalMs = 0;
  for (let i = Math.max(first, 0); i <= last; i++) {
    const n = byId.get(p.samples[i]!)!;
    if (n.callFrame.functionName === '(idle)') continue;
    // A sample's weight is the time until the next one.
    const ms = ((times[i + 1] ?? times[i]!) - times[i]!) / 1000;
    let up = parent.get(n.id);
    while (up !== undefined && isWasmFrame(byId.get(up)!.callFrame)) up = parent.get(up);
    const caller = up === undefined ? undefined : byId.get(up)!.callFrame;
    const cls = classify(n.callFrame, caller);
    byClass.set(cls, byClass.get(cls)! + ms);
    const key = `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(src|bench)\//, '$1/')}${isWasmFrame(n.callFrame) ? ` (from ${caller?.functionName})` : ''}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + ms);
    totalMs += ms;
  }
  return { totalMs, byClass, byFunction };
}

function pick(path: string): CpuProfile {
  if (!statSync(path).isDirectory()) return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  let best: { p: CpuProfile; ms: number } | undefined;
  for (const f of readdirSync(path).filter((x) => x.endsWith('.cpuprofile'))) {
    const p = JSON.parse(readFileSync(join(path, f), 'utf8')) as CpuProfile;
    const ms = summarise(p).totalMs;
    if (!best || ms > best.ms) best = { p, ms };
  }
  if (!best) throw new Error(`${path}: no .cpuprofile files`);
  return best.p;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const path = args.find((a) => !a.startsWith('--'));
  if (!path) {
    console.error('usage: tsx bench/profileSummary.ts <file.cpuprofile | dir> [--top N]');
    process.exit(2);
  }
  const topAt = args.indexOf('--top');
  const top = topAt >= 0 ? Number(args[topAt + 1]) : 15;
  const s = summarise(pick(path));
  const pct = (ms: number) => `${((100 * ms) / s.totalMs).toFixed(1)}%`;
  console.log(`steady-state self time ${s.totalMs.toFixed(0)} ms\n\n| class | ms | share |\n|---|---:|---:|`);
  for (const c of CLASSES)
    console.log(`| ${c} | ${s.byClass.get(c)!.toFixed(0)} | ${pct(s.byClass.get(c)!)} |`);
  console.log(`\n| top functions (self) | ms | share |\n|---|---:|---:|`);
  for (const [k, ms] of [...s.byFunction].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`| \`${k}\` | ${ms.toFixed(0)} | ${pct(ms)} |`);
}
