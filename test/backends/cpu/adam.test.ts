import { describe, expect, it } from 'vitest';
import { GradientTape } from '../../../src/autodiff/tape.js';
import type { AdamConstants } from '../../../src/backends/backend.js';
import { adamF32 } from '../../../src/backends/cpu/fused.js';
import { nativeAddon, nativeAddonReason } from '../../../src/backends/cpu/native/addon.js';
import { nativeElementwise } from '../../../src/backends/cpu/native/elementwise.js';
import { ADAM_CHUNK, adamWasm } from '../../../src/backends/cpu/wasm/adamWasm.js';
import { fromArray } from '../../../src/ops/creation.js';
import { add, div, mul, sqrt, square, sub } from '../../../src/ops/elementwise.js';
import { adam, adamw } from '../../../src/optim/adam.js';
import { applyUpdates } from '../../../src/optim/tree.js';
import type { Params } from '../../../src/tensor/params.js';
import { Rng } from '../../../src/tensor/random.js';
import type { Tensor } from '../../../src/tensor/tensor.js';

/** Signed zeros, denormals, tiny and huge magnitudes (g² overflows, v' underflows), one in eight elements. */
const SPECIAL = [0, -0, 1e-40, -1e-40, 1e-20, 3e-8, 1, 7.5, 1e6, 3e19, -3e19];

/** Random float32 values spanning twelve orders of magnitude, with {@link SPECIAL} values mixed in. */
function values(n: number, seed: number, positive = false): Float32Array {
  const gen = new Rng(seed);
  const next = () => gen.uniform();
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const r =
      next() < 0.125
        ? SPECIAL[Math.floor(next() * SPECIAL.length)]!
        : (next() * 2 - 1) * 10 ** (next() * 12 - 6);
    x[i] = positive ? Math.abs(r) : r;
  }
  return x;
}

const CONSTS: AdamConstants[] = [
  // Adam's defaults at step 3, no epsilon under the root.
  { s1: 1 - 0.9, s2: 1 - 0.999, epsRoot: 0, epsHat: 1e-8 * Math.sqrt(1 - 0.999 ** 3), scale: -1e-3 * 0.7 },
  // An epsilon under the root, and constants that are not float32 values (rounded as the composed ops round).
  { s1: 0.25, s2: 0.01, epsRoot: 1e-16, epsHat: 1e-6, scale: 0.4 },
  // epsHat = 0: a zero root then divides by zero (signed infinities, NaN for 0/0).
  { s1: 1 / 3, s2: 0.1, epsRoot: 0, epsHat: 0, scale: -0.123456789 },
  // An epsRoot that rounds to float32 zero is still added (the composition adds it as a float32 +0).
  { s1: 0.5, s2: 0.5, epsRoot: 1e-50, epsHat: 0, scale: 1 },
];

/** Sizes below, at and above 4 (the SIMD width) and the chunk, none of which the kernel may treat apart. */
const SIZES = [1, 2, 3, 5, 7, 33, 1023, ADAM_CHUNK - 1, ADAM_CHUNK, ADAM_CHUNK + 3, 2 * ADAM_CHUNK + 5];

/** The bit patterns of float32 values. */
const bits = (x: Float32Array): Uint32Array => new Uint32Array(x.buffer, x.byteOffset, x.length);

/** Indices where two float32 arrays differ in any bit (NaN payloads and the sign of zero included). */
function mismatches(a: Float32Array, b: Float32Array): number[] {
  const ba = bits(a);
  const bb = bits(b);
  const out: number[] = [];
  for (let i = 0; i < ba.length; i++) if (ba[i] !== bb[i]) out.push(i);
  return out;
}

/** The update composed of the float32 tensor ops, as src/ops/fused.ts composes it under a tape. */
function composed(g: Float32Array, m0: Float32Array, v0: Float32Array, c: AdamConstants) {
  const t = (x: Float32Array) => fromArray(x, [x.length]);
  const [gt, mt, vt] = [t(g), t(m0), t(v0)];
  const m = add(mt, mul(sub(gt, mt), c.s1));
  const v = add(vt, mul(sub(square(gt), vt), c.s2));
  const root = c.epsRoot > 0 ? sqrt(add(v, c.epsRoot)) : sqrt(v);
  const u = mul(div(m, add(root, c.epsHat)), c.scale);
  const data = (x: Tensor) => x.dataSync() as Float32Array;
  return { m: data(m), v: data(v), u: data(u) };
}

describe.skipIf(adamWasm === undefined)('Adam float32 SIMD kernel (adam.wat)', () => {
  for (const [ci, c] of CONSTS.entries())
    it(`is bit for bit the scalar kernel and the composed float32 ops (constants ${ci})`, () => {
      for (const n of SIZES) {
        const g = values(n, 10 * n + ci);
        const m0 = values(n, 10 * n + ci + 1);
        const v0 = values(n, 10 * n + ci + 2, true);
        const wasm = { m: new Float32Array(n), v: new Float32Array(n), u: new Float32Array(n) };
        adamWasm!.update(g, m0, v0, c, wasm.m, wasm.v, wasm.u);
        const scalar = { m: new Float32Array(n), v: new Float32Array(n), u: new Float32Array(n) };
        adamF32(g, m0, v0, c, scalar.m, scalar.v, scalar.u);
        const ref = composed(g, m0, v0, c);
        for (const k of ['m', 'v', 'u'] as const) {
          expect(mismatches(wasm[k], scalar[k]), `${k}, ${n} elements, vs scalar`).toEqual([]);
          expect(mismatches(wasm[k], ref[k]), `${k}, ${n} elements, vs composed`).toEqual([]);
        }
      }
    });

  it('covers the corner cases it claims to: non-finite and zero steps occur in the inputs above', () => {
    // Guards the test's inputs: if the generator stopped producing these, the bit comparison would prove less.
    const n = 2 * ADAM_CHUNK + 5;
    const c = CONSTS[2]!;
    const u = new Float32Array(n);
    adamWasm!.update(
      values(n, 20 * n + 2),
      values(n, 20 * n + 3),
      values(n, 20 * n + 4, true),
      c,
      new Float32Array(n),
      new Float32Array(n),
      u,
    );
    expect(u.some((x) => !Number.isFinite(x))).toBe(true);
    expect(u.some((x) => x === 0)).toBe(true);
    expect(u.some((x) => x !== 0 && Number.isFinite(x))).toBe(true);
  });

  it('reads and writes views that start off a 16-byte boundary', () => {
    // Views starting at an element that is not 16-byte aligned in their buffer: the copies in align them.
    const n = ADAM_CHUNK + 9;
    const c = CONSTS[1]!;
    const buf = (seed: number, positive = false) => values(n + 3, seed, positive).subarray(3);
    const [g, m0, v0] = [buf(1), buf(2), buf(3, true)];
    const wasm = { m: new Float32Array(n + 1).subarray(1), v: new Float32Array(n), u: new Float32Array(n) };
    adamWasm!.update(g, m0, v0, c, wasm.m, wasm.v, wasm.u);
    const scalar = { m: new Float32Array(n), v: new Float32Array(n), u: new Float32Array(n) };
    adamF32(g, m0, v0, c, scalar.m, scalar.v, scalar.u);
    for (const k of ['m', 'v', 'u'] as const) expect(mismatches(wasm[k], scalar[k])).toEqual([]);
  });
});

describe('Adam float32 native kernel (npm run setup:native)', () => {
  const why = nativeElementwise === undefined ? ` (skipped: ${nativeAddonReason})` : '';
  for (const [ci, c] of CONSTS.entries())
    it.skipIf(nativeElementwise === undefined)(
      `is bit for bit the scalar kernel, in place and off alignment too (constants ${ci})${why}`,
      () => {
        for (const n of SIZES) {
          const g = values(n + 1, 30 * n + ci).subarray(1);
          const m0 = values(n, 30 * n + ci + 1);
          const v0 = values(n, 30 * n + ci + 2, true);
          const scalar = { m: new Float32Array(n), v: new Float32Array(n), u: new Float32Array(n) };
          adamF32(g, m0, v0, c, scalar.m, scalar.v, scalar.u);
          const native = {
            m: new Float32Array(n),
            v: new Float32Array(n + 3).subarray(3),
            u: new Float32Array(n),
          };
          expect(nativeElementwise!.adam!(g, m0, v0, c, native.m, native.v, native.u)).toBe(true);
          for (const k of ['m', 'v', 'u'] as const)
            expect(mismatches(native[k], scalar[k]), `${k}, ${n} elements`).toEqual([]);
          // In place: the new moments over the old ones, as an optimizer reusing its state would.
          const m = m0.slice();
          const v = v0.slice();
          nativeElementwise!.adam!(g, m, v, c, m, v, native.u);
          expect(mismatches(m, scalar.m)).toEqual([]);
          expect(mismatches(v, scalar.v)).toEqual([]);
          expect(mismatches(native.u, scalar.u)).toEqual([]);
        }
      },
    );

  it.skipIf(nativeElementwise === undefined)(`checks its arguments${why}`, () => {
    const f = (n: number) => new Float32Array(n);
    expect(() => nativeElementwise!.adam!(f(4), f(4), f(3), CONSTS[0]!, f(4), f(4), f(4))).toThrow(
      /one length/,
    );
    const f64 = new Float64Array(4) as unknown as Float32Array;
    expect(() => nativeElementwise!.adam!(f(4), f(4), f(4), CONSTS[0]!, f64, f(4), f(4))).toThrow(
      /Float32Array/,
    );
  });
});

describe("Adam's fused step for many parameters (npm run setup:native)", () => {
  const why = nativeAddon === undefined ? ` (skipped: ${nativeAddonReason})` : '';
  for (const [ci, c] of CONSTS.entries())
    it.skipIf(nativeAddon === undefined)(
      `is bit for bit the moment update then p + u, over parameters of every size at once (constants ${ci})${why}`,
      () => {
        const sizes = [...SIZES, 70_000];
        const ins = sizes.map((n, k) => ({
          g: values(n, 40 * n + ci + k),
          m0: values(n, 40 * n + ci + 1),
          v0: values(n, 40 * n + ci + 2, true),
          p0: values(n, 40 * n + ci + 3),
        }));
        const outs = sizes.map((n) => ({
          m: new Float32Array(n),
          v: new Float32Array(n),
          p: new Float32Array(n),
        }));
        nativeAddon!.adamStep(
          ins.flatMap((x, k) => [x.g, x.m0, x.v0, x.p0, outs[k]!.m, outs[k]!.v, outs[k]!.p]),
          c.s1,
          c.s2,
          c.epsRoot,
          c.epsHat,
          c.scale,
        );
        ins.forEach((x, k) => {
          const n = sizes[k]!;
          const scalar = { m: new Float32Array(n), v: new Float32Array(n), u: new Float32Array(n) };
          adamF32(x.g, x.m0, x.v0, c, scalar.m, scalar.v, scalar.u);
          const p = x.p0.map((pi, i) => Math.fround(pi + scalar.u[i]!));
          expect(mismatches(outs[k]!.m, scalar.m), `m, ${n} elements`).toEqual([]);
          expect(mismatches(outs[k]!.v, scalar.v), `v, ${n} elements`).toEqual([]);
          expect(mismatches(outs[k]!.p, p), `p, ${n} elements`).toEqual([]);
        });
      },
    );

  it.skipIf(nativeAddon === undefined)(`checks its arguments${why}`, () => {
    const f = (n: number) => new Float32Array(n);
    expect(() =>
      nativeAddon!.adamStep([f(4), f(4), f(4), f(4), f(4), f(4), f(3)], 0.1, 0.1, 0, 1e-8, 1),
    ).toThrow(/7 Float32Arrays per parameter/);
    expect(() => nativeAddon!.adamStep([f(4), f(4)], 0.1, 0.1, 0, 1e-8, 1)).toThrow(/7 Float32Arrays/);
  });

  it('gives what update and applyUpdates give, bit for bit, and leaves weight decay and tapes to them', () => {
    // The optimizer's step: fused where the backend has it (here with the native kernels), else undefined.
    const rng = new Rng(4);
    // Above the fused step's threshold in all (ADAM_STEP_MIN_ELEMENTS), as the Omniglot MLP's are.
    const params: Params = {
      w: fromArray(values(20_000, 1), [200, 100]),
      b: fromArray(values(7, 2), [7]),
    };
    const grads = () => ({
      w: fromArray(values(20_000, rng.int(1000)), [200, 100]),
      b: fromArray(values(7, 3), [7]),
    });
    for (const tx of [adam({ lr: 0.01 }), adam({ lr: 1e-3, epsRoot: 1e-16 })]) {
      let fusedState = tx.init(params);
      let plainState = tx.init(params);
      let fusedParams = params;
      let plainParams = params;
      for (let i = 0; i < 3; i++) {
        const g = grads();
        const fused = tx.step!(g, fusedState, fusedParams);
        const plain = tx.update(g, plainState, plainParams);
        plainParams = applyUpdates(plainParams, plain.updates);
        plainState = plain.state;
        if (nativeAddon === undefined) {
          expect(fused).toBeUndefined();
          continue;
        }
        expect(fused).toBeDefined();
        fusedParams = fused!.params;
        fusedState = fused!.state;
        for (const k of ['w', 'b'] as const) {
          const d = (t: Tensor) => t.dataSync() as Float32Array;
          expect(mismatches(d(fusedParams[k]!), d(plainParams[k]!)), `p ${k}, step ${i}`).toEqual([]);
          expect(mismatches(d(fusedState.mu[k]!), d(plainState.mu[k]!)), `m ${k}, step ${i}`).toEqual([]);
          expect(mismatches(d(fusedState.nu[k]!), d(plainState.nu[k]!)), `v ${k}, step ${i}`).toEqual([]);
        }
        expect(fusedState.count).toBe(plainState.count);
      }
    }
    expect(adamw({ lr: 0.01 }).step!(grads(), adamw({ lr: 0.01 }).init(params), params)).toBeUndefined();
    // Gradients and parameters that do not name the same tensors: left to update and applyUpdates, which say so.
    const { w: _w, ...withoutW } = params;
    expect(adam().step!(grads(), adam().init(params), withoutW)).toBeUndefined();
    // Below the threshold the per-parameter kernels serve (undefined: the caller composes).
    const small = { b: fromArray(values(7, 2), [7]) };
    expect(adam().step!({ b: fromArray(values(7, 3), [7]) }, adam().init(small), small)).toBeUndefined();
    // Under a tape the update must stay differentiable: composed, not fused.
    const tape = new GradientTape();
    tape.record(() => {
      tape.watch(params.b!);
      expect(adam().step!(grads(), adam().init(params), params)).toBeUndefined();
    });
  });
});
