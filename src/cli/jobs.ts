import { defaultJobs } from '../compare/workers.js';
import { UsageError } from './errors.js';

/** The `--jobs` option, the same for every command that runs worker processes (`sweep`, `compare`). */
export function jobsOption() {
  return {
    alias: 'j',
    type: 'number',
    describe: `Worker processes at once (default: the available cores, ${defaultJobs()} here; never more than the runs)`,
  } as const;
}

/**
 * Worker processes to run `work` runs with: `--jobs` when given (a whole number ≥ 1), else the available
 * cores; never more than the runs, so what is printed and recorded is what actually runs at once.
 */
export function resolveJobs(jobs: number | undefined, work: number): number {
  if (jobs !== undefined && !(Number.isInteger(jobs) && jobs >= 1))
    throw new UsageError(`--jobs: got ${jobs}; expected a whole number of at least 1`);
  return Math.max(1, Math.min(jobs ?? defaultJobs(), work));
}
