import type { ExperimentConfig } from '../config/schema.js';
import { mamlMlp, mlp } from '../nn/builders.js';
import { conv4 } from '../nn/conv4.js';
import type { Model } from '../nn/model.js';
import { adam, adamw } from '../optim/adam.js';
import { sgd } from '../optim/sgd.js';
import { chain, clipByGlobalNorm } from '../optim/transforms.js';
import type { GradientTransformation } from '../optim/types.js';
import { algorithm, learnsStepSizes, lowRankBlocker } from './algorithms/registry.js';
import type { LearnerOptions } from './algorithms/types.js';
import { innerOptimizerRule } from './innerRule.js';
import { sinusoidSource, type TaskSource } from './tasks.js';

/** Thrown for config combinations the trainer cannot run; names the fields involved. */
export class TrainerConfigError extends Error {
  override readonly name = 'TrainerConfigError';
}

/** Builds the network of a config for a task source (only its input shape and output size matter). */
export function buildModel(
  config: ExperimentConfig,
  source: Pick<TaskSource, 'inputShape' | 'outputDim'>,
): Model {
  const m = config.model;
  const inputDim = source.inputShape.reduce((a, b) => a * b, 1);
  switch (m.kind) {
    case 'mlp':
      return mlp(inputDim, m.hidden, source.outputDim, {
        activation: m.activation,
        batchNorm: m.batchNorm,
        kernelInit: m.kernelInit,
      });
    case 'maml-mlp':
      return mamlMlp(inputDim, source.outputDim, {
        hidden: m.hidden,
        activation: m.activation,
        batchNorm: m.batchNorm,
      });
    case 'conv4': {
      if (source.inputShape.length !== 3) {
        throw new TrainerConfigError(
          `model.kind: conv4 needs image inputs [H, W, C]; data.kind ${config.data.kind} gives [${source.inputShape.join(',')}]`,
        );
      }
      const [h, w, c] = source.inputShape as [number, number, number];
      return conv4([h, w, c], source.outputDim, { filters: m.filters, pooling: m.pooling });
    }
  }
}

/** Builds the task source of a config (Omniglot is loaded lazily: it reads Arrow files). */
export async function buildSource(
  config: ExperimentConfig,
  options: { flatImages: boolean },
): Promise<TaskSource> {
  const d = config.data;
  if (d.kind === 'sinusoid') {
    return sinusoidSource({
      shots: d.shots,
      queryShots: d.queryShots,
      amplitude: d.amplitude,
      phase: d.phase,
      xRange: d.xRange,
    });
  }
  const { omniglotTaskSource } = await import('./omniglotTasks.js');
  return omniglotTaskSource(d, options);
}

/** The learner options of a config, checked for combinations that cannot work together. */
export function learnerOptions(config: ExperimentConfig): LearnerOptions {
  const t = config.trainer;
  const why = lowRankBlocker(t);
  if (t.fastWeights === 'lowRank' && why) {
    throw new TrainerConfigError(
      `trainer.fastWeights: got lowRank; low-rank fast weights need the plain SGD inner step with a scalar step size, not ${why}; use auto or full`,
    );
  }
  if (t.innerOptimizer.kind !== 'sgd' && learnsStepSizes(t.algorithm, t.learnInnerLr)) {
    throw new TrainerConfigError(
      `trainer.innerOptimizer: got ${t.innerOptimizer.kind}; learned inner step sizes (trainer.algorithm: metasgd or trainer.learnInnerLr: true) need kind: sgd`,
    );
  }
  // The trainer's fields carry over by name (LearnerOptions is a subset of TrainerConfig).
  return {
    ...t,
    ...(t.innerOptimizer.kind === 'sgd' ? {} : { innerRule: innerOptimizerRule(t.innerOptimizer) }),
  };
}

export { optimizerRule } from './innerRule.js';

/**
 * The outer (meta) optimizer: `trainer.outerOptimizer`, unless the algorithm brings its own (Reptile's SGD
 * with `trainer.reptileOuterLr`), then gradient clipping.
 */
export function outerOptimizer(config: ExperimentConfig): GradientTransformation<unknown> {
  const t = config.trainer;
  const o = t.outerOptimizer;
  const own = algorithm(t.algorithm).outerOptimizer;
  let tx: GradientTransformation<unknown>;
  if (own) tx = own(config);
  else if (o.kind === 'adam')
    tx = adam({ lr: o.lr, beta1: o.beta1, beta2: o.beta2 }) as GradientTransformation<unknown>;
  else if (o.kind === 'adamw') {
    tx = adamw({
      lr: o.lr,
      beta1: o.beta1,
      beta2: o.beta2,
      weightDecay: o.weightDecay,
    }) as GradientTransformation<unknown>;
  } else tx = sgd({ lr: o.lr, weightDecay: o.weightDecay }) as GradientTransformation<unknown>;
  if (t.clipGradNorm !== null)
    return chain(clipByGlobalNorm(t.clipGradNorm), tx) as GradientTransformation<unknown>;
  return tx;
}
