import type { Argv } from 'yargs';
import { resolveRunDir } from '../../io/runFolder.js';
import { writeRunReport } from '../../log/report.js';
import type { GlobalArgs } from '../globals.js';
import { println } from '../print.js';

/** `metatape report <run>`: plots and a Markdown summary of one run. */
export function registerReport(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command(
    'report <run>',
    'Write <run>/report/: an SVG per metric and report.md',
    (b) =>
      b
        .positional('run', {
          type: 'string',
          demandOption: true,
          describe: 'Run folder, or a run name (its newest run)',
        })
        .option('dir', { type: 'string', describe: 'Output folder (default <run>/report)' }),
    async (argv) => {
      const runDir = await resolveRunDir(argv.out, argv.run);
      const report = await writeRunReport(runDir, argv.dir);
      for (const f of report.files) println(f);
    },
  );
}
