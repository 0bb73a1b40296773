import { mul, sub } from '../../ops/elementwise.js';
import { concat } from '../../ops/shape.js';
import { sgd } from '../../optim/sgd.js';
import type { GradientTransformation } from '../../optim/types.js';
import type { Params } from '../../tensor/params.js';
import { meanOverTasks } from '../fastWeights.js';
import type { MetaAlgorithm } from './types.js';

/**
 * Reptile (Nichol et al. 2018): adapt on support and query together (first-order steps, no outer tape), then
 * move the initialisation towards the mean adapted weights. The "gradient" handed to the outer optimizer is
 * `theta - mean_t(phi_t)`, and the outer optimizer is SGD with `trainer.reptileOuterLr`, so the outer step is
 * exactly Reptile's interpolation `theta += eps (phi - theta)`.
 */
export const reptile: MetaAlgorithm = {
  name: 'reptile',
  doc: 'Reptile (Nichol et al. 2018): inner SGD on each task, then move the initialisation towards the mean adapted weights (step trainer.reptileOuterLr).',
  metaGradient(host, meta, batch) {
    const x = concat([batch.supportX, batch.queryX], 1);
    const y = concat([batch.supportY, batch.queryY], 1);
    const fast = host.adapt(meta, x, y, host.options.innerSteps, 'none');
    const pred = host.apply(fast, batch.queryX);
    const grads: Params = {};
    for (const n of Object.keys(meta)) {
      grads[n] = host.adaptedNames.includes(n) ? sub(meta[n]!, meanOverTasks(fast, n)) : mul(meta[n]!, 0);
    }
    return {
      loss: host.loss(pred, batch.queryY, 'mean'),
      metric: host.metric(pred, batch.queryY, 'mean'),
      grads,
    };
  },
  outerOptimizer: (config) => sgd({ lr: config.trainer.reptileOuterLr }) as GradientTransformation<unknown>,
};
