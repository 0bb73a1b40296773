/**
 * Prints the gpu.js benchmark alone: `npx tsx bench/gpujs-main.ts [mode ...]` (under `xvfb-run -a` for
 * headlessgl, with the webgpu runtime's node first in PATH for webgpu; see .ci/install-gpu.sh).
 */
import { type GpujsMode, isGpujsMode, releaseWebGPU } from '../src/backends/gpujs/index.js';
import { formatBench, gpujsBench } from './gpujs.js';

const modes = process.argv.slice(2).filter(isGpujsMode) as GpujsMode[];
const { rows, crossovers } = await gpujsBench({
  modes: modes.length > 0 ? modes : undefined,
  log: (l) => console.error(l),
});
console.log(formatBench(rows, crossovers));
await releaseWebGPU();
process.exit(0);
