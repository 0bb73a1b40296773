import type { Argv } from 'yargs';
import { resolveRunDir } from '../../io/runFolder.js';
import { compareRuns } from '../../log/compare.js';
import { writeSvg } from '../../log/plots.js';
import type { GlobalArgs } from '../globals.js';
import { formatNumber, formatTable, println } from '../print.js';

/** `metatape compare <runs..>`: overlay one metric of several runs. */
export function registerCompare(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command(
    'compare <runs..>',
    'Overlay a metric of several runs in one SVG and print their final values',
    (b) =>
      b
        .positional('runs', {
          type: 'string',
          array: true,
          demandOption: true,
          describe: 'Run folders or run names',
        })
        .option('metric', { type: 'string', default: 'metaLoss', describe: 'Metric to compare' })
        .option('split', { type: 'string', describe: 'Only this split (long-format metrics)' })
        .option('log', { type: 'string', default: 'metrics', describe: 'Metrics log name (metrics or eval)' })
        .option('log-y', { type: 'boolean', default: false, describe: 'Logarithmic y axis' })
        .option('svg', { type: 'string', default: 'compare.svg', describe: 'Where to write the plot' }),
    async (argv) => {
      const runDirs = await Promise.all(argv.runs.map((r) => resolveRunDir(argv.out, String(r))));
      const result = await compareRuns({
        runDirs,
        metric: argv.metric,
        log: argv.log,
        logY: argv.logY,
        ...(argv.split ? { split: argv.split } : {}),
      });
      await writeSvg(argv.svg, result.svg);
      println(
        formatTable(
          ['RUN', 'LAST ITER', argv.metric.toUpperCase()],
          result.final.map((f) => [f.series, String(f.iteration), formatNumber(f.value)]),
        ),
      );
      println(`plot: ${argv.svg}`);
    },
  );
}
