/**
 * Tilings of the hand-written WGSL product (src/backends/gpujs/kernels/wgsl-matmul.ts) on WebGPU's direct
 * path, on conv4's largest products: device ms per product (a batch of dispatches ended by one read, after a
 * warm-up), variants alternated per round. Usage (the WebGPU runtime's node first in PATH):
 * `npx tsx bench/gpujs-tiling.ts [rounds] [dispatches]`.
 */
import { createGpujsBackend } from '../src/backends/gpujs/index.js';
import { type MatmulTiling, tiledMatmulWgsl } from '../src/backends/gpujs/kernels/wgsl-matmul.js';
import type { DirectBuffer, WebGPUDirect } from '../src/backends/gpujs/webgpu-direct.js';
import type { Shape } from '../src/tensor/shape.js';

const rounds = Number(process.argv[2] ?? 3);
const per = Number(process.argv[3] ?? 3);
const VARIANTS: MatmulTiling[] = [
  { threads: 8, most: 8, vec4: true, kvec4: true, rowVec4: true },
  { threads: 8, most: 8, vec4: true, kvec4: true, rowVec4: true, unroll4: true },
];
const CASES: [Shape, Shape, boolean, boolean, Shape][] = [
  [[2, 980, 576], [2, 576, 64], false, false, [2, 980, 64]],
  [[2, 980, 576], [2, 980, 64], true, false, [2, 576, 64]],
  [[2, 245, 576], [2, 245, 64], true, false, [2, 576, 64]],
  [[2, 980, 64], [2, 576, 64], false, true, [2, 980, 576]],
  [[2, 3920, 9], [2, 3920, 64], true, false, [2, 9, 64]],
];
const b = await createGpujsBackend('webgpu', { fusion: false });
const direct = (b as unknown as { direct: WebGPUDirect }).direct;
const size = (s: Shape) => s.reduce((x, y) => x * y, 1);
const ms = new Map<string, number[]>();
for (let r = 0; r < rounds + 1; r++)
  for (const [as, bs, ta, tb, os] of CASES)
    for (const v of VARIANTS) {
      const k = tiledMatmulWgsl(as, bs, ta, tb, os, v);
      const x = direct.upload(new Float32Array(size(as)).fill(0.5));
      const y = direct.upload(new Float32Array(size(bs)).fill(0.25));
      const t0 = performance.now();
      let out: DirectBuffer | undefined;
      for (let i = 0; i < per; i++) {
        out?.delete();
        out = direct.runWgsl(k, size(os), [x, y]);
      }
      const got = await out!.toArray();
      const dt = (performance.now() - t0) / per;
      const kk = ta ? as.at(-2)! : as.at(-1)!;
      if (Math.abs(got[0]! - 0.125 * kk) > 1e-3 * kk) throw new Error(`${k.key}: ${got[0]}`);
      out!.delete();
      x.delete();
      y.delete();
      if (r === 0) continue;
      const key = `${k.key}`;
      ms.set(key, [...(ms.get(key) ?? []), dt]);
    }
console.log('| product, tiling | ms per product (median) | range |\n|---|---:|---:|');
for (const [key, xs] of ms) {
  const s = [...xs].sort((p, q) => p - q);
  console.log(
    `| ${key.replace(/\|/g, ' ')} | ${s[Math.floor(s.length / 2)]!.toFixed(1)} | ${s[0]!.toFixed(1)}-${s.at(-1)!.toFixed(1)} |`,
  );
}
await b.destroy();
process.exit(0);
