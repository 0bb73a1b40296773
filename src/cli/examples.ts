import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { UsageError } from './errors.js';

/** Folder of the runnable example scripts. */
export const EXAMPLES_DIR = 'experiments/seed';

/** A runnable example script. */
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
  return (/^(.*?\.)(\s|$)/.exec(text)?.[1] ?? text).slice(0, 120);
}

/** Lists `experiments/seed/*.ts` (sorted by file name). */
export async function listExamples(dir = EXAMPLES_DIR): Promise<Example[]> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts')).sort();
  } catch {
    return [];
  }
  return Promise.all(
    files.map(async (f) => {
      const path = resolve(dir, f);
      return {
        name: basename(f, '.ts').replace(/^\d+[-_]/, ''),
        path,
        summary: summaryOf(await readFile(path, 'utf8')),
      };
    }),
  );
}

/** Finds an example by name, file name or number prefix (`cubic`, `01-cubic.ts`, `1`). */
export function findExample(examples: readonly Example[], query: string): Example {
  const q = query.replace(/\.ts$/, '');
  const hit =
    examples.find((e) => e.name === q || basename(e.path, '.ts') === q) ??
    examples.find((e) => /^\d+$/.test(q) && Number(basename(e.path).split(/[-_]/)[0]) === Number(q)) ??
    examples.find((e) => e.name.includes(q));
  if (!hit)
    throw new UsageError(
      `no example '${query}'; available: ${examples.map((e) => e.name).join(', ') || '(none)'}`,
    );
  return hit;
}

/**
 * Runs an example script in a child Node process with the tsx loader, forwarding its output; resolves to its
 * exit code. A child process (rather than an import) gives the script its own `process.argv[1]`, which the
 * seed scripts use to detect that they were run directly.
 */
export function runExample(example: Example, args: readonly string[] = []): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', example.path, ...args], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolvePromise(code ?? (signal ? 128 + 2 : 1)));
  });
}

/** Path of an example relative to the working directory (for display). */
export function displayPath(example: Example): string {
  return join(EXAMPLES_DIR, basename(example.path));
}
