import type { z } from 'zod';
import { alternatives, configSchemaNode, describeNode, keysAt, schemaAt } from './describe.js';
import { ConfigError, type ConfigProblem, MAX_REPORTED_PROBLEMS } from './errors.js';
import { type ExperimentConfig, experimentConfigSchema } from './schema.js';
import { closestMatch } from './suggest.js';

/** Where each value of a raw config came from, so problems can point at the file line or the override. */
export interface ProblemLocator {
  /** Source label for a field path (the file, or the override that last set the field). */
  sourceOf(path: readonly PropertyKey[]): string;
  /** 1-based file line of a field (of its key when `key` is set), if it came from the file. */
  lineOf?(path: readonly PropertyKey[], key?: boolean): number | undefined;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v = data;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[String(seg)];
  }
  return v;
}

/** Short rendering of a user value for `got ...`. */
export function formatValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return formatString(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  // Renders only as many entries as fit, so that a huge list or mapping costs no more than a small one.
  const entries = Array.isArray(v) ? v : Object.entries(v as object);
  const parts: string[] = [];
  let length = 0;
  for (const e of entries) {
    if (length > 60) break;
    const part = Array.isArray(v)
      ? formatValue(e)
      : `${(e as [string, unknown])[0]}: ${formatValue((e as [string, unknown])[1])}`;
    parts.push(part);
    length += part.length + 2;
  }
  const inner = parts.join(', ');
  const text = Array.isArray(v) ? `[${inner}]` : `{${inner}}`;
  return text.length > 60 || parts.length < entries.length ? `${text.slice(0, 57)}...` : text;
}

/** A string value as it is quoted in an error: at most 60 characters, so a config never echoes itself back. */
function formatString(s: string): string {
  return s.length > 60 ? `${JSON.stringify(s.slice(0, 57))}...` : JSON.stringify(s);
}

function problemsFromIssue(issue: z.core.$ZodIssue, raw: unknown, loc: ProblemLocator): ConfigProblem[] {
  const root = configSchemaNode();
  const make = (path: readonly PropertyKey[], detail: string, key = false): ConfigProblem => {
    const line = loc.lineOf?.(path, key);
    return {
      source: loc.sourceOf(path),
      path: path.map(String).join('.'),
      detail,
      ...(line ? { line } : {}),
    };
  };
  const path = issue.path;
  const got = valueAt(raw, path);
  const gotText = got === undefined ? 'missing (required)' : `got ${formatValue(got)}`;

  if (issue.code === 'unrecognized_keys') {
    const known = keysAt(root, path, raw);
    return issue.keys.slice(0, MAX_REPORTED_PROBLEMS).map((k) => {
      const guess = closestMatch(k, known);
      const hint = guess ? `did you mean ${guess}?` : `allowed keys: ${known.join(', ')}`;
      return make([...path, k], `unknown key (${hint})`, true);
    });
  }
  // Discriminated unions report the allowed tags in `options`, which the public issue type does not declare.
  const options = (issue as { options?: unknown }).options;
  if (issue.code === 'invalid_union' && Array.isArray(options)) {
    return [make(path, `${gotText}; expected ${alternatives(options)}`)];
  }
  if (issue.code === 'custom' || issue.code === 'invalid_format') {
    // Refinements carry their own wording of what is allowed.
    return [make(path, `${gotText}; ${issue.message}`)];
  }
  const node = schemaAt(root, path, raw);
  const expected = node ? describeNode(node) : issue.message;
  return [make(path, `${gotText}; expected ${expected}`)];
}

/**
 * Validates a raw (parsed, overridden) config and fills in defaults. Throws a {@link ConfigError} listing
 * every problem, each located with `loc`.
 */
export function validateConfig(raw: unknown, file: string, loc: ProblemLocator): ExperimentConfig {
  const result = experimentConfigSchema.safeParse(raw);
  if (result.success) return result.data;
  // Locate only the problems that will be listed (locating one walks the document); count the rest.
  const problems: ConfigProblem[] = [];
  let total = 0;
  for (const issue of result.error.issues) {
    total += issue.code === 'unrecognized_keys' ? issue.keys.length : 1;
    if (problems.length < MAX_REPORTED_PROBLEMS) problems.push(...problemsFromIssue(issue, raw, loc));
  }
  throw new ConfigError(file, problems.slice(0, MAX_REPORTED_PROBLEMS), total);
}
