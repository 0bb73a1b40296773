import { join } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { peakRssMb } from '../log/peakRss.js';

/** File in a run folder with the training loop's CPU and wall time (see {@link TrainingClock}). */
export const RESOURCES_FILE = 'resources.json';

/** Contents of `resources.json`. */
export interface TrainingResources {
  /** Iterations between the first and the last progress report (the ones timed). */
  iterations: number;
  /** CPU seconds (user + system) this process spent on those iterations. */
  cpuSeconds: number;
  wallSeconds: number;
  /** Iterations per CPU second: insensitive to other processes sharing the cores, unlike wall-clock speed. */
  cpuItPerSec: number;
  wallItPerSec: number;
  /** Resident set size when the trainer was called (runtime and modules loaded, nothing built yet), MB. */
  baselineRssMb: number;
  /** Peak resident set size up to the last timed iteration (before the final evaluation), MB. */
  peakTrainRssMb: number;
  /** `peakTrainRssMb - baselineRssMb`: what setup and training added on top of the runtime. */
  trainRssMb: number;
}

/**
 * Times the training loop from the outside, using the progress reports the trainer sends every logging
 * window: from the first report to the last, so setup and the final evaluation are excluded. CPU time is
 * what makes speed comparable on a shared machine, where wall-clock speed depends on the neighbours.
 */
export class TrainingClock {
  private first?: { iteration: number; cpu: number; wall: number; maxRss: number };
  private last?: { iteration: number; cpu: number; wall: number; maxRss: number };
  // Sampled at construction, which the CLI does right before calling the trainer.
  private readonly baselineRss = process.memoryUsage().rss / 2 ** 20;

  /** Records a progress report at `iteration`. */
  mark(iteration: number): void {
    const u = process.cpuUsage();
    const point = {
      iteration,
      cpu: (u.user + u.system) / 1e6,
      wall: performance.now() / 1000,
      maxRss: peakRssMb(),
    };
    if (!this.first) this.first = point;
    else if (iteration > this.first.iteration) this.last = point;
  }

  /** The timed span, or undefined with fewer than two reports. */
  resources(): TrainingResources | undefined {
    if (!this.first || !this.last) return undefined;
    const iterations = this.last.iteration - this.first.iteration;
    const cpuSeconds = this.last.cpu - this.first.cpu;
    const wallSeconds = this.last.wall - this.first.wall;
    return {
      iterations,
      cpuSeconds,
      wallSeconds,
      cpuItPerSec: iterations / cpuSeconds,
      wallItPerSec: iterations / wallSeconds,
      baselineRssMb: this.baselineRss,
      peakTrainRssMb: this.last.maxRss,
      trainRssMb: this.last.maxRss - this.baselineRss,
    };
  }

  /** Writes `resources.json` into the run folder when there is something to write. */
  async write(runDir: string): Promise<void> {
    const r = this.resources();
    if (r) await writeFileAtomic(join(runDir, RESOURCES_FILE), `${JSON.stringify(r, null, 2)}\n`);
  }
}
