/**
 * Where a threaded run's CPU and garbage collection go, per thread: the main thread, each worker thread, and
 * the rest of the process (V8's GC and compiler helpers, the module loader's thread). Linux only for CPU
 * (/proc); GC counts come from each isolate's own `PerformanceObserver`, so every figure is per isolate.
 *
 * Workers take part by calling {@link serveProbe} (bench/fairWorker.ts does so in the function that builds
 * their learner); the main thread asks them over a `BroadcastChannel`, which works while the workers are idle
 * between jobs.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { BroadcastChannel, isMainThread } from 'node:worker_threads';

/** Garbage collections of one isolate so far. */
export interface GcCounts {
  /** Scavenges (young generation). */
  minor: number;
  /** Full mark-compacts. */
  major: number;
  /** Pause time of both, ms. */
  pauseMs: number;
}

/** One thread's share of a measured stretch. */
export interface ThreadSample {
  tid: string;
  cpuMs: number;
  gc?: GcCounts;
}

const CHANNEL = 'metatape-bench-thread-probe';

const counts: GcCounts = { minor: 0, major: 0, pauseMs: 0 };
let observing = false;

/** Starts counting this isolate's garbage collections (idempotent); returns the live counts. */
export function countGc(): GcCounts {
  if (observing) return counts;
  observing = true;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) counts.minor++;
      else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) counts.major++;
      counts.pauseMs += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  return counts;
}

/** The kernel's id of the calling thread (`/proc/thread-self` is `<pid>/task/<tid>`). */
export function ownTid(): string | undefined {
  try {
    return readlinkSync('/proc/thread-self').split('/').at(-1);
  } catch {
    return undefined;
  }
}

/** CPU ms (user + system) of every thread of this process, by tid; empty where /proc is absent. */
export function threadCpu(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime, in USER_HZ ticks (100 per second on Linux).
      out.set(tid, (Number(fields[11]) + Number(fields[12])) * 10);
    }
  } catch {
    // Not Linux: no per-thread figures.
  }
  return out;
}

type Message = { ask: true } | { tid: string; gc: GcCounts };

/** In a worker thread: counts its GCs and answers the main thread's {@link askWorkers}. */
export function serveProbe(): void {
  if (isMainThread) return;
  const gc = countGc();
  const tid = ownTid() ?? '?';
  const channel = new BroadcastChannel(CHANNEL);
  channel.onmessage = (e) => {
    if ('ask' in (e as { data: Message }).data) channel.postMessage({ tid, gc: { ...gc } } satisfies Message);
  };
  // A worker is terminated by its pool; the channel must not keep it alive on its own.
  (channel as unknown as { unref(): void }).unref();
}

/** In the main thread: every serving worker's tid and GC counts, waiting up to `ms` for `expect` answers. */
export async function askWorkers(expect: number, ms = 2000): Promise<{ tid: string; gc: GcCounts }[]> {
  if (expect === 0) return [];
  const channel = new BroadcastChannel(CHANNEL);
  const got: { tid: string; gc: GcCounts }[] = [];
  try {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      channel.onmessage = (e) => {
        const m = (e as { data: Message }).data;
        if ('tid' in m) got.push(m);
        if (got.length >= expect) {
          clearTimeout(timer);
          resolve();
        }
      };
      channel.postMessage({ ask: true } satisfies Message);
    });
  } finally {
    channel.close();
  }
  return got.sort((a, b) => a.tid.localeCompare(b.tid));
}

/** A snapshot of the main thread, the workers and the rest, to subtract from a later one. */
export interface ProbeSnapshot {
  main: ThreadSample;
  workers: ThreadSample[];
  rest: number;
}

/** Takes a {@link ProbeSnapshot}; `workers` is how many workers serve the probe. */
export async function snapshot(workers: number): Promise<ProbeSnapshot> {
  const answers = await askWorkers(workers);
  // GC entries reach the observer from the event loop: let the ones of the stretch just measured arrive.
  await new Promise((resolve) => setTimeout(resolve, 10));
  const cpu = threadCpu();
  const mainTid = ownTid() ?? '?';
  const main: ThreadSample = { tid: mainTid, cpuMs: cpu.get(mainTid) ?? 0, gc: { ...countGc() } };
  const ws = answers.map((a) => ({ tid: a.tid, cpuMs: cpu.get(a.tid) ?? 0, gc: a.gc }));
  const known = new Set([mainTid, ...ws.map((w) => w.tid)]);
  let rest = 0;
  for (const [tid, ms] of cpu) if (!known.has(tid)) rest += ms;
  return { main, workers: ws, rest };
}

/** Per-iteration figures between two snapshots: CPU ms and GC counts of each thread, CPU ms of the rest. */
export function perIteration(a: ProbeSnapshot, b: ProbeSnapshot, iterations: number) {
  const one = (x: ThreadSample, y: ThreadSample) => ({
    cpuMs: (y.cpuMs - x.cpuMs) / iterations,
    scavenges: ((y.gc?.minor ?? 0) - (x.gc?.minor ?? 0)) / iterations,
    markCompacts: ((y.gc?.major ?? 0) - (x.gc?.major ?? 0)) / iterations,
    gcPauseMs: ((y.gc?.pauseMs ?? 0) - (x.gc?.pauseMs ?? 0)) / iterations,
  });
  return {
    main: one(a.main, b.main),
    workers: b.workers.map((w) => {
      const before = a.workers.find((x) => x.tid === w.tid) ?? { tid: w.tid, cpuMs: 0 };
      return one(before, w);
    }),
    restCpuMs: (b.rest - a.rest) / iterations,
  };
}
