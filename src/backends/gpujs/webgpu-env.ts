/**
 * Gives gpu.js's webgpu mode the browser globals it expects, from the `webgpu` npm package (dawn.node).
 * gpu.js only looks at `navigator.gpu` and the `GPU*` globals, so this is all the wiring it needs.
 */

import { paceDawnPolling } from './dawn-polling.js';

/** What installing the WebGPU globals found: an adapter (with its description) or why there is none. */
export type WebGPUEnv =
  | {
      readonly ok: true;
      readonly adapter: string;
      readonly software: boolean;
      /**
       * Storage buffers a shader stage may bind on the devices gpu.js opens: the adapter's limit, which
       * {@link installWebGPU} makes gpu.js ask for (the WebGPU default is 8). Bounds fused kernels' inputs.
       */
      readonly storageBuffers: number;
    }
  | { readonly ok: false; readonly reason: string; readonly remedy: string };

interface DawnModule {
  create(flags: string[]): { requestAdapter(): Promise<DawnAdapter | null> };
  globals: Record<string, unknown> & { GPUDevice: { prototype: object }; GPUAdapter: { prototype: object } };
}
interface DawnAdapter {
  readonly info?: { vendor?: string; architecture?: string; description?: string };
  readonly isFallbackAdapter?: boolean;
  readonly limits?: { readonly maxStorageBuffersPerShaderStage?: number };
}
/** The WebGPU default of `maxStorageBuffersPerShaderStage`, what a device gets unless it asks for more. */
const DEFAULT_STORAGE_BUFFERS = 8;

let envPromise: Promise<WebGPUEnv> | undefined;

const GLIBC_REMEDY =
  'The prebuilt dawn.node in the `webgpu` package needs glibc >= 2.38 (GLIBCXX_3.4.32); on Debian 12 run ' +
  '`bash .ci/install-gpu.sh webgpu` and start Node as `~/.cache/metatape/webgpu-runtime/bin/node` (Node re-linked against ' +
  "Debian 13's libc6/libstdc++6 in that folder; the system libc is untouched)";
const ADAPTER_REMEDY =
  "Install a Vulkan driver: a real GPU driver, or Mesa's software one with `apt-get install mesa-vulkan-drivers " +
  'libvulkan1` (lavapipe)';

/**
 * Loads dawn.node, sets `globalThis.navigator.gpu` and the `GPU*` constants, and asks for an adapter. Runs once
 * per process; later calls share the answer.
 */
export function installWebGPU(): Promise<WebGPUEnv> {
  envPromise ??= install();
  return envPromise;
}

async function install(): Promise<WebGPUEnv> {
  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/GLIBC/.test(msg))
      return { ok: false, reason: `dawn.node failed to load (${firstLine(msg)})`, remedy: GLIBC_REMEDY };
    return {
      ok: false,
      reason: `the 'webgpu' package failed to load (${firstLine(msg)})`,
      remedy: 'Run `npm install` (gpu.js depends on webgpu 0.2.9)',
    };
  }
  Object.assign(globalThis, dawn.globals);
  paceDawnPolling();
  shimUncapturedError(dawn.globals.GPUDevice.prototype);
  askForStorageBuffers(dawn.globals.GPUAdapter.prototype);
  const nav = (globalThis as { navigator?: { gpu?: ReturnType<DawnModule['create']> } }).navigator;
  // Reuse an instance someone already installed: replacing it would let Dawn collect the first instance
  // while devices opened on it are still in use, which crashes the process (seen on an NVIDIA driver).
  let gpu = nav?.gpu;
  if (!gpu) {
    const flags = (process.env.METATAPE_DAWN_FLAGS ?? '').split(' ').filter((f) => f.length > 0);
    gpu = dawn.create(flags);
    // Node 20 has no navigator; Node 21+ has one whose `gpu` is missing. Either way only `gpu` is added.
    if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
    else
      Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  }
  let adapter: DawnAdapter | null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return { ok: false, reason: `requestAdapter failed (${firstLine(String(e))})`, remedy: ADAPTER_REMEDY };
  }
  if (!adapter)
    return {
      ok: false,
      reason: 'dawn.node found no WebGPU adapter (no Vulkan driver)',
      remedy: ADAPTER_REMEDY,
    };
  const info = adapter.info ?? {};
  const adapterName =
    [info.vendor, info.architecture, info.description].filter((s) => s).join(' ') || 'unknown adapter';
  const software = adapter.isFallbackAdapter === true || /llvmpipe|lavapipe|swiftshader/i.test(adapterName);
  const storageBuffers = Math.max(
    DEFAULT_STORAGE_BUFFERS,
    adapter.limits?.maxStorageBuffersPerShaderStage ?? DEFAULT_STORAGE_BUFFERS,
  );
  return { ok: true, adapter: adapterName, software, storageBuffers };
}

/**
 * gpu.js opens its device asking only for buffer sizes, so it gets WebGPU's default of 8 storage buffers per
 * shader stage; every fused kernel with more than 7 inputs then had to be split (about 100 extra dispatches
 * in a conv4 meta-iteration). This makes every `requestDevice` also ask for the adapter's own limit (10 on
 * lavapipe, more on discrete GPUs), which the spec guarantees an adapter grants.
 */
function askForStorageBuffers(adapterProto: object): void {
  const proto = adapterProto as {
    requestDevice(this: DawnAdapter, d?: { requiredLimits?: Record<string, number> }): Promise<unknown>;
  };
  const original = proto.requestDevice;
  if ((original as { metatapeWrapped?: boolean }).metatapeWrapped) return;
  const wrapped = function (this: DawnAdapter, d: { requiredLimits?: Record<string, number> } = {}) {
    const limit = this.limits?.maxStorageBuffersPerShaderStage;
    if (limit === undefined || limit <= DEFAULT_STORAGE_BUFFERS) return original.call(this, d);
    const requiredLimits = { ...d.requiredLimits };
    requiredLimits.maxStorageBuffersPerShaderStage = Math.max(
      requiredLimits.maxStorageBuffersPerShaderStage ?? 0,
      limit,
    );
    return original.call(this, { ...d, requiredLimits });
  };
  Object.assign(wrapped, { metatapeWrapped: true });
  Object.defineProperty(proto, 'requestDevice', { value: wrapped, configurable: true, writable: true });
}

/**
 * dawn.node rejects `device.onuncapturederror = fn` ("object is not of the correct interface type"), and gpu.js
 * assigns exactly that when it opens its device, which would make every webgpu kernel fail. Replacing the
 * accessor with a plain slot keeps gpu.js working; Dawn still prints uncaptured errors to stderr itself.
 */
function shimUncapturedError(deviceProto: object): void {
  const handlers = new WeakMap<object, unknown>();
  Object.defineProperty(deviceProto, 'onuncapturederror', {
    configurable: true,
    get(this: object) {
      return handlers.get(this) ?? null;
    },
    set(this: object, fn: unknown) {
      handlers.set(this, fn);
    },
  });
}

/**
 * Drops the reference to dawn.node so the process can exit: Dawn keeps Node alive while `navigator.gpu` is
 * reachable (https://issues.chromium.org/issues/387965810).
 */
export async function releaseWebGPU(): Promise<void> {
  if (!envPromise) return;
  const { WebGPUContext } = (await import('gpu.js')) as unknown as {
    WebGPUContext: { destroy(): Promise<void> };
  };
  await WebGPUContext.destroy();
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (nav && 'gpu' in nav) delete nav.gpu;
  envPromise = undefined;
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.slice(0, 200);
}
