import type { DType } from '../tensor/dtype.js';
import type { Backend } from './backend.js';
import { CpuBackend } from './cpu/cpuBackend.js';

/** Creates a backend; may be async because a device backend has to open an adapter first. */
export type BackendFactory = () => Backend | Promise<Backend>;

// The CPU backend is always registered: every other module can rely on `cpu` existing.
const factories = new Map<string, BackendFactory>([['cpu', () => new CpuBackend()]]);
const instances = new Map<string, Backend>();
let current: Backend | undefined;
let defaultFloat: DType = 'float32';

/**
 * Backends registered on first request: a family name and the module that registers its members, imported
 * only when one of them is asked for, so a user who never asks for gpu.js never loads it (gpu.js pulls in
 * acorn and, optionally, a native addon).
 */
const lazyFamilies: { family: string; register: () => Promise<void> }[] = [
  {
    family: 'gpujs',
    register: async () => {
      for (const [name, factory] of (await import('./gpujs/factories.js')).gpujsBackendFactories()) {
        registerBackend(name, factory);
      }
    },
  },
];

/** Registers the lazily provided family `name` belongs to (`gpujs`, `gpujs:cpu`, ...), if any and not yet. */
async function registerFamilyOf(name: string): Promise<void> {
  const entry = lazyFamilies.find((f) => name === f.family || name.startsWith(`${f.family}:`));
  if (!entry) return;
  await entry.register();
  // Only once registered: a failed import (gpu.js not installed) is retried on the next request.
  const i = lazyFamilies.indexOf(entry);
  if (i >= 0) lazyFamilies.splice(i, 1);
}

/** Registers a backend under a name such as `cpu` or `gpujs:webgpu`. */
export function registerBackend(name: string, factory: BackendFactory): void {
  factories.set(name, factory);
  instances.delete(name);
}

/** Names of the registered backends. */
export function registeredBackends(): string[] {
  return [...factories.keys()];
}

/** The `name`s of the backends created so far in this process (e.g. `gpujs:webgpu` also for `gpujs`). */
export function loadedBackends(): string[] {
  return [...instances.values()].map((b) => b.name);
}

/** Creates (once) and returns a registered backend. */
export async function loadBackend(name: string): Promise<Backend> {
  const existing = instances.get(name);
  if (existing) return existing;
  if (!factories.has(name)) await registerFamilyOf(name);
  const factory = factories.get(name);
  if (!factory) {
    const onRequest = lazyFamilies.map((f) => `${f.family}[:mode] (registered on request)`);
    throw new Error(
      `unknown backend '${name}'; registered backends: ${[...registeredBackends(), ...onRequest].join(', ') || '(none)'}`,
    );
  }
  const backend = await factory();
  instances.set(name, backend);
  return backend;
}

/**
 * Makes a backend the one new tensors are created on: `cpu`, or a gpu.js one (`gpujs` for the best mode
 * here, `gpujs:webgpu`, `gpujs:headlessgl`, `gpujs:webasm`, `gpujs:cpu`), whose modules are loaded only now.
 *
 * ```ts
 * await setBackend('gpujs:cpu');
 * ```
 */
export async function setBackend(name: string): Promise<Backend> {
  current = await loadBackend(name);
  return current;
}

/** Makes an already created backend current (synchronous; for tests and internal use). */
export function useBackend(backend: Backend): void {
  current = backend;
}

/** The backend new tensors are created on (the CPU backend unless another was set). */
export function getBackend(): Backend {
  if (!current) {
    const cpu = instances.get('cpu');
    const f = factories.get('cpu');
    if (cpu) current = cpu;
    else if (f) {
      const b = f();
      if (b instanceof Promise) throw new Error('the cpu backend factory must be synchronous');
      instances.set('cpu', b);
      current = b;
    } else throw new Error('no backend registered; import "metatape" or "src/backends/cpu" first');
  }
  return current;
}

/** Float dtype used when none is given (float32 unless changed; float64 for tight numerical checks). */
export function getDefaultFloat(): DType {
  return defaultFloat;
}

/** Sets the default float dtype. */
export function setDefaultFloat(dtype: 'float32' | 'float64'): void {
  defaultFloat = dtype;
}

/** Runs `fn` with another default float dtype, restoring the previous one afterwards. */
export function withDefaultFloat<T>(dtype: 'float32' | 'float64', fn: () => T): T {
  const prev = defaultFloat;
  defaultFloat = dtype;
  try {
    return fn();
  } finally {
    defaultFloat = prev;
  }
}
