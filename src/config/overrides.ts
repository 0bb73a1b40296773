import { parse } from 'yaml';
import { ConfigError } from './errors.js';

/** A parsed `--set a.b.c=value` assignment. */
export interface Override {
  /** Field path segments, e.g. `['trainer', 'innerSteps']`. */
  path: string[];
  value: unknown;
  /** How to name it in error messages, e.g. `--set trainer.innerSteps=5` or `METATAPE_BACKEND=gpujs`. */
  source: string;
}

/** An override as given: `a.b=value` text, or text with a custom source label (env variables, flags). */
export type OverrideInput = string | { assignment: string; source: string };

/**
 * Parses one `a.b.c=value` assignment. The value is read as a YAML scalar or flow collection, so `5` is a
 * number, `true` a boolean, `null` null, `[1, 5]` a list and `gpujs:webgpu` a string.
 */
export function parseOverride(input: OverrideInput): Override {
  const assignment = typeof input === 'string' ? input : input.assignment;
  const source = typeof input === 'string' ? `--set ${input}` : input.source;
  const fail = (detail: string): never => {
    throw new ConfigError(source, [{ source, path: '', detail }]);
  };
  const eq = assignment.indexOf('=');
  if (eq < 0) fail('expected key=value, e.g. --set trainer.innerSteps=5');
  const key = assignment.slice(0, eq).trim();
  const text = assignment.slice(eq + 1);
  const path = key.split('.');
  if (key === '' || path.some((s) => s === ''))
    fail(`'${key}' is not a field path; expected dotted names like trainer.innerSteps`);
  if (text.trim() === '') fail(`no value after '='; write ${key}=null to clear a field`);
  let value: unknown;
  try {
    value = parse(text);
  } catch (err) {
    fail(`value ${JSON.stringify(text)} is not valid YAML (${(err as Error).message.split('\n')[0]})`);
  }
  return { path, value, source };
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * Applies overrides in order to a plain config object, returning a new object (the input is not changed).
 * Missing intermediate mappings are created; a list element can be replaced by index (`model.hidden.0=64`).
 */
export function applyOverrides(
  config: Record<string, unknown>,
  overrides: readonly Override[],
): Record<string, unknown> {
  const root = structuredClone(config);
  for (const o of overrides) {
    let node: unknown = root;
    for (let i = 0; i < o.path.length - 1; i++) {
      const seg = o.path[i]!;
      const container = node as Record<string, unknown> | unknown[];
      let next = Array.isArray(container) ? container[Number(seg)] : container[seg];
      if (next === undefined || next === null) {
        next = {};
        if (Array.isArray(container)) container[Number(seg)] = next;
        else container[seg] = next;
      }
      if (!isMapping(next) && !(Array.isArray(next) && /^\d+$/.test(o.path[i + 1]!))) {
        const at = o.path.slice(0, i + 1).join('.');
        throw new ConfigError(o.source, [
          {
            source: o.source,
            path: o.path.join('.'),
            detail: `cannot set a field inside ${at}, which is ${JSON.stringify(next)}`,
          },
        ]);
      }
      node = next;
    }
    const last = o.path.at(-1)!;
    if (Array.isArray(node)) node[Number(last)] = o.value;
    else (node as Record<string, unknown>)[last] = o.value;
  }
  return root;
}
