/**
 * dawn.node resolves every pending WebGPU promise (`mapAsync`, `onSubmittedWorkDone`) by polling: while one is
 * pending, its AsyncRunner calls `instance.ProcessEvents()` from `setImmediate` and schedules itself again at
 * once (Dawn's own TODO, crbug.com/dawn/1127, says it should poll less often). The main thread then spins at
 * 100% of a core for as long as the device works. On a hardware GPU that costs a core; on lavapipe, whose
 * shaders run on the CPU's cores, the spinning thread takes one of them from the shaders themselves: a conv4
 * second-order step on two cores took 1200-1800 ms with it and 940-990 ms without it (397,278 polls in 8
 * steps against 3,064, `bench/conv4-o2.ts`).
 *
 * {@link paceDawnPolling} makes those polls back off: a wait's first {@link SPIN_MS} polls as often as Dawn
 * asks (a short wait on a real GPU ends as soon as it would have), after that each poll first sleeps
 * a thirty-second of the wait so far, at most {@link MAX_SLEEP_MS}. So a wait ends at most about 3% (or 1 ms)
 * later than the device finished, and the thread sleeps instead of spinning.
 *
 * How it finds Dawn's polls: dawn.node looks `setImmediate` up on the global object at each call, with a
 * native function it has just made (N-API, no name: `name` is '' and its source `[native code]`, which no
 * JavaScript function and no bound one, named `bound ...`, has). The wrapper this installs passes every other
 * callback on untouched; such a callback is paced only when it is scheduled from inside a paced one (Dawn
 * rescheduling itself during a wait); one scheduled from anywhere else starts a new wait.
 */

/** Milliseconds of a wait during which the polls run back to back. */
export const SPIN_MS = 1;
/** Longest sleep before one poll, ms. */
export const MAX_SLEEP_MS = 1;
/**
 * A poll sleeps the wait so far divided by this: on a hardware GPU, whose waits for a step's loss are
 * milliseconds, a wait ends at most 1/32 later than the device finished.
 */
export const SLEEP_SHARE = 32;

type Immediate = typeof globalThis.setImmediate;

let installed: { original: Immediate; counters: DawnPollCounters } | undefined;
/** True while a paced native callback runs: a callback it schedules continues the same wait. */
let insidePoll = false;
/** When the current wait began (performance.now()). */
let waitStart = 0;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const nativeSource = /\{\s*\[native code\]\s*\}$/;

function isAnonymousNative(f: unknown): boolean {
  return typeof f === 'function' && f.name === '' && nativeSource.test(Function.prototype.toString.call(f));
}

/** What the pacing has done since {@link paceDawnPolling} installed it. */
export interface DawnPollCounters {
  /** Native callbacks passed through (Dawn's polls). */
  polls: number;
  /** Of those, the ones that slept first, and the milliseconds they slept together. */
  slept: number;
  sleptMs: number;
}

/**
 * Installs the pacing (once per process; later calls return the same counters). Called when dawn.node is
 * loaded: it affects nothing until a WebGPU promise is pending. `METATAPE_DAWN_SPIN=1` leaves Dawn's polling
 * as it is (to compare).
 */
export function paceDawnPolling(): DawnPollCounters {
  if (installed) return installed.counters;
  if (process.env.METATAPE_DAWN_SPIN === '1') return { polls: 0, slept: 0, sleptMs: 0 };
  const original = globalThis.setImmediate;
  const counters: DawnPollCounters = { polls: 0, slept: 0, sleptMs: 0 };
  const paced = function setImmediate(callback: (...args: unknown[]) => void, ...args: unknown[]) {
    if (!isAnonymousNative(callback)) return original(callback, ...args);
    counters.polls++;
    const now = performance.now();
    if (!insidePoll) waitStart = now;
    const waited = now - waitStart;
    const sleep = waited < SPIN_MS ? 0 : Math.min(MAX_SLEEP_MS, waited / SLEEP_SHARE);
    return original(() => {
      if (sleep > 0) {
        // Atomics.wait rather than setTimeout: sub-millisecond sleeps, and nothing else is due (the
        // event loop runs its other work between immediates as usual).
        Atomics.wait(sleeper, 0, 0, sleep);
        counters.slept++;
        counters.sleptMs += sleep;
      }
      insidePoll = true;
      try {
        callback(...args);
      } finally {
        insidePoll = false;
      }
    });
  } as Immediate;
  // Keeps what hangs off the original (`util.promisify.custom`, non-enumerable) for util.promisify.
  for (const [key, d] of Object.entries(Object.getOwnPropertyDescriptors(original)))
    if (!(key in paced)) Object.defineProperty(paced, key, d);
  for (const sym of Object.getOwnPropertySymbols(original))
    Object.defineProperty(paced, sym, Object.getOwnPropertyDescriptor(original, sym)!);
  globalThis.setImmediate = paced;
  installed = { original, counters };
  return counters;
}

/** Puts the original `setImmediate` back (tests). */
export function unpaceDawnPolling(): void {
  if (!installed) return;
  globalThis.setImmediate = installed.original;
  installed = undefined;
}
