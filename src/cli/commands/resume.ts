import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Argv } from 'yargs';
import { parseConfigText } from '../../config/load.js';
import { newestGoodCheckpoint } from '../../io/checkpointFiles.js';
import { processAlive } from '../../io/processes.js';
import { RUN_FILES, readStatus, resolveRunDir } from '../../io/runFolder.js';
import { EXIT, UsageError } from '../errors.js';
import { type GlobalArgs, overridesFromFlags } from '../globals.js';
import { println } from '../print.js';
import { executeRun } from '../session.js';

function alive(pid: number): boolean {
  return pid !== process.pid && processAlive(pid);
}

/** `metatape resume <run>`: continue a run from its newest checkpoint, in the same folder. */
export function registerResume(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command(
    'resume <run>',
    'Continue an interrupted or finished run from its newest checkpoint',
    (b) =>
      b
        .positional('run', {
          type: 'string',
          demandOption: true,
          describe: 'Run folder, or a run name (its newest run)',
        })
        .option('iterations', {
          type: 'number',
          describe: 'New total iteration count (to extend a finished run)',
        })
        .option('backend', { type: 'string', describe: 'Backend to continue on' })
        .option('threads', {
          type: 'string',
          describe:
            'CPU threads to continue with (trainer.threads: a count or auto; not part of the config hash)',
        }),
    async (argv) => {
      const dir = await resolveRunDir(argv.out, argv.run);
      const configFile = join(dir, RUN_FILES.configJson);
      const text = await readFile(configFile, 'utf8');
      // The stored config is already resolved; only flags that cannot change the state layout apply.
      const config = parseConfigText(
        text,
        configFile,
        overridesFromFlags({ backend: argv.backend, iterations: argv.iterations, threads: argv.threads }),
      );
      const ckpt = await newestGoodCheckpoint(dir);
      if (!ckpt)
        throw new UsageError(`${dir} has no checkpoints to resume from; start it again with 'metatape run'`);
      const status = await readStatus(dir);
      // Two processes training into one folder would interleave checkpoints and metrics rows.
      if (status?.state === 'running' && status.host === hostname() && alive(status.pid)) {
        throw new UsageError(`${dir} is still being trained by process ${status.pid}; stop it first`);
      }
      // A run killed after its last checkpoint but before its summary only needs the final evaluation.
      const finished = status?.state === 'completed';
      if (ckpt.iteration >= config.trainer.iterations && finished) {
        throw new UsageError(
          `${dir} already reached iteration ${ckpt.iteration} of ${config.trainer.iterations}; pass --iterations N to extend it`,
        );
      }
      const { run, summary } = await executeRun(config, {
        existing: { dir, name: basename(dirname(dir)), timestamp: basename(dir) },
        resumeFrom: { checkpointPath: ckpt.path, iteration: ckpt.iteration },
        ...(argv.logLevel ? { logLevel: argv.logLevel } : {}),
        onStart: (_r, logger) => {
          for (const s of ckpt.skipped)
            logger.warn(
              { checkpoint: s.path, reason: s.reason },
              `skipped a damaged checkpoint: ${s.path}: ${s.reason}`,
            );
          if (ckpt.removedTemporaries.length > 0)
            logger.info(
              { removed: ckpt.removedTemporaries },
              'removed temporary files of interrupted checkpoint writes',
            );
          logger.info({ checkpoint: ckpt.path }, `resuming from iteration ${ckpt.iteration}`);
        },
      });
      println(run.dir);
      if (summary.interrupted) process.exitCode = EXIT.interrupted;
    },
  );
}
