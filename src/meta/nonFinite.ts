import type { Params } from '../nn/params.js';
import { zeros } from '../ops/creation.js';
import { add, mul } from '../ops/elementwise.js';
import { readScalars } from '../ops/readScalars.js';
import { sum } from '../ops/reduce.js';
import { runReadsAsync } from '../tensor/reads.js';
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

/** What the trainer reads of one meta-iteration: its meta-loss and metric, and what is non-finite, if any. */
export interface IterationScalars {
  loss: number;
  metric: number;
  /** Names the first non-finite value (the meta-loss, a gradient, or the norm); absent when all are finite. */
  bad?: string;
}

/**
 * Reads the meta-loss, the metric and the squared global gradient norm in one read (a NaN or Inf in any
 * gradient makes the norm non-finite): the trainer's only read per iteration, whatever the backend (the
 * read is asynchronous). Only when something is wrong does it look tensor by tensor for the culprit.
 *
 * ```ts
 * const { loss, metric, bad } = await readIterationScalars(mg.loss, mg.metric, mg.grads);
 * ```
 */
export async function readIterationScalars(
  loss: Tensor,
  metric: Tensor,
  grads: Params,
): Promise<IterationScalars> {
  const [l, m, normSq] = await runReadsAsync(readScalars([loss, metric, squaredNorm(grads, loss)]));
  return { loss: l, metric: m, ...(await culprit(l, normSq, grads)) };
}

/**
 * Reads the loss and the squared global gradient norm in one read (a NaN or Inf in any gradient makes the
 * norm non-finite); only when something is wrong does it look tensor by tensor for the culprit.
 */
export async function findNonFinite(loss: Tensor, grads: Params): Promise<{ loss: number; bad?: string }> {
  const [l, normSq] = await runReadsAsync(readScalars([loss, squaredNorm(grads, loss)]));
  return { loss: l, ...(await culprit(l, normSq, grads)) };
}

/** Σ |g|² over all gradients, a scalar (0, typed like `loss`, when there are none). */
function squaredNorm(grads: Params, loss: Tensor): Tensor {
  let sq: Tensor | undefined;
  for (const g of Object.values(grads)) {
    const s = sum(mul(g, g));
    sq = sq ? add(sq, s) : s;
  }
  return sq ?? zeros([], loss.dtype);
}

/** What is non-finite, given the loss and the squared norm already read (per-tensor reads only if needed). */
async function culprit(l: number, normSq: number, grads: Params): Promise<{ bad?: string }> {
  if (!Number.isFinite(l)) return { bad: 'the meta-loss' };
  if (Number.isFinite(normSq)) return {};
  for (const [name, g] of Object.entries(grads)) {
    const values = await g.data();
    if (values.some((v) => !Number.isFinite(v))) return { bad: `the meta-gradient of '${name}'` };
  }
  // Finite entries whose squares overflow: report the norm itself.
  return { bad: 'the meta-gradient norm (overflow)' };
}
