import { describe, expect, it } from 'vitest';
import { nativeBlas } from '../../src/backends/cpu/native/blas.js';
import { metaLosses, VARIANTS } from './algorithmsRun.js';

// Recorded with the code before the algorithms moved into one module each (commit 8d6b49a): the meta-loss of
// three sinusoid meta-updates, then a weighted sum of the last meta-gradient. Equal to the last bit.
const RECORDED: Record<string, number[]> = {
  maml: [4.802562351477623, 5.136539427923251, 3.9063152897389117, 16.090713796615468],
  fomaml: [4.802562351477623, 5.126625659258292, 3.901982850067545, 3.2851206576585383],
  anil: [4.882947068247322, 4.2830055342242215, 3.2952704595371616, 2.2430968424603748],
  metasgd: [4.802562351477623, 5.084710598450233, 3.9299329060853707, 455.59445368867614],
  mamlpp: [4.802562351477623, 5.202429325260574, 3.920272240670993, 577.8962727795539],
  reptile: [3.2792241707324585, 1.5507421479525596, 2.830076501184083, 0.21254659272236762],
  pretrain: [4.287570683088983, 3.4137158487582964, 3.5882719260702913, -4.809917143086795],
  momentum: [4.739261146199461, 5.799488759285663, 4.379649973182067, 38.65628364035476],
  adam: [4.103982488139256, 6.812988845030796, 5.532292202353226, 43.00859066492845],
  lowRank: [4.802562351477623, 5.136539427923251, 3.9063152897389117, 16.09071379661548],
  perTask: [4.873117310664788, 4.523481853791866, 3.4849260870692467, -1.881483156113978],
};

// The native BLAS (`npm run setup:native`) sums float64 products in its own order, so there the recording
// holds to float64 rounding, not to the bit; everywhere else (the JS float64 kernels) to the bit.
const exact = nativeBlas === undefined;

describe('every algorithm runs as it did before the refactor', () => {
  for (const [name, trainer] of Object.entries(VARIANTS)) {
    const how = exact ? 'bit for bit' : 'to 1e-11 relative (native BLAS: its own summation order)';
    it(`${name}: three meta-updates give the recorded meta-losses ${how}`, async () => {
      const got = await metaLosses(trainer);
      if (exact) expect(got).toEqual(RECORDED[name]);
      else {
        const want = RECORDED[name]!;
        expect(got.length).toBe(want.length);
        got.forEach((x, i) => {
          expect(Math.abs(x - want[i]!) / Math.abs(want[i]!), `${name}[${i}]`).toBeLessThan(1e-11);
        });
      }
    });
  }
});
