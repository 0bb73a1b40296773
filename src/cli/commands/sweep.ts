import type { Argv } from 'yargs';
import { loadConfig } from '../../config/load.js';
import { expandGrid, parseAxis } from '../../config/sweep.js';
import { EXIT, UsageError } from '../errors.js';
import { type GlobalArgs, overridesFromFlags } from '../globals.js';
import { formatNumber, formatTable, println } from '../print.js';
import { executeRun } from '../session.js';

/** `metatape sweep <config> --grid k=[a,b]...`: one run per grid point, one after another. */
export function registerSweep(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command(
    'sweep <config>',
    'Run the cartesian product of --grid values (runs are named <name>--<label>)',
    (b) =>
      b
        .positional('config', { type: 'string', demandOption: true })
        .option('grid', {
          type: 'string',
          array: true,
          describe: "Axis: --grid 'trainer.innerSteps=[1,5]' (repeatable)",
        })
        .option('seeds', { type: 'string', describe: 'Shorthand for --grid seed=[...], e.g. --seeds 0,1,2' })
        .option('set', { type: 'string', array: true, describe: 'Override applied to every point' })
        .option('backend', { type: 'string' })
        .option('iterations', { type: 'number' })
        .option('out', { type: 'string', describe: 'Shorthand for --set output.dir=DIR' })
        .option('dry-run', {
          type: 'boolean',
          default: false,
          describe: 'Validate every point and list them',
        }),
    async (argv) => {
      const axes = (argv.grid ?? []).map(parseAxis);
      if (argv.seeds) axes.push(parseAxis(`seed=[${argv.seeds}]`));
      if (axes.length === 0)
        throw new UsageError("sweep needs at least one --grid 'field=[v1,v2]' or --seeds");
      const base = overridesFromFlags(argv);
      const points = expandGrid(axes);
      // Validate every point before running any, so a typo in the last axis value fails in seconds.
      const configs = [];
      for (const p of points) {
        const cfg = await loadConfig(argv.config, [...base, ...p.overrides]);
        configs.push({ ...cfg, name: `${cfg.name}--${p.label}` });
      }
      if (argv.dryRun) {
        for (const [i, p] of points.entries()) println(`${configs[i]!.name}\t${p.overrides.join(' ')}`);
        return;
      }
      const rows: string[][] = [];
      let failed = 0;
      for (const [i, cfg] of configs.entries()) {
        try {
          const { run, summary } = await executeRun(cfg, argv.logLevel ? { logLevel: argv.logLevel } : {});
          const h = summary.headline;
          rows.push([
            points[i]!.label,
            summary.interrupted ? 'interrupted' : 'completed',
            h ? `${h.metric}=${formatNumber(h.value)}` : '-',
            run.dir,
          ]);
          if (summary.interrupted) {
            process.exitCode = EXIT.interrupted;
            break;
          }
        } catch (err) {
          failed++;
          rows.push([points[i]!.label, 'failed', (err as Error).message.split('\n')[0]!, '-']);
        }
      }
      println(formatTable(['POINT', 'STATE', 'HEADLINE', 'DIR'], rows));
      if (failed > 0) throw new Error(`${failed} of ${points.length} sweep points failed`);
    },
  );
}
