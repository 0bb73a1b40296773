/** HostReads drivers and readScalars: the same numbers by sync and async reads, one read for many scalars. */
import { describe, expect, it } from 'vitest';
import {
  getBackend,
  type HostReads,
  mul,
  noReads,
  readScalar,
  readScalars,
  runReadsAsync,
  runReadsSync,
  sum,
  tensor,
} from '../../src/index.js';

/** Reads two scalars, then a third that depends on them (a computation's control flow on read values). */
function* program(): HostReads<number[]> {
  const x = tensor([0.1, 0.2, 0.3]);
  const [a, b] = yield* readScalars([sum(x), sum(mul(x, x))]);
  const c = yield* readScalar(sum(mul(x, a > b ? 3 : -3)));
  return [a, b, c, yield* noReads(7)];
}

describe('HostReads', () => {
  it('the sync and async drivers give the same numbers, those of item()', async () => {
    const x = tensor([0.1, 0.2, 0.3]);
    const expected = [sum(x).item(), sum(mul(x, x)).item(), sum(mul(x, 3)).item(), 7];
    expect(runReadsSync(program())).toEqual(expected);
    expect(await runReadsAsync(program())).toEqual(expected);
  });

  it('readScalars reads any number of scalars in one read', () => {
    const before = getBackend().counters!.reads;
    const values = runReadsSync(readScalars([tensor(1), tensor([2]), tensor([[3]]), tensor(4)]));
    expect(values).toEqual([1, 2, 3, 4]);
    expect(getBackend().counters!.reads - before).toBe(1);
    expect(runReadsSync(readScalars([]))).toEqual([]);
  });

  it('refuses a tensor that is not a scalar, naming its shape', () => {
    expect(() => runReadsSync(readScalar(tensor([1, 2])))).toThrow(/shape \[2\] has 2 elements/);
    expect(() => runReadsSync(readScalars([tensor(1), tensor([1, 2])]))).toThrow(/has 2 elements/);
  });
});
