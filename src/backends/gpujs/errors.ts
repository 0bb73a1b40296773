import type { GpujsMode } from './modes.js';

/** A requested gpu.js mode cannot run here; `remedy` says how to get it. */
export class GpujsModeUnavailableError extends Error {
  override readonly name = 'GpujsModeUnavailableError';
  constructor(
    readonly mode: GpujsMode,
    readonly reason: string,
    readonly remedy: string,
  ) {
    super(`gpu.js mode '${mode}' is not available: ${reason}. ${remedy}`);
  }
}

/** The gpu.js backends compute in float32 only (every mode stores 32-bit floats on the device). */
export class GpujsDTypeError extends Error {
  override readonly name = 'GpujsDTypeError';
  constructor(
    readonly dtype: string,
    readonly backend: string,
  ) {
    super(`${backend} holds float32 and int32 only, not ${dtype}; use the cpu backend for float64`);
  }
}

/** `readSync` on a mode whose device can only be read asynchronously. */
export class GpujsSyncReadError extends Error {
  override readonly name = 'GpujsSyncReadError';
  constructor(readonly backend: string) {
    super(
      `${backend} reads back asynchronously only; use 'await tensor.data()' instead of dataSync()/item()`,
    );
  }
}

/** A tensor was used after its storage was disposed (a finaliser bug, never user error). */
export class GpujsDisposedError extends Error {
  override readonly name = 'GpujsDisposedError';
  constructor(readonly backend: string) {
    super(`${backend}: storage used after it was disposed`);
  }
}
