/**
 * The data layer: task and episode sources producing plain host arrays (typed arrays plus shapes), with no
 * dependency on the tensor core.
 */
export { DataConfigError, DataError, DatasetFileError } from './errors.js';
export type { ResampleFilter } from './image/resample.js';
export { type NpyArray, type NpyDType, parseNpy } from './npy.js';
export { decodeNpz, readNpz } from './npz.js';
export * from './omniglot/index.js';
export type { RandomSource } from './random-source.js';
export {
  type Range,
  SINUSOID_AMPLITUDE,
  SINUSOID_PHASE,
  SINUSOID_X_RANGE,
  type SinusoidBatch,
  type SinusoidCurve,
  type SinusoidOptions,
  sampleSinusoidTasks,
  sinusoidCurve,
} from './sinusoid.js';
