/** A tensor's shape: one non-negative integer per axis; `[]` is a scalar. */
export type Shape = readonly number[];

/** Number of elements of a shape (1 for a scalar). */
export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a shape. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

/** True when two shapes are identical. */
export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Formats a shape for error messages, e.g. `[2,3]`. */
export function fmtShape(shape: Shape): string {
  return `[${shape.join(',')}]`;
}

/**
 * NumPy broadcasting of two shapes. Throws an error naming `opName` and both shapes when they are incompatible.
 */
export function broadcastShapes(a: Shape, b: Shape, opName = 'broadcast'): number[] {
  if (shapesEqual(a, b)) return a.slice();
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da === db || db === 1) out[i] = da;
    else if (da === 1) out[i] = db;
    else throw new Error(`${opName}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast together`);
  }
  return out;
}

/** Normalises axes (negative counts from the end) for a tensor of `rank`; `undefined` means all axes. */
export function normalizeAxes(
  axes: number | readonly number[] | undefined,
  rank: number,
  opName: string,
): number[] {
  if (axes === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof axes === 'number' ? [axes] : axes;
  const out: number[] = [];
  for (const ax of list) {
    const a = ax < 0 ? ax + rank : ax;
    if (!Number.isInteger(a) || a < 0 || a >= rank) {
      throw new Error(`${opName}: axis ${ax} is out of range for a tensor of rank ${rank}`);
    }
    if (!out.includes(a)) out.push(a);
  }
  return out.sort((x, y) => x - y);
}

/** Normalises one axis; `allowEnd` permits `rank` itself (for stack/expandDims). */
export function normalizeAxis(axis: number, rank: number, opName: string, allowEnd = false): number {
  const lim = allowEnd ? rank + 1 : rank;
  const a = axis < 0 ? axis + lim : axis;
  if (!Number.isInteger(a) || a < 0 || a >= lim) {
    throw new Error(`${opName}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return a;
}

/**
 * The axes of `full` that were broadcast from `small` (left-padded with ones): summing a gradient of shape
 * `full` over these axes and reshaping to `small` undoes the broadcast.
 */
export function broadcastedAxes(small: Shape, full: Shape): number[] {
  const axes: number[] = [];
  const off = full.length - small.length;
  for (let i = 0; i < full.length; i++) {
    const ds = i < off ? 1 : small[i - off]!;
    if (ds === 1 && full[i] !== 1) axes.push(i);
    else if (i < off) axes.push(i);
  }
  return axes;
}

/**
 * Element strides of a source of shape `src` seen through an output of shape `out` (NumPy broadcasting:
 * a broadcast or missing axis gets stride 0).
 */
export function broadcastStrides(src: Shape, out: Shape): number[] {
  const strides = new Array<number>(out.length).fill(0);
  const off = out.length - src.length;
  let s = 1;
  for (let i = src.length - 1; i >= 0; i--) {
    strides[i + off] = src[i] === 1 && out[i + off] !== 1 ? 0 : s;
    s *= src[i]!;
  }
  return strides;
}

/**
 * Merges adjacent output axes whose strides (for every operand) are compatible, so that broadcast loops run
 * over as few, as long axes as possible. Returns the collapsed shape and per-operand strides.
 */
export function collapseAxes(
  out: Shape,
  operandStrides: readonly (readonly number[])[],
): { shape: number[]; strides: number[][] } {
  const shape: number[] = [];
  const strides: number[][] = operandStrides.map(() => []);
  for (let d = 0; d < out.length; d++) {
    const size = out[d]!;
    if (size === 1) continue;
    const last = shape.length - 1;
    if (last >= 0 && operandStrides.every((st, k) => strides[k]![last] === st[d]! * size)) {
      shape[last] = shape[last]! * size;
      for (let k = 0; k < operandStrides.length; k++) strides[k]![last] = operandStrides[k]![d]!;
      continue;
    }
    shape.push(size);
    for (let k = 0; k < operandStrides.length; k++) strides[k]!.push(operandStrides[k]![d]!);
  }
  return { shape, strides };
}
