/**
 * The kernel cache must not hand one op's compiled kernel to another op whose inputs differ in anything gpu.js
 * fixed at compile time. Each case runs two calls that share a kernel source (equal output shape, strides,
 * offsets, index counts) but whose inputs differ in size or values, on a fresh backend in that order, and
 * compares both results with the CPU backend: a result must not depend on what ran before. Found on webasm:
 * two slices with equal output shape, strides and offset but different input sizes collided in the
 * strided-copy kernel (`argument "x0" changed size ...`).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend, KernelTensor } from '../../../src/backends/backend.js';
import { createGpujsBackend, type GpujsBackend } from '../../../src/backends/gpujs/index.js';
import type { TypedArray } from '../../../src/tensor/dtype.js';
import { type Shape, sizeOf } from '../../../src/tensor/shape.js';
import { cpu, expectClose, modesUnderTest, put, randomValues, rng } from './harness.js';

interface Input {
  readonly values: TypedArray;
  readonly shape: Shape;
  readonly int?: boolean;
}

/** One kernel call: its inputs, what it runs and the shape of its result. */
interface Call {
  readonly inputs: readonly Input[];
  readonly run: (b: Backend, xs: KernelTensor[]) => unknown;
  readonly outShape: Shape;
}

interface Pair {
  readonly name: string;
  readonly first: Call;
  readonly second: Call;
}

const r = rng(17);
const f = (shape: Shape): Input => ({ values: randomValues(r, sizeOf(shape)), shape });
const ints = (values: readonly number[], shape: Shape = [values.length]): Input => ({
  values: Int32Array.from(values),
  shape,
  int: true,
});

/** Calls that share every part of their kernel's source and differ only in their inputs. */
const PAIRS: readonly Pair[] = [
  {
    name: 'slice: same output, strides and offset, inputs of 12 then 15 elements',
    first: { inputs: [f([4, 3])], run: (b, [x]) => b.slice(x!, [0, 0], [2, 3]), outShape: [2, 3] },
    second: { inputs: [f([5, 3])], run: (b, [x]) => b.slice(x!, [0, 0], [2, 3]), outShape: [2, 3] },
  },
  {
    name: 'slice: the larger input first',
    first: {
      inputs: [f([6, 2, 3])],
      run: (b, [x]) => b.slice(x!, [1, 0, 0], [2, 2, 3]),
      outShape: [2, 2, 3],
    },
    second: {
      inputs: [f([3, 2, 3])],
      run: (b, [x]) => b.slice(x!, [1, 0, 0], [2, 2, 3]),
      outShape: [2, 2, 3],
    },
  },
  {
    name: 'broadcastTo: [3] then [1, 3] to [4, 3]',
    first: { inputs: [f([3])], run: (b, [x]) => b.broadcastTo(x!, [4, 3]), outShape: [4, 3] },
    second: { inputs: [f([1, 3])], run: (b, [x]) => b.broadcastTo(x!, [4, 3]), outShape: [4, 3] },
  },
  {
    name: 'broadcastTo then transpose sharing strides',
    first: { inputs: [f([2, 1])], run: (b, [x]) => b.broadcastTo(x!, [2, 3]), outShape: [2, 3] },
    second: { inputs: [f([3, 2])], run: (b, [x]) => b.transpose(x!, [1, 0]), outShape: [2, 3] },
  },
  {
    name: 'transpose: same output shape from two input shapes',
    first: { inputs: [f([3, 2, 4])], run: (b, [x]) => b.transpose(x!, [1, 0, 2]), outShape: [2, 3, 4] },
    second: { inputs: [f([2, 4, 3])], run: (b, [x]) => b.transpose(x!, [0, 2, 1]), outShape: [2, 3, 4] },
  },
  {
    name: 'gather: same output from inputs of 4 then 7 rows',
    first: {
      inputs: [f([4, 3]), ints([3, 0, 3])],
      run: (b, [x, i]) => b.gather(x!, i!, 0),
      outShape: [3, 3],
    },
    second: {
      inputs: [f([7, 3]), ints([6, 1, 5])],
      run: (b, [x, i]) => b.gather(x!, i!, 0),
      outShape: [3, 3],
    },
  },
  {
    name: 'scatterAdd: same shapes, different index values',
    first: {
      inputs: [f([5, 2]), ints([0, 0, 3, 1, 0])],
      run: (b, [u, i]) => b.scatterAdd(u!, i!, 0, [4, 2]),
      outShape: [4, 2],
    },
    second: {
      inputs: [f([5, 2]), ints([2, 2, 2, 2, 1])],
      run: (b, [u, i]) => b.scatterAdd(u!, i!, 0, [4, 2]),
      outShape: [4, 2],
    },
  },
  {
    name: 'scatterAdd: same output, 3 then 6 updates',
    first: {
      inputs: [f([2, 3, 2]), ints([1, 1, 0])],
      run: (b, [u, i]) => b.scatterAdd(u!, i!, 1, [2, 3, 2]),
      outShape: [2, 3, 2],
    },
    second: {
      inputs: [f([2, 6, 2]), ints([2, 0, 1, 2, 2, 0])],
      run: (b, [u, i]) => b.scatterAdd(u!, i!, 1, [2, 3, 2]),
      outShape: [2, 3, 2],
    },
  },
  {
    name: 'concat: [2, 3] + [1, 3] then [1, 3] + [2, 3]',
    first: { inputs: [f([2, 3]), f([1, 3])], run: (b, xs) => b.concat(xs, 0), outShape: [3, 3] },
    second: { inputs: [f([1, 3]), f([2, 3])], run: (b, xs) => b.concat(xs, 0), outShape: [3, 3] },
  },
  {
    name: 'pad: same output from [2, 2] padded by 1 and [3, 3] padded after',
    first: {
      inputs: [f([2, 2])],
      run: (b, [x]) =>
        b.pad(
          x!,
          [
            [1, 1],
            [1, 1],
          ],
          0,
        ),
      outShape: [4, 4],
    },
    second: {
      inputs: [f([3, 3])],
      run: (b, [x]) =>
        b.pad(
          x!,
          [
            [0, 1],
            [0, 1],
          ],
          0,
        ),
      outShape: [4, 4],
    },
  },
  {
    name: 'reduce sum: same output from [4, 3] then [9, 3]',
    first: { inputs: [f([4, 3])], run: (b, [x]) => b.reduce('sum', x!, [0]), outShape: [3] },
    second: { inputs: [f([9, 3])], run: (b, [x]) => b.reduce('sum', x!, [0]), outShape: [3] },
  },
  {
    name: 'matmul: same output, inner dimension 2 then 5',
    first: {
      inputs: [f([3, 2]), f([2, 4])],
      run: (b, [x, y]) => b.matmul(x!, y!, false, false, [3, 4]),
      outShape: [3, 4],
    },
    second: {
      inputs: [f([3, 5]), f([5, 4])],
      run: (b, [x, y]) => b.matmul(x!, y!, false, false, [3, 4]),
      outShape: [3, 4],
    },
  },
  {
    name: 'elementwise add with a broadcast operand: [3] then [1, 3]',
    first: {
      inputs: [f([4, 3]), f([3])],
      run: (b, [x, y]) => b.binary('add', x!, y!, [4, 3]),
      outShape: [4, 3],
    },
    second: {
      inputs: [f([4, 3]), f([1, 3])],
      run: (b, [x, y]) => b.binary('add', x!, y!, [4, 3]),
      outShape: [4, 3],
    },
  },
];

/**
 * Copies are exact; sums and products here have at most 9 terms of |x| <= 2 (|sum| <= 18), and a float32 sum
 * of n terms is within n·u·18 of the exact one in any order (u = 2^-24), so 16·u·18 bounds them all. A kernel
 * fed the wrong array is off by O(1).
 */
const TOL = { rtol: 4 * 2 ** -24, atol: 16 * 2 ** -24 * 18 };

/** Runs one call on a backend and reads its result. */
async function runCall(b: Backend, c: Call): Promise<TypedArray> {
  const xs = c.inputs.map((i) => put(b, i.values, i.shape, i.int ? 'int32' : 'float32'));
  const dtype = c.inputs.length > 0 && c.inputs.every((i) => i.int) ? 'int32' : 'float32';
  return b.read({ handle: c.run(b, xs), shape: c.outShape, dtype });
}

/** The float64 CPU reference of a call on the same (float32) inputs. */
function reference(c: Call): TypedArray {
  const xs = c.inputs.map((i) => put(cpu, i.values, i.shape, i.int ? 'int32' : 'float64'));
  return cpu.readSync({ handle: c.run(cpu, xs), shape: c.outShape, dtype: 'float64' });
}

for (const mode of modesUnderTest()) {
  describe(`gpujs:${mode} kernel cache keys`, () => {
    const opened: GpujsBackend[] = [];
    afterAll(async () => {
      for (const b of opened) await b.destroy();
    });

    for (const pair of PAIRS) {
      it(pair.name, async () => {
        // A fresh backend, so the first call is exactly what ran before the second.
        const b = await createGpujsBackend(mode);
        opened.push(b);
        for (const [which, call] of [
          ['first', pair.first],
          ['second', pair.second],
        ] as const) {
          const got = await runCall(b, call);
          expectClose(got, reference(call), TOL, `${pair.name}: ${which}`);
        }
        // And once more in the first order: the second call's kernel must not have replaced the first's.
        expectClose(await runCall(b, pair.first), reference(pair.first), TOL, `${pair.name}: first again`);
        expect(b.stats.gpujsKernels).toBe(b.stats.compiles);
      });
    }
  });
}
