/**
 * Backend counters per meta-iteration of the trainer's own loop body (`trainIteration`, as `metatape run`
 * runs it on one thread): reads (host round trips), dispatches, uploads. Counts, not times, so a loaded
 * machine gives the same numbers.
 *
 *   npx tsx bench/iterationReads.ts configs/sinusoid-quick.yaml [--iterations 5] [k=v overrides...]
 *   npx tsx bench/iterationReads.ts configs/imaml-vs-maml-sinusoid.yaml trainer.algorithm=imaml
 */
import { diffCounters, formatCounters } from '../src/backends/backend.js';
import { getBackend } from '../src/backends/registry.js';
import { loadConfig } from '../src/config/load.js';
import { outerOptimizer } from '../src/meta/factories.js';
import { setup } from '../src/meta/setup.js';
import { type TrainState, trainIteration } from '../src/meta/trainIteration.js';

const args = process.argv.slice(2);
const at = args.indexOf('--iterations');
const iterations = at >= 0 ? Number(args[at + 1]) : 5;
const rest = at >= 0 ? [...args.slice(0, at), ...args.slice(at + 2)] : args;
const [path, ...overrides] = rest;
if (!path) throw new Error('usage: npx tsx bench/iterationReads.ts <config> [--iterations N] [k=v ...]');

const config = await loadConfig(path, overrides);
const s = await setup(config);
const outer = outerOptimizer(config);
const rng = s.rngFor('tasks');
const meta = s.learner.initMetaParams(s.learner.model.initParams(s.rngFor('init')));
let state: TrainState<unknown> = { meta, optState: outer.init(meta) };
const backend = getBackend();
if (!backend.counters) throw new Error(`${backend.name} has no counters`);
console.log(`${config.name}: ${config.trainer.algorithm}, order ${config.trainer.order}, on ${backend.name}`);
for (let i = 1; i <= iterations; i++) {
  const batch = s.source.sample(rng, config.trainer.metaBatchSize, 'train');
  const before = backend.counters;
  const r = await trainIteration(
    (m, b, p) => s.learner.metaGradientAsync(m, b, p),
    outer,
    state,
    batch,
    i,
    i / config.trainer.iterations,
  );
  state = r;
  console.log(
    `iteration ${i}: ${formatCounters(diffCounters(backend.counters, before))} (meta-loss ${r.loss})`,
  );
}
