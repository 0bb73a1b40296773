export * from './activations.js';
export * from './creation.js';
export * from './elementwise.js';
export { constScalar, type TensorLike } from './engine.js';
export * from './fused.js';
export * from './linalg.js';
export * from './readScalars.js';
export * from './reduce.js';
export {
  outsideReleaseScopes,
  type ReleaseScopeOptions,
  recycleTensors,
  releaseScope,
} from './releaseScope.js';
export * from './shape.js';
