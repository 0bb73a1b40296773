import { Tensor } from '../tensor/tensor.js';
import { OptimizerError } from './types.js';

/** A JSON value: the non-tensor skeleton of an optimizer state. */
export type StateJson = string | number | boolean | null | StateJson[] | { [key: string]: StateJson };

/**
 * An optimizer state split for a checkpoint: every tensor slot under a path-like name (`1/mu/dense0/kernel`:
 * chain element 1, Adam's first moment of `dense0/kernel`), and a JSON skeleton holding the counts and the
 * structure, with `{ "$tensor": name }` where each tensor was.
 */
export interface FlatState {
  arrays: Record<string, Tensor>;
  meta: StateJson;
}

const TENSOR_KEY = '$tensor';

/**
 * Splits any optimizer state (records, arrays, tensors, numbers, strings, booleans, null) into named tensors
 * and a JSON skeleton, so that checkpoints save the slots and {@link unflattenState} resumes exactly.
 * No values are read: the caller decides when to move the tensors to the host.
 *
 * ```ts
 * const { arrays, meta } = flattenState(state);   // arrays['mu/w'], meta = { count: 3, mu: { w: { $tensor: 'mu/w' } }, ... }
 * const same = unflattenState<AdamState>({ arrays, meta });
 * ```
 */
export function flattenState(state: unknown): FlatState {
  const arrays: Record<string, Tensor> = {};
  const walk = (v: unknown, path: string[]): StateJson => {
    if (v instanceof Tensor) {
      const name = path.join('/');
      if (name in arrays) throw new OptimizerError(`flattenState: two slots share the name '${name}'`);
      arrays[name] = v;
      return { [TENSOR_KEY]: name };
    }
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
    if (typeof v === 'number') {
      if (!Number.isFinite(v))
        throw new OptimizerError(`flattenState: non-finite number at '${path.join('/')}'`);
      return v;
    }
    if (Array.isArray(v)) return v.map((e, i) => walk(e, [...path, String(i)]));
    if (typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) {
      const out: { [key: string]: StateJson } = {};
      for (const [k, e] of Object.entries(v as Record<string, unknown>)) {
        if (e === undefined) continue;
        if (k === TENSOR_KEY) throw new OptimizerError(`flattenState: '${TENSOR_KEY}' is a reserved key`);
        out[k] = walk(e, [...path, k]);
      }
      return out;
    }
    throw new OptimizerError(`flattenState: cannot serialise a ${typeof v} at '${path.join('/')}'`);
  };
  const meta = walk(state, []);
  return { arrays, meta };
}

/**
 * Rebuilds a state from {@link flattenState}'s output (for instance after a checkpoint round trip that
 * recreated the tensors from host arrays).
 *
 * ```ts
 * const state = unflattenState<AdamState>({ arrays: loaded, meta });
 * ```
 */
export function unflattenState<S>(flat: FlatState): S {
  const walk = (v: StateJson): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === TENSOR_KEY) {
        const name = v[TENSOR_KEY];
        const t = typeof name === 'string' ? flat.arrays[name] : undefined;
        if (!t) throw new OptimizerError(`unflattenState: missing array '${String(name)}'`);
        return t;
      }
      const out: Record<string, unknown> = {};
      for (const k of keys) out[k] = walk(v[k]!);
      return out;
    }
    return v;
  };
  return walk(flat.meta) as S;
}
