import type { Storage } from './tensor.js';

/**
 * The innermost open release scope (src/ops/releaseScope.ts): the storages created since it opened. Kept
 * here, beside {@link Storage}, so that a new Storage can register itself without the tensor layer importing
 * the ops layer.
 */
export interface ReleaseFrame {
  /** What the scope is called in a {@link ReleasedStorageError}'s message. */
  readonly label: string;
  /** Storages created while this frame was innermost (until its byte budget ran out). */
  readonly storages: Storage[];
  /**
   * Bytes of storage this frame may still take on. The frame keeps what it tracks alive until the scope
   * ends, while untracked storage is freed as soon as it is garbage: past the budget, a new Storage is left
   * to the garbage collector, so a large computation's peak memory stays its own plus the budget.
   */
  bytesLeft: number;
}

let current: ReleaseFrame | undefined;

/** The innermost open frame, or undefined outside every release scope. */
export function currentReleaseFrame(): ReleaseFrame | undefined {
  return current;
}

/** Makes `frame` the innermost (undefined: none, as outside every scope); returns the one it replaces. */
export function swapReleaseFrame(frame: ReleaseFrame | undefined): ReleaseFrame | undefined {
  const previous = current;
  current = frame;
  return previous;
}
