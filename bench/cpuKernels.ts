/**
 * CPU time per element of the CPU backend's float32 kernels at the sizes MAML uses, one variant against
 * another (issue 13). Usage: `tsx bench/cpuKernels.ts [adam] [elementwise]` (both by default).
 *
 * Each cell is the median over 7 repetitions of the process's CPU time (user + system, all threads) divided
 * by the elements processed, each repetition ~40 ms of work on outputs allocated once (so allocation is not
 * timed). CPU time rather than wall time, because the development machine is shared and loaded.
 */
import { pathToFileURL } from 'node:url';
import type { AdamConstants } from '../src/backends/backend.js';
import { adamF32 } from '../src/backends/cpu/fused.js';
import { adamWasm } from '../src/backends/cpu/wasm/adamWasm.js';

/** A deterministic generator (mulberry32). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function random(n: number, seed: number, positive = false): Float32Array {
  const next = rng(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = positive ? next() : next() * 2 - 1;
  return x;
}

/** Median CPU nanoseconds per element of `run`, which processes `n` elements per call. */
export function nsPerElement(run: () => void, n: number, reps = 7, targetMs = 40): number {
  // Calibrate the calls per repetition (and warm the JIT) on a first timed burst.
  let calls = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) run();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (ms > targetMs / 4) {
      calls = Math.max(1, Math.round((calls * targetMs) / ms));
      break;
    }
    calls *= 4;
  }
  const samples: number[] = [];
  for (let r = 0; r < reps; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < calls; i++) run();
    const c = process.cpuUsage(c0);
    samples.push(((c.user + c.system) * 1000) / (calls * n));
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1]!;
}

/** One row per size, one column per variant: ns per element. */
function table(title: string, sizes: number[], variants: Record<string, (n: number) => () => void>): void {
  const names = Object.keys(variants);
  console.log(`\n${title} (CPU ns per element, median of 7)`);
  console.log(['elements', ...names].join('\t'));
  // One untimed pass per variant first, so the first row does not pay for the JIT's warm-up.
  for (const name of names) nsPerElement(variants[name]!(sizes[0]!), sizes[0]!, 1);
  for (const n of sizes) {
    const cells = names.map((name) => nsPerElement(variants[name]!(n), n).toFixed(3));
    console.log([String(n), ...cells].join('\t'));
  }
}

/** Adam's update: the scalar JS kernel against the SIMD one. Sizes: biases, sinusoid and Omniglot layers. */
export function benchAdam(): void {
  const c: AdamConstants = { s1: 0.1, s2: 0.001, epsRoot: 0, epsHat: 1e-8, scale: -1e-3 };
  const setup = (n: number) => ({
    g: random(n, 1),
    m0: random(n, 2),
    v0: random(n, 3, true),
    m: new Float32Array(n),
    v: new Float32Array(n),
    u: new Float32Array(n),
  });
  const sizes = [16, 32, 40, 48, 64, 128, 256, 1600, 8192, 32768, 200704, 246597];
  table('adamMoments float32', sizes, {
    'scalar JS': (n) => {
      const a = setup(n);
      return () => adamF32(a.g, a.m0, a.v0, c, a.m, a.v, a.u);
    },
    'wasm SIMD': (n) => {
      const a = setup(n);
      return () => adamWasm!.update(a.g, a.m0, a.v0, c, a.m, a.v, a.u);
    },
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const wanted = process.argv.slice(2);
  if (wanted.length === 0 || wanted.includes('adam')) benchAdam();
}
