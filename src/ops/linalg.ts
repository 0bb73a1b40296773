import { broadcastShapes, fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';
import { add } from './elementwise.js';
import { runOp } from './engine.js';
import { reshape } from './shape.js';

/** Options of {@link matmul}. */
export interface MatmulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
}

/**
 * Matrix product of the last two axes, batched over (and broadcasting) the leading axes: `[..., m, k] x
 * [..., k, n] -> [..., m, n]`, either operand optionally transposed. Both operands need rank >= 2.
 * The gradients are matmuls again (with the transpose flags swapped), so every order is available.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const tA = options.transposeA ?? false;
  const tB = options.transposeB ?? false;
  if (a.rank < 2 || b.rank < 2) {
    throw new Error(`matmul: operands need rank >= 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  }
  if (a.dtype !== b.dtype) throw new Error(`matmul: dtypes differ (${a.dtype} and ${b.dtype})`);
  const m = tA ? a.shape.at(-1)! : a.shape.at(-2)!;
  const ka = tA ? a.shape.at(-2)! : a.shape.at(-1)!;
  const kb = tB ? b.shape.at(-1)! : b.shape.at(-2)!;
  const n = tB ? b.shape.at(-2)! : b.shape.at(-1)!;
  if (ka !== kb) {
    throw new Error(
      `matmul: inner dimensions differ: ${fmtShape(a.shape)}${tA ? 'ᵀ' : ''} x ${fmtShape(b.shape)}${tB ? 'ᵀ' : ''} (${ka} vs ${kb})`,
    );
  }
  if (a.rank > 2 && b.rank === 2 && !tA) {
    // A batch of inputs against one shared matrix is a single tall matmul: [B·m, k] x [k, n]. Besides better
    // tiling, it makes the gradient of the shared operand one [k, n] product instead of B products summed.
    const rows = reshape(a, [a.shape.slice(0, -1).reduce((p, d) => p * d, 1), ka]);
    return reshape(matmul(rows, b, { transposeB: tB }), [...a.shape.slice(0, -1), n]);
  }
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), 'matmul');
  const outShape = [...batch, m, n];
  return runOp(
    'matmul',
    [a, b],
    outShape,
    a.dtype,
    (be) => be.matmul(a, b, tA, tB, outShape),
    (dy, _y, [x, y], needs) => {
      const X = x!;
      const Y = y!;
      // C = op(A) op(B); dA and dB below are written so that no explicit transpose is ever materialised.
      let dA: Tensor | null = null;
      let dB: Tensor | null = null;
      if (!tA && !tB) {
        if (needs[0]) dA = matmul(dy, Y, { transposeB: true });
        if (needs[1]) dB = matmul(X, dy, { transposeA: true });
      } else if (tA && !tB) {
        if (needs[0]) dA = matmul(Y, dy, { transposeB: true });
        if (needs[1]) dB = matmul(X, dy);
      } else if (!tA && tB) {
        if (needs[0]) dA = matmul(dy, Y);
        if (needs[1]) dB = matmul(dy, X, { transposeA: true });
      } else {
        if (needs[0]) dA = matmul(Y, dy, { transposeA: true, transposeB: true });
        if (needs[1]) dB = matmul(dy, X, { transposeA: true, transposeB: true });
      }
      return [dA, dB];
    },
    // Forward: the product rule, each term a matmul with the same flags.
    ([tA2, tB2], _y, [x, y]) => {
      const left = tA2 ? matmul(tA2, y!, options) : null;
      const right = tB2 ? matmul(x!, tB2, options) : null;
      return left && right ? add(left, right) : (left ?? right);
    },
  );
}
