/**
 * `npm run bench`: every benchmark table of the project. `npm run bench -- core maml` runs some sections.
 * Figures are wall times on the machine it runs on; each table carries ratios against a baseline measured in
 * the same command, which travel between machines better than absolute times.
 */
import { arch, cpus, platform } from 'node:os';
import { benchCore } from './core.js';
import { type BenchRow, formatTable } from './table.js';

type Section = { title: string; run: () => BenchRow[] | Promise<BenchRow[]> };

const sections: Record<string, Section> = {
  core: { title: 'Tensor and tape core (CPU backend, float32)', run: benchCore },
  maml: {
    title: 'Sinusoid MAML vs PyTorch (paired, pinned, interleaved)',
    run: async () => (await import('./fair.js')).benchFairMaml(),
  },
  memory: {
    title: 'Memory over long MAML runs: RSS, JS heap, ArrayBuffers (metatape)',
    run: async () => (await import('./fair.js')).benchFairMemory(),
  },
  optim: {
    title: 'Optimizers: Newton-CG vs Adam vs SGD, HVP cost',
    run: async () => (await import('./optim.js')).benchOptim(),
  },
  omniglot: {
    title: 'Omniglot MAML vs PyTorch: MLP with the same low-rank math, conv4 vs grouped CPU conv (paired)',
    run: async () => (await import('./fair.js')).benchFairOmniglot(),
  },
  conv4: {
    title: 'Omniglot MAML conv4 vs PyTorch CPU conv (paired, pinned, interleaved)',
    run: async () => (await import('./fair.js')).benchFairConv4(),
  },
  fastweights: {
    title: 'Omniglot MAML MLP: low-rank fast weights vs full per-task kernels (metatape only)',
    run: async () => (await import('./omniglot.js')).benchOmniglot(),
  },
  matmul: {
    title: 'Matmul GFLOP/s vs PyTorch mm (paired, pinned, interleaved)',
    run: async () => (await import('./fair.js')).benchFairMatmul(),
  },
  kernels: {
    title: 'Matmul kernels on the MAML shapes (WebAssembly SIMD vs JS)',
    run: async () => (await import('./matmul.js')).benchMatmul(),
  },
  threads: {
    title: 'Omniglot MAML MLP at 1 and 2 threads vs PyTorch (paired, pinned to 2 cores, interleaved)',
    run: async () => (await import('./fairThreads.js')).benchFairThreads(),
  },
  gpujs: { title: 'gpu.js backend modes vs CPU', run: async () => (await import('./gpujs.js')).benchGpujs() },
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = wanted.length > 0 ? wanted : Object.keys(sections);
console.log(
  `# metatape benchmarks\n\nNode ${process.version}, ${platform()} ${arch()}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, ${new Date().toISOString()}\n`,
);
for (const name of names) {
  const s = sections[name];
  if (!s) {
    console.error(`unknown section '${name}'; sections: ${Object.keys(sections).join(', ')}`);
    process.exitCode = 2;
    continue;
  }
  try {
    console.log(formatTable(s.title, await s.run()));
  } catch (err) {
    console.log(`### ${s.title}\n\nnot available: ${(err as Error).message}\n`);
  }
}
