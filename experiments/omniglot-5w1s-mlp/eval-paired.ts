// Scores trained runs on identical test episodes and reports per-run and paired (run - first run) accuracy.
//
//   npx tsx experiments/omniglot-5w1s-mlp/eval-paired.ts <queryShots> <tasks> <runDir> [<runDir> ...]
//
// Each run's newest checkpoint is adapted on `tasks` fresh test episodes for 0 and every `eval.steps` inner
// steps. With the run's own data.queryShots, episodes come from the same `eval/test/<K>` stream, in the same
// chunks, as the final evaluation of `metatape run`, so the means reproduce its summary.json. Another
// queryShots (e.g. 15) is evaluated on the `eval/test-q<Q>/<K>` stream: the query count does not change the
// parameters, so the checkpoint is loaded under its training config hash. Runs with the same seed (order 1
// and order 2) see identical episodes, which is what makes the paired difference meaningful.
// Writes eval-q<Q>.json beside the run folders' parent and prints a markdown table.
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { trainingConfigHash } from '../../src/config/hash.js';
import { parseConfigText } from '../../src/config/load.js';
import { latestCheckpoint } from '../../src/io/checkpointFiles.js';
import { meanCi } from '../../src/meta/evaluate.js';
import { restoreForEvaluation } from '../../src/meta/experiment.js';

const [q, n, ...runs] = process.argv.slice(2);
if (!q || !n || runs.length === 0) throw new Error('usage: eval-paired.ts <queryShots> <tasks> <runDir>...');
const tasks = Number(n);
const perRun: { run: string; order: number; iteration: number; perStep: Map<number, number[]> }[] = [];
for (const runDir of runs) {
  const text = await readFile(join(runDir, 'config.json'), 'utf8');
  const trained = parseConfigText(text, 'config.json');
  const config = parseConfigText(text, 'config.json', [`data.queryShots=${q}`]);
  const ckpt = await latestCheckpoint(runDir);
  if (!ckpt) throw new Error(`${runDir}: no checkpoint`);
  const { learner, meta, source, rngFor } = await restoreForEvaluation(
    config,
    ckpt.path,
    trainingConfigHash(trained),
  );
  const shots = config.data.shots;
  const own = config.data.queryShots === trained.data.queryShots;
  const rng = rngFor(own ? `eval/test/${shots}` : `eval/test-q${q}/${shots}`);
  const steps = [0, ...config.eval.steps];
  const perStep = new Map<number, number[]>(steps.map((s) => [s, []]));
  const chunk = Math.min(config.trainer.metaBatchSize * 4, 100); // as runExperiment's final evaluation
  for (let done = 0; done < tasks; done += chunk) {
    const batch = source.sample(rng, Math.min(chunk, tasks - done), 'test', shots);
    learner.adapt(meta, batch.supportX, batch.supportY, Math.max(...steps), 'none', (s, params) => {
      const pred = learner.apply(params, batch.queryX);
      perStep.get(s)?.push(...learner.metric(pred, batch.queryY, 'perTask').dataSync());
    });
  }
  perRun.push({ run: runDir, order: config.trainer.order, iteration: ckpt.iteration, perStep });
}
const pct = (v: { mean: number; ci95: number }) =>
  `${(100 * v.mean).toFixed(1)} ± ${(100 * v.ci95).toFixed(1)}`;
const steps = [...perRun[0]!.perStep.keys()];
const lines = [
  `| run | order | iterations | ${steps.map((s) => `${s} steps`).join(' | ')} |`,
  `|---|---|---|${steps.map(() => '---').join('|')}|`,
];
const out = perRun.map((r, i) => {
  const scores = steps.map((s) => ({ steps: s, ...meanCi(r.perStep.get(s)!) }));
  const paired =
    i === 0
      ? undefined
      : steps.map((s) => {
          const a = perRun[0]!.perStep.get(s)!;
          return { steps: s, ...meanCi(r.perStep.get(s)!.map((v, j) => v - a[j]!)) };
        });
  lines.push(`| ${r.run} | ${r.order} | ${r.iteration} | ${scores.map(pct).join(' | ')} |`);
  if (paired) lines.push(`| minus the first run (paired) | | | ${paired.map(pct).join(' | ')} |`);
  return { run: r.run, order: r.order, iteration: r.iteration, queryShots: Number(q), scores, paired };
});
await writeFile(join(dirname(dirname(runs[0]!)), `eval-q${q}.json`), `${JSON.stringify(out, null, 2)}\n`);
console.log(lines.join('\n'));
