import { describe, expect, it } from 'vitest';
import { kindOf, planMemory, type RecordedAllocation } from '../../../src/backends/cpu/programMemory.js';
import { Rng } from '../../../src/tensor/random.js';

/** `n` float32 arrays of the given lengths, each in a buffer of its own or all carved from one. */
function arrays(lengths: number[], shared: boolean): Float32Array[] {
  if (!shared) return lengths.map((n) => new Float32Array(n));
  const buffer = new ArrayBuffer(lengths.reduce((a, n) => a + n * 4, 0));
  let at = 0;
  return lengths.map((n) => {
    const a = new Float32Array(buffer, at, n);
    at += n * 4;
    return a;
  });
}

/** Kernel arrays and ends from a list of kernels, each the arrays it uses. */
function kernels(list: object[][]): { kernelArrays: object[]; kernelEnds: number[] } {
  const kernelArrays: object[] = [];
  const kernelEnds: number[] = [];
  for (const k of list) {
    kernelArrays.push(...k);
    kernelEnds.push(kernelArrays.length);
  }
  return { kernelArrays, kernelEnds };
}

/** Pairs of planned allocations that are alive at once and overlap in the arena: must be none. */
function clashes(
  allocations: RecordedAllocation[],
  offsets: number[],
  alive: (i: number) => [number, number] | undefined,
): string[] {
  const out: string[] = [];
  for (let i = 0; i < allocations.length; i++)
    for (let j = i + 1; j < allocations.length; j++) {
      if (offsets[i]! < 0 || offsets[j]! < 0) continue;
      const a = alive(i);
      const b = alive(j);
      if (a === undefined || b === undefined || a[1] < b[0] || b[1] < a[0]) continue;
      const ai = [offsets[i]!, offsets[i]! + allocations[i]!.array.byteLength];
      const bj = [offsets[j]!, offsets[j]! + allocations[j]!.array.byteLength];
      if (ai[0]! < bj[1]! && bj[0]! < ai[1]!) out.push(`${i} and ${j}`);
    }
  return out;
}

describe('planMemory', () => {
  it('lets arrays alive at different times share memory, keeps those alive together apart', () => {
    // A chain a -> b -> c -> d: each kernel reads one array and writes the next, so a and c can share, and
    // b and d; the plan needs two arrays' worth, not four.
    const [a, b, c, d] = arrays([1024, 1024, 1024, 1024], false);
    const allocations = [a!, b!, c!, d!].map((array) => ({ array, dead: true }));
    const { kernelArrays, kernelEnds } = kernels([
      [a!, b!],
      [b!, c!],
      [c!, d!],
    ]);
    const plan = planMemory(allocations, kernelArrays, kernelEnds);
    expect(plan.plannedBytes).toBe(4 * 4096);
    expect(plan.arenaBytes).toBe(2 * 4096);
    expect(plan.offsets[0]).not.toBe(plan.offsets[1]);
    expect(plan.offsets[1]).not.toBe(plan.offsets[2]);
    expect(plan.offsets[2]).not.toBe(plan.offsets[3]);
    expect(plan.kinds).toEqual(allocations.map((x) => kindOf(x.array)));
  });

  it('plans only what JavaScript gave back, and finds uses through any view of an array', () => {
    const [a, b, c] = arrays([256, 256, 256], true);
    // b is kept (a result): it stays out of the plan. a is used through a view of part of its memory.
    const allocations = [
      { array: a!, dead: true },
      { array: b!, dead: false },
      { array: c!, dead: true },
    ];
    const partOfA = new Float32Array(a!.buffer, a!.byteOffset + 512, 64);
    const { kernelArrays, kernelEnds } = kernels([[b!], [partOfA, c!], [c!]]);
    const plan = planMemory(allocations, kernelArrays, kernelEnds);
    expect(plan.offsets[1]).toBe(-1);
    // a and c are both used by the second kernel: apart.
    expect(plan.offsets[0]).not.toBe(plan.offsets[2]);
    expect(plan.arenaBytes).toBe(2 * 1024);
  });

  it('never gives overlapping memory to arrays alive at once (random programs)', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 40; trial++) {
      const n = 5 + Math.floor(rng.uniform() * 40);
      const lengths = Array.from({ length: n }, () => 1 + Math.floor(rng.uniform() * 300));
      const list = arrays(lengths, trial % 2 === 0);
      const allocations = list.map((array) => ({ array, dead: rng.uniform() < 0.8 }));
      const kernelList: object[][] = [];
      for (let k = 0; k < 60; k++) {
        const uses = 1 + Math.floor(rng.uniform() * 4);
        kernelList.push(Array.from({ length: uses }, () => list[Math.floor(rng.uniform() * n)]!));
      }
      const { kernelArrays, kernelEnds } = kernels(kernelList);
      const plan = planMemory(allocations, kernelArrays, kernelEnds);
      // Alive from the first kernel that uses an array to the last.
      const alive = (i: number): [number, number] | undefined => {
        const ks = kernelList.flatMap((uses, k) => (uses.includes(list[i]!) ? [k] : []));
        return ks.length === 0 ? undefined : [ks[0]!, ks.at(-1)!];
      };
      expect(clashes(allocations, plan.offsets, alive)).toEqual([]);
      allocations.forEach((x, i) => {
        expect(plan.offsets[i]! >= 0).toBe(x.dead);
        if (x.dead) {
          expect(plan.offsets[i]! % 64).toBe(0);
          expect(plan.offsets[i]! + x.array.byteLength).toBeLessThanOrEqual(plan.arenaBytes);
        }
      });
      expect(plan.arenaBytes).toBeLessThanOrEqual(plan.plannedBytes + 64 * n);
    }
  });
});
