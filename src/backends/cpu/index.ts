export { CpuBackend } from './cpuBackend.js';
