import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** One import of a source file: the file it names (relative to `src`), and whether it is a dynamic `import()`. */
export interface ImportEdge {
  from: string;
  to: string;
  dynamic: boolean;
  typeOnly: boolean;
}

const STATIC = /^\s*(import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"](\.[^'"]+)['"]/gm;
const DYNAMIC = /import\(\s*['"](\.[^'"]+)['"]\s*\)/g;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return walk(p);
    return p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Every relative import of every `.ts` file under `root` (paths relative to `root`, `.js` resolved to `.ts`). */
export function importEdges(root: string): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const file of walk(root)) {
    const text = readFileSync(file, 'utf8');
    const from = relative(root, file);
    const add = (spec: string, dynamic: boolean, typeOnly: boolean) => {
      let target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
      if (!target.endsWith('.ts')) target = join(target, 'index.ts');
      edges.push({ from, to: relative(root, target), dynamic, typeOnly });
    };
    for (const m of text.matchAll(STATIC)) add(m[3]!, false, m[2] !== undefined);
    for (const m of text.matchAll(DYNAMIC)) add(m[1]!, true, false);
  }
  return edges;
}

/** The folder of a file under `src` (`nn/dense.ts` -> `nn`; files at the root -> `.`). */
export function folderOf(file: string): string {
  const i = file.indexOf('/');
  return i < 0 ? '.' : file.slice(0, i);
}

/** The strongly connected components with more than one member (each one an import cycle), by Tarjan. */
export function cycles(nodes: Iterable<string>, next: (n: string) => Iterable<string>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of next(v)) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const n of nodes) if (!idx.has(n)) visit(n);
  return out;
}
