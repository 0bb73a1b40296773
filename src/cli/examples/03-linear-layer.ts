/**
 * Seed example 3: a linear layer (1 input, 2 units) on the input [[2]], MSE loss against [[3, 5]].
 * The inner tape gives dL/dW and dL/db; the outer tape differentiates those gradients again (TF semantics:
 * the gradient of their sum). With W = [[w1, w2]], b = [b1, b2], x = 2, t = [3, 5]:
 *   L = ((2 w1 + b1 - 3)² + (2 w2 + b2 - 5)²) / 2
 *   dL/dW = [[2 (2 w1 + b1 - 3), 2 (2 w2 + b2 - 5)]],  dL/db = [2 w1 + b1 - 3, 2 w2 + b2 - 5]
 *   d(sum dL/dW)/dW = [[4, 4]], d(sum dL/dW)/db = [2, 2]; d(sum dL/db)/dW = [[2, 2]], d(sum dL/db)/db = [1, 1].
 */
import { pathToFileURL } from 'node:url';
import { add, GradientTape, matmul, mean, square, sub, tensor, variable } from '../../index.js';

export function linearLayer(): {
  loss: number;
  dW: number[][];
  db: number[];
  d2W_dW: number[][];
  d2W_db: number[];
  d2b_dW: number[][];
  d2b_db: number[];
} {
  const W = variable([[0.5, -0.25]], { name: 'W' });
  const b = variable([0.1, 0.2], { name: 'b' });
  const x = tensor([[2]]);
  const target = tensor([[3, 5]]);
  const outer = new GradientTape({ persistent: true });
  const inner = new GradientTape();
  const { loss, dW, db } = outer.record(() => {
    const loss = inner.record(() => mean(square(sub(add(matmul(x, W), b), target))));
    const g = inner.gradient(loss, { W, b });
    return { loss, dW: g.W!, db: g.b! };
  });
  const second = outer.gradient(dW, { W, b });
  const secondB = outer.gradient(db, { W, b });
  return {
    loss: loss.item(),
    dW: dW.arraySync() as number[][],
    db: db.arraySync() as number[],
    d2W_dW: second.W!.arraySync() as number[][],
    d2W_db: second.b!.arraySync() as number[],
    d2b_dW: secondB.W!.arraySync() as number[][],
    d2b_db: secondB.b!.arraySync() as number[],
  };
}

/** Prints the values (`metatape examples` calls this). */
export function main(): void {
  const r = linearLayer();
  console.log('loss', r.loss);
  console.log('dL/dW', JSON.stringify(r.dW), 'dL/db', JSON.stringify(r.db));
  console.log('d(sum dL/dW)/dW', JSON.stringify(r.d2W_dW), 'd(sum dL/dW)/db', JSON.stringify(r.d2W_db));
  console.log('d(sum dL/db)/dW', JSON.stringify(r.d2b_dW), 'd(sum dL/db)/db', JSON.stringify(r.d2b_db));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
