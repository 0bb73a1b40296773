import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { VARIANTS_DIR } from '../../compare/collect.js';
import { groupHeader, groupRows, ratioHeader, ratioRows } from '../../compare/report.js';
import { rebuildComparisonReport } from '../../compare/runComparison.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { resolveRunDir } from '../../io/runFolder.js';
import { overlayRuns } from '../../log/compare.js';
import { writeRunReport } from '../../log/report.js';
import type { GlobalArgs } from '../globals.js';
import { formatTable, println } from '../print.js';

async function isComparison(ref: string): Promise<boolean> {
  return (await stat(join(ref, VARIANTS_DIR)).catch(() => undefined))?.isDirectory() ?? false;
}

/**
 * `metatape report <targets..>`: rebuilds tables and plots from stored metrics (the Arrow files). A comparison
 * folder gets its comparison report back; one run gets `<run>/report/`; several runs are overlaid.
 */
export function registerReport(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command(
    'report <targets..>',
    'Rebuild tables and plots from stored metrics: a comparison folder, a run, or several runs overlaid',
    (b) =>
      b
        .positional('targets', {
          type: 'string',
          array: true,
          demandOption: true,
          describe: 'Comparison folders, run folders or run names (newest run)',
        })
        .option('dir', {
          type: 'string',
          describe: 'Output folder for one run (default <run>/report) or several (default ./report)',
        })
        .option('metric', {
          type: 'string',
          default: 'metaLoss',
          describe: 'Several runs: metric to overlay',
        })
        .option('log-y', { type: 'boolean', default: false, describe: 'Several runs: logarithmic y axis' }),
    async (argv) => {
      const runs: string[] = [];
      for (const t of argv.targets.map(String)) {
        if (await isComparison(t)) {
          const { summary, files } = await rebuildComparisonReport(resolve(t));
          println(formatTable(groupHeader(summary), groupRows(summary)));
          if (summary.ratios.length > 0)
            println(`\n${formatTable(ratioHeader(summary), ratioRows(summary))}`);
          for (const f of files) println(f);
        } else {
          runs.push(await resolveRunDir(argv.out, t));
        }
      }
      if (runs.length === 1) {
        const report = await writeRunReport(runs[0]!, argv.dir);
        for (const f of report.files) println(f);
      } else if (runs.length > 1) {
        const dir = argv.dir ?? 'report';
        const svg = join(dir, `${argv.metric.replace(/[^A-Za-z0-9._-]+/g, '_')}.svg`);
        const { table, markdown } = await overlayRuns({
          runDirs: runs,
          metric: argv.metric,
          svg,
          logY: argv.logY,
        });
        const md = join(dir, 'report.md');
        await writeFileAtomic(
          md,
          `# ${runs.length} runs\n\n${markdown}\n\n![${argv.metric}](${svg.split('/').at(-1)})\n`,
        );
        println(table);
        println(svg);
        println(md);
      }
    },
  );
}
