import { z } from 'zod';
import { hvp } from '../../autodiff/functional.js';
import { GradientTape } from '../../autodiff/tape.js';
import { mul } from '../../ops/elementwise.js';
import { sum } from '../../ops/reduce.js';
import { stopGradient } from '../../ops/shape.js';
import { truncatedCgReads } from '../../optim/cg.js';
import { flattenParams, unflattenParams } from '../../optim/flatParams.js';
import type { Params } from '../../tensor/params.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { FastWeights } from '../fastWeights.js';
import { innerOptimizerRule, proximalRule } from '../innerRule.js';
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
    innerOptimizer: z
      .enum(['trainer', 'adam'])
      .default('trainer')
      .describe(
        "The proximal inner problem's solver: the trainer's inner loop (trainer.innerOptimizer, SGD by default), or Adam (beta 0.9, 0.999). iMAML needs only the solution, not a differentiable path; Adam keeps the solve stable where a fixed SGD step diverges as the network sharpens.",
      ),
    innerLr: z
      .number()
      .positive()
      .optional()
      .describe("The inner loop's step size (default trainer.innerLr)."),
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
  doc: 'iMAML (Rajeswaran et al. 2019): proximal inner loop (trainer.imaml.lambda), implicit meta-gradient by conjugate gradient on (I + H/lambda) v = g with Hessian-vector products (trainer.imaml.cgSteps); the inner solver needs no differentiable path (trainer.imaml.innerOptimizer: trainer or adam); memory flat in the inner steps.',
  innerRule(base, options) {
    const { lambda, innerOptimizer } = { ...IMAML_DEFAULTS, ...options.imaml };
    const solver =
      innerOptimizer === 'adam' ? innerOptimizerRule({ kind: 'adam', beta1: 0.9, beta2: 0.999 }) : base;
    return proximalRule(solver, lambda);
  },
  stepSizes: {
    init: () => ({}),
    lr: (_meta, _step, _name, options) => options.imaml?.innerLr ?? options.innerLr,
    scalar: true,
    learned: false,
  },
  *metaGradientReads(host, meta, batch) {
    const { lambda, cgSteps } = { ...IMAML_DEFAULTS, ...host.options.imaml };
    // Inner loop: the learner's own (its rule carries the proximal term), outside any tape; evaluation
    // adapts the same way.
    const fast = host.adapt(meta, batch.supportX, batch.supportY, host.options.innerSteps, 'none');
    const shared: Params = {};
    const adapted: Params = {};
    for (const [n, p] of Object.entries(fast.params)) {
      if (host.adaptedNames.includes(n)) adapted[n] = p;
      else shared[n] = p;
    }
    const fastOf = (phi: Params): FastWeights => ({ params: { ...shared, ...phi }, kernelDeltas: new Map() });
    // The sum over tasks of each task's mean support loss: its Hessian is block diagonal, one block per task.
    const supportLoss = (phi: Params) =>
      sum(host.loss(host.apply(fastOf(phi), batch.supportX), batch.supportY, 'perTask'));

    // The query loss (mean over tasks) and its gradient at the adapted weights.
    const qTape = new GradientTape();
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
      positiveCurvatureOnly: true,
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
