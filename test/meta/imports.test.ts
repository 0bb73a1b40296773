import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cycles, folderOf, type ImportEdge, importEdges } from './importGraph.js';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

/**
 * The layers of `src`, lowest first (the tape knows no op by name: ops record on it through
 * `autodiff/record.ts`, and the tape's own arithmetic is `autodiff/tapeMath.ts`). A file may import its own
 * folder and any folder of a lower rank; folders of the same rank sit side by side and import neither way (nn
 * and optim share the parameter tree type from `tensor/params.ts`, below both). `.` is the package root
 * (`src/index.ts`), which only the CLI's examples use.
 */
const RANK: Record<string, number> = {
  io: 0,
  tensor: 1,
  backends: 2,
  data: 2,
  log: 2,
  autodiff: 3,
  ops: 4,
  nn: 5,
  optim: 5,
  meta: 6,
  // Above meta: the schema's `trainer.algorithm` enum and algorithm sections come from meta's registry.
  config: 7,
  compare: 8,
  serve: 9,
  '.': 9,
  cli: 10,
};

/** Imports that break the layer order today, each with the reason it is still there. */
const ALLOWED: Record<string, string> = {
  'tensor/tensor.ts -> backends/backend.ts':
    'type-only: a tensor holds a handle of its backend; the Backend interface could move to tensor/ (backends are edited elsewhere)',
};

/**
 * Type-only imports of the config's types from the library: the trainer is typed by the config it runs,
 * while the schema is built from the algorithm registry. They are erased at compile time (no load order).
 */
function configTypes(e: ImportEdge): boolean {
  return e.typeOnly && folderOf(e.to) === 'config' && e.to.endsWith('schema.ts');
}

/** Import cycles between files that are known, with the reason. */
const ALLOWED_FILE_CYCLES: Record<string, string> = {};

function allowed(e: ImportEdge): boolean {
  const key = `${e.from} -> ${e.to}`;
  const folderKey = `${e.from} -> ${folderOf(e.to)}/*`;
  return key in ALLOWED || folderKey in ALLOWED || configTypes(e);
}

describe('imports point one way', () => {
  const edges = importEdges(SRC);

  it('finds the imports (static, type-only and dynamic)', () => {
    expect(edges.length).toBeGreaterThan(300);
    expect(edges.some((e) => e.dynamic)).toBe(true);
    expect(edges.some((e) => e.typeOnly)).toBe(true);
  });

  it('every folder of src has a layer', () => {
    const unknown = [...new Set(edges.flatMap((e) => [folderOf(e.from), folderOf(e.to)]))].filter(
      (f) => !(f in RANK),
    );
    expect(unknown).toEqual([]);
  });

  it('no import goes up or sideways across layers (tensor < backends < autodiff < ops < nn, optim < meta < compare < cli)', () => {
    const wrong = edges
      .filter((e) => {
        const a = folderOf(e.from);
        const b = folderOf(e.to);
        return a !== b && RANK[b]! >= RANK[a]! && !allowed(e);
      })
      .map((e) => `${e.from} -> ${e.to}`);
    expect(wrong).toEqual([]);
  });

  it('lists no exception that is no longer needed', () => {
    const keys = new Set(edges.flatMap((e) => [`${e.from} -> ${e.to}`, `${e.from} -> ${folderOf(e.to)}/*`]));
    expect(Object.keys(ALLOWED).filter((k) => !keys.has(k))).toEqual([]);
  });

  it('nothing outside cli imports cli', () => {
    const into = edges.filter((e) => folderOf(e.to) === 'cli' && folderOf(e.from) !== 'cli');
    expect(into.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it('no import cycles between files (dynamic imports included, type-only ones not, as Biome), except those listed', () => {
    const next = new Map<string, string[]>();
    for (const e of edges.filter((x) => !x.typeOnly)) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
    const found = cycles(next.keys(), (n) => next.get(n) ?? []).map((c) => c.join(','));
    expect(found.filter((c) => !(c in ALLOWED_FILE_CYCLES))).toEqual([]);
  });

  it('no cycles between folders once the listed exceptions are set aside', () => {
    const next = new Map<string, Set<string>>();
    for (const e of edges) {
      const [a, b] = [folderOf(e.from), folderOf(e.to)];
      if (a === b || allowed(e)) continue;
      next.set(a, (next.get(a) ?? new Set()).add(b));
    }
    expect(cycles(next.keys(), (n) => next.get(n) ?? [])).toEqual([]);
  });
});
