// Entry point of the `metatape` command (bin/metatape.js loads this, or dist/cli/main.js once built).
import { hideBin } from 'yargs/helpers';
import { loadedBackends } from '../backends/registry.js';
import { runCli } from './app.js';

// A reader that stops early (`metatape examples | head -3`) closes the pipe: end quietly, like other CLIs,
// rather than with an unhandled EPIPE error and its stack.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const code = await runCli(hideBin(process.argv));
process.exitCode = code;
// Dawn (WebGPU) aborts in its static destructors if Node tears down normally after a device was opened
// (`terminate called ... std::system_error`), turning a successful run into exit 134. Once stdout and
// stderr have drained, leave through process.exit, which skips those destructors.
if (loadedBackends().some((name) => name.includes('webgpu'))) {
  await new Promise<void>((resolve) =>
    process.stdout.write('', () => process.stderr.write('', () => resolve())),
  );
  process.exit(code);
}
// Exit normally once pending output is flushed; if a handle (a GPU context, a timer) keeps the loop alive,
// leave anyway after a grace period. The timer is unref'd so it never delays a clean exit.
setTimeout(() => process.exit(code), 2000).unref();
