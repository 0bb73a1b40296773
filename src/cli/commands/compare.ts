import { join, relative, resolve } from 'node:path';
import type { Argv } from 'yargs';
import {
  type Method,
  orderMethods,
  parseAlgorithms,
  parseIntList,
  parseSeeds,
  planVariants,
} from '../../compare/plan.js';
import { groupHeader, groupRows, ratioHeader, ratioRows } from '../../compare/report.js';
import { overrideTexts, runComparison } from '../../compare/runComparison.js';
import { loadConfig } from '../../config/load.js';
import { createRunFolder, resolveRunDir } from '../../io/runFolder.js';
import { overlayRuns } from '../../log/compare.js';
import { algorithmVariants } from '../../meta/algorithms/registry.js';
import { EXIT, UsageError } from '../errors.js';
import { type GlobalArgs, overridesFromFlags } from '../globals.js';
import { jobsOption, resolveJobs } from '../jobs.js';
import { formatTable, println } from '../print.js';

/**
 * `metatape compare <config>`: first- vs second-order MAML (`--orders`), or any algorithms of the registry
 * (`--algorithms maml,fomaml,imaml`), on the same seeds and task streams, one worker process per variant,
 * then a report (tables, ratios, plots). `--runs` overlays existing runs instead.
 */
export function registerCompare(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command(
    'compare [config]',
    'Train orders × inner steps × seeds from one config in parallel workers and report accuracy, speed and memory',
    (b) =>
      b
        .positional('config', { type: 'string', describe: 'YAML config (see configs/)' })
        .option('orders', {
          type: 'string',
          describe: "Orders of the config's algorithm to compare (default 1,2)",
        })
        .option('algorithms', {
          type: 'string',
          describe: `Instead of --orders: algorithms to compare, the first as baseline (${algorithmVariants()
            .map((v) => v.name)
            .join(', ')})`,
        })
        .option('seeds', {
          type: 'string',
          default: '3',
          describe: 'A count (seeds from the config seed up) or a list like 0,7,9',
        })
        .option('inner-steps', {
          type: 'string',
          describe: 'Inner steps during meta-training, e.g. 1,2,5 (default: the config)',
        })
        .option('jobs', jobsOption())
        .option('dir', {
          type: 'string',
          describe:
            'Comparison folder (default <out>/compare-<name>/<timestamp>; an existing one is continued)',
        })
        .option('set', { type: 'string', array: true, describe: 'Override applied to every variant' })
        .option('backend', { type: 'string' })
        .option('iterations', { type: 'number', describe: 'Shorthand for --set trainer.iterations=N' })
        .option('shots', { type: 'number', describe: 'K of the headline test metric (default: training K)' })
        .option('steps', { type: 'number', describe: 'Test inner steps of the headline (default: the most)' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'List the variants and exit' })
        .option('runs', {
          type: 'string',
          array: true,
          describe: 'Instead: overlay these existing runs (same as metatape report <runs..>)',
        })
        .option('metric', { type: 'string', default: 'metaLoss', describe: 'With --runs: metric to overlay' })
        .option('svg', { type: 'string', default: 'compare.svg', describe: 'With --runs: plot file' }),
    async (argv) => {
      if (argv.runs) {
        const runDirs = await Promise.all(argv.runs.map((r) => resolveRunDir(argv.out, String(r))));
        const { table } = await overlayRuns({ runDirs, metric: argv.metric, svg: argv.svg });
        println(table);
        println(`plot: ${argv.svg}`);
        return;
      }
      if (!argv.config) throw new UsageError('compare needs a config file (or --runs RUN...)');
      // `--out` is the global root of runs; variants ignore output.dir since each gets an explicit folder.
      const overrides = overridesFromFlags({
        set: argv.set,
        backend: argv.backend,
        iterations: argv.iterations,
      });
      const base = await loadConfig(argv.config, overrides);
      const variants = planVariants({
        methods: methodsOf(argv.orders, argv.algorithms),
        innerSteps: argv.innerSteps
          ? parseIntList('--inner-steps', argv.innerSteps)
          : [base.trainer.innerSteps],
        seeds: parseSeeds(argv.seeds, base.seed),
      });
      const jobs = resolveJobs(argv.jobs, variants.length);
      if (argv.dryRun) {
        for (const v of variants) {
          const sets = [
            ...(v.algorithm ? [`trainer.algorithm=${v.algorithm}`] : []),
            ...(v.order ? [`trainer.order=${v.order}`] : []),
          ];
          println(`${v.id}\t${[...sets, `trainer.innerSteps=${v.innerSteps}`, `seed=${v.seed}`].join(' ')}`);
        }
        println(`${variants.length} variants, ${jobs} at a time`);
        return;
      }
      const dir = argv.dir
        ? resolve(argv.dir)
        : (await createRunFolder(argv.out, `compare-${base.name}`)).dir;
      process.stderr.write(`comparison folder ${dir}: ${variants.length} variants, ${jobs} at a time\n`);
      // Ctrl-C reaches the workers too (same process group); they checkpoint and stop, and this process
      // stays to write the report of whatever finished. Running the same command with --dir continues.
      let interrupted = false;
      const onSignal = () => {
        interrupted = true;
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        const outcome = await runComparison({
          configPath: argv.config,
          overrides,
          variants,
          dir,
          jobs,
          plan: {
            config: argv.config,
            overrides: overrideTexts(overrides),
            methods: [...new Set(variants.map((v) => v.method))],
            orders: [...new Set(variants.flatMap((v) => (v.order ? [v.order] : [])))],
            innerSteps: [...new Set(variants.map((v) => v.innerSteps))],
            seeds: [...new Set(variants.map((v) => v.seed))],
          },
          ...(argv.logLevel ? { logLevel: argv.logLevel } : {}),
          ...(argv.shots !== undefined || argv.steps !== undefined
            ? {
                prefer: {
                  ...(argv.shots !== undefined ? { shots: argv.shots } : {}),
                  ...(argv.steps !== undefined ? { steps: argv.steps } : {}),
                },
              }
            : {}),
          onMessage: (line) => process.stderr.write(`${line}\n`),
        });
        println(formatTable(groupHeader(outcome.summary), groupRows(outcome.summary)));
        if (outcome.summary.ratios.length > 0) {
          println();
          println(formatTable(ratioHeader(outcome.summary), ratioRows(outcome.summary)));
        }
        println();
        const shown = relative(process.cwd(), dir);
        println(`report: ${join(shown.startsWith('..') || shown === '' ? dir : shown, 'report.md')}`);
        const failed = outcome.workers.filter((w) => w.code !== 0);
        if (interrupted) process.exitCode = EXIT.interrupted;
        else if (failed.length > 0)
          throw new Error(
            `${failed.length} of ${variants.length} variants failed: ${failed.map((f) => f.id).join(' ')}`,
          );
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    },
  );
}

/** The methods of `--orders` or `--algorithms` (not both: `fomaml` already is MAML at order 1). */
function methodsOf(orders: string | undefined, algorithms: string | undefined): Method[] {
  if (algorithms !== undefined && orders !== undefined) {
    throw new UsageError(
      '--orders and --algorithms exclude each other: name orders in --algorithms (maml,fomaml)',
    );
  }
  if (algorithms !== undefined) return parseAlgorithms(algorithms);
  return orderMethods(parseIntList('--orders', orders ?? '1,2'));
}
