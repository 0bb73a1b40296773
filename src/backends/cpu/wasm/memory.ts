/**
 * What the CPU backend's WebAssembly modules share: instantiating a base64-embedded module and growing its
 * linear memory.
 */

/*
 * The lib this project compiles against (ES2022, no DOM) has no WebAssembly typings, so the few members used
 * here are declared locally; at runtime this is Node's global.
 */
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
};

/** The growable linear memory a module exports. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(deltaPages: number): number;
}

const PAGE = 65536;

/**
 * Compiles and instantiates a module synchronously (each is a few kilobytes, compiled in well under a
 * millisecond, and a sync instance keeps the kernels synchronous). Throws where the engine lacks SIMD.
 */
export function instantiateWasm(base64: string): unknown {
  return new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(base64, 'base64')), {}).exports;
}

/**
 * Grows `memory` so that bytes [0, bytes) exist. Returns false if it cannot (past the engine's 4 GiB limit),
 * where the caller keeps its JS loop. Growth detaches the old buffer, so views over it must be remade.
 */
export function growTo(memory: WasmMemory, bytes: number): boolean {
  const have = memory.buffer.byteLength;
  if (bytes <= have) return true;
  try {
    memory.grow(Math.ceil((bytes - have) / PAGE));
  } catch {
    return false;
  }
  return true;
}
