import type { Storage } from './tensor.js';

/**
 * The innermost open release scope (src/ops/releaseScope.ts): the storages created since it opened. Kept
 * here, beside {@link Storage}, so that a new Storage can register itself without the tensor layer importing
 * the ops layer.
 */
export interface ReleaseFrame {
  /** What the scope is called in a {@link ReleasedStorageError}'s message. */
  readonly label: string;
  /** Storages created while this frame was innermost. */
  readonly storages: Storage[];
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
