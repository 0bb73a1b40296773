import { readFile } from 'node:fs/promises';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { ConfigError } from './errors.js';
import { applyOverrides, type Override, type OverrideInput, parseOverride } from './overrides.js';
import type { ExperimentConfig } from './schema.js';
import { validateConfig } from './validate.js';

/** Parsed config file before validation, with what is needed to point errors at lines. */
interface ParsedFile {
  raw: Record<string, unknown>;
  lineOf(path: readonly PropertyKey[], key?: boolean): number | undefined;
}

function parseYaml(text: string, file: string): ParsedFile {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
        const msg = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
        return { source: `${file}:${pos.line}:${pos.col}`, path: '', detail: `YAML syntax error: ${msg}` };
      }),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, [
      {
        source: file,
        path: '',
        detail: `got ${Array.isArray(raw) ? 'a list' : JSON.stringify(raw)}; expected a mapping of config fields`,
      },
    ]);
  }
  const lineOf = (path: readonly PropertyKey[], key = false): number | undefined => {
    const segs = path.map((p) => (typeof p === 'number' ? p : String(p)));
    if (key && segs.length > 0) {
      const parent = segs.length === 1 ? doc.contents : doc.getIn(segs.slice(0, -1), true);
      if (isMap(parent)) {
        const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === segs.at(-1));
        const range = (pair?.key as { range?: [number, number, number] } | null)?.range;
        if (range) return lineCounter.linePos(range[0]).line;
      }
    }
    // Walk up to the nearest node that exists (a missing field is reported at its parent mapping).
    for (let n = segs.length; n >= 1; n--) {
      const node = doc.getIn(segs.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node?.range && (n === segs.length || isMap(node) || isSeq(node)))
        return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  return { raw: raw as Record<string, unknown>, lineOf };
}

function isPrefix(prefix: readonly string[], path: readonly PropertyKey[]): boolean {
  return prefix.length <= path.length && prefix.every((s, i) => s === String(path[i]));
}

/**
 * Validates config text (YAML or JSON) plus overrides. `file` names the source in errors. Exposed for tests
 * and for callers that hold config text rather than a path (e.g. a run folder's stored config).
 */
export function parseConfigText(
  text: string,
  file: string,
  overrides: readonly OverrideInput[] = [],
): ExperimentConfig {
  const parsed = parseYaml(text, file);
  const ovs: Override[] = overrides.map(parseOverride);
  const raw = applyOverrides(parsed.raw, ovs);
  const overrideFor = (path: readonly PropertyKey[]) =>
    [...ovs].reverse().find((o) => isPrefix(o.path, path));
  return validateConfig(raw, file, {
    sourceOf: (path) => overrideFor(path)?.source ?? file,
    lineOf: (path, key) => (overrideFor(path) ? undefined : parsed.lineOf(path, key)),
  });
}

/**
 * Loads an experiment config: parses the YAML file, applies `a.b.c=value` overrides in order (later wins),
 * validates and fills in defaults. Every failure is a {@link ConfigError} whose message lists each problem
 * as `<file>: <field path>: got <value>; expected <what is allowed>`.
 */
export async function loadConfig(
  path: string,
  overrides: readonly OverrideInput[] = [],
): Promise<ExperimentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw new ConfigError(path, [{ source: path, path: '', detail: `cannot read config: ${why}` }]);
  }
  return parseConfigText(text, path, overrides);
}
