/**
 * Seed example 1: f(x) = x³ at x = 3 with two nested tapes. Prints the first derivative (27) and the
 * second (18). Run: `npx tsx experiments/seed/01-cubic.ts` or `npx metatape examples cubic`.
 */
import { pathToFileURL } from 'node:url';
import { GradientTape, pow, variable } from '../../index.js';

export function cubic(): { dydx: number; d2ydx2: number } {
  const x = variable(3);
  const outer = new GradientTape();
  const inner = new GradientTape();
  const dydx = outer.record(() => {
    const y = inner.record(() => pow(x, 3));
    return inner.gradient(y, x)!; // 3x² = 27, recorded by the outer tape
  });
  const d2ydx2 = outer.gradient(dydx, x)!; // 6x = 18
  return { dydx: dydx.item(), d2ydx2: d2ydx2.item() };
}

/** Prints the values (`metatape examples` calls this). */
export function main(): void {
  const { dydx, d2ydx2 } = cubic();
  console.log(`dy/dx = ${dydx}`);
  console.log(`d2y/dx2 = ${d2ydx2}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
