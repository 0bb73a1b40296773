import { fmtShape, type Shape } from '../tensor/shape.js';

/**
 * A layer was built or applied with shapes it cannot handle. The message names the layer (its parameter
 * prefix, e.g. `3.conv2d`, or its kind before it is built) so that a failure deep inside a network points at
 * the right block.
 */
export class LayerError extends Error {
  constructor(
    readonly layer: string,
    message: string,
  ) {
    super(`${layer}: ${message}`);
    this.name = 'LayerError';
  }
}

/**
 * Checks that `x` has the per-example shape a layer was built for, with one leading batch axis (or a task
 * and a batch axis when batched).
 */
export function expectInput(layer: string, x: Shape, perExample: Shape, batched: boolean): void {
  const lead = batched ? 2 : 1;
  const ok = x.length === lead + perExample.length && perExample.every((d, i) => x[lead + i] === d);
  if (!ok) {
    const want = batched ? `[T,N,${perExample.join(',')}]` : `[N,${perExample.join(',')}]`;
    throw new LayerError(
      layer,
      `expected an input of shape ${want}, got ${fmtShape(x)}${batched ? ' (batched)' : ''}`,
    );
  }
}
