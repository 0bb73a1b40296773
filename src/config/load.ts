import { readFile, stat } from 'node:fs/promises';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { ConfigError, MAX_CONFIG_BYTES, MAX_REPORTED_PROBLEMS } from './errors.js';
import { applyOverrides, type Override, type OverrideInput, parseOverride } from './overrides.js';
import type { ExperimentConfig } from './schema.js';
import { validateConfig } from './validate.js';

/** Parsed config file before validation, with what is needed to point errors at lines. */
interface ParsedFile {
  raw: Record<string, unknown>;
  lineOf(path: readonly PropertyKey[], key?: boolean): number | undefined;
}

/** A whole-file problem (unreadable, too large, not text, not YAML). */
function fileError(file: string, detail: string): ConfigError {
  return new ConfigError(file, [{ source: file, path: '', detail }]);
}

/** How many YAML aliases a config may expand (the yaml library's default); more is an alias bomb. */
const MAX_ALIAS_COUNT = 100;

/**
 * Rejects what is not a config before any parsing: more than {@link MAX_CONFIG_BYTES}, or binary content
 * (a NUL or other control byte, as in an image or an archive passed by mistake). Neither is echoed back.
 */
function checkConfigText(text: string, file: string): void {
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_CONFIG_BYTES) throw tooLarge(file, bytes);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control bytes is the point.
  const binary = /[\u0000-\u0008\u000e-\u001f\ufffd]/.exec(text);
  if (binary) {
    const line = text.slice(0, binary.index).split('\n').length;
    const what =
      binary[0] === '\ufffd'
        ? 'bytes that are not UTF-8'
        : `control byte 0x${binary[0].charCodeAt(0).toString(16).padStart(2, '0')}`;
    throw fileError(file, `not a text config: ${what} at line ${line} (expected YAML or JSON text)`);
  }
}

function tooLarge(file: string, bytes: number): ConfigError {
  return fileError(
    file,
    `config is ${formatBytes(bytes)}; the limit is ${formatBytes(MAX_CONFIG_BYTES)} (a config is a few KB: is this the right file?)`,
  );
}

function formatBytes(n: number): string {
  return n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}

function parseYaml(text: string, file: string): ParsedFile {
  checkConfigText(text, file);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.slice(0, MAX_REPORTED_PROBLEMS).map((e) => {
        const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
        const msg = e.message
          .split('\n')[0]!
          .replace(/ at line \d+, column \d+:?$/, '')
          .slice(0, 120);
        return { source: `${file}:${pos.line}:${pos.col}`, path: '', detail: `YAML syntax error: ${msg}` };
      }),
      doc.errors.length,
    );
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (err) {
    // The yaml library throws a ReferenceError when aliases expand past the limit (a "billion laughs" bomb).
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      throw fileError(
        file,
        `YAML aliases expand too far (more than ${MAX_ALIAS_COUNT} alias expansions): write the values out, or use fewer aliases`,
      );
    }
    throw err;
  }
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
    // The size is checked before reading, so a multi-GB file passed by mistake is never loaded.
    const { size } = await stat(path);
    if (size > MAX_CONFIG_BYTES) throw tooLarge(path, size);
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    throw fileError(path, `cannot read config: ${why}`);
  }
  return parseConfigText(text, path, overrides);
}
