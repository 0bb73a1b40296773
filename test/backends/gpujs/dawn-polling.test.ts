import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  MAX_SLEEP_MS,
  paceDawnPolling,
  SPIN_MS,
  unpaceDawnPolling,
} from '../../../src/backends/gpujs/dawn-polling.js';

/**
 * A function that looks like the ones dawn.node makes: its source prints as native code and it has no
 * name (a bound function prints as native code too; its `bound poll` name is taken away).
 */
function anonymousNative(f: () => void): () => void {
  const bound = f.bind(null);
  Object.defineProperty(bound, 'name', { value: '' });
  return bound;
}

/**
 * dawn.node's AsyncRunner, as it behaves while a WebGPU promise is pending: an anonymous native callback
 * that reschedules itself with the global `setImmediate` until the "device" is done at `doneAt`, with a
 * `named` one (a bound function that keeps its name) to check it is left alone. Resolves with the number of
 * polls and when the last one saw it done.
 */
function dawnLikeWait(doneAt: number, named = false): Promise<{ polls: number; seenAt: number }> {
  return new Promise((resolve) => {
    let polls = 0;
    const poll = () => {
      polls++;
      const now = performance.now();
      if (now >= doneAt) resolve({ polls, seenAt: now });
      else globalThis.setImmediate(callback);
    };
    const callback = named ? poll.bind(null) : anonymousNative(poll);
    globalThis.setImmediate(callback);
  });
}

describe('paceDawnPolling', () => {
  // The switch that turns the pacing off (to compare) must not be set here.
  beforeAll(() => {
    delete process.env.METATAPE_DAWN_SPIN;
  });
  afterEach(() => unpaceDawnPolling());

  it('turns a spinning wait into a sleeping one that still ends on time', async () => {
    const waitMs = 60;
    const spinning = await dawnLikeWait(performance.now() + waitMs);
    paceDawnPolling();
    const start = performance.now();
    const paced = await dawnLikeWait(start + waitMs);
    // Back to back, polls take microseconds; paced, the wait after the first SPIN_MS ms sleeps up to
    // MAX_SLEEP_MS per poll, i.e. at least waitMs / MAX_SLEEP_MS polls fewer than the spin's.
    expect(spinning.polls).toBeGreaterThan(500);
    expect(paced.polls).toBeLessThan(spinning.polls / 4);
    // It ends at most one sleep (plus the event loop's own slack) after the device finished.
    expect(paced.seenAt - (start + waitMs)).toBeLessThan(MAX_SLEEP_MS + 15);
  });

  it('spins through the first SPIN_MS of a wait, so short waits end as soon as before', async () => {
    const counters = paceDawnPolling();
    const before = counters.slept;
    await dawnLikeWait(performance.now() + SPIN_MS / 2);
    expect(counters.slept).toBe(before);
  });

  it('starts a new wait for a native callback scheduled from outside a poll', async () => {
    const counters = paceDawnPolling();
    await dawnLikeWait(performance.now() + 20);
    const slept = counters.slept;
    expect(slept).toBeGreaterThan(0);
    // A second wait begins with SPIN_MS of back-to-back polls again, not where the first left off.
    await dawnLikeWait(performance.now() + SPIN_MS / 2);
    expect(counters.slept).toBe(slept);
  });

  it('leaves other callbacks and util.promisify(setImmediate) as they were', async () => {
    const counters = paceDawnPolling();
    const polls = counters.polls;
    // A bound function (native code, but named) rescheduling itself is not Dawn: it spins as before.
    await dawnLikeWait(performance.now() + 20, true);
    const order: string[] = [];
    await new Promise<void>((resolve) =>
      globalThis.setImmediate(
        (a: string, b: string) => {
          order.push(a, b);
          resolve();
        },
        'x',
        'y',
      ),
    );
    expect(order).toEqual(['x', 'y']);
    await expect(promisify(globalThis.setImmediate)('v')).resolves.toBe('v');
    expect(counters.polls).toBe(polls);
  });

  it('puts the original back', () => {
    const original = globalThis.setImmediate;
    paceDawnPolling();
    expect(globalThis.setImmediate).not.toBe(original);
    unpaceDawnPolling();
    expect(globalThis.setImmediate).toBe(original);
  });
});
