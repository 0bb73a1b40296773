export { grad, hessian, hvp, jacobian, valueAndGrad } from './functional.js';
export { type CheckGradsOptions, checkGrads, GradCheckError } from './gradcheck.js';
export {
  type GradientOptions,
  type Gradients,
  GradientTape,
  noGrad,
  type Sources,
  type TapeOptions,
} from './tape.js';
