/**
 * A kernel to compile: its gpu.js source (a JS function as text, every shape baked in as literals) and the
 * cache key that identifies it. Two specs with the same key have the same source; the kernel cache adds the
 * argument and output sizes, which gpu.js fixes per compiled kernel and which a source need not determine.
 */
export interface KernelSpec {
  /** `op|shape signature`; the backend adds the mode. */
  readonly key: string;
  /** gpu.js kernel source: `function(x0, x1, ..., v0, ...) { ... }`. */
  readonly source: string;
  /** Number of device-array arguments (`x0..`), passed first. */
  readonly arrays: number;
  /** Number of float scalar arguments (`v0..`), passed after the arrays. */
  readonly scalars: number;
}

/** Builds the source text of a kernel with `arrays` array parameters, `scalars` float parameters and a body. */
export function kernelSource(arrays: number, scalars: number, body: readonly string[]): string {
  const params = [
    ...Array.from({ length: arrays }, (_, k) => `x${k}`),
    ...Array.from({ length: scalars }, (_, k) => `v${k}`),
  ];
  return `function(${params.join(', ')}) {\n  const i = this.thread.x;\n  ${body.join('\n  ')}\n}`;
}

/** Formats a number as a kernel-source literal that every gpu.js translator reads as a float. */
export function lit(x: number): string {
  if (!Number.isFinite(x)) throw new RangeError(`kernel literal must be finite, got ${x}`);
  return Number.isInteger(x) ? `${x}.0` : `${x}`;
}

/** Most specs one memoized builder keeps (a training step uses a few hundred; past this the cache restarts). */
const MEMO_SPECS = 4096;

/**
 * `build` with its specs kept by argument values: generating a kernel's source costs more than running a
 * small kernel, and a training step asks for the same few hundred specs every iteration. The arguments must
 * be JSON-serialisable (shapes, numbers, strings), which every spec builder's are.
 */
export function memoSpec<A extends unknown[]>(build: (...args: A) => KernelSpec): (...args: A) => KernelSpec {
  const cache = new Map<string, KernelSpec>();
  return (...args: A) => {
    const key = memoKey(args);
    let spec = cache.get(key);
    if (!spec) {
      if (cache.size >= MEMO_SPECS) cache.clear();
      spec = build(...args);
      cache.set(key, spec);
    }
    return spec;
  };
}

/**
 * The memo key of a spec builder's arguments: as distinct as `JSON.stringify(args)`, but numbers, strings and
 * flat number arrays (most arguments: ops, shapes, axes) are written without it, which costs about a µs per
 * dispatch. Each builder takes the same kind of value at each position, so a string and a number that print
 * alike never meet at one position.
 */
export function memoKey(args: readonly unknown[]): string {
  let key = '';
  for (const a of args) key += `${argKey(a)};`;
  return key;
}

/** One argument's part of {@link memoKey}: a string that could be read as a separator or as JSON is quoted. */
function argKey(a: unknown): string {
  if (typeof a === 'number' || typeof a === 'boolean') return `${a}`;
  if (typeof a === 'string') return /[;"[{]/.test(a) ? JSON.stringify(a) : a;
  if (Array.isArray(a) && a.every((x) => typeof x === 'number')) return `[${a.join(',')}]`;
  return JSON.stringify(a) ?? 'undefined';
}
