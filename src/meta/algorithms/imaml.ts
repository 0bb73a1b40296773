import { z } from 'zod';
import { hvp } from '../../autodiff/functional.js';
import { GradientTape } from '../../autodiff/tape.js';
import { add, mul, sub } from '../../ops/elementwise.js';
import { sum } from '../../ops/reduce.js';
import { broadcastTo, expandDims, stopGradient } from '../../ops/shape.js';
import { truncatedCgReads } from '../../optim/cg.js';
import { flattenParams, unflattenParams } from '../../optim/flatParams.js';
import { mapParams, type Params } from '../../tensor/params.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { FastWeights } from '../fastWeights.js';
import type { MetaAlgorithm } from './types.js';

/** `trainer.imaml`: iMAML's proximal strength and conjugate-gradient budget. */
export const imamlConfig = z
  .strictObject({
    lambda: z
      .number()
      .positive()
      .default(1)
      .describe('Proximal regularisation: the inner loss is L(phi) + lambda/2 |phi - theta|^2.'),
    cgSteps: z
      .number()
      .int()
      .min(1)
      .default(5)
      .describe('Conjugate-gradient steps (Hessian-vector products) per meta-gradient.'),
  })
  .describe('iMAML settings (trainer.algorithm: imaml).');

/** The defaults of `trainer.imaml` when the section is absent. */
export const IMAML_DEFAULTS = imamlConfig.parse({});

/**
 * iMAML (Rajeswaran et al. 2019, "Meta-Learning with Implicit Gradients"). The inner loop minimises the
 * proximally regularised support loss `L_s(phi) + lambda/2 |phi - theta|^2` by `innerSteps` gradient steps
 * of `innerLr` (outside any tape). At its solution `d phi / d theta = (I + H/lambda)^-1` with H the support
 * loss's Hessian, so the meta-gradient is `v = (I + H/lambda)^-1 g` with g the query loss's gradient at phi:
 * `(H + lambda I) v = lambda g`, solved by conjugate gradient (`optim/cg.ts`, Newton-CG's CG) with
 * `cgSteps` Hessian-vector products (`autodiff` `hvp`). Memory does not grow with the inner steps, and each
 * CG step costs about one gradient. All tasks of a batch are solved as one block-diagonal system. CG's
 * step sizes are scalars read to the host: the meta-gradient is a `HostReads` computation, so it runs on
 * backends that read only asynchronously (`MetaLearner.metaGradientAsync`).
 */
export const imaml: MetaAlgorithm = {
  name: 'imaml',
  // Truncated CG's step sizes come from inner products over all tasks at once.
  splitsOverTasks: false,
  doc: 'iMAML (Rajeswaran et al. 2019): proximal inner loop (trainer.imaml.lambda), implicit meta-gradient by conjugate gradient on (I + H/lambda) v = g with Hessian-vector products (trainer.imaml.cgSteps); memory flat in the inner steps.',
  *metaGradientReads(host, meta, batch) {
    const { lambda, cgSteps } = { ...IMAML_DEFAULTS, ...host.options.imaml };
    const T = batch.supportX.shape[0]!;
    const shared: Params = {};
    const theta: Params = {};
    for (const n of host.model.paramNames) {
      const p = stopGradient(meta[n]!);
      if (host.adaptedNames.includes(n)) theta[n] = broadcastTo(expandDims(p, 0), [T, ...p.shape]);
      else shared[n] = p;
    }
    const fastOf = (phi: Params): FastWeights => ({ params: { ...shared, ...phi }, kernelDeltas: new Map() });
    // The sum over tasks of each task's mean support loss: its Hessian is block diagonal, one block per task.
    const supportLoss = (phi: Params) =>
      sum(host.loss(host.apply(fastOf(phi), batch.supportX), batch.supportY, 'perTask'));

    // Inner loop: gradient descent on the proximal objective, starting at theta.
    let phi = theta;
    for (let s = 0; s < host.options.innerSteps; s++) {
      const tape = new GradientTape();
      const current = phi;
      const loss = tape.record(() => {
        tape.watch(...Object.values(current));
        return supportLoss(current);
      });
      const g = tape.gradient(loss, current, { unconnected: 'zero' });
      phi = mapParams(current, (p, n) =>
        stopGradient(sub(p, mul(add(g[n]!, mul(sub(p, theta[n]!), lambda)), host.options.innerLr))),
      );
    }

    // The query loss (mean over tasks) and its gradient at the adapted weights.
    const qTape = new GradientTape();
    const adapted = phi;
    let pred: Tensor | undefined;
    const loss = qTape.record(() => {
      qTape.watch(...Object.values(adapted));
      pred = host.apply(fastOf(adapted), batch.queryX);
      return host.loss(pred, batch.queryY, 'mean');
    });
    const gq = qTape.gradient(loss, adapted, { unconnected: 'zero' });

    // (H + lambda I) v = lambda g: truncatedCg solves (C + damping I) p = -g', so g' = -lambda g.
    const { flat: x, layout } = flattenParams(adapted);
    const { flat: g } = flattenParams(gq);
    const f = (v: Tensor) => supportLoss(unflattenParams(v, layout));
    const { p } = yield* truncatedCgReads((v) => hvp(f, x, v), mul(g, -lambda), {
      maxIterations: cgSteps,
      damping: lambda,
      forcing: 0,
    });
    const v = unflattenParams(p, layout);
    const grads: Params = {};
    for (const n of Object.keys(meta)) {
      grads[n] = v[n] ? sum(v[n]!, { axis: 0 }) : mul(meta[n]!, 0);
    }
    return {
      loss,
      metric: stopGradient(host.metric(pred!, batch.queryY, 'mean')),
      grads,
    };
  },
};
