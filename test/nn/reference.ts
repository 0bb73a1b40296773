/**
 * Naive loop references for the sliding-window layers (TensorFlow semantics), used to check the
 * gather/matmul composites on small inputs.
 */

/** NHWC images as nested arrays. */
export type Images = number[][][][];

/** TensorFlow's output size and leading padding of one spatial axis. */
export function axisGeometry(
  n: number,
  k: number,
  s: number,
  padding: 'same' | 'valid',
): { out: number; before: number } {
  if (padding === 'valid') return { out: Math.floor((n - k) / s) + 1, before: 0 };
  const out = Math.ceil(n / s);
  const total = Math.max((out - 1) * s + k - n, 0);
  return { out, before: Math.floor(total / 2) };
}

/** Cross-correlation of `x [N,H,W,C]` with `k [kh,kw,C,F]` plus `bias [F]`, zero padding. */
export function naiveConv2d(
  x: Images,
  k: number[][][][],
  bias: number[],
  s: [number, number],
  padding: 'same' | 'valid',
): Images {
  const [h, w] = [x[0]!.length, x[0]![0]!.length];
  const [kh, kw] = [k.length, k[0]!.length];
  const gy = axisGeometry(h, kh, s[0], padding);
  const gx = axisGeometry(w, kw, s[1], padding);
  return x.map((img) => {
    const out: number[][][] = [];
    for (let oy = 0; oy < gy.out; oy++) {
      const row: number[][] = [];
      for (let ox = 0; ox < gx.out; ox++) {
        const acc = [...bias];
        for (let ky = 0; ky < kh; ky++) {
          for (let kx = 0; kx < kw; kx++) {
            const iy = oy * s[0] + ky - gy.before;
            const ix = ox * s[1] + kx - gx.before;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            const px = img[iy]![ix]!;
            px.forEach((v, c) => {
              k[ky]![kx]![c]!.forEach((wt, f) => {
                acc[f]! += v * wt;
              });
            });
          }
        }
        row.push(acc);
      }
      out.push(row);
    }
    return out;
  });
}

/** Max-pooling of `x [N,H,W,C]`; padding never wins. */
export function naiveMaxPool(
  x: Images,
  k: [number, number],
  s: [number, number],
  padding: 'same' | 'valid',
): Images {
  const [h, w] = [x[0]!.length, x[0]![0]!.length];
  const gy = axisGeometry(h, k[0], s[0], padding);
  const gx = axisGeometry(w, k[1], s[1], padding);
  return x.map((img) => {
    const out: number[][][] = [];
    for (let oy = 0; oy < gy.out; oy++) {
      const row: number[][] = [];
      for (let ox = 0; ox < gx.out; ox++) {
        const acc = img[0]![0]!.map(() => Number.NEGATIVE_INFINITY);
        for (let ky = 0; ky < k[0]; ky++) {
          for (let kx = 0; kx < k[1]; kx++) {
            const iy = oy * s[0] + ky - gy.before;
            const ix = ox * s[1] + kx - gx.before;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            img[iy]![ix]!.forEach((v, c) => {
              acc[c] = Math.max(acc[c]!, v);
            });
          }
        }
        row.push(acc);
      }
      out.push(row);
    }
    return out;
  });
}

/** Flattens nested arrays of numbers. */
export function flat(x: unknown): number[] {
  return Array.isArray(x) ? x.flatMap((e) => flat(e)) : [x as number];
}

/** Deterministic pseudo-random values in [-1, 1) (no ties, so max-pooling and ReLU stay differentiable). */
export function values(n: number, seed = 1): number[] {
  let s = seed >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push((s / 2 ** 32) * 2 - 1);
  }
  return out;
}

/** Reshapes a flat list into nested arrays of `shape`. */
export function nest(v: readonly number[], shape: readonly number[]): unknown {
  if (shape.length === 0) return v[0];
  const inner = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0]! }, (_, i) =>
    nest(v.slice(i * inner, (i + 1) * inner), shape.slice(1)),
  );
}
