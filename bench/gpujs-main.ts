/**
 * Prints the gpu.js benchmark alone: `npx tsx bench/gpujs-main.ts [--steps] [mode ...]` (under `xvfb-run -a`
 * for headlessgl, with the webgpu runtime's node first in PATH for webgpu; see .ci/install-gpu.sh).
 * `--steps` prints only the per-meta-iteration counters and times, fusion off and on (bench/gpujs-steps.ts).
 */
import { type GpujsMode, isGpujsMode, releaseWebGPU } from '../src/backends/gpujs/index.js';
import { formatBench, gpujsBench } from './gpujs.js';
import { formatStepRow, measureSteps, STEP_KINDS, STEP_TABLE_HEADER, type StepRow } from './gpujs-steps.js';

const args = process.argv.slice(2);
const modes = args.filter(isGpujsMode) as GpujsMode[];
if (args.includes('--steps')) {
  const rows: StepRow[] = [];
  for (const mode of modes.length > 0 ? modes : (['webasm'] as GpujsMode[]))
    for (const kind of STEP_KINDS) rows.push(...(await measureSteps(mode, kind)));
  console.log(STEP_TABLE_HEADER);
  for (const r of rows) console.log(formatStepRow(r));
} else {
  const { rows, crossovers } = await gpujsBench({
    modes: modes.length > 0 ? modes : undefined,
    log: (l) => console.error(l),
  });
  console.log(formatBench(rows, crossovers));
}
await releaseWebGPU();
process.exit(0);
