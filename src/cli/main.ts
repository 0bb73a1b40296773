// Entry point of the `metatape` command (bin/metatape.js loads this, or dist/cli/main.js once built).
import { hideBin } from 'yargs/helpers';
import { runCli } from './app.js';

const code = await runCli(hideBin(process.argv));
process.exitCode = code;
// Exit normally once pending output is flushed; if a handle (a GPU context, a timer) keeps the loop alive,
// leave anyway after a grace period. The timer is unref'd so it never delays a clean exit.
setTimeout(() => process.exit(code), 2000).unref();
