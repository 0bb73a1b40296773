/**
 * checkGrads written once as a HostReads computation: checkGradsAsync (asynchronous reads, for WebGPU)
 * passes where checkGrads passes and fails where it fails, with the same numbers in its message.
 */
import { describe, expect, it } from 'vitest';
import { checkGrads, checkGradsAsync, exp, fromArray, mul, sin, sum, type Tensor } from '../../src/index.js';
import { customGradForTest, GradCheckError, wrongJvpForTest } from '../ops/wrongGrad.js';

const x = () => fromArray(Float64Array.of(0.3, -0.7, 1.1), [3]);
const smooth = (t: Tensor) => sum(mul(exp(t), sin(t)));

/** The error `run` throws or rejects with (undefined when it succeeds). */
async function errorOf(run: () => unknown): Promise<unknown> {
  try {
    await run();
    return undefined;
  } catch (e) {
    return e;
  }
}

describe('checkGradsAsync', () => {
  for (const mode of ['reverse', 'forward'] as const) {
    it(`passes a right derivative to order 3 (${mode} mode), as checkGrads does`, async () => {
      checkGrads(smooth, [x()], { order: 3, mode });
      await expect(checkGradsAsync(smooth, [x()], { order: 3, mode })).resolves.toBeUndefined();
    });
  }

  it('fails on a wrong gradient with the message of checkGrads, number for number', async () => {
    const f = (t: Tensor) => sum(customGradForTest(t));
    const sync = await errorOf(() => checkGrads(f, [x()], { order: 1 }));
    const viaAsync = await errorOf(() => checkGradsAsync(f, [x()], { order: 1 }));
    expect(sync).toBeInstanceOf(GradCheckError);
    expect(viaAsync).toBeInstanceOf(GradCheckError);
    expect((viaAsync as Error).message).toBe((sync as Error).message);
    expect((sync as Error).message).toMatch(/order 1: analytic/);
  });

  it('fails on a wrong tangent rule in forward mode, as checkGrads does', async () => {
    const f = (t: Tensor) => sum(wrongJvpForTest(t));
    const sync = await errorOf(() => checkGrads(f, [x()], { order: 2, mode: 'forward' }));
    const viaAsync = await errorOf(() => checkGradsAsync(f, [x()], { order: 2, mode: 'forward' }));
    expect(sync).toBeInstanceOf(GradCheckError);
    expect((viaAsync as Error).message).toBe((sync as Error).message);
  });
});
