/** The parameter tree type and its maps live below `nn` and `optim` (in `tensor/params.ts`); re-exported here. */
export { mapParams, type Params, zipParams } from '../tensor/params.js';
