import { fill } from '../ops/creation.js';
import type { Params } from '../tensor/params.js';
import type { StepSizes } from './algorithms/types.js';

/** Key prefix of learned inner step sizes in the meta-parameter record. */
export const LR_PREFIX = 'innerLr/';

/** The fixed `trainer.innerLr` for every parameter and step. */
export const fixedStepSize: StepSizes = {
  init: () => ({}),
  lr: (_meta, _step, _name, options) => options.innerLr,
  scalar: true,
  learned: false,
};

/**
 * MAML++ LSLR: a learned step size per inner step and per parameter tensor. Adapting for more steps than
 * `innerSteps` (evaluation) reuses the last step's size.
 */
export const perStepStepSize: StepSizes = {
  init(modelParams, adaptedNames, { innerSteps, innerLr }) {
    const meta: Params = {};
    for (let s = 0; s < innerSteps; s++) {
      for (const n of adaptedNames) meta[`${LR_PREFIX}${s}/${n}`] = fill([], innerLr, modelParams[n]!.dtype);
    }
    return meta;
  },
  lr: (meta, step, name, options) => meta[`${LR_PREFIX}${Math.min(step, options.innerSteps - 1)}/${name}`]!,
  scalar: true,
  learned: true,
};

/** Meta-SGD: a learned step size per parameter element, the same at every step. */
export const perParameterStepSize: StepSizes = {
  init(modelParams, adaptedNames, { innerLr }) {
    const meta: Params = {};
    for (const n of adaptedNames)
      meta[`${LR_PREFIX}${n}`] = fill(modelParams[n]!.shape, innerLr, modelParams[n]!.dtype);
    return meta;
  },
  lr: (meta, _step, name) => meta[`${LR_PREFIX}${name}`]!,
  scalar: false,
  learned: true,
};
