import type { Argv } from 'yargs';
import { displayPath, type Example, findExample, listExamples, runExample } from '../examples.js';
import type { GlobalArgs } from '../globals.js';
import { formatTable, println } from '../print.js';

/** `metatape examples [names..]`: run the seed examples (all, or the named ones); `--list` lists them. */
export function registerExamples(y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y.command(
    'examples [names..]',
    'Run the seed examples (nested gradient tapes), printing their values; --list lists them',
    (b) =>
      b
        .positional('names', {
          type: 'string',
          array: true,
          describe: 'Examples to run, by name, file name or number (default: all)',
        })
        .option('list', {
          alias: 'l',
          type: 'boolean',
          default: false,
          describe: 'List the examples instead of running them',
        })
        .example('$0 examples', 'Run every example')
        .example('$0 examples cubic', 'Run one')
        .example('$0 examples --list', 'List them'),
    async (argv) => {
      const all = await listExamples();
      if (all.length === 0)
        throw new Error('no examples found (the package ships them in dist/cli/examples/)');
      const names = (argv.names ?? []).map(String);
      const chosen = names.length > 0 ? names.map((n) => findExample(all, n)) : all;
      if (argv.list) {
        println(
          formatTable(
            ['NAME', 'FILE', 'WHAT'],
            chosen.map((e) => [e.name, displayPath(e), e.summary]),
          ),
        );
        return;
      }
      const failed: Example[] = [];
      for (const [i, example] of chosen.entries()) {
        if (chosen.length > 1) {
          if (i > 0) println();
          println(`== ${example.name}: ${example.summary}`);
        }
        try {
          await runExample(example);
        } catch (err) {
          // One failing example is reported and the others still run; a single one fails as any command does.
          if (chosen.length === 1) throw err;
          failed.push(example);
          process.stderr.write(
            `${example.name} failed: ${err instanceof Error ? err.message : String(err)}\n`,
          );
        }
      }
      if (failed.length > 0)
        throw new Error(
          `${failed.length} of ${chosen.length} examples failed: ${failed.map((e) => e.name).join(', ')}`,
        );
    },
  );
}
