/**
 * metatape: float32/float64 tensors on pluggable backends, a reverse-mode tape with TensorFlow's
 * GradientTape semantics and nesting to any order, layers, optimizers and MAML-style meta-learning.
 */
export * from './autodiff/index.js';
export type { AdamConstants, Backend, BackendCounters, KernelTensor } from './backends/backend.js';
export { diffCounters, formatCounters } from './backends/backend.js';
export { CpuBackend } from './backends/cpu/index.js';
export { type KernelQueueStats, kernelQueueStats } from './backends/cpu/kernelQueue.js';
export {
  type KernelThreadOptions,
  KernelThreadsError,
  kernelThreadsUnavailable,
  setCpuKernelThreads,
} from './backends/cpu/kernelThreads.js';
export {
  type BackendFactory,
  getBackend,
  getDefaultFloat,
  loadBackend,
  registerBackend,
  registeredBackends,
  setBackend,
  setDefaultFloat,
  useBackend,
  withDefaultFloat,
} from './backends/registry.js';
export { type ExperimentConfig, experimentConfigSchema, type TrainerConfig } from './config/schema.js';
export * from './meta/index.js';
export * from './nn/index.js';
export * from './ops/index.js';
export * from './optim/index.js';
export type { DType, TypedArray } from './tensor/dtype.js';
export { Rng } from './tensor/random.js';
export { type HostReads, noReads, readScalar, runReadsAsync, runReadsSync } from './tensor/reads.js';
export type { Shape } from './tensor/shape.js';
export { type NestedArray, ReleasedStorageError, Storage, Tensor, Variable } from './tensor/tensor.js';
