/**
 * The device kit's counters phase (bench/device/run.sh): dispatches, compiles, uploads, reads and bytes per warm
 * second-order meta-iteration, and its time, fusion off and on (bench/gpujs-steps.ts), on one gpu.js mode.
 * Unlike `bench/gpujs-main.ts --steps`, each row prints as soon as it is measured, so a phase cut off by its time
 * limit keeps the rows it finished (the sinusoid's before conv4's).
 * Usage: `node steps.mjs [mode] [kind ...]` (default: webgpu, every kind in {@link STEP_KINDS}).
 */
import { type GpujsMode, isGpujsMode, releaseWebGPU } from '../../src/backends/gpujs/index.js';
import { formatStepRow, measureSteps, STEP_KINDS, STEP_TABLE_HEADER, type StepKind } from '../gpujs-steps.js';

const args = process.argv.slice(2);
const mode: GpujsMode = args.find(isGpujsMode) ?? 'webgpu';
const asked = args.filter((a) => (STEP_KINDS as readonly string[]).includes(a)) as StepKind[];
const unknown = args.filter((a) => !isGpujsMode(a) && !(STEP_KINDS as readonly string[]).includes(a));
if (unknown.length > 0) {
  console.error(
    `steps: unknown argument(s) ${unknown.join(', ')}; expected a gpu.js mode and ${STEP_KINDS.join(', ')}`,
  );
  process.exit(2);
}
console.log(STEP_TABLE_HEADER);
for (const kind of asked.length > 0 ? asked : STEP_KINDS) {
  for (const row of await measureSteps(mode, kind)) console.log(formatStepRow(row));
}
await releaseWebGPU();
// Dawn's teardown can abort once a device was opened (see src/cli/commands/doctor.ts): exit at once.
process.exit(0);
