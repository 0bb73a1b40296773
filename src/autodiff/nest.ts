import { Tensor } from '../tensor/tensor.js';

/**
 * Any nest of arrays and plain records with tensors at the leaves (TensorFlow's `nest` structures): what
 * tapes and accumulators take as sources, targets, primals and tangents.
 */
export type Nest<T = Tensor> = T | readonly Nest<T>[] | { readonly [key: string]: Nest<T> };

/**
 * The nest `S` with each tensor leaf replaced by `Tensor | N` (`N` is `null` for unconnected leaves unless
 * zeros were asked for). Tuples stay tuples, arrays become mutable arrays, records keep their keys.
 */
export type NestOf<S, N> = S extends Tensor
  ? Tensor | N
  : S extends null
    ? null
    : S extends readonly unknown[]
      ? number extends S['length']
        ? NestOf<S[number], N>[]
        : { -readonly [K in keyof S]: NestOf<S[K], N> }
      : { -readonly [K in keyof S]: NestOf<S[K], N> };

/** True for a tensor (also one made by another copy of this module, hence the structural test). */
export function isTensor(x: unknown): x is Tensor {
  if (x instanceof Tensor) return true;
  return typeof x === 'object' && x !== null && 'shape' in x && 'dtype' in x && 'id' in x && 'storage' in x;
}

function isPlainRecord(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null) return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (typeof x === 'object') return `a ${x.constructor?.name ?? 'object'}`;
  if (typeof x === 'number' || typeof x === 'boolean') return `the ${typeof x} ${String(x)}`;
  return `a ${typeof x}`;
}

/**
 * The tensor leaves of a nest in a fixed order (arrays by index, records by key order). Anything else at a
 * leaf is an error that names where it is, e.g. `GradientTape.gradient: sources.a[1] is the number 3, not a
 * Tensor`.
 */
export function flattenNest(nest: unknown, where: string, label: string): Tensor[];
/** With `nulls`, a `null` leaf (an unconnected gradient, say) is kept as `null`. */
export function flattenNest(nest: unknown, where: string, label: string, nulls: true): (Tensor | null)[];
export function flattenNest(nest: unknown, where: string, label: string, nulls = false): (Tensor | null)[] {
  const out: (Tensor | null)[] = [];
  // No leaf paths on the way (every gradient call walks its sources, and building a path string per leaf
  // showed in profiles): a bad leaf is located by a second walk that does build them.
  const walk = (x: unknown): boolean => {
    if (isTensor(x) || (nulls && x === null)) out.push(x);
    else if (Array.isArray(x)) {
      for (const e of x) if (!walk(e)) return false;
    } else if (isPlainRecord(x)) {
      for (const k in x) if (!walk(x[k])) return false;
    } else return false;
    return true;
  };
  if (!walk(nest)) throw badLeaf(nest, where, label, nulls);
  return out;
}

/** The error for the first leaf of `nest` that is not a tensor (or null, with `nulls`), naming its path. */
function badLeaf(nest: unknown, where: string, label: string, nulls: boolean): TypeError {
  const find = (x: unknown, path: string): TypeError | undefined => {
    if (isTensor(x) || (nulls && x === null)) return undefined;
    if (Array.isArray(x)) {
      for (let i = 0; i < x.length; i++) {
        const e = find(x[i], `${path}[${i}]`);
        if (e) return e;
      }
      return undefined;
    }
    if (isPlainRecord(x)) {
      for (const [k, v] of Object.entries(x)) {
        const e = find(v, `${path}.${k}`);
        if (e) return e;
      }
      return undefined;
    }
    return new TypeError(`${where}: ${path} is ${describe(x)}, not a Tensor (or an array or record of them)`);
  };
  return find(nest, label) ?? new TypeError(`${where}: ${label} is not a nest of tensors`);
}

/** Rebuilds the structure of `nest` with `values` (in {@link flattenNest}'s order) at the leaves. */
export function unflattenNest<V>(nest: unknown, values: readonly V[]): unknown {
  let i = 0;
  const build = (x: unknown): unknown => {
    if (isTensor(x) || x === null) return values[i++];
    if (Array.isArray(x)) return x.map(build);
    return Object.fromEntries(Object.entries(x as Record<string, unknown>).map(([k, v]) => [k, build(v)]));
  };
  return build(nest);
}
