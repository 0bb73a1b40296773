import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Argv } from 'yargs';
import { runWorkers, type WorkerJob, workerLogPath } from '../../compare/workers.js';
import { loadConfig } from '../../config/load.js';
import { expandGrid, parseAxis } from '../../config/sweep.js';
import { writeFileAtomic } from '../../io/atomic.js';
import { createRunFolder, readStatus, writeResolvedConfig } from '../../io/runFolder.js';
import { EXIT, UsageError } from '../errors.js';
import { type GlobalArgs, overridesFromFlags } from '../globals.js';
import { jobsOption, resolveJobs } from '../jobs.js';
import { formatNumber, formatTable, println } from '../print.js';
import { normalizeGridSpec, parseShard, shardItems } from '../shard.js';

/** `metatape sweep <config> --grid k=v1,v2 ...`: one run (own folder, own process) per grid point. */
export function registerSweep(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command(
    'sweep <config>',
    'Run the cartesian product of --grid values, one run folder each (runs are named <name>--<label>)',
    (b) =>
      b
        .positional('config', { type: 'string', demandOption: true })
        .option('grid', {
          type: 'string',
          array: true,
          describe: 'Axis: --grid trainer.innerSteps=1,5 or --grid "trainer.innerSteps=[1,5]" (repeatable)',
        })
        .option('seeds', { type: 'string', describe: 'Shorthand for --grid seed=..., e.g. --seeds 0,1,2' })
        .option('shard', {
          type: 'string',
          describe:
            'Run only slice i of n (0-based), e.g. --shard 2/8 or --shard env/8 (JOB_COMPLETION_INDEX)',
        })
        .option('jobs', jobsOption())
        .option('summary', {
          type: 'string',
          describe: 'Also write the summary table as Markdown to this file',
        })
        .option('set', { type: 'string', array: true, describe: 'Override applied to every point' })
        .option('backend', { type: 'string' })
        .option('iterations', { type: 'number' })
        .option('out', { type: 'string', describe: 'Shorthand for --set output.dir=DIR' })
        .option('dry-run', {
          type: 'boolean',
          default: false,
          describe: 'Validate every point and list them (with --shard: this shard only)',
        }),
    async (argv) => {
      const axes = (argv.grid ?? []).map((g) => parseAxis(normalizeGridSpec(g)));
      if (argv.seeds) axes.push(parseAxis(normalizeGridSpec(`seed=${argv.seeds}`)));
      if (axes.length === 0) throw new UsageError('sweep needs at least one --grid field=v1,v2 or --seeds');
      const base = overridesFromFlags(argv);
      const all = expandGrid(axes);
      const points = argv.shard
        ? shardItems(all, parseShard(argv.shard))
        : all.map((item, index) => ({ item, index }));
      // Validate every point of this shard before running any, so a typo fails in seconds, not hours.
      const configs = [];
      for (const { item } of points) {
        const cfg = await loadConfig(argv.config, [...base, ...item.overrides]);
        configs.push({ ...cfg, name: `${cfg.name}--${item.label}` });
      }
      const concurrency = resolveJobs(argv.jobs, points.length);
      process.stderr.write(`${points.length} points, ${concurrency} at a time\n`);
      if (argv.dryRun) {
        for (const [i, p] of points.entries())
          println(`${p.index}\t${configs[i]!.name}\t${p.item.overrides.join(' ')}`);
        return;
      }
      const jobs: WorkerJob[] = [];
      const dirs: string[] = [];
      for (const [i, cfg] of configs.entries()) {
        const run = await createRunFolder(cfg.output.dir, cfg.name);
        await writeResolvedConfig(run.dir, cfg);
        dirs.push(run.dir);
        jobs.push({
          id: points[i]!.item.label,
          args: [
            'run',
            join(run.dir, 'config.json'),
            '--run-dir',
            run.dir,
            ...(argv.logLevel ? ['--log-level', argv.logLevel] : []),
          ],
          logFile: workerLogPath(run.dir),
        });
        process.stderr.write(`point ${points[i]!.index} ${points[i]!.item.label}: ${run.dir}\n`);
      }
      const results = await runWorkers(jobs, concurrency, {
        onEnd: (r) =>
          process.stderr.write(
            `${r.id}: ${r.code === 0 ? 'done' : `failed (${r.signal ?? `exit ${r.code}`})`} in ${r.seconds.toFixed(1)} s\n`,
          ),
      });
      const header = ['POINT', 'STATE', 'HEADLINE', 'IT/S', 'PEAK RSS MB', 'DIR'];
      const rows: string[][] = [];
      for (const [i, dir] of dirs.entries()) {
        const status = await readStatus(dir);
        const results = await readFile(join(dir, 'summary.json'), 'utf8')
          .then((t) => (JSON.parse(t) as { results: Record<string, number> }).results)
          .catch(() => undefined);
        const h = status?.headline;
        rows.push([
          points[i]!.item.label,
          status?.state ?? 'failed',
          h ? `${h.metric}=${formatNumber(h.value)}` : '-',
          formatNumber(results?.metaItPerSec),
          formatNumber(results?.peakRssMb),
          dir,
        ]);
      }
      println(formatTable(header, rows));
      if (argv.summary) {
        const md = [
          `| ${header.join(' | ')} |`,
          `|${header.map(() => '---').join('|')}|`,
          ...rows.map((r) => `| ${r.join(' | ')} |`),
        ];
        await writeFileAtomic(argv.summary, `${md.join('\n')}\n`);
      }
      const failed = results.filter((r) => r.code !== 0);
      if (failed.some((r) => r.code === EXIT.interrupted)) process.exitCode = EXIT.interrupted;
      else if (failed.length > 0) throw new Error(`${failed.length} of ${points.length} sweep points failed`);
    },
  );
}
