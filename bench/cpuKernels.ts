/**
 * CPU time per element of the CPU backend's float32 kernels at the sizes MAML uses, one variant against
 * another (issue 13). Usage: `tsx bench/cpuKernels.ts [adam] [elementwise] [threshold] [copy]` (all by default).
 *
 * Each cell is the median over 7 repetitions of the process's CPU time (user + system, all threads) divided
 * by the elements processed, each repetition ~40 ms of work on outputs allocated once (so allocation is not
 * timed). CPU time rather than wall time, because the development machine is shared and loaded.
 */
import { pathToFileURL } from 'node:url';
import type { AdamConstants } from '../src/backends/backend.js';
import { allocUninit } from '../src/backends/cpu/alloc.js';
import { binaryKernel, unaryKernel } from '../src/backends/cpu/elementwise.js';
import { ElementwiseWasm, elementwiseWasm, WASM_MIN_ELEMENTS } from '../src/backends/cpu/elementwiseWasm.js';
import { adamF32 } from '../src/backends/cpu/fused.js';
import { nativeAddonReason } from '../src/backends/cpu/native/addon.js';
import { nativeElementwise } from '../src/backends/cpu/native/elementwise.js';
import { broadcastCopyJs, stridedCopyJs } from '../src/backends/cpu/strided.js';
import { adamWasm } from '../src/backends/cpu/wasm/adamWasm.js';
import { Rng } from '../src/tensor/random.js';

function random(n: number, seed: number, positive = false): Float32Array {
  const gen = new Rng(seed);
  const next = () => gen.uniform();
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

/** Plain monomorphic JS loops, the alternative to copying through wasm memory. */
function jsAdd(a: Float32Array, b: Float32Array, o: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) o[i] = a[i]! + b[i]!;
}
function jsMulScalar(a: Float32Array, s: number, o: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) o[i] = a[i]! * s;
}
function jsRelu(x: Float32Array, o: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    // biome-ignore lint/complexity/useMathMinMax: the kernel's NaN and signed-zero conventions, not Math.max's
    o[i] = v > 0 ? v : 0;
  }
}
function jsAddRows(full: Float32Array, rows: Float32Array, o: Float32Array, p: number, q: number, r: number) {
  for (let pi = 0, at = 0; pi < p; pi++)
    for (let qi = 0; qi < q; qi++)
      for (let j = 0, ro = pi * r; j < r; j++, at++) o[at] = full[at]! + rows[ro + j]!;
}

/**
 * The float32 elementwise wasm path: whole operands copied into wasm memory and the result out (before
 * chunking), the same copies in chunks of several sizes, and plain JS loops. Sizes: around the wasm
 * threshold, the sinusoid activations (25x10x40), Omniglot activations (32x5x256) and its first weight
 * (784x256).
 */
export function benchElementwise(): void {
  const sizes = [128, 256, 512, 1024, 2048, 4096, 10000, 40960, 200704];
  const engines: Record<string, ElementwiseWasm> = {
    'whole copy': new ElementwiseWasm({ chunk: Number.POSITIVE_INFINITY }),
    'chunk 2048': new ElementwiseWasm({ chunk: 2048 }),
    'chunk 4096': new ElementwiseWasm({ chunk: 4096 }),
    'chunk 8192': new ElementwiseWasm({ chunk: 8192 }),
    'chunk 16384': new ElementwiseWasm({ chunk: 16384 }),
  };
  const withEngines = (
    make: (e: ElementwiseWasm, n: number) => () => void,
    js: (n: number) => () => void,
  ): Record<string, (n: number) => () => void> => {
    const variants: Record<string, (n: number) => () => void> = {};
    for (const [name, e] of Object.entries(engines)) variants[name] = (n) => make(e, n);
    variants['JS loop'] = js;
    return variants;
  };
  table(
    'add, both operands full',
    sizes,
    withEngines(
      (e, n) => {
        const [a, b, o] = [random(n, 1), random(n, 2), new Float32Array(n)];
        return () => e.binary('add', a, b, o);
      },
      (n) => {
        const [a, b, o] = [random(n, 1), random(n, 2), new Float32Array(n)];
        return () => jsAdd(a, b, o, n);
      },
    ),
  );
  // As in a MAML step: operands long out of cache (cycled through 48 MB of arrays) and each result in storage
  // fresh from the backend's allocator.
  const cold = (n: number, run: (a: Float32Array, b: Float32Array, o: Float32Array) => void) => {
    const count = Math.max(4, Math.floor(12e6 / n));
    const pool = Array.from({ length: count }, (_, i) => random(n, i + 1));
    let k = 0;
    return () => {
      run(pool[k]!, pool[(k + 1) % count]!, allocUninit('float32', n) as Float32Array);
      k = (k + 2) % count;
    };
  };
  table(
    'add, both operands full, out of cache, fresh result storage',
    sizes.filter((n) => n >= 1024),
    withEngines(
      (e, n) => cold(n, (a, b, o) => e.binary('add', a, b, o)),
      (n) => cold(n, (a, b, o) => jsAdd(a, b, o, n)),
    ),
  );
  table(
    'mul by a scalar',
    sizes,
    withEngines(
      (e, n) => {
        const [a, s, o] = [random(n, 1), Float32Array.of(0.3), new Float32Array(n)];
        return () => e.binary('mul', a, s, o);
      },
      (n) => {
        const [a, o] = [random(n, 1), new Float32Array(n)];
        return () => jsMulScalar(a, Math.fround(0.3), o, n);
      },
    ),
  );
  table(
    'relu',
    sizes,
    withEngines(
      (e, n) => {
        const [x, o] = [random(n, 1), new Float32Array(n)];
        return () => e.unary('relu', x, o);
      },
      (n) => {
        const [x, o] = [random(n, 1), new Float32Array(n)];
        return () => jsRelu(x, o, n);
      },
    ),
  );
  // Bias rows: [p, q, r] + [p, r] with the shapes of the sinusoid's and Omniglot's hidden layers.
  const rowShapes: Record<number, [number, number, number]> = {
    10000: [25, 10, 40],
    40960: [32, 5, 256],
    // Omniglot's 128- and 64-unit layers.
    20480: [32, 5, 128],
    10240: [32, 5, 64],
  };
  table(
    'add a bias row per task ([p, q, r] + [p, r])',
    [10000, 10240, 20480, 40960],
    withEngines(
      (e, n) => {
        const [p, q, r] = rowShapes[n]!;
        const [f, rows, o] = [random(n, 1), random(p * r, 2), new Float32Array(n)];
        return () => e.binaryRows('add', f, rows, false, p, q, r, o);
      },
      (n) => {
        const [p, q, r] = rowShapes[n]!;
        const [f, rows, o] = [random(n, 1), random(p * r, 2), new Float32Array(n)];
        return () => jsAddRows(f, rows, o, p, q, r);
      },
    ),
  );
}

/**
 * Where the wasm path starts to win over the backend's own JS loops (binaryKernel and unaryKernel below
 * WASM_MIN_ELEMENTS, the generated loops the backend runs there): the threshold.
 */
export function benchWasmThreshold(): void {
  const small = [16, 32, 48, 64, 96, 128, 192, 256, 384].filter((n) => n < WASM_MIN_ELEMENTS);
  table('add, small operands: the shared wasm instance against the backend JS loop', small, {
    'wasm (shared)': (n) => {
      const [a, b, o] = [random(n, 1), random(n, 2), new Float32Array(n)];
      return () => elementwiseWasm!.binary('add', a, b, o);
    },
    'binaryKernel JS': (n) => {
      const [a, b, o] = [random(n, 1), random(n, 2), new Float32Array(n)];
      return () => binaryKernel('add', a, [n], b, [n], o, [n]);
    },
    'wasm relu': (n) => {
      const [x, o] = [random(n, 1), new Float32Array(n)];
      return () => elementwiseWasm!.unary('relu', x, o);
    },
    'unaryKernel JS relu': (n) => {
      const [x, o] = [random(n, 1), new Float32Array(n)];
      return () => unaryKernel('relu', x, o);
    },
  });
}

/**
 * Where the native one-call strided copy starts to win over the JS routines (NATIVE_COPY_MIN_ELEMENTS): a
 * [p, 4, q] broadcast of a [p, 1, q] block, batch norm's statistics over a task's examples.
 */
export function benchCopyThreshold(): void {
  if (nativeElementwise?.copyStrided === undefined) {
    console.log(`\ncopy: native kernels not loaded (${nativeAddonReason}); npm run setup:native`);
    return;
  }
  const copy = nativeElementwise.copyStrided;
  // [p, q] pairs: 32 to 2560 elements.
  const shapes = new Map([
    [32, [2, 4]],
    [64, [4, 4]],
    [128, [4, 8]],
    [256, [8, 8]],
    [512, [8, 16]],
    [2560, [16, 40]],
  ]);
  const setup = (n: number) => {
    const [p, q] = shapes.get(n)!;
    const out = [p!, 4, q!];
    return { src: random(p! * q!, 1), dst: new Float32Array(n), out, strides: [q!, 0, 1] };
  };
  table('broadcast copy [p,1,q] -> [p,4,q]: the JS routines against the native call', [...shapes.keys()], {
    stridedCopyJs: (n) => {
      const { src, dst, out, strides } = setup(n);
      return () => stridedCopyJs(src, 0, strides, out, dst);
    },
    broadcastCopyJs: (n) => {
      const { src, dst, out, strides } = setup(n);
      return () => broadcastCopyJs(src, strides, out, dst);
    },
    native: (n) => {
      const { src, dst, out, strides } = setup(n);
      return () => copy(src, 0, strides, out, dst);
    },
  });
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  const wanted = process.argv.slice(2);
  if (wanted.length === 0 || wanted.includes('adam')) benchAdam();
  if (wanted.length === 0 || wanted.includes('elementwise')) benchElementwise();
  if (wanted.length === 0 || wanted.includes('threshold')) benchWasmThreshold();
  if (wanted.length === 0 || wanted.includes('copy')) benchCopyThreshold();
}
