/**
 * The memo key of the spec builders' arguments (src/backends/gpujs/kernels/spec.ts): as distinct as
 * `JSON.stringify` on the argument lists the builders take, without calling it for flat ones.
 */
import { describe, expect, it } from 'vitest';
import { memoKey } from '../../../src/backends/gpujs/kernels/spec.js';

describe('memoKey', () => {
  it('tells apart argument lists that differ in any value, nesting or split', () => {
    const lists: unknown[][] = [
      ['add', [2, 3], [3], [2, 3], 'float32'],
      ['add', [2, 3], [2, 3], [2, 3], 'float32'],
      ['add', [2, 3], [3], [2, 3], 'int32'],
      ['sub', [23], [3], [2, 3], 'float32'],
      [[[1, 2], [3]], 0],
      [[[1], [2, 3]], 0],
      [[1, 2, 3], 0],
      ['a;b', 'c'],
      ['a', 'b;c'],
      [{ kind: 'pad', value: 1 }],
      [{ kind: 'pad', value: 2 }],
      [[], 1],
      [[1], undefined],
    ];
    const keys = lists.map(memoKey);
    expect(new Set(keys).size).toBe(lists.length);
    expect(memoKey(['add', [2, 3], [3]])).toBe(memoKey(['add', [2, 3], [3]]));
  });
});
