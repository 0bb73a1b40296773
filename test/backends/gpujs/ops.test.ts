/**
 * The op conformance table (`test/ops/cases.ts`) on the gpu.js backends: each op's value, gradient and
 * second-order directional derivative (through nested tapes, unchanged) in float32 on every mode under test,
 * against the CPU backend in float64 on the same inputs.
 */
import { describe, expect, it } from 'vitest';
import { GpujsDTypeError } from '../../../src/backends/gpujs/index.js';
import { getBackend, setDefaultFloat, useBackend } from '../../../src/backends/registry.js';
import { add, fromArray, GradientTape, mul, sum, type Tensor } from '../../../src/index.js';
import { caseInputs, OP_CASES, type OpCase } from '../../ops/cases.js';
import { backendFor, cpu, modesUnderTest, randomValues, rng } from './harness.js';

/**
 * Norm-wise tolerance of a composite result: |err_i| <= TOL * max(1, max_j |ref_j|). Each case chains up to
 * ~30 kernels (softmax, cross-entropy, their first and second derivatives); each contributes a few float32
 * ulps (u = 6e-8) relative to the magnitudes it combines, and gradients are sums whose cancellation makes an
 * element-wise relative bound meaningless, hence norm-wise. 3e-5 is ~500 u: the CPU backend run in float32
 * must meet it too (checked below), so it is no looser than float32 itself needs on these cases.
 */
const TOL = 3e-5;

interface Derivs {
  value: Float64Array;
  grads: Float64Array[];
  second: Float64Array[];
}

/** Value, gradient of <f, w> and the derivative of <grad, v>, all read back as float64. */
async function derivatives(c: OpCase, float: 'float32' | 'float64', seed: number): Promise<Derivs> {
  const raw = caseInputs(c);
  const xs: Tensor[] = raw.map(({ data, shape }) =>
    fromArray(
      data instanceof Int32Array
        ? data
        : float === 'float32'
          ? Float32Array.from(data)
          : Float64Array.from(Float32Array.from(data)),
      shape,
    ),
  );
  const diff = c.diff ?? xs.map((x, i) => (x.dtype === 'int32' ? -1 : i)).filter((i) => i >= 0);
  const sources = diff.map((k) => xs[k]!);
  const r = rng(seed);
  const arr = (n: number) =>
    float === 'float32' ? randomValues(r, n) : Float64Array.from(randomValues(r, n));
  // The same random weights on both backends: drawn in float32, so float64 sees identical values.
  const weights = (t: Tensor) => fromArray(arr(t.size), t.shape);
  let value!: Tensor;
  let grads!: Tensor[];
  const outer = new GradientTape();
  const directional = outer.record(() => {
    outer.watch(...sources);
    const inner = new GradientTape();
    const loss = inner.record(() => {
      inner.watch(...sources);
      value = c.fn(...xs);
      return sum(mul(value, weights(value)));
    });
    grads = inner.gradient(loss, sources, { unconnected: 'zero' }) as Tensor[];
    return grads.map((g) => sum(mul(g, weights(g)))).reduce((a, b) => add(a, b));
  });
  const second = outer.gradient(directional, sources, { unconnected: 'zero' }) as Tensor[];
  const read = async (t: Tensor) => Float64Array.from(await t.data());
  return {
    value: await read(value),
    grads: await Promise.all(grads.map(read)),
    second: await Promise.all(second.map(read)),
  };
}

function expectNormClose(got: Float64Array, ref: Float64Array, what: string): void {
  expect(got.length, what).toBe(ref.length);
  let scale = 1;
  for (const v of ref) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(got[i]! - ref[i]!);
    if (!(err <= TOL * scale))
      throw new Error(
        `${what}: element ${i} is ${got[i]}, expected ${ref[i]} (|err| ${err} > ${TOL * scale})`,
      );
  }
}

function expectAllClose(got: Derivs, ref: Derivs, what: string): void {
  expectNormClose(got.value, ref.value, `${what} value`);
  got.grads.forEach((g, k) => {
    expectNormClose(g, ref.grads[k]!, `${what} gradient ${k}`);
  });
  got.second.forEach((g, k) => {
    expectNormClose(g, ref.second[k]!, `${what} second-order ${k}`);
  });
}

/** Runs `fn` with a backend current and float32 (or float64) as the default float, restoring both after. */
async function on<T>(
  b: Parameters<typeof useBackend>[0],
  float: 'float32' | 'float64',
  fn: () => Promise<T>,
): Promise<T> {
  const prev = getBackend();
  useBackend(b);
  setDefaultFloat(float);
  try {
    return await fn();
  } finally {
    useBackend(prev);
    setDefaultFloat('float32');
  }
}

const reference = new Map<string, Promise<Derivs>>();
function referenceOf(c: OpCase, seed: number): Promise<Derivs> {
  let p = reference.get(c.name);
  if (!p) {
    p = on(cpu, 'float64', () => derivatives(c, 'float64', seed));
    reference.set(c.name, p);
  }
  return p;
}

describe('the CPU backend in float32 meets the gpu.js tolerance (so it is not looser than float32 needs)', () => {
  OP_CASES.forEach((c, n) => {
    it(c.name, async (ctx) => {
      const ref = await referenceOf(c, 1000 + n);
      let got: Derivs;
      try {
        got = await on(cpu, 'float32', () => derivatives(c, 'float32', 1000 + n));
      } catch (e) {
        // Cases that hard-code float64 mix dtypes once the default float is float32.
        if (e instanceof Error && /float64/.test(e.message)) return ctx.skip('case hard-codes float64');
        throw e;
      }
      expectAllClose(got, ref, `cpu float32 ${c.name}`);
    });
  });
});

for (const mode of modesUnderTest()) {
  describe(`gpujs:${mode}: op values and first/second-order gradients match the CPU backend`, () => {
    OP_CASES.forEach((c, n) => {
      it(c.name, async (ctx) => {
        const b = await backendFor(mode);
        const ref = await referenceOf(c, 1000 + n);
        let got: Derivs;
        try {
          got = await on(b, 'float32', () => derivatives(c, 'float32', 1000 + n));
        } catch (e) {
          // A case that hard-codes float64 cannot run on a float32-only backend; that is the case's problem.
          if (e instanceof GpujsDTypeError) return ctx.skip(`case hard-codes ${e.dtype}`);
          throw e;
        }
        expectAllClose(got, ref, `${mode} ${c.name}`);
      });
    });
  });
}
