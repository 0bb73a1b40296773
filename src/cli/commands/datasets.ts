import type { Argv } from 'yargs';
import type { ResampleFilter } from '../../data/image/resample.js';
import { createLogger } from '../../log/logger.js';
import { UsageError } from '../errors.js';
import { defaultOutDir, type GlobalArgs } from '../globals.js';
import { println } from '../print.js';

const DATASETS = ['omniglot'] as const;

/** `metatape datasets prepare|info <dataset>`. */
export function registerDatasets(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command('datasets', 'Prepare or inspect datasets', (d) =>
    d
      .command(
        'prepare <dataset>',
        'Convert a dataset into the Arrow files training reads',
        (b) =>
          b
            .positional('dataset', { choices: DATASETS, demandOption: true })
            .option('from', { type: 'string', describe: 'Folder with the source files (npz + csv)' })
            .option('download', {
              type: 'boolean',
              default: false,
              describe: 'Fetch the official archives instead',
            })
            .option('dir', { type: 'string', describe: 'Output folder (default datasets/omniglot)' })
            .option('filter', {
              choices: ['box', 'triangle', 'lanczos3'] as const,
              describe: 'Resampling filter',
            }),
        async (argv) => {
          // --out is every command's root of runs; here it would silently not be where the files go.
          if (argv.out !== defaultOutDir())
            throw new UsageError(
              `datasets prepare writes to --dir (default datasets/${argv.dataset}), not --out (the root of runs): use --dir ${argv.out}`,
            );
          const logger = createLogger(argv.logLevel ? { level: argv.logLevel } : {});
          const { prepareOmniglot } = await import('../../data/omniglot/prepare.js');
          const result = await prepareOmniglot({
            ...(argv.from ? { from: argv.from } : {}),
            ...(argv.dir ? { out: argv.dir } : {}),
            ...(argv.filter ? { filter: argv.filter as ResampleFilter } : {}),
            download: argv.download,
            onProgress: (m) => logger.info(m),
          });
          logger.info({ seconds: result.seconds }, `prepared ${result.out}`);
          for (const f of result.written) println(f);
        },
      )
      .command(
        'info <dataset>',
        'Summarize (and verify) a prepared dataset',
        (b) =>
          b
            .positional('dataset', { choices: DATASETS, demandOption: true })
            .option('dir', { type: 'string', describe: 'Prepared folder (default datasets/omniglot)' })
            .option('verify', { choices: ['size', 'sha256'] as const, default: 'sha256' as const })
            .option('contact-sheet', { type: 'string', describe: 'Also write a contact-sheet PNG here' })
            .option('json', { type: 'boolean', default: false }),
        async (argv) => {
          const { omniglotInfo } = await import('../../data/omniglot/info.js');
          const info = await omniglotInfo({
            verify: argv.verify,
            ...(argv.dir ? { dir: argv.dir } : {}),
            ...(argv.contactSheet ? { contactSheet: argv.contactSheet } : {}),
          });
          if (argv.json) {
            println(JSON.stringify(info, null, 2));
            return;
          }
          println(`${info.dir}: ${info.imageSize}x${info.imageSize} (${info.filter})`);
          for (const [set, c] of Object.entries(info.counts)) {
            println(
              `  ${set.padEnd(12)} ${c.alphabets} alphabets, ${c.characters} characters, ${c.images} images`,
            );
          }
          for (const [name, s] of Object.entries(info.splits)) {
            println(
              `  split ${name.padEnd(8)} train ${s.train.classes} / val ${s.val.classes} / test ${s.test.classes} classes`,
            );
          }
          for (const f of info.files)
            println(`  ${f.file} ${f.rows} rows ${f.bytes} bytes (${f.verified} ok)`);
          if (info.contactSheet) println(`contact sheet: ${info.contactSheet}`);
        },
      )
      .demandCommand(1, 'choose: datasets prepare <dataset> | datasets info <dataset>'),
  );
}
