import { concat } from '../../ops/shape.js';
import type { MetaAlgorithm } from './types.js';

/** The pretraining baseline: one network trained on support and query examples of all tasks, no inner loop. */
export const pretrain: MetaAlgorithm = {
  name: 'pretrain',
  doc: 'Pretraining baseline: one network trained on all tasks’ support and query examples jointly (no inner loop in training).',
  metaLoss(host, meta, batch) {
    const x = concat([batch.supportX, batch.queryX], 1);
    const y = concat([batch.supportY, batch.queryY], 1);
    const pred = host.model.apply(host.modelParams(meta), x, { batched: true });
    return { loss: host.loss(pred, y, 'mean'), metric: host.metric(pred, y, 'mean') };
  },
};
