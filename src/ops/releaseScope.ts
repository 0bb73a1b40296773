import { isForwardActive, isRecording } from '../autodiff/record.js';
import type { Backend } from '../backends/backend.js';
import { type ReleaseFrame, swapReleaseFrame } from '../tensor/releaseFrame.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Whether release scopes recycle at all: `METATAPE_RECYCLE=0` in the environment turns them into plain calls
 * (for an A/B of their effect, or to rule them out when chasing a bug).
 */
const enabled =
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env
    ?.METATAPE_RECYCLE !== '0';

/**
 * Most bytes of storage one scope tracks (and so keeps alive until it ends). A MAML iteration of the
 * Omniglot MLP makes about 40 MB of intermediates, all tracked; conv4's make several GB, most of them dead
 * long before the iteration ends: tracking them all doubled its peak memory, so past this the garbage
 * collector frees them as before.
 */
const TRACK_MAX_BYTES = 256 * 1024 * 1024;

/** Options of {@link releaseScope}. */
export interface ReleaseScopeOptions {
  /**
   * Bytes of storage the scope tracks before it leaves new storage to the garbage collector (default
   * 256 MiB): what is tracked stays alive until the scope ends.
   */
  maxTrackedBytes?: number;
}

/**
 * Runs `fn` and, when it returns, hands the storage of every tensor it created back to `backend` for reuse,
 * except the tensors `results` picks from its result (and views sharing their storage). A tensor created
 * inside and used afterwards throws a `ReleasedStorageError`; it never reads recycled values. Like
 * `tf.tidy`, but the kept tensors are named by the caller rather than found by walking the result.
 *
 * Why: a meta-iteration makes hundreds of intermediates (the Omniglot MLP's add up to about 40 MB) that are
 * dead once its meta-gradient is computed. Allocated afresh each time, they are external memory that makes
 * V8 run full collections and fault in new pages; recycled, the next iteration reuses the same arrays.
 *
 * It runs `fn` as a plain call (nothing recycled) where recycling could break a caller: when a tape is
 * recording or a forward accumulator is active (they may keep intermediates for their own gradient later),
 * when the backend does not recycle (`Backend.recycle` absent), when `fn` throws, or with
 * `METATAPE_RECYCLE=0`. Scopes nest: what an inner scope keeps belongs to the outer one. Past
 * `maxTrackedBytes` of new storage, the rest is left to the garbage collector (tracked storage stays alive
 * until the scope ends, so tracking everything a large computation makes would add to its peak memory).
 *
 * ```ts
 * // x * x is recycled when the scope ends; y is kept.
 * const y = releaseScope(getBackend(), 'step', () => add(mul(x, x), x), (r) => [r]);
 * ```
 */
export function releaseScope<T>(
  backend: Backend,
  label: string,
  fn: () => T,
  results: (result: T) => Iterable<Tensor>,
  options: ReleaseScopeOptions = {},
): T {
  if (!enabled || backend.recycle === undefined || isRecording() || isForwardActive()) return fn();
  const frame: ReleaseFrame = {
    label,
    storages: [],
    bytesLeft: options.maxTrackedBytes ?? TRACK_MAX_BYTES,
  };
  const outer = swapReleaseFrame(frame);
  let result: T;
  try {
    result = fn();
  } finally {
    swapReleaseFrame(outer);
  }
  release(frame, results(result), outer);
  return result;
}

/**
 * Runs `fn` outside every release scope: what it creates is never recycled. For caches that build a tensor
 * once and reuse it on later calls (index tensors, constants), whichever scope happens to be open.
 */
export function outsideReleaseScopes<T>(fn: () => T): T {
  const outer = swapReleaseFrame(undefined);
  try {
    return fn();
  } finally {
    swapReleaseFrame(outer);
  }
}

/**
 * Hands the storage of the `dead` tensors back to their backend for reuse, as a release scope does with what
 * it created, except storage that a tensor of `live` shares. For state a loop replaces every iteration and
 * that no single scope creates: the trainer's gradients, updates, previous meta-parameters and optimizer
 * state (`outerStep`). Left to the garbage collector, they are new external memory every iteration (about
 * 5 MB for the Omniglot MLP), and V8 answers that with a scavenge every few iterations, paused inside
 * whichever op allocates next. Using a recycled tensor afterwards throws a `ReleasedStorageError`; it never
 * reads reused values. Does nothing where {@link releaseScope} recycles nothing (a recording tape, an
 * active forward accumulator, a backend without `recycle`, `METATAPE_RECYCLE=0`).
 *
 * ```ts
 * const next = applyUpdates(params, updates);
 * recycleTensors('update', [...Object.values(params), ...Object.values(updates)], Object.values(next));
 * ```
 */
export function recycleTensors(label: string, dead: Iterable<Tensor>, live: Iterable<Tensor>): void {
  if (!enabled || isRecording() || isForwardActive()) return;
  const keep = new Set<unknown>();
  for (const t of live) keep.add(t.storage.rawHandle);
  for (const t of dead) {
    const s = t.storage;
    const handle = s.rawHandle;
    if (s.releasedBy !== undefined || keep.has(handle) || s.backend.recycle === undefined) continue;
    s.releasedBy = label;
    // Once per handle, should two tensors of `dead` share it.
    keep.add(handle);
    s.backend.recycle(handle);
  }
}

/** Recycles the frame's storages but the kept ones, which move to `outer` when there is one. */
function release(frame: ReleaseFrame, kept: Iterable<Tensor>, outer: ReleaseFrame | undefined): void {
  // By handle, not by Storage: two storages on one handle (a view) live or die together.
  const keep = new Set<unknown>();
  for (const t of kept) keep.add(t.storage.rawHandle);
  const recycled = new Set<unknown>();
  for (const s of frame.storages) {
    // Recycled already (recycleTensors): a second recycle would hand one array out twice.
    if (s.releasedBy !== undefined) continue;
    const handle = s.rawHandle;
    if (keep.has(handle)) {
      outer?.storages.push(s);
      continue;
    }
    s.releasedBy = frame.label;
    if (recycled.has(handle)) continue;
    recycled.add(handle);
    s.backend.recycle?.(handle);
  }
}
