import { broadcastStrides, collapseAxes, type Shape } from '../../../tensor/shape.js';

/**
 * Multiply-adds from which the backend runs a product on WebGPU's direct path as {@link tiledMatmulWgsl}
 * rather than gpu.js's one-thread-per-output kernel. Below it, gpu.js's kernel (which can read pending
 * operands inside its loop, saving the dispatch that computes them first) costs no more.
 */
export const TILED_MATMUL_MIN_MACS = 1 << 18;

/**
 * Multiply-adds from which a product with a pending operand runs tiled all the same, its operand computed
 * first by a kernel of its own. Below it, gpu.js's fused matmul computes the operand inside its loop: one
 * dispatch instead of two. A trade: on conv4's second-order step (its 3.3M and 4.5M multiply-add products
 * with pending operands stay fused) 248 dispatches instead of 256, each of which costs tens of microseconds
 * on a hardware GPU, against about 17% more time on lavapipe (980 -> 1139 ms a step on two cores), whose
 * shaders run on the CPU.
 */
export const TILED_PENDING_MIN_MACS = 1 << 23;

/**
 * How a product is blocked: threads per workgroup along each output axis, and the most outputs one thread
 * computes along each (fewer where the matrix is narrower, so that a 9-row product does not compute 64).
 */
export interface MatmulTiling {
  readonly threads: number;
  readonly most: number;
  /**
   * Where B's columns are contiguous (and come in fours), read and accumulate them as `vec4<f32>`: one load
   * per four columns, and each thread's columns are `most / 4` runs of four.
   */
  readonly vec4?: boolean;
  /**
   * Where an operand's rows (A) or columns (B^T) are contiguous along k (and k comes in fours), read them as
   * `vec4<f32>`, four steps of k at a time, still accumulated one step after another.
   */
  readonly kvec4?: boolean;
  /** Where A's rows are contiguous (A transposed) and come in fours, read them as `vec4<f32>` of four rows. */
  readonly rowVec4?: boolean;
  /** Where k comes in fours, four steps of k an iteration even where no operand is read in fours along k. */
  readonly unroll4?: boolean;
}

/**
 * The blocking the backend uses: 8x8 threads of up to 8x8 outputs each. On lavapipe (conv4's largest
 * products, `bench/gpujs-tiling.ts`) it ran 4x faster than 32x32 tiles staged in workgroup memory (4x4 outputs
 * a thread), whose barriers lavapipe pays for at every step; 4x4 or 16x16 outputs a thread were slower too.
 * Reading B's columns as `vec4<f32>` where they are contiguous took another 15-20% off (medians of 5 rounds),
 * reading rows of A (columns of B^T) contiguous along k in fours another 25%, and a transposed A's rows as
 * vec4 of four rows 28% off the product that has them, and four steps of k an iteration there 9% more.
 */
export const MATMUL_TILING: MatmulTiling = {
  threads: 8,
  most: 8,
  vec4: true,
  kvec4: true,
  rowVec4: true,
  unroll4: true,
};

/** A hand-written WGSL kernel for WebGPU's direct path: its source and workgroup counts, shapes baked in. */
export interface WgslKernel {
  /** Identifies the source (shapes and blocking included). */
  readonly key: string;
  /** Bindings as gpu.js's kernels have them: 0 an (unused) uniform block, 1..n inputs, n + 1 the output. */
  readonly source: string;
  readonly groups: readonly [number, number, number];
  readonly inputs: number;
}

/**
 * Batched matrix product as a register-blocked WGSL kernel: each thread accumulates a block of up to 8x8
 * outputs (rows `row0 + ty + 8i`, columns `col0 + tx + 8j`), so each operand element it loads serves up to 8
 * multiply-adds, where gpu.js's one-output-per-thread loop (which cannot express anything else) loads two
 * elements per multiply-add, with float index arithmetic. On lavapipe (WebGPU on the CPU) a conv4 step spent
 * 86% of its device time in those loops.
 *
 * Values match the CPU backend's: each output is one f32 accumulator summed over k in ascending order.
 * Operands are read with their own strides, so a transposed operand is never materialised; batch axes
 * broadcast through zero strides, as in `matmulSpec`. Rows and columns past the matrix read row or column 0
 * (in bounds) and are never written.
 */
export function tiledMatmulWgsl(
  aShape: Shape,
  bShape: Shape,
  transposeA: boolean,
  transposeB: boolean,
  outShape: Shape,
  tiling: MatmulTiling = MATMUL_TILING,
): WgslKernel {
  const r = outShape.length;
  const m = outShape[r - 2]!;
  const n = outShape[r - 1]!;
  const k = transposeA ? aShape.at(-2)! : aShape.at(-1)!;
  const t = tiling.threads;
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
  const vec =
    tiling.vec4 === true &&
    bCol === 1 &&
    n % 4 === 0 &&
    bRow % 4 === 0 &&
    batch.strides[1]!.every((s) => s % 4 === 0);
  // Columns in the units B and C are read and written in: fours of floats, or floats.
  const w = vec ? 4 : 1;
  const nw = n / w;
  const aligned = (strides: readonly number[]) => strides.every((x) => x % 4 === 0);
  // Where A's rows are contiguous (A transposed) and come in fours, A is read as vec4 of four rows and each
  // thread's rows are runs of four, as B's columns are.
  const aR = tiling.rowVec4 === true && aRow === 1 && m % 4 === 0 && aligned(batch.strides[0]!);
  const h = aR ? 4 : 1;
  const mw = m / h;
  const perM = Math.min(tiling.most / h, Math.ceil(mw / t));
  const perN = Math.min(tiling.most / w, Math.ceil(nw / t));
  const acc = vec ? 'vec4<f32>' : 'f32';
  const aK = tiling.kvec4 === true && aCol === 1 && k % 4 === 0 && aligned(batch.strides[0]!);
  const bK = tiling.kvec4 === true && !vec && bRow === 1 && k % 4 === 0 && aligned(batch.strides[1]!);
  // Steps of k per loop iteration: four where an operand is read in fours along k.
  const u = aK || bK || (tiling.unroll4 === true && k % 4 === 0) ? 4 : 1;
  const body: string[] = ['  var rest = wid.z;', '  var aOff = 0u;', '  var bOff = 0u;'];
  // The batch index (workgroup z) split into the collapsed batch axes, each operand's offset from them.
  for (let d = batch.shape.length - 1; d >= 0; d--) {
    const size = batch.shape[d]!;
    body.push(
      `  { let c = rest % ${size}u; rest = rest / ${size}u; aOff += c * ${batch.strides[0]![d]!}u; bOff += c * ${batch.strides[1]![d]!}u; }`,
    );
  }
  body.push(`  let row0 = wid.y * ${t * perM}u + lid.y;`, `  let col0 = wid.x * ${t * perN}u + lid.x;`);
  // Where each of the thread's rows of A and columns of B starts (clamped into the matrix), hoisted.
  // Offsets are in the units each array is declared in (vec4 or f32); all are multiples of 4 where vec4.
  for (let i = 0; i < perM; i++)
    body.push(
      `  let ra${i} = (aOff + min(row0 + ${i * t}u, ${mw - 1}u) * ${h * aRow}u) / ${aK || aR ? 4 : 1}u;`,
    );
  for (let j = 0; j < perN; j++)
    body.push(`  let cb${j} = (bOff + min(col0 + ${j * t}u, ${nw - 1}u) * ${w * bCol}u) / ${bK ? 4 : w}u;`);
  const rows: [number, number][] = [];
  for (let i = 0; i < perM; i++) for (let r = 0; r < h; r++) rows.push([i, r]);
  for (const [i, r] of rows) for (let j = 0; j < perN; j++) body.push(`  var c${i}_${r}_${j} = ${acc}(0.0);`);
  body.push(`  for (var s = 0u; s < ${k / u}u; s++) {`);
  const lane = ['x', 'y', 'z', 'w'];
  // The value of A's row i (B's column j) at step q of this iteration.
  const aAt = (i: number, q: number, r: number) =>
    aK ? `a${i}.${lane[q]}` : aR ? `a${i}_${q}.${lane[r]}` : `a${i}_${q}`;
  const bAt = (j: number, q: number) => (bK ? `b${j}.${lane[q]}` : `b${j}_${q}`);
  for (let i = 0; i < perM; i++)
    if (aK) body.push(`    let a${i} = A[ra${i} + s];`);
    else
      for (let q = 0; q < u; q++)
        body.push(`    let a${i}_${q} = A[ra${i} + (s * ${u}u + ${q}u) * ${aCol / h}u];`);
  for (let j = 0; j < perN; j++)
    if (bK) body.push(`    let b${j} = B[cb${j} + s];`);
    else
      for (let q = 0; q < u; q++)
        body.push(`    let b${j}_${q} = B[cb${j} + (s * ${u}u + ${q}u) * ${bRow / w}u];`);
  for (let q = 0; q < u; q++)
    for (const [i, r] of rows)
      for (let j = 0; j < perN; j++)
        body.push(`    c${i}_${r}_${j} = c${i}_${r}_${j} + ${aAt(i, q, r)} * ${bAt(j, q)};`);
  body.push('  }');
  for (const [i, r] of rows)
    for (let j = 0; j < perN; j++)
      body.push(
        `  { let row = (row0 + ${i * t}u) * ${h}u + ${r}u; let col = col0 + ${j * t}u;`,
        `    if (row < ${m}u && col < ${nw}u) { C[wid.z * ${(m * n) / w}u + row * ${nw}u + col] = c${i}_${r}_${j}; } }`,
      );
  const source = [
    'struct Params { unused: vec4<u32> }',
    '@group(0) @binding(0) var<uniform> params: Params;',
    `@group(0) @binding(1) var<storage, read> A: array<${aK || aR ? 'vec4<f32>' : 'f32'}>;`,
    `@group(0) @binding(2) var<storage, read> B: array<${vec || bK ? 'vec4<f32>' : 'f32'}>;`,
    `@group(0) @binding(3) var<storage, read_write> C: array<${acc}>;`,
    `@compute @workgroup_size(${t}, ${t}, 1)`,
    'fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {',
    ...body,
    '}',
  ].join('\n');
  return {
    key: `wgsl-matmul:${t}x${perM}x${perN}${vec ? 'v' : ''}${aR ? 'r' : ''}${aK ? 'a' : ''}${bK ? 'b' : ''}${u === 4 && !aK && !bK ? 'u' : ''}|${aShape.join('x')}${transposeA ? 'T' : ''},${bShape.join('x')}${transposeB ? 'T' : ''}>${outShape.join('x')}`,
    source,
    groups: [Math.ceil(nw / (t * perN)), Math.ceil(mw / (t * perM)), batches],
    inputs: 2,
  };
}
