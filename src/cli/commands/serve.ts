import type { Argv } from 'yargs';
import { startServer } from '../../serve/server.js';
import type { GlobalArgs } from '../globals.js';
import { println } from '../print.js';

/** `metatape serve [dir]`: a local dashboard of the runs and comparisons under a folder. */
export function registerServe(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command(
    'serve [dir]',
    'Local dashboard (127.0.0.1) of runs and comparisons: live curves, run and comparison pages, overlays',
    (b) =>
      b
        .positional('dir', { type: 'string', describe: 'Folder of runs (default: --out, i.e. experiments/)' })
        .option('port', {
          type: 'number',
          default: 6006,
          describe: 'First port to try; the next free one is used when it is taken (0: any free port)',
        }),
    async (argv) => {
      // Bound to 127.0.0.1 only: the page and the runs never leave this machine (from another one, forward
      // the port over ssh: ssh -L 6006:127.0.0.1:6006 host).
      const server = await startServer({ root: argv.dir ?? argv.out, port: argv.port });
      println(`metatape dashboard of ${server.root} at ${server.url}  (Ctrl-C to stop)`);
      await new Promise<void>((done) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void server.close().then(done);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    },
  );
}
