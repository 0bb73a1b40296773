export { type AutoChoice, type CrossoverTable, chooseAutoBackend, MEASURED_CROSSOVERS } from './auto.js';
export { bestGpujsMode, createGpujsBackend, rankModes } from './create.js';
export { DeviceArray } from './device-array.js';
export {
  GpujsDisposedError,
  GpujsDTypeError,
  GpujsModeUnavailableError,
  GpujsSyncReadError,
} from './errors.js';
export { GpujsBackend, type GpujsBackendOptions, type GpujsStats } from './gpujs-backend.js';
export { backendNameOf, GPUJS_MODES, type GpujsMode, isGpujsMode } from './modes.js';
export { type ModeProbe, probeGpujsMode, probeGpujsModes } from './probe.js';
export { registerGpujsBackends } from './register.js';
export type { KernelTime } from './webgpu-direct.js';
export { installWebGPU, releaseWebGPU, type WebGPUEnv } from './webgpu-env.js';
