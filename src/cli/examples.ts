import { readdir, readFile } from 'node:fs/promises';
import { basename, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { UsageError } from './errors.js';

/**
 * Folder of the example modules, found next to this file rather than in the working directory: the TypeScript
 * sources `src/cli/examples/*.ts` in a checkout (the CLI then runs through tsx), the compiled
 * `dist/cli/examples/*.js` in the built or installed package (plain Node). `experiments/seed/*.ts` re-export
 * them for `npx tsx experiments/seed/01-cubic.ts`.
 */
export const EXAMPLES_DIR = fileURLToPath(new URL('./examples/', import.meta.url));

/** `.ts` when this module runs from the sources, `.js` when compiled. */
const EXT = import.meta.url.endsWith('.ts') ? '.ts' : '.js';

/** A runnable example module (exports `main()`, which prints its values). */
export interface Example {
  /** File name without the numeric prefix and extension, e.g. `cubic` for `01-cubic.ts`. */
  name: string;
  path: string;
  /** First sentence of the file's leading doc comment. */
  summary: string;
}

function summaryOf(source: string): string {
  const doc = /^\s*\/\*\*([\s\S]*?)\*\//.exec(source)?.[1] ?? '';
  const text = doc
    .split('\n')
    .map((l) => l.replace(/^\s*\*\s?/, '').trim())
    .filter((l) => l !== '')
    .join(' ');
  const sentence = /^(.*?\.)(\s|$)/.exec(text)?.[1] ?? text;
  if (sentence.length <= 100) return sentence;
  return `${sentence.slice(0, 100).replace(/\s+\S*$/, '')}…`;
}

/** Lists the examples (files named `NN-name.ts`, or `.js` when compiled), sorted by file name. */
export async function listExamples(dir = EXAMPLES_DIR, ext = EXT): Promise<Example[]> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => /^\d+[-_]/.test(f) && f.endsWith(ext) && !f.endsWith('.d.ts'));
  } catch {
    return [];
  }
  return Promise.all(
    files.sort().map(async (f) => {
      const path = join(dir, f);
      return {
        name: basename(f, ext).replace(/^\d+[-_]/, ''),
        path,
        summary: summaryOf(await readFile(path, 'utf8')),
      };
    }),
  );
}

/** Finds an example by name, file name or number prefix (`cubic`, `01-cubic.ts`, `1`). */
export function findExample(examples: readonly Example[], query: string): Example {
  const q = query.replace(/\.[jt]s$/, '');
  const stem = (e: Example) => basename(e.path).replace(/\.[jt]s$/, '');
  const hit =
    examples.find((e) => e.name === q || stem(e) === q) ??
    examples.find((e) => /^\d+$/.test(q) && Number(stem(e).split(/[-_]/)[0]) === Number(q)) ??
    examples.find((e) => e.name.includes(q));
  if (!hit)
    throw new UsageError(
      `no example '${query}'; available: ${examples.map((e) => e.name).join(', ') || '(none)'}`,
    );
  return hit;
}

/**
 * Runs an example in this process: imports its module and calls its `main()`, which prints the values. No
 * child process or TypeScript loader is needed, so it works the same from a checkout and an installed package.
 */
export async function runExample(example: Example): Promise<void> {
  const mod = (await import(pathToFileURL(example.path).href)) as { main?: () => unknown };
  if (typeof mod.main !== 'function') throw new Error(`${example.path} exports no main()`);
  await mod.main();
}

/** Path of an example for display: relative to the working directory when below it, else absolute. */
export function displayPath(example: Example, cwd = process.cwd()): string {
  const rel = relative(cwd, example.path);
  return rel.startsWith('..') || isAbsolute(rel) ? example.path : rel;
}
