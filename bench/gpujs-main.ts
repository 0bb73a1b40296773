/**
 * Prints the gpu.js benchmark alone: `npx tsx bench/gpujs-main.ts [--steps] [mode ...]` (under `xvfb-run -a`
 * for headlessgl, with the webgpu runtime's node first in PATH for webgpu; see .ci/install-gpu.sh).
 * `--steps` prints only the per-meta-iteration counters and times, fusion off and on (bench/gpujs-steps.ts).
 */
import { type GpujsMode, isGpujsMode, releaseWebGPU } from '../src/backends/gpujs/index.js';
import { formatBench, gpujsBench } from './gpujs.js';
import { measureSteps, STEP_KINDS, type StepRow } from './gpujs-steps.js';

const args = process.argv.slice(2);
const modes = args.filter(isGpujsMode) as GpujsMode[];
if (args.includes('--steps')) {
  const rows: StepRow[] = [];
  for (const mode of modes.length > 0 ? modes : (['webasm'] as GpujsMode[]))
    for (const kind of STEP_KINDS) rows.push(...(await measureSteps(mode, kind)));
  console.log(
    '| step | backend | fusion | dispatches | compiles | uploads | reads | bytes up | bytes read | ms/it median | ms/it fastest |',
  );
  console.log('|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const c = r.counters;
    console.log(
      `| ${r.kind} o2 | ${r.backend} | ${r.fusion ? 'on' : 'off'} | ${c.dispatches} | ${c.compiles} | ${c.uploads} | ${c.reads} | ${c.bytesUploaded} | ${c.bytesRead} | ${r.ms.toFixed(1)} | ${r.minMs.toFixed(1)} |`,
    );
  }
} else {
  const { rows, crossovers } = await gpujsBench({
    modes: modes.length > 0 ? modes : undefined,
    log: (l) => console.error(l),
  });
  console.log(formatBench(rows, crossovers));
}
await releaseWebGPU();
process.exit(0);
