/**
 * What splitting one product over kernel threads buys, straight through the native addon: microseconds per
 * sgemm at the Omniglot MLP's shapes (its [160, 784] x [784, 256] first layer and two smaller ones), with a
 * few microseconds of JavaScript between calls as in a meta-gradient. Prints the median, 90th percentile and
 * mean of 2000 calls after 200. Run it with another process on the second core to see what a late helper
 * costs.
 * Usage: `taskset -c 0,1 npx tsx bench/kernelThreads.ts [threads] [addon.node]` (default 2 threads, the addon
 * `npm run setup:native` built).
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

interface Addon {
  setKernelThreads(n: number): number;
  gemm(...args: unknown[]): void;
}

const threads = Number(process.argv[2] ?? 2);
const path =
  process.argv[3] ?? fileURLToPath(new URL('../build/native/metatape_native.node', import.meta.url));
const addon = createRequire(import.meta.url)(path) as Addon;
addon.setKernelThreads(threads);

const SHAPES: readonly (readonly [number, number, number])[] = [
  [160, 256, 784],
  [160, 128, 256],
  [160, 64, 64],
];
const rows: string[] = [];
for (const [m, n, k] of SHAPES) {
  const a = new Float32Array(m * k).fill(0.5);
  const b = new Float32Array(k * n).fill(0.25);
  const c = new Float32Array(m * n);
  const pairs = new Float64Array([0, 0]);
  const run = () => addon.gemm(a, b, c, m, n, k, false, false, pairs, 1);
  for (let i = 0; i < 200; i++) run();
  const us: number[] = [];
  let sink = 0;
  for (let r = 0; r < 2000; r++) {
    const t = process.hrtime.bigint();
    run();
    us.push(Number(process.hrtime.bigint() - t) / 1e3);
    // The JavaScript between two kernels of a meta-gradient (a few microseconds).
    for (let j = 0; j < 2000; j++) sink += Math.sqrt(j);
  }
  us.sort((p, q) => p - q);
  const mean = us.reduce((s, t) => s + t, 0) / us.length;
  rows.push(
    `${m}x${n}x${k}: median ${us[1000]!.toFixed(1)}, p90 ${us[1800]!.toFixed(1)}, mean ${mean.toFixed(1)} µs`,
  );
  if (sink < 0) console.log(sink);
}
console.log(`${threads} thread(s), ${path}\n  ${rows.join('\n  ')}`);
