import type { Argv } from 'yargs';
import { displayPath, findExample, listExamples, runExample } from '../examples.js';
import type { GlobalArgs } from '../globals.js';
import { formatTable, println } from '../print.js';

/** `metatape examples [name]`: list the seed examples, or run one. */
export function registerExamples(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command(
    'examples [name]',
    'List the example scripts in experiments/seed/, or run one by name',
    (b) => b.positional('name', { type: 'string', describe: 'Example to run (name, file name or number)' }),
    async (argv) => {
      const examples = await listExamples();
      if (!argv.name) {
        if (examples.length === 0) println('no examples found in experiments/seed/');
        else
          println(
            formatTable(
              ['NAME', 'FILE', 'WHAT'],
              examples.map((e) => [e.name, displayPath(e), e.summary]),
            ),
          );
        return;
      }
      const code = await runExample(findExample(examples, argv.name));
      if (code !== 0) process.exitCode = code;
    },
  );
}
