import type { Params } from '../nn/params.js';
import { add, mul } from '../ops/elementwise.js';
import { sum } from '../ops/reduce.js';
import type { Tensor } from '../tensor/tensor.js';

/** Training met a NaN or Inf; the message names the iteration and the tensor. */
export class NonFiniteError extends Error {
  override readonly name = 'NonFiniteError';
  constructor(
    readonly iteration: number,
    readonly tensor: string,
    readonly loss: number,
  ) {
    super(
      `non-finite value at iteration ${iteration} in ${tensor} (meta-loss ${loss}); the run stopped and the last good checkpoint is kept. ` +
        'Lower trainer.outerOptimizer.lr or trainer.innerLr, or set trainer.clipGradNorm.',
    );
  }
}

/**
 * Reads the loss and the squared global gradient norm in one round trip (a NaN or Inf in any gradient
 * makes the norm non-finite); only when something is wrong does it look tensor by tensor for the culprit.
 */
export async function findNonFinite(loss: Tensor, grads: Params): Promise<{ loss: number; bad?: string }> {
  let sq: Tensor | undefined;
  for (const g of Object.values(grads)) {
    const s = sum(mul(g, g));
    sq = sq ? add(sq, s) : s;
  }
  const [lossValue, normSq] = await Promise.all([
    loss.data(),
    sq ? sq.data() : Promise.resolve(Float32Array.of(0)),
  ]);
  const l = lossValue[0]!;
  if (!Number.isFinite(l)) return { loss: l, bad: 'the meta-loss' };
  if (Number.isFinite(normSq[0]!)) return { loss: l };
  for (const [name, g] of Object.entries(grads)) {
    const values = await g.data();
    if (values.some((v) => !Number.isFinite(v))) return { loss: l, bad: `the meta-gradient of '${name}'` };
  }
  // Finite entries whose squares overflow: report the norm itself.
  return { loss: l, bad: 'the meta-gradient norm (overflow)' };
}
