/**
 * Seed example 4, the article's warning: differentiating with respect to something the tape did not watch
 * gives `null` (never a silent zero), or zeros only when asked for explicitly.
 */
import { pathToFileURL } from 'node:url';
import { GradientTape, mul, tensor } from '../../index.js';

export function unwatched(): { unwatched: null | number; asZeros: number; watched: number } {
  const x = tensor(3); // a plain tensor, not a Variable: not watched automatically
  const tape = new GradientTape({ persistent: true });
  const y = tape.record(() => mul(x, x));
  const none = tape.gradient(y, x);
  const zeros = tape.gradient(y, x, { unconnected: 'zero' });
  const t2 = new GradientTape();
  const y2 = t2.record(() => {
    t2.watch(x);
    return mul(x, x);
  });
  return {
    unwatched: none === null ? null : none.item(),
    asZeros: zeros.item(),
    watched: t2.gradient(y2, x)!.item(),
  };
}

/** Prints the values (`metatape examples` calls this). */
export function main(): void {
  const r = unwatched();
  console.log(`gradient w.r.t. an unwatched tensor: ${r.unwatched}`);
  console.log(`...with { unconnected: 'zero' }: ${r.asZeros}`);
  console.log(`after tape.watch(x): ${r.watched}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
