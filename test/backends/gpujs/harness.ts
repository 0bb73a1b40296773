/**
 * Shared helpers of the gpu.js backend tests: which modes to run, kernel tensors, and the float32 tolerance
 * model every comparison uses (each tolerance is stated and justified where it is defined: kernels.test.ts
 * for the primitives, ops.test.ts for composite values and gradients).
 */
import type { Backend, KernelTensor } from '../../../src/backends/backend.js';
import { CpuBackend } from '../../../src/backends/cpu/index.js';
import {
  createGpujsBackend,
  type GpujsBackend,
  type GpujsMode,
  isGpujsMode,
} from '../../../src/backends/gpujs/index.js';
import { getBackend, setDefaultFloat, useBackend } from '../../../src/backends/registry.js';
import {
  fromArray,
  GradientTape,
  matmul,
  mean,
  mul,
  square,
  sub,
  type Tensor,
  tanh,
} from '../../../src/index.js';
import type { DType, TypedArray } from '../../../src/tensor/dtype.js';
import type { Shape } from '../../../src/tensor/shape.js';

/**
 * Modes under test: `METATAPE_GPU_MODES` (comma-separated, set by `.ci/test-gpu.sh`), else the two modes that
 * need nothing from the system (webasm and gpu.js's cpu), so a plain `npx vitest run` passes anywhere.
 */
export function modesUnderTest(): GpujsMode[] {
  const env = process.env.METATAPE_GPU_MODES;
  if (!env) return ['webasm', 'cpu'];
  const modes = env
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  for (const m of modes) if (!isGpujsMode(m)) throw new Error(`METATAPE_GPU_MODES: unknown mode '${m}'`);
  return modes as GpujsMode[];
}

const backends = new Map<GpujsMode, Promise<GpujsBackend>>();

/** One backend per mode per test file (kernels compile once and are shared by the file's tests). */
export function backendFor(mode: GpujsMode): Promise<GpujsBackend> {
  let b = backends.get(mode);
  if (!b) {
    b = createGpujsBackend(mode);
    backends.set(mode, b);
  }
  return b;
}

export const cpu = new CpuBackend();

/** A deterministic generator (mulberry32) so failures reproduce. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` float32-representable values in [lo, hi). */
export function randomValues(r: () => number, n: number, lo = -2, hi = 2): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** A tensor on a backend. */
export function put(
  b: { upload(v: TypedArray, s: Shape, d: DType): unknown },
  values: TypedArray,
  shape: Shape,
  dtype: DType = 'float32',
): KernelTensor {
  const data =
    dtype === 'float64'
      ? Float64Array.from(values)
      : dtype === 'int32'
        ? Int32Array.from(values)
        : Float32Array.from(values);
  return { handle: b.upload(data, shape, dtype), shape, dtype };
}

/** float32 unit roundoff. */
export const U32 = 2 ** -24;

/**
 * Tolerance of one result element, `atol + rtol * |ref|`. `rtol` defaults to a few float32 ulps (elementwise
 * arithmetic is correctly rounded or within 2.5 ulp on every GPU API); transcendental ops pass their own.
 */
export interface Tol {
  readonly rtol: number;
  readonly atol: number;
}

/**
 * Asserts `got` is within tolerance of a float64 reference. `scale[i]`, when given, is the magnitude the error
 * of element i is proportional to (sum of |terms| of a dot product or sum): a float32 sum of n terms is
 * within n·u·Σ|terms| of the exact sum (Higham's γ_n bound), whatever the summation order or fma use.
 */
export function expectClose(
  got: TypedArray,
  ref: TypedArray,
  tol: Tol,
  what: string,
  scale?: Float64Array,
  terms = 1,
): void {
  if (got.length !== ref.length) throw new Error(`${what}: length ${got.length} != ${ref.length}`);
  for (let i = 0; i < ref.length; i++) {
    const g = got[i]!;
    const r = ref[i]!;
    if (Number.isNaN(r) && Number.isNaN(g)) continue;
    if (r === g) continue;
    const bound = tol.atol + tol.rtol * Math.abs(r) + (scale ? (terms + 2) * U32 * scale[i]! : 0);
    if (!(Math.abs(g - r) <= bound)) {
      throw new Error(`${what}: element ${i} is ${g}, expected ${r} (|err| ${Math.abs(g - r)} > ${bound})`);
    }
  }
}

/**
 * One MAML-style meta-step: an inner SGD step by a nested tape, the outer loss, its meta-gradient. `act` is
 * the layer's activation (tanh, or a batch normalization then tanh).
 */
export function metaStep(
  w: Tensor,
  x: Tensor,
  y: Tensor,
  act: (h: Tensor) => Tensor = tanh,
): { loss: Tensor; grad: Tensor } {
  const outer = new GradientTape();
  const loss = outer.record(() => {
    outer.watch(w);
    const inner = new GradientTape();
    const innerLoss = inner.record(() => {
      inner.watch(w);
      return mean(square(sub(act(matmul(x, w)), y)));
    });
    const g = inner.gradient(innerLoss, w);
    const adapted = sub(w, mul(g!, 0.1));
    return mean(square(sub(act(matmul(x, adapted)), y)));
  });
  return { loss, grad: outer.gradient(loss, w)! };
}

/** Values and shape of one of {@link metaTrain}'s tensors. */
export type Init = readonly [values: Float32Array, shape: Shape];

/** What {@link metaTrain} returns: per step its loss, dispatches and compiles; the last meta-gradient and w. */
export interface MetaTrainRun {
  losses: number[];
  dispatches: number[];
  compiles: number[];
  grad: TypedArray;
  w: TypedArray;
}

/**
 * `steps` {@link metaStep}s on backend `B` in `float`, from the meta-parameter `w` and the data `x`, `y`, each
 * followed by an SGD step of w (rate 0.05); the backend and default float are put back after.
 */
export async function metaTrain(
  B: Backend,
  float: 'float32' | 'float64',
  data: { w: Init; x: Init; y: Init },
  steps: number,
  act: (h: Tensor) => Tensor = tanh,
): Promise<MetaTrainRun> {
  setDefaultFloat(float);
  const prev = getBackend();
  useBackend(B);
  try {
    const make = ([v, s]: Init) =>
      fromArray(float === 'float64' ? Float64Array.from(v) : Float32Array.from(v), s);
    let w = make(data.w);
    const x = make(data.x);
    const y = make(data.y);
    const run: MetaTrainRun = {
      losses: [],
      dispatches: [],
      compiles: [],
      grad: new Float32Array(),
      w: new Float32Array(),
    };
    let grad!: Tensor;
    for (let i = 0; i < steps; i++) {
      const before = B.counters!;
      const step = metaStep(w, x, y, act);
      grad = step.grad;
      w = sub(w, mul(step.grad, 0.05));
      run.losses.push((await step.loss.data())[0]!);
      run.dispatches.push(B.counters!.dispatches - before.dispatches);
      run.compiles.push(B.counters!.compiles - before.compiles);
    }
    run.grad = await grad.data();
    run.w = await w.data();
    return run;
  } finally {
    useBackend(prev);
    setDefaultFloat('float32');
  }
}
