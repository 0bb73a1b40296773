/**
 * The V8 heap a compute worker starts with. Tensor storage is ArrayBuffers outside the JS heap, and V8 counts
 * the external bytes allocated since the last mark-compact against the old generation's limit, which by
 * default sits a few tens of MB above the live heap. A meta-iteration of the Omniglot MLP allocates about 40 MB
 * of results, so with the default limit every isolate that runs it starts a full mark-compact about once per
 * iteration (`node --trace-gc --trace-incremental-marking`: "Start (allocation limit)" with the JS heap at
 * 11 of 27 MB). The garbage itself dies young and is freed by scavenges; the mark-compacts are wasted work,
 * and on a machine whose cores all compute they take CPU from the threads (measured: bench/threadProbe.ts).
 * A larger initial old generation moves that limit up. Worker threads get no V8 flags of their own (a
 * Worker's `execArgv` refuses them and `resourceLimits` has no initial size), but an isolate reads the
 * process's flags when it is created, so the flag is set while the workers start and put back after.
 */
import { setFlagsFromString } from 'node:v8';

const FLAG = 'initial-old-space-size';

/**
 * MB of initial old generation that metatape's compute isolates start with: worker threads (the default of
 * `ThreadOptions.workerOldSpaceMb`), the CLI's main thread (bin/metatape.js starts it with this flag) and the
 * CLI processes that `metatape compare` and the benchmark start. Past 64 MB the Omniglot MLP's mark-compacts
 * drop to about one per hundred iterations; larger only lets more garbage wait (resident memory).
 */
export const COMPUTE_OLD_SPACE_MB = 128;

/** The node flag that starts a process's main isolate with {@link COMPUTE_OLD_SPACE_MB}. */
export const COMPUTE_HEAP_FLAG = `--${FLAG}=${COMPUTE_OLD_SPACE_MB}`;

/** The value the process started with (command line or NODE_OPTIONS), to restore; 0 is V8's default. */
function startingValue(): number {
  const args = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  let value = 0;
  for (const a of args) {
    const m = /^--initial[-_]old[-_]space[-_]size=(\d+)$/.exec(a);
    if (m) value = Number(m[1]);
  }
  return value;
}

/**
 * Runs `start` (which creates worker threads and resolves once their isolates exist) with V8's initial old
 * generation set to `oldSpaceMb` MB, then restores the process's value, so only these workers are affected
 * (the calling isolate already exists and keeps its heap). `oldSpaceMb` 0 leaves V8's default.
 */
export async function withWorkerHeap<T>(oldSpaceMb: number, start: () => Promise<T>): Promise<T> {
  if (!Number.isInteger(oldSpaceMb) || oldSpaceMb < 0)
    throw new RangeError(`workerOldSpaceMb: expected a non-negative integer, got ${oldSpaceMb}`);
  if (oldSpaceMb === 0) return start();
  setFlagsFromString(`--${FLAG}=${oldSpaceMb}`);
  try {
    return await start();
  } finally {
    setFlagsFromString(`--${FLAG}=${startingValue()}`);
  }
}
