import type { DType, TypedArray } from '../tensor/dtype.js';
import type { Shape } from '../tensor/shape.js';

/**
 * What a kernel sees of a tensor: the backend's opaque storage handle plus shape and dtype.
 * Storage is always row-major and contiguous, so a reshape never touches the device.
 */
export interface KernelTensor {
  readonly handle: unknown;
  readonly shape: Shape;
  readonly dtype: DType;
}

/** Element-wise functions of one argument. Gradients live in `src/ops`, not here. */
export const UNARY_OPS = [
  'neg',
  'exp',
  'log',
  'log1p',
  'sqrt',
  'sin',
  'cos',
  'tanh',
  'sigmoid',
  'abs',
  'sign',
  'relu',
  'step',
  'reciprocal',
  'square',
  'softplus',
] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

/** Element-wise functions of two broadcast arguments. Comparisons give 1 or 0 in the inputs' dtype. */
export const BINARY_OPS = [
  'add',
  'sub',
  'mul',
  'div',
  'pow',
  'maximum',
  'minimum',
  'greater',
  'greaterEqual',
  'less',
  'lessEqual',
  'equal',
  'notEqual',
] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

/** Reductions over a set of axes (the reduced axes are dropped from the output shape). */
export const REDUCE_OPS = ['sum', 'max', 'min'] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

/**
 * Running totals of what a backend did since it was created; take two snapshots and subtract
 * ({@link diffCounters}) to get the cost of one step.
 */
export interface BackendCounters {
  /** Kernels run (a device dispatch; on the CPU backend, a kernel call). */
  readonly dispatches: number;
  /** Kernels compiled (0 on backends that compile nothing); 0 per step once a training loop is warm. */
  readonly compiles: number;
  /** Host-to-backend copies ({@link Backend.upload}). */
  readonly uploads: number;
  /** Backend-to-host copies ({@link Backend.read}, {@link Backend.readSync}). */
  readonly reads: number;
  readonly bytesUploaded: number;
  readonly bytesRead: number;
}

/** `after - before`, field by field. */
export function diffCounters(after: BackendCounters, before: BackendCounters): BackendCounters {
  return {
    dispatches: after.dispatches - before.dispatches,
    compiles: after.compiles - before.compiles,
    uploads: after.uploads - before.uploads,
    reads: after.reads - before.reads,
    bytesUploaded: after.bytesUploaded - before.bytesUploaded,
    bytesRead: after.bytesRead - before.bytesRead,
  };
}

/** One line for logs and reports: `12 dispatches, 0 compiles, 1 upload (4 B), 1 read (4 B)`. */
export function formatCounters(c: BackendCounters): string {
  const n = (k: number, one: string, many: string) => `${k} ${k === 1 ? one : many}`;
  return [
    n(c.dispatches, 'dispatch', 'dispatches'),
    n(c.compiles, 'compile', 'compiles'),
    `${n(c.uploads, 'upload', 'uploads')} (${bytes(c.bytesUploaded)})`,
    `${n(c.reads, 'read', 'reads')} (${bytes(c.bytesRead)})`,
  ].join(', ');
}

function bytes(b: number): string {
  if (b < 1024) return `${b} B`;
  if (b < 1024 * 1024) return `${(b / 1024).toFixed(1)} KiB`;
  return `${(b / 1024 / 1024).toFixed(1)} MiB`;
}

/**
 * The primitive kernels every backend implements. The list is short on purpose: every other op in
 * `src/ops` is a composite of these, and every gradient is written in ops, so a backend that implements
 * these kernels gets every derivative of every order for free.
 *
 * All kernels are synchronous *dispatches*: they return a handle at once and a device backend may run them
 * later. Only {@link Backend.read} waits for values.
 */
export interface Backend {
  /** Registry name, e.g. `cpu` or `gpujs:webgpu`. */
  readonly name: string;
  /** Float dtypes this backend can hold (int32 is always supported for indices). */
  readonly floatDTypes: readonly DType[];
  /** What the backend has done so far (dispatches, compiles, transfers), where it keeps count. */
  readonly counters?: BackendCounters;

  /** Copies host values to a new storage handle. */
  upload(values: TypedArray, shape: Shape, dtype: DType): unknown;
  /** Reads values back to the host (the only way to wait for a device). */
  read(t: KernelTensor): Promise<TypedArray>;
  /** Synchronous read, where the backend allows it (a WebGPU device does not: it throws). */
  readSync(t: KernelTensor): TypedArray;
  /**
   * Synchronous read of elements `[from, from + out.length)` (row-major) into `out`, of the tensor's dtype,
   * where the backend can copy without an intermediate array: the CPU backend, for the thread pool's shared
   * buffers.
   */
  readSyncInto?(t: KernelTensor, out: TypedArray, from: number): void;
  /**
   * Releases device storage; called by the storage finaliser once a tensor is garbage-collected, so users
   * never need to. Absent on backends whose storage the JS garbage collector frees by itself (the CPU
   * backend): registering every typed array with a FinalizationRegistry would keep it alive until the
   * finaliser task runs, which a synchronous training loop never lets happen.
   */
  dispose?(handle: unknown): void;
  /**
   * Takes back a handle that no tensor will use again, to reuse its memory for later results; called by a
   * release scope (src/ops/releaseScope.ts) for the storages it created. Absent on gpu.js but for WebGPU's
   * direct path, whose buffer pool takes them (elsewhere device storage is freed by the storage finaliser
   * through {@link Backend.dispose}, and nothing reuses it); release scopes are then no-ops.
   */
  recycle?(handle: unknown): void;

  fill(shape: Shape, value: number, dtype: DType): unknown;
  unary(op: UnaryOp, x: KernelTensor): unknown;
  binary(op: BinaryOp, a: KernelTensor, b: KernelTensor, outShape: Shape): unknown;
  /** `cond != 0 ? a : b`, all three broadcast to `outShape`. */
  where(cond: KernelTensor, a: KernelTensor, b: KernelTensor, outShape: Shape): unknown;
  /** Reduces `axes` (sorted, unique, non-empty) of `x`; output shape is x's shape without those axes. */
  reduce(op: ReduceOp, x: KernelTensor, axes: readonly number[]): unknown;
  /**
   * Batched matrix product: `a` is [...batchA, m, k] (or [..., k, m] with transposeA), `b` is
   * [...batchB, k, n] (or [..., n, k] with transposeB); batch dimensions broadcast to `outShape`'s.
   */
  matmul(
    a: KernelTensor,
    b: KernelTensor,
    transposeA: boolean,
    transposeB: boolean,
    outShape: Shape,
  ): unknown;
  /** Output axis i is input axis perm[i]. */
  transpose(x: KernelTensor, perm: readonly number[]): unknown;
  broadcastTo(x: KernelTensor, shape: Shape): unknown;
  slice(x: KernelTensor, begin: readonly number[], size: readonly number[]): unknown;
  concat(xs: readonly KernelTensor[], axis: number): unknown;
  /** Pads with a constant; `paddings[i] = [before, after]`. */
  pad(x: KernelTensor, paddings: readonly (readonly [number, number])[], value: number): unknown;
  /** Takes slices of `x` along `axis` at int32 `indices` (any shape; it replaces that axis). */
  gather(x: KernelTensor, indices: KernelTensor, axis: number): unknown;
  /**
   * The adjoint of gather: an output of `x`'s shape with `updates` (shaped like gather's output) summed into
   * the slices named by `indices`; duplicate indices accumulate.
   */
  scatterAdd(updates: KernelTensor, indices: KernelTensor, axis: number, outShape: Shape): unknown;
  /** Converts between dtypes (float to int truncates toward zero). */
  cast(x: KernelTensor, dtype: DType): unknown;

  /**
   * Optional fused kernel of Adam's moment update (`src/ops/fused.ts` composes primitives where it is absent
   * and whenever a differentiator is watching): with `g`, `m`, `v` of one shape and dtype, returns the
   * handles of `m' = m + s1 (g - m)`, `v' = v + s2 (g² - v)` and `u = scale · m' / (sqrt(v' + epsRoot) +
   * epsHat)` (no `+ epsRoot` when it is 0), each operation rounded to the dtype as the composed ops round it.
   */
  adamMoments?(
    g: KernelTensor,
    m: KernelTensor,
    v: KernelTensor,
    c: AdamConstants,
  ): [unknown, unknown, unknown];

  /**
   * Optional fused Adam step for many parameters at once (`src/ops/fused.ts`): per parameter `k`, with
   * `params[k]`, `grads[k]`, `m[k]`, `v[k]` of one shape and dtype, the handles of `m'` and `v'` as
   * {@link Backend.adamMoments} computes them and of `p' = params[k] + u` (the parameter after the step),
   * each rounded as the composed ops round it; or undefined where it cannot (the caller then composes).
   */
  adamStep?(
    params: readonly KernelTensor[],
    grads: readonly KernelTensor[],
    m: readonly KernelTensor[],
    v: readonly KernelTensor[],
    c: AdamConstants,
  ): [p: unknown, m: unknown, v: unknown][] | undefined;
}

/** The host scalars of {@link Backend.adamMoments}. */
export interface AdamConstants {
  /** 1 - beta1. */
  s1: number;
  /** 1 - beta2. */
  s2: number;
  /** Added to v' inside the square root; 0 for none. */
  epsRoot: number;
  /** Added to the square root. */
  epsHat: number;
  /** Factor of the normalised direction. */
  scale: number;
}
