export { ForwardAccumulator, type ForwardAccumulatorOptions, type JvpOptions } from './forward.js';
export {
  grad,
  type HvpMode,
  type HvpOptions,
  hessian,
  hvp,
  type JacobianOptions,
  jacobian,
  jvp,
  linearize,
  valueAndGrad,
} from './functional.js';
export { type CheckGradsOptions, checkGrads, checkGradsAsync, GradCheckError } from './gradcheck.js';
export type { Nest, NestOf } from './nest.js';
export {
  type GradientOptions,
  type Gradients,
  GradientTape,
  noGrad,
  type Sources,
  type TapeOptions,
} from './tape.js';
