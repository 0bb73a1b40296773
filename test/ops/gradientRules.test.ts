import { describe, expect, it } from 'vitest';
import { GradientTape, tensor } from '../../src/index.js';
import { add } from '../../src/ops/elementwise.js';
import { GradientRuleError, recordView } from '../../src/ops/engine.js';
import { sum } from '../../src/ops/reduce.js';
import { reshape } from '../../src/ops/shape.js';

/** A `y = x` view op whose gradient rule returns `rule(dy, x)` instead of `[dy]`. */
function brokenIdentity(x: ReturnType<typeof tensor>, rule: (dy: ReturnType<typeof tensor>) => unknown[]) {
  const y = reshape(add(x, 0), x.shape);
  return recordView('brokenIdentity', [x], y, (dy) => rule(dy) as never);
}

describe('the tape checks what a gradient rule returns', () => {
  const run = (rule: (dy: ReturnType<typeof tensor>) => unknown[]) => {
    const x = tensor([1, 2, 3]);
    const tape = new GradientTape();
    const loss = tape.record(() => {
      tape.watch(x);
      return sum(brokenIdentity(x, rule));
    });
    return () => tape.gradient(loss, x, { unconnected: 'zero' });
  };

  it('accepts one gradient per input, of the input shape or a broadcast of it, or null', () => {
    expect(run((dy) => [dy])().shape).toEqual([3]);
    expect(run((dy) => [reshape(dy, [1, 3])])().shape).toEqual([3]);
    expect(run(() => [null])().shape).toEqual([3]);
  });

  it('throws naming the op for a wrong number of gradients', () => {
    expect(run((dy) => [dy, dy])).toThrow(GradientRuleError);
    expect(run((dy) => [dy, dy])).toThrow(
      /brokenIdentity: gradient rule returned 2 gradient\(s\) for 1 input/,
    );
    expect(run(() => [])).toThrow(/brokenIdentity/);
  });

  it('throws naming the op and both shapes for a gradient of the wrong shape', () => {
    expect(run(() => [tensor([1, 2])])).toThrow(
      /brokenIdentity: gradient 0 has shape \[2\]; input 0 has shape \[3\]/,
    );
    expect(run(() => [7])).toThrow(/brokenIdentity: gradient rule returned a non-tensor/);
  });
});
