import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMPUTE_HEAP_FLAG } from '../meta/workerHeap.js';

/** One child process to run: CLI arguments (after the entry point) and where its output goes. */
export interface WorkerJob {
  /** Label for progress messages. */
  id: string;
  /** Arguments of the `metatape` CLI, e.g. `['run', 'cfg.json', '--run-dir', dir]`. */
  args: string[];
  /** File that receives the child's stdout and stderr. */
  logFile: string;
}

/** How a worker ended. */
export interface WorkerResult {
  id: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  seconds: number;
}

/**
 * The command that starts the CLI in a child process, the same way this process runs it: the compiled entry
 * point when running from `dist/`, else the TypeScript sources through tsx. Resolving tsx to an absolute URL
 * keeps workers working whatever the current directory is. Each starts with the heap bin/metatape.js gives
 * the CLI ({@link COMPUTE_HEAP_FLAG}).
 */
export function cliCommand(): { command: string; args: string[] } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const main = fileURLToPath(new URL('../cli/main.ts', here));
    return {
      command: process.execPath,
      args: [COMPUTE_HEAP_FLAG, '--import', import.meta.resolve('tsx'), main],
    };
  }
  return {
    command: process.execPath,
    args: [COMPUTE_HEAP_FLAG, fileURLToPath(new URL('../cli/main.js', here))],
  };
}

/** Default number of workers: the cores this process may use. */
export function defaultJobs(): number {
  return availableParallelism();
}

/**
 * Runs jobs as child processes, at most `concurrency` at once, in the given order. Each child is its own
 * process so its peak memory and its timings are its own, and a crash in one variant leaves the others
 * running. Resolves once all have ended (failures are results, not exceptions).
 */
export async function runWorkers(
  jobs: readonly WorkerJob[],
  concurrency: number,
  hooks: { onStart?: (job: WorkerJob) => void; onEnd?: (result: WorkerResult) => void } = {},
): Promise<WorkerResult[]> {
  const { command, args } = cliCommand();
  const results: WorkerResult[] = new Array(jobs.length);
  let next = 0;
  const runOne = (job: WorkerJob): Promise<WorkerResult> =>
    new Promise((resolve) => {
      const started = performance.now();
      const out = createWriteStream(job.logFile, { flags: 'a' });
      // A Ctrl-C reaches the whole process group, so each child checkpoints and stops by itself.
      const child = spawn(command, [...args, ...job.args], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, FORCE_COLOR: '0' },
      });
      child.stdout.pipe(out, { end: false });
      child.stderr.pipe(out, { end: false });
      const finish = (code: number | null, signal: NodeJS.Signals | null) => {
        out.end();
        resolve({ id: job.id, code, signal, seconds: (performance.now() - started) / 1000 });
      };
      child.on('error', () => finish(null, null));
      child.on('close', finish);
    });
  const lane = async () => {
    while (next < jobs.length) {
      const i = next++;
      const job = jobs[i]!;
      hooks.onStart?.(job);
      const r = await runOne(job);
      results[i] = r;
      hooks.onEnd?.(r);
    }
  };
  const lanes = Math.max(1, Math.min(concurrency, jobs.length));
  await Promise.all(Array.from({ length: lanes }, lane));
  return results;
}

/** Path of a variant's worker log inside its run folder. */
export function workerLogPath(runDir: string): string {
  return join(runDir, 'worker.log');
}
