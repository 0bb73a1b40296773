/**
 * One Hessian-vector product of the Omniglot MLP's loss (the MAML paper's 784-256-128-64-64-5 network with
 * batch norm, all 271k parameters as one flat vector) by forward-over-reverse and by reverse-over-reverse:
 * milliseconds per product and the peak memory it adds. Each measurement runs in its own process, so that
 * one mode's peak cannot hide the other's: the figure is VmHWM after the products minus VmHWM after the
 * setup (model, data, one plain gradient), i.e. what the HVP itself adds at its peak.
 *
 * Run: `npx tsx bench/hvp.ts` (add `--batch 25,1024` for other batch sizes, `--float64` for float64).
 *
 * Three ways are measured:
 * - `forward-over-reverse`: `hvp(f, x, v)`, a gradient pass under a ForwardAccumulator with tangent v.
 * - `reverse-over-reverse`: `hvp(f, x, v, { mode: 'reverse-over-reverse' })`, the gradient of <∇f, v>.
 * - `reverse-over-reverse, graph reused`: Newton-CG's reverse-over-reverse curvature point, whose gradient
 *   graph is recorded once per point and kept, so each further product is one backward pass over it (the
 *   time per product excludes the recording; the memory includes the kept graph).
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import {
  type HvpMode,
  hessianModel,
  hvp,
  mamlMlp,
  Rng,
  randomNormal,
  setDefaultFloat,
  softmaxCrossEntropy,
  type Tensor,
  tensor,
  valueAndGrad,
} from '../src/index.js';
import { peakRssMb } from '../src/log/peakRss.js';
import { flattenParams, unflattenParams } from '../src/optim/flatParams.js';

type Way = HvpMode | 'reverse-over-reverse, graph reused';
const WAYS: Way[] = ['forward-over-reverse', 'reverse-over-reverse', 'reverse-over-reverse, graph reused'];

interface WorkerResult {
  way: Way;
  batch: number;
  ms: number;
  addedPeakMb: number;
  /** Memory still held between products (after a full GC): the kept graph, for the reused way. */
  heldMb: number;
  params: number;
}

/** Heap and array buffers alive after a full GC, in MB (the worker runs with --expose-gc). */
function liveMb(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return (m.heapUsed + m.arrayBuffers) / 2 ** 20;
}

function worker(way: Way, batch: number, reps: number): WorkerResult {
  const rng = new Rng(0);
  const model = mamlMlp(784, 5);
  const { flat, layout } = flattenParams(model.initParams(rng));
  const images = randomNormal([batch, 784], rng);
  const labels = tensor(
    Array.from({ length: batch }, (_, i) => i % 5),
    undefined,
    'int32',
  );
  const loss = (x: Tensor): Tensor =>
    softmaxCrossEntropy(model.apply(unflattenParams(x, layout), images), labels);
  const v = randomNormal([flat.size], rng, 0, 1, flat.dtype);
  valueAndGrad(loss)(flat).grad.dataSync();
  const before = peakRssMb();
  const held0 = liveMb();
  let product: () => Tensor;
  if (way === 'reverse-over-reverse, graph reused') {
    const point = hessianModel(loss)(flat);
    product = () => point.apply(v);
  } else {
    product = () => hvp(loss, flat, v, { mode: way });
  }
  product().dataSync(); // warm-up
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    product().dataSync();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const held = liveMb() - held0;
  return {
    way,
    batch,
    ms: times[times.length >> 1]!,
    addedPeakMb: peakRssMb() - before,
    heldMb: held,
    params: flat.size,
  };
}

function main(): void {
  const args = process.argv.slice(2);
  const here = dirname(fileURLToPath(import.meta.url));
  const batchAt = args.indexOf('--batch');
  const batches = (batchAt >= 0 ? args[batchAt + 1]! : '25,1024').split(',').map(Number);
  const float64 = args.includes('--float64');
  const reps = 7;
  const rows: WorkerResult[] = [];
  for (const batch of batches) {
    for (const way of WAYS) {
      const out = execFileSync(
        process.execPath,
        [
          '--expose-gc',
          '--import',
          'tsx',
          join(here, 'hvp.ts'),
          '--worker',
          way,
          String(batch),
          String(reps),
          float64 ? 'float64' : 'float32',
        ],
        { encoding: 'utf8' },
      );
      rows.push(JSON.parse(out.trim().split('\n').at(-1)!) as WorkerResult);
    }
  }
  const dtype = float64 ? 'float64' : 'float32';
  console.log(
    `One HVP of the Omniglot MLP's loss (784-256-128-64-64-5 + BN, ${rows[0]?.params} parameters, ${dtype}, CPU), median of ${reps}`,
  );
  console.log('');
  console.log('| batch | way | ms per HVP | peak RSS added (MB) | held between products (MB) |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.batch} | ${r.way} | ${r.ms.toFixed(1)} | ${r.addedPeakMb.toFixed(1)} | ${r.heldMb.toFixed(1)} |`,
    );
  }
}

const workerAt = process.argv.indexOf('--worker');
if (workerAt >= 0) {
  const [way, batch, reps, dtype] = process.argv.slice(workerAt + 1);
  if (dtype === 'float64') setDefaultFloat('float64');
  console.log(JSON.stringify(worker(way as Way, Number(batch), Number(reps))));
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main();
}
