import type { Argv } from 'yargs';
import { listRuns } from '../../io/runFolder.js';
import { listComparisons } from '../comparisons.js';
import type { GlobalArgs } from '../globals.js';
import { formatNumber, formatTable, println } from '../print.js';

/** `metatape ls [name]`: list run folders with their state and headline metric. */
export function registerLs(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command(
    'ls [name]',
    'List runs (newest first) with state, progress and headline metric',
    (b) =>
      b
        .positional('name', { type: 'string', describe: 'Only runs of this experiment name' })
        .option('json', { type: 'boolean', default: false, describe: 'Print JSON instead of a table' }),
    async (argv) => {
      const runs = await listRuns(argv.out, argv.name ? { name: argv.name } : {});
      if (argv.json) {
        println(JSON.stringify(runs, null, 2));
        return;
      }
      // Variants live inside comparison folders, below where runs are listed; show those folders first.
      const comparisons = argv.name ? [] : await listComparisons(argv.out);
      if (comparisons.length > 0) {
        println(
          formatTable(
            ['COMPARISON', 'VARIANTS', 'COMPLETED', 'RUNNING', 'REPORT'],
            comparisons.map((c) => [
              c.dir,
              String(c.variants),
              String(c.completed),
              String(c.running),
              c.reported ? 'report.md' : '-',
            ]),
          ),
        );
        println();
      }
      if (runs.length === 0) {
        println(`no runs under ${argv.out}`);
        return;
      }
      const rows = runs.map((r) => {
        const s = r.status;
        const state = s ? (r.stale ? `${s.state}?` : s.state) : '?';
        const progress = s?.iteration !== undefined ? `${s.iteration}/${s.iterations ?? '?'}` : '-';
        const headline = s?.headline ? `${s.headline.metric}=${formatNumber(s.headline.value)}` : '-';
        return [r.name, r.timestamp, state, progress, headline, r.dir];
      });
      println(formatTable(['NAME', 'STARTED', 'STATE', 'ITER', 'HEADLINE', 'DIR'], rows));
      if (runs.some((r) => r.stale))
        println("\n'running?' = status says running but its process is gone (killed?)");
    },
  );
}
