/**
 * The op conformance table (`test/ops/cases.ts`) in forward mode on the gpu.js backends: each op's JVP and
 * its second-order forward derivative (two nested ForwardAccumulators) in float32 on every mode under test,
 * against the CPU backend in float64 on the same inputs and tangents, with the tolerance of ops.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { GpujsDTypeError } from '../../../src/backends/gpujs/index.js';
import { getBackend, setDefaultFloat, useBackend } from '../../../src/backends/registry.js';
import { ForwardAccumulator, fromArray, type Tensor } from '../../../src/index.js';
import { caseInputs, OP_CASES, type OpCase } from '../../ops/cases.js';
import { backendFor, cpu, modesUnderTest, randomValues, rng } from './harness.js';

/** Norm-wise, as ops.test.ts (whose comment justifies the figure): |err_i| <= TOL · max(1, max_j |ref_j|). */
const TOL = 3e-5;

interface ForwardDerivs {
  value: Float64Array;
  jvp: Float64Array;
  second: Float64Array;
}

/** f(x), J(x)·u and the derivative of J(x)·v along u, read back as float64. */
async function forwardDerivatives(
  c: OpCase,
  float: 'float32' | 'float64',
  seed: number,
): Promise<ForwardDerivs> {
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
  const primals = diff.map((k) => xs[k]!);
  const r = rng(seed);
  const like = (t: Tensor) => {
    const v = randomValues(r, t.size);
    return fromArray(float === 'float32' ? v : Float64Array.from(v), t.shape);
  };
  const u = primals.map(like);
  const v = primals.map(like);
  const outer = new ForwardAccumulator(primals, u);
  const inner = new ForwardAccumulator(primals, v);
  let value!: Tensor;
  const jvp = outer.record(() => {
    value = inner.record(() => c.fn(...xs));
    return inner.jvp(value, { unconnected: 'zero' });
  });
  const read = async (t: Tensor) => Float64Array.from(await t.data());
  return {
    value: await read(value),
    jvp: await read(jvp),
    second: await read(outer.jvp(jvp, { unconnected: 'zero' })),
  };
}

function expectNormClose(got: Float64Array, ref: Float64Array, what: string): void {
  expect(got.length, what).toBe(ref.length);
  let scale = 1;
  for (const x of ref) scale = Math.max(scale, Math.abs(x));
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(got[i]! - ref[i]!);
    if (!(err <= TOL * scale))
      throw new Error(
        `${what}: element ${i} is ${got[i]}, expected ${ref[i]} (|err| ${err} > ${TOL * scale})`,
      );
  }
}

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

const reference = new Map<string, Promise<ForwardDerivs>>();
function referenceOf(c: OpCase, seed: number): Promise<ForwardDerivs> {
  let p = reference.get(c.name);
  if (!p) {
    p = on(cpu, 'float64', () => forwardDerivatives(c, 'float64', seed));
    reference.set(c.name, p);
  }
  return p;
}

for (const mode of modesUnderTest()) {
  describe(`gpujs:${mode}: op JVPs and second-order forward derivatives match the CPU backend`, () => {
    OP_CASES.forEach((c, n) => {
      it(c.name, async (ctx) => {
        const b = await backendFor(mode);
        const ref = await referenceOf(c, 2000 + n);
        let got: ForwardDerivs;
        try {
          got = await on(b, 'float32', () => forwardDerivatives(c, 'float32', 2000 + n));
        } catch (e) {
          if (e instanceof GpujsDTypeError) return ctx.skip(`case hard-codes ${e.dtype}`);
          throw e;
        }
        expectNormClose(got.value, ref.value, `${mode} ${c.name} value`);
        expectNormClose(got.jvp, ref.jvp, `${mode} ${c.name} JVP`);
        expectNormClose(got.second, ref.second, `${mode} ${c.name} second-order`);
      });
    });
  });
}
