export * from './activations.js';
export * from './dense.js';
export * from './flatten.js';
export * from './init.js';
export * from './layer.js';
export * from './losses.js';
export * from './model.js';
export * from './params.js';
