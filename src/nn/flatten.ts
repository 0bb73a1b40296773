import { reshape } from '../ops/shape.js';
import type { Layer } from './layer.js';

/** Flattens the per-example axes into one (keeps the batch axis, and the task axis when batched). */
export function flatten(): Layer {
  let size = 0;
  return {
    kind: 'flatten',
    build(inputShape) {
      size = inputShape.reduce((a, b) => a * b, 1);
      return { specs: [], outputShape: [size] };
    },
    apply(_p, x, ctx) {
      const lead = ctx.batched ? 2 : 1;
      return reshape(x, [...x.shape.slice(0, lead), size]);
    },
  };
}
