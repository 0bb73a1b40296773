import { broadcastStrides, collapseAxes, type Shape } from '../../../tensor/shape.js';

/** Output rows and columns one workgroup computes, and the steps of k it stages per barrier. */
const TILE = 32;
/** Threads per workgroup along each output axis; each thread computes (TILE / THREADS)^2 outputs. */
const THREADS = 8;
/** Outputs per thread along each axis. */
const PER = TILE / THREADS;

/**
 * Multiply-adds from which the backend runs a product on WebGPU's direct path as {@link tiledMatmulWgsl}
 * rather than gpu.js's one-thread-per-output kernel. Below it the tiles are mostly padding and gpu.js's
 * kernel (which can read pending operands inside its loop) costs no more.
 */
export const TILED_MATMUL_MIN_MACS = 1 << 18;

/** A hand-written WGSL kernel for WebGPU's direct path: its source and workgroup counts, shapes baked in. */
export interface WgslKernel {
  /** Identifies the source (shapes and strides included). */
  readonly key: string;
  /** Bindings as gpu.js's kernels have them: 0 an (unused) uniform block, 1..n inputs, n + 1 the output. */
  readonly source: string;
  readonly groups: readonly [number, number, number];
  readonly inputs: number;
}

/**
 * Batched matrix product as a tiled WGSL kernel: each workgroup stages a 32-step slice of k of a 32x32 output
 * tile's rows of A and columns of B in workgroup memory, and each of its 64 threads accumulates 4x4 outputs
 * from there. gpu.js cannot express workgroup memory, and its one-output-per-thread loop reads every operand
 * element once per output that uses it, with float index arithmetic: on lavapipe (WebGPU on the CPU) a conv4
 * step spent 86% of its device time in those loops.
 *
 * Values match the CPU backend's: each output is one f32 accumulator summed over k in ascending order (a
 * tile's steps past k add 0 * 0). Operands are read with their own strides, so a transposed operand is never
 * materialised; batch axes broadcast through zero strides, as in `matmulSpec`.
 */
export function tiledMatmulWgsl(
  aShape: Shape,
  bShape: Shape,
  transposeA: boolean,
  transposeB: boolean,
  outShape: Shape,
): WgslKernel {
  const r = outShape.length;
  const m = outShape[r - 2]!;
  const n = outShape[r - 1]!;
  const k = transposeA ? aShape.at(-2)! : aShape.at(-1)!;
  const batchShape = outShape.slice(0, r - 2);
  const aMat = aShape.at(-1)! * aShape.at(-2)!;
  const bMat = bShape.at(-1)! * bShape.at(-2)!;
  const aBatch = broadcastStrides(aShape.slice(0, -2), batchShape).map((s) => s * aMat);
  const bBatch = broadcastStrides(bShape.slice(0, -2), batchShape).map((s) => s * bMat);
  const batch = collapseAxes(batchShape, [aBatch, bBatch]);
  const batches = batch.shape.reduce((x, y) => x * y, 1);
  // Strides of A[row, p] and B[p, col] inside one matrix.
  const aRow = transposeA ? 1 : k;
  const aCol = transposeA ? m : 1;
  const bRow = transposeB ? 1 : n;
  const bCol = transposeB ? k : 1;
  // The batch index (workgroup z) split into the collapsed batch axes, each operand's offset from them.
  const lines: string[] = ['  var rest = wid.z;', '  var aOff = 0u;', '  var bOff = 0u;'];
  for (let d = batch.shape.length - 1; d >= 0; d--) {
    const size = batch.shape[d]!;
    lines.push(
      `  { let c = rest % ${size}u; rest = rest / ${size}u; aOff += c * ${batch.strides[0]![d]!}u; bOff += c * ${batch.strides[1]![d]!}u; }`,
    );
  }
  // Staging loads: consecutive threads take consecutive elements along the operand's contiguous axis.
  const stage = (name: string, tile: string, outer: string, limit: number, so: number, sp: number) => {
    const pFast = sp === 1 && so !== 1;
    const [pExpr, oExpr] = pFast ? [`e % ${TILE}u`, `e / ${TILE}u`] : [`e / ${TILE}u`, `e % ${TILE}u`];
    return [
      `    for (var e = li; e < ${TILE * TILE}u; e += ${THREADS * THREADS}u) {`,
      `      let p = ${pExpr}; let o = ${oExpr};`,
      `      let go = ${outer} + o; let gp = t + p;`,
      '      var v = 0.0;',
      `      if (go < ${limit}u && gp < ${k}u) { v = ${name}[${name === 'A' ? 'aOff' : 'bOff'} + go * ${so}u + gp * ${sp}u]; }`,
      `      ${tile}[p * ${TILE}u + o] = v;`,
      '    }',
    ];
  };
  const accs: string[] = [];
  const fma: string[] = [];
  const writes: string[] = [];
  for (let i = 0; i < PER; i++) {
    fma.push(`      let a${i} = As[p * ${TILE}u + lid.y + ${i * THREADS}u];`);
    fma.push(`      let b${i} = Bs[p * ${TILE}u + lid.x + ${i * THREADS}u];`);
  }
  for (let i = 0; i < PER; i++)
    for (let j = 0; j < PER; j++) {
      accs.push(`  var c${i}_${j} = 0.0;`);
      fma.push(`      c${i}_${j} = c${i}_${j} + a${i} * b${j};`);
      writes.push(
        `  { let row = row0 + lid.y + ${i * THREADS}u; let col = col0 + lid.x + ${j * THREADS}u;`,
        `    if (row < ${m}u && col < ${n}u) { C[wid.z * ${m * n}u + row * ${n}u + col] = c${i}_${j}; } }`,
      );
    }
  const source = [
    'struct Params { unused: vec4<u32> }',
    '@group(0) @binding(0) var<uniform> params: Params;',
    '@group(0) @binding(1) var<storage, read> A: array<f32>;',
    '@group(0) @binding(2) var<storage, read> B: array<f32>;',
    '@group(0) @binding(3) var<storage, read_write> C: array<f32>;',
    `var<workgroup> As: array<f32, ${TILE * TILE}>;`,
    `var<workgroup> Bs: array<f32, ${TILE * TILE}>;`,
    `@compute @workgroup_size(${THREADS}, ${THREADS}, 1)`,
    'fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,',
    '        @builtin(local_invocation_index) li: u32) {',
    ...lines,
    `  let row0 = wid.y * ${TILE}u;`,
    `  let col0 = wid.x * ${TILE}u;`,
    ...accs,
    `  for (var t = 0u; t < ${k}u; t += ${TILE}u) {`,
    ...stage('A', 'As', 'row0', m, aRow, aCol),
    ...stage('B', 'Bs', 'col0', n, bCol, bRow),
    '    workgroupBarrier();',
    `    for (var p = 0u; p < ${TILE}u; p++) {`,
    ...fma,
    '    }',
    '    workgroupBarrier();',
    '  }',
    ...writes,
    '}',
  ].join('\n');
  return {
    key: `wgsl-matmul|${aShape.join('x')}${transposeA ? 'T' : ''},${bShape.join('x')}${transposeB ? 'T' : ''}>${outShape.join('x')}`,
    source,
    groups: [Math.ceil(n / TILE), Math.ceil(m / TILE), batches],
    inputs: 2,
  };
}
