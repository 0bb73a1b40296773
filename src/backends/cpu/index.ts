import { registerBackend } from '../registry.js';
import { CpuBackend } from './cpuBackend.js';

export { CpuBackend } from './cpuBackend.js';

/** Registers the CPU backend under the name `cpu` (done on import of the package entry). */
export function registerCpuBackend(): void {
  registerBackend('cpu', () => new CpuBackend());
}
