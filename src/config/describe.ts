import { z } from 'zod';
import { experimentConfigSchema } from './schema.js';

/** The subset of JSON Schema that zod emits for our config and that error messages need. */
export interface SchemaNode {
  type?: string | string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode | SchemaNode[];
  oneOf?: SchemaNode[];
  anyOf?: SchemaNode[];
  enum?: unknown[];
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
}

let cached: SchemaNode | undefined;

/** JSON Schema (input side) of the experiment config, used to explain what a field allows. */
export function configSchemaNode(): SchemaNode {
  cached ??= z.toJSONSchema(experimentConfigSchema, { io: 'input', unrepresentable: 'any' }) as SchemaNode;
  return cached;
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Picks the union member that applies: the one whose `kind` matches the data, else the first structured one. */
function pickVariant(node: SchemaNode, data: unknown): SchemaNode {
  const options = node.oneOf ?? node.anyOf;
  if (!options) return node;
  if (isMapping(data) && 'kind' in data) {
    const hit = options.find((o) => o.properties?.kind?.const === data.kind);
    if (hit) return hit;
  }
  return options.find((o) => o.properties || o.items) ?? node;
}

/** Schema node at `path`, choosing union variants by the data found along the way. */
export function schemaAt(
  root: SchemaNode,
  path: readonly PropertyKey[],
  data: unknown,
): SchemaNode | undefined {
  let node: SchemaNode | undefined = root;
  let value = data;
  for (const seg of path) {
    if (!node) return undefined;
    node = pickVariant(node, value);
    if (node.properties) {
      node = node.properties[String(seg)];
    } else if (Array.isArray(node.items)) {
      node = node.items[Number(seg)];
    } else if (node.items) {
      node = node.items;
    } else {
      return undefined;
    }
    value =
      isMapping(value) || Array.isArray(value) ? (value as Record<string, unknown>)[String(seg)] : undefined;
  }
  return node;
}

/** Keys a mapping at `path` accepts (for "did you mean"), following union variants by the data. */
export function keysAt(root: SchemaNode, path: readonly PropertyKey[], data: unknown): string[] {
  const node = schemaAt(root, path, data);
  if (!node) return [];
  let value = data;
  for (const seg of path) value = isMapping(value) ? value[String(seg)] : undefined;
  return Object.keys(pickVariant(node, value).properties ?? {}).filter((k) => k !== '$schema');
}

function fmt(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Joins alternatives as `a`, `a or b`, or `one of a, b, c`. */
export function alternatives(values: readonly unknown[]): string {
  const parts = values.map(fmt);
  if (parts.length <= 2) return parts.join(' or ');
  return `one of ${parts.join(', ')}`;
}

function bounds(n: SchemaNode): string {
  const parts: string[] = [];
  if (n.exclusiveMinimum !== undefined) parts.push(`> ${n.exclusiveMinimum}`);
  else if (n.minimum !== undefined && n.minimum > Number.MIN_SAFE_INTEGER) parts.push(`>= ${n.minimum}`);
  if (n.exclusiveMaximum !== undefined) parts.push(`< ${n.exclusiveMaximum}`);
  else if (n.maximum !== undefined && n.maximum < Number.MAX_SAFE_INTEGER) parts.push(`<= ${n.maximum}`);
  return parts.length ? ` ${parts.join(' and ')}` : '';
}

/** Plain-English description of what a schema node allows, e.g. `an integer >= 1` or `1 or 2`. */
export function describeNode(n: SchemaNode): string {
  if (n.const !== undefined) return fmt(n.const);
  if (n.enum) return alternatives(n.enum);
  const union = n.oneOf ?? n.anyOf;
  if (union) {
    const kinds = union.map((o) => o.properties?.kind?.const).filter((k) => k !== undefined);
    if (kinds.length === union.length) return `a mapping with kind ${alternatives(kinds)}`;
    return union.map(describeNode).join(' or ');
  }
  const type = Array.isArray(n.type) ? n.type : n.type ? [n.type] : [];
  if (type.length > 1) return type.map((t) => describeNode({ ...n, type: t })).join(' or ');
  switch (type[0]) {
    case 'integer':
      return `an integer${bounds(n)}`;
    case 'number':
      return `a number${bounds(n)}`;
    case 'boolean':
      return 'true or false';
    case 'string':
      return 'a string';
    case 'null':
      return 'null';
    case 'object':
      return 'a mapping';
    case 'array': {
      if (Array.isArray(n.items))
        return `a list of ${n.items.length} (${n.items.map(describeNode).join(', ')})`;
      const notes = [
        ...(n.items ? [`each ${describeNode(n.items)}`] : []),
        ...(n.minItems ? [`at least ${n.minItems} item${n.minItems === 1 ? '' : 's'}`] : []),
      ];
      return notes.length ? `a list (${notes.join('; ')})` : 'a list';
    }
    default:
      return 'a valid value';
  }
}
