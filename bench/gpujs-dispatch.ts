/**
 * Host time per tiny dispatch on a gpu.js mode: `n` 256-element adds (fusion off, so each add is one kernel),
 * independent and then chained: the time until the last is issued, and until a read of the last returns (less
 * the read alone), per dispatch, median over rounds. On WebGPU over lavapipe the "device" runs on the same cores, but a 256-element
 * add is a few hundred nanoseconds of shader work, so what this measures is the host's cost of issuing a kernel:
 * the backend's bookkeeping, gpu.js's run, and Dawn's buffer, bind-group, encoder and submit calls.
 * Usage: `npx tsx bench/gpujs-dispatch.ts [mode] [n] [rounds]` (default webgpu 400 9). Run webgpu with the WebGPU
 * runtime's node first in PATH (`PATH=$HOME/.cache/metatape/webgpu-runtime/bin:$PATH`).
 */
import type { Backend, KernelTensor } from '../src/backends/backend.js';
import { createGpujsBackend, type GpujsMode, isGpujsMode } from '../src/backends/gpujs/index.js';

const SIZE = 256;

function tensor(b: Backend, seed: number): KernelTensor {
  const v = Float32Array.from({ length: SIZE }, (_, i) => ((i * 7 + seed) % 13) / 13);
  return { handle: b.upload(v, [SIZE], 'float32'), shape: [SIZE], dtype: 'float32' };
}

/**
 * Milliseconds for `n` adds: the host's (until the last one is issued: gpu.js's runner issues an add whose
 * inputs exist at once, so independent adds measure its per-call cost), and to the read that waits for them.
 * `chained`: each add reads the previous one's result.
 */
async function adds(
  b: Backend,
  n: number,
  x0: KernelTensor,
  y: KernelTensor,
  chained: boolean,
): Promise<[number, number]> {
  const t0 = performance.now();
  let x = x0;
  const made: KernelTensor[] = [];
  for (let i = 0; i < n; i++) {
    const t: KernelTensor = {
      handle: b.binary('add', chained ? x : x0, y, [SIZE]),
      shape: [SIZE],
      dtype: 'float32',
    };
    made.push(t);
    x = t;
  }
  const host = performance.now() - t0;
  await b.read(x);
  const wall = performance.now() - t0;
  for (const t of made) b.dispose?.(t.handle);
  return [host, wall];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const [modeArg = 'webgpu', nArg = '400', roundsArg = '9'] = process.argv.slice(2);
  if (!isGpujsMode(modeArg)) throw new Error(`unknown gpu.js mode ${modeArg}`);
  const mode: GpujsMode = modeArg;
  const n = Number(nArg);
  const rounds = Number(roundsArg);
  const b = await createGpujsBackend(mode, { fusion: false });
  const x0 = tensor(b, 1);
  const y = tensor(b, 2);
  for (const chained of [false, true]) {
    // Warm-up: compiles the add kernel and fills every cache.
    await adds(b, n, x0, y, chained);
    const host: number[] = [];
    const wall: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const [h1, w1] = await adds(b, n, x0, y, chained);
      const [, w0] = await adds(b, 0, x0, y, chained);
      host.push((h1 * 1000) / n);
      wall.push(((w1 - w0) * 1000) / n);
    }
    console.log(
      `gpujs:${mode}, ${n} ${chained ? 'chained' : 'independent'} ${SIZE}-element adds, median of ${rounds} ` +
        `rounds: host ${median(host).toFixed(1)} µs per dispatch (range ${Math.min(...host).toFixed(1)}-` +
        `${Math.max(...host).toFixed(1)}), to the read ${median(wall).toFixed(1)} µs per dispatch`,
    );
  }
  await (b as { destroy?: () => Promise<void> }).destroy?.();
  // Dawn keeps the process alive for minutes after its device is done with (gpu.js's runner as well).
  process.exit(0);
}

await main();
