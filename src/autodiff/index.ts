export { grad, hessian, hvp, jacobian, valueAndGrad } from './functional.js';
export { GradientTape, noGrad, type GradientOptions, type Gradients, type Sources, type TapeOptions } from './tape.js';
export { checkGrads, GradCheckError, type CheckGradsOptions } from './gradcheck.js';
