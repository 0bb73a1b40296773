/**
 * Seed example 2: f(x, y) = x²y + y³ at (2, 1). The inner tape gives the gradient list [2xy, x² + 3y²] =
 * [4, 7]; the outer tape differentiates each entry again: d²f/dx² = 2y = 2 and d²f/dy² = 6y = 6.
 */
import { pathToFileURL } from 'node:url';
import { add, GradientTape, mul, pow, variable } from '../../index.js';

export function twoVariables(): { grads: number[]; d2fdx2: number; d2fdy2: number } {
  const x = variable(2);
  const y = variable(1);
  const outer = new GradientTape({ persistent: true });
  const inner = new GradientTape();
  const [dfdx, dfdy] = outer.record(() => {
    const f = inner.record(() => add(mul(pow(x, 2), y), pow(y, 3)));
    return inner.gradient(f, [x, y]) as [
      NonNullable<ReturnType<typeof variable>>,
      NonNullable<ReturnType<typeof variable>>,
    ];
  });
  const d2fdx2 = outer.gradient(dfdx, x)!;
  const d2fdy2 = outer.gradient(dfdy, y)!;
  return { grads: [dfdx.item(), dfdy.item()], d2fdx2: d2fdx2.item(), d2fdy2: d2fdy2.item() };
}

/** Prints the values (`metatape examples` calls this). */
export function main(): void {
  const r = twoVariables();
  console.log(`gradient [df/dx, df/dy] = [${r.grads.join(', ')}]`);
  console.log(`d2f/dx2 = ${r.d2fdx2}`);
  console.log(`d2f/dy2 = ${r.d2fdy2}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
