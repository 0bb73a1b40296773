import { pathToFileURL } from 'node:url';
import {
  matmulKernel,
  matmulKernelJs,
  matmulKernelNative,
  matmulKernelWasm,
  NATIVE_MIN_MACS,
  WASM_MIN_MACS,
} from '../src/backends/cpu/matmul.js';
import { nativeBlas, nativeBlasStatus } from '../src/backends/cpu/native/blas.js';

/** One benchmarked product: operand shapes as the CPU backend receives them. */
interface Case {
  name: string;
  aShape: number[];
  bShape: number[];
  transposeA: boolean;
  transposeB: boolean;
}

type Kernel = typeof matmulKernel;

/**
 * The products of second-order MAML on the 1-40-40-1 MLP (meta-batch 25, K = 10): forward layers, their
 * input and weight gradients (the transposed-operand variants), with the k = 1 and n = 1 edge cases.
 */
const MAML_CASES: Case[] = [
  { name: 'x W1 (k=1)', aShape: [25, 10, 1], bShape: [25, 1, 40], transposeA: false, transposeB: false },
  { name: 'h W2', aShape: [25, 10, 40], bShape: [25, 40, 40], transposeA: false, transposeB: false },
  { name: 'h W3 (n=1)', aShape: [25, 10, 40], bShape: [25, 40, 1], transposeA: false, transposeB: false },
  { name: 'dY W2ᵀ', aShape: [25, 10, 40], bShape: [25, 40, 40], transposeA: false, transposeB: true },
  { name: 'dY W3ᵀ (k=1)', aShape: [25, 10, 1], bShape: [25, 40, 1], transposeA: false, transposeB: true },
  { name: 'hᵀ dY (dW2)', aShape: [25, 10, 40], bShape: [25, 10, 40], transposeA: true, transposeB: false },
  {
    name: 'hᵀ dY (dW3, n=1)',
    aShape: [25, 10, 40],
    bShape: [25, 10, 1],
    transposeA: true,
    transposeB: false,
  },
  {
    name: 'xᵀ dY (dW1, m=1)',
    aShape: [25, 10, 1],
    bShape: [25, 10, 40],
    transposeA: true,
    transposeB: false,
  },
];

const SQUARE_CASES: Case[] = [64, 128, 256].map((s) => ({
  name: `square ${s}`,
  aShape: [s, s],
  bShape: [s, s],
  transposeA: false,
  transposeB: false,
}));

/** Output shape and multiply-add count of a case (batch axes equal on both sides here). */
function geometry(c: Case): { outShape: number[]; macs: number } {
  const m = c.transposeA ? c.aShape.at(-1)! : c.aShape.at(-2)!;
  const k = c.transposeA ? c.aShape.at(-2)! : c.aShape.at(-1)!;
  const n = c.transposeB ? c.bShape.at(-2)! : c.bShape.at(-1)!;
  const batch = c.aShape.slice(0, -2);
  const batches = batch.reduce((x, y) => x * y, 1);
  return { outShape: [...batch, m, n], macs: batches * m * n * k };
}

function random(size: number): Float32Array {
  const x = new Float32Array(size);
  for (let i = 0; i < size; i++) x[i] = Math.random() * 2 - 1;
  return x;
}

/** GFLOP/s (2 flops per multiply-add) of `kernel` on `c`: warm up, then time batches of calls for ~minMs. */
function measure(kernel: Kernel, c: Case, minMs: number): number {
  const { outShape, macs } = geometry(c);
  const a = random(c.aShape.reduce((x, y) => x * y, 1));
  const b = random(c.bShape.reduce((x, y) => x * y, 1));
  const out = new Float32Array(outShape.reduce((x, y) => x * y, 1));
  const run = (reps: number): void => {
    for (let i = 0; i < reps; i++)
      kernel(a, c.aShape, b, c.bShape, c.transposeA, c.transposeB, out, outShape);
  };
  run(Math.max(3, Math.ceil(2e6 / macs)));
  let reps = Math.max(1, Math.ceil(1e6 / macs));
  let best = Number.POSITIVE_INFINITY;
  const deadline = performance.now() + minMs;
  // Best of several timed batches: the least disturbed by GC and the other process sharing the cores.
  while (performance.now() < deadline) {
    const t0 = performance.now();
    run(reps);
    const ms = performance.now() - t0;
    if (ms < 5) reps *= 2;
    else best = Math.min(best, ms / reps);
  }
  return (2 * macs) / (best * 1e6);
}

/**
 * The float32 `matmulKernel` (the native BLAS from {@link NATIVE_MIN_MACS} multiply-adds per call where
 * `npm run setup:native` built it, else WebAssembly SIMD from {@link WASM_MIN_MACS}) against the pure-JS
 * `matmulKernelJs` on the MAML shapes and square 64/128/256, with each kernel's own figure beside it.
 */
export async function benchMatmul(): Promise<
  { figure: string; work: string; value: string; ratio: string }[]
> {
  const rows: { figure: string; work: string; value: string; ratio: string }[] = [];
  for (const c of [...MAML_CASES, ...SQUARE_CASES]) {
    const { macs } = geometry(c);
    const js = measure(matmulKernelJs, c, 300);
    const current = measure(matmulKernel, c, 300);
    const wasm = measure(matmulKernelWasm as Kernel, c, 300);
    const native = nativeBlas === undefined ? undefined : measure(matmulKernelNative, c, 300);
    const path =
      native !== undefined && macs >= NATIVE_MIN_MACS ? 'native' : macs >= WASM_MIN_MACS ? 'wasm' : 'js';
    const each = `wasm ${wasm.toFixed(2)}, ${native === undefined ? `native: ${nativeBlasStatus.reason}` : `native ${native.toFixed(2)}`}, js ${js.toFixed(2)}`;
    const ta = c.transposeA ? 'ᵀ' : '';
    const tb = c.transposeB ? 'ᵀ' : '';
    rows.push({
      figure: `matmul ${c.name}`,
      work: `[${c.aShape}]${ta} x [${c.bShape}]${tb}, ${macs} MAC (${path})`,
      value: `${current.toFixed(2)} GFLOP/s (${each})`,
      ratio: `${(current / js).toFixed(2)}x`,
    });
    // Let the event loop breathe between cases when run inside a larger bench.
    await new Promise((resolve) => setImmediate(resolve));
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.table(await benchMatmul());
}
