import type { Shape } from '../../../tensor/shape.js';
import type { ReduceOp } from '../../backend.js';
import { collapseAxes, contiguousStrides, emitCoords, linearIndex, sig } from './index-math.js';
import { type KernelSpec, kernelSource } from './spec.js';

/**
 * Reduction of the sorted `axes` of `shape`: one output element per thread, looping over the reduced elements
 * in row-major order (the CPU backend's order, so float32 sums round alike). The kept and the reduced axes
 * are each collapsed where contiguous, so a row reduction is one loop with no index division.
 */
export function reduceSpec(op: ReduceOp, shape: Shape, axes: readonly number[]): KernelSpec {
  const inStrides = contiguousStrides(shape);
  const keptShape: number[] = [];
  const keptStrides: number[] = [];
  const redShape: number[] = [];
  const redStrides: number[] = [];
  shape.forEach((d, i) => {
    if (axes.includes(i)) {
      redShape.push(d);
      redStrides.push(inStrides[i]!);
    } else {
      keptShape.push(d);
      keptStrides.push(inStrides[i]!);
    }
  });
  const kept = collapseAxes(keptShape, [keptStrides]);
  const red = collapseAxes(redShape, [redStrides]);
  const { code, coords } = emitCoords('i', kept.shape, 'o');
  const body = [...code, `const base = ${linearIndex(coords, kept.strides[0]!)};`];
  const loops = red.shape.map((n, d) => `for (let j${d} = 0; j${d} < ${n}; j${d}++) {`);
  const at = ['base', ...red.shape.map((_, d) => `j${d} * ${red.strides[0]![d]}`)].join(' + ');
  const combine =
    op === 'sum'
      ? 'acc = acc + v;'
      : op === 'max'
        ? 'if (v > acc) { acc = v; }'
        : 'if (v < acc) { acc = v; }';
  // max/min start from the first element rather than ±Infinity, which not every translator can spell.
  body.push(
    op === 'sum' ? 'let acc = 0.0;' : 'let acc = x0[base];',
    ...loops,
    `const v = x0[${at}];`,
    combine,
  );
  body.push(...loops.map(() => '}'), 'return acc;');
  return {
    key: `reduce:${op}|${sig(shape)}|${axes.join(',')}`,
    source: kernelSource(1, 0, body),
    arrays: 1,
    scalars: 0,
  };
}

/** Chunk of a partial reduction: each thread of the first pass reduces this many elements. */
export const REDUCE_CHUNK = 256;

/**
 * When a reduction is long and has few outputs (a full sum, say), one thread per output leaves the device
 * idle while a few threads loop over everything. Such reductions run in two passes: this one reduces chunks of
 * {@link REDUCE_CHUNK} elements into `[outputs, chunks]` partials, then an ordinary reduction finishes the
 * chunks axis. Returns undefined where one pass is right: the reduced axes do not collapse to one strided run,
 * the run is short, or there are outputs enough to fill a device.
 */
export function partialReduceSpec(
  op: ReduceOp,
  shape: Shape,
  axes: readonly number[],
): { spec: KernelSpec; outputs: number; chunks: number } | undefined {
  const inStrides = contiguousStrides(shape);
  const kept = collapseAxes(
    shape.filter((_, i) => !axes.includes(i)),
    [inStrides.filter((_, i) => !axes.includes(i))],
  );
  const red = collapseAxes(
    axes.map((a) => shape[a]!),
    [axes.map((a) => inStrides[a]!)],
  );
  const outputs = kept.shape.reduce((p, d) => p * d, 1);
  if (red.shape.length !== 1 || red.shape[0]! < 8 * REDUCE_CHUNK || outputs >= 4096) return undefined;
  const n = red.shape[0]!;
  const stride = red.strides[0]![0]!;
  const chunks = Math.ceil(n / REDUCE_CHUNK);
  const { code, coords } = emitCoords('i', [...kept.shape, chunks], 'o');
  const c = coords.at(-1)!;
  const body = [
    ...code,
    `const base = ${linearIndex(coords.slice(0, -1), kept.strides[0]!)} + ${c} * ${REDUCE_CHUNK * stride}.0;`,
    `const lim = ${n}.0 - ${c} * ${REDUCE_CHUNK}.0;`,
    op === 'sum' ? 'let acc = 0.0;' : 'let acc = x0[base];',
    `for (let j = 0; j < ${REDUCE_CHUNK}; j++) {`,
    '  if (j < lim) {',
    `    const v = x0[base + j * ${stride}];`,
    `    ${op === 'sum' ? 'acc = acc + v;' : op === 'max' ? 'if (v > acc) { acc = v; }' : 'if (v < acc) { acc = v; }'}`,
    '  }',
    '}',
    'return acc;',
  ];
  return {
    spec: {
      key: `reduce-partial:${op}|${sig(shape)}|${axes.join(',')}`,
      source: kernelSource(1, 0, body),
      arrays: 1,
      scalars: 0,
    },
    outputs,
    chunks,
  };
}
