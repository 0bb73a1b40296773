/**
 * CG, Newton-CG and the gradient checker on gpu.js, float32: on each synchronous mode under test their async
 * versions give exactly the sync results; on a mode that reads back only asynchronously (WebGPU, or webasm
 * with its worker-thread pool, which runs here) the sync versions throw and the async ones run and agree
 * with a synchronous run.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/backends/backend.js';
import {
  createGpujsBackend,
  type GpujsBackend,
  GpujsSyncReadError,
} from '../../../src/backends/gpujs/index.js';
import { webasmThreadsFromEnv } from '../../../src/backends/gpujs/modes.js';
import { getBackend, setDefaultFloat, useBackend } from '../../../src/backends/registry.js';
import {
  checkGrads,
  checkGradsAsync,
  exp,
  fromArray,
  GradCheckError,
  matmul,
  mul,
  reshape,
  sin,
  sum,
  type Tensor,
} from '../../../src/index.js';
import {
  NewtonCgSolver,
  type NewtonCgStepInfo,
  type TruncatedCgResult,
  truncatedCg,
  truncatedCgAsync,
} from '../../../src/optim/index.js';
import { customGradForTest } from '../../ops/wrongGrad.js';
import { rosen } from '../../optim/problems.js';
import { backendFor, cpu, modesUnderTest } from './harness.js';

/** Runs `fn` with `b` current and float32 the default float, restoring both after. */
async function on<T>(b: Backend, fn: () => Promise<T>): Promise<T> {
  const prev = getBackend();
  useBackend(b);
  setDefaultFloat('float32');
  try {
    return await fn();
  } finally {
    useBackend(prev);
  }
}

// An SPD 4x4 system (iMAML's shape of call: damping, forcing 0, a fixed number of steps).
const C = [4, 1, 0, 0.5, 1, 3, -1, 0, 0, -1, 2, 0.25, 0.5, 0, 0.25, 1.5];
const G = [0.5, -1, 0.25, 2];
const cgOptions = { maxIterations: 3, forcing: 0, damping: 0.5 };

function cgProblem(): { apply: (v: Tensor) => Tensor; g: Tensor } {
  const m = fromArray(Float32Array.from(C), [4, 4]);
  return {
    apply: (v) => reshape(matmul(m, reshape(v, [4, 1])), [4]),
    g: fromArray(Float32Array.from(G), [4]),
  };
}

const smooth = (t: Tensor) => sum(mul(exp(t), sin(t)));
const x0 = () => fromArray(Float32Array.of(0.3, -0.7, 1.1), [3]);
// float32: a step of 1e-2 keeps rounding (~1e-7 |f| / eps) and truncation (~eps² f''') near 1e-4.
const float32Check = { order: 2, eps: 1e-2, rtol: 1e-2, atol: 1e-3 };

async function newtonSteps(solver: NewtonCgSolver, step: () => Promise<NewtonCgStepInfo>) {
  const steps: NewtonCgStepInfo[] = [];
  for (let i = 0; i < 4 && !solver.done; i++) steps.push(await step());
  return { steps, x: Array.from(await solver.x.data()) };
}

async function cgResult(run: Promise<TruncatedCgResult> | TruncatedCgResult) {
  const r = await run;
  return { ...r, p: Array.from(await r.p.data()) };
}

function expectClose(got: number[], want: number[], digits: number): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(got[i]).toBeCloseTo(want[i]!, digits);
}

for (const mode of modesUnderTest()) {
  describe(`gpujs:${mode}: async CG, Newton-CG and gradient checks match the sync ones`, () => {
    it('truncatedCgAsync gives truncatedCg’s result', async () => {
      const b = await backendFor(mode);
      // An async-only mode (webgpu) has no sync result of its own: the CPU backend's, up to float32 rounding.
      const sync = await on(b.isAsync ? cpu : b, async () => {
        const { apply, g } = cgProblem();
        return cgResult(truncatedCg(apply, g, cgOptions));
      });
      expect(sync.stop).toBe('maxIterations');
      const viaAsync = await on(b, async () => {
        const { apply, g } = cgProblem();
        if (b.isAsync) expect(() => truncatedCg(apply, g, cgOptions)).toThrow(GpujsSyncReadError);
        return cgResult(truncatedCgAsync(apply, g, cgOptions));
      });
      if (!b.isAsync) expect(viaAsync).toEqual(sync);
      else expectClose(viaAsync.p, sync.p, 4);
    });

    it('NewtonCgSolver.stepAsync takes step’s steps on 2-D Rosenbrock', async () => {
      const b = await backendFor(mode);
      const start = () => fromArray(Float32Array.of(-1.2, 1), [2]);
      const sync = await on(b.isAsync ? cpu : b, async () => {
        const s = new NewtonCgSolver(rosen, start());
        return newtonSteps(s, async () => s.step());
      });
      const viaAsync = await on(b, async () => {
        const a = await NewtonCgSolver.createAsync(rosen, start());
        return newtonSteps(a, () => a.stepAsync());
      });
      if (!b.isAsync) expect(viaAsync).toEqual(sync);
      else expectClose(viaAsync.x, sync.x, 3);
    });

    it('checkGradsAsync passes a right derivative and fails a wrong one, as checkGrads does', async () => {
      const b = await backendFor(mode);
      await on(b, async () => {
        if (b.isAsync) expect(() => checkGrads(smooth, [x0()], float32Check)).toThrow(GpujsSyncReadError);
        else checkGrads(smooth, [x0()], float32Check);
        await checkGradsAsync(smooth, [x0()], float32Check);
        const wrong = (t: Tensor) => sum(customGradForTest(t));
        if (!b.isAsync) expect(() => checkGrads(wrong, [x0()], float32Check)).toThrow(GradCheckError);
        await expect(checkGradsAsync(wrong, [x0()], float32Check)).rejects.toThrow(GradCheckError);
      });
    });
  });
}

describe('gpujs:webasm with worker threads: reads only asynchronously, as WebGPU', () => {
  let threaded: GpujsBackend | undefined;
  const asyncBackend = async (): Promise<GpujsBackend> => {
    threaded ??= await createGpujsBackend('webasm', { webasmThreads: true });
    return threaded;
  };
  afterAll(async () => {
    await threaded?.destroy();
  });

  it('METATAPE_GPUJS_WEBASM_THREADS=1 selects it (so `metatape run` can use it)', () => {
    expect(webasmThreadsFromEnv({ METATAPE_GPUJS_WEBASM_THREADS: '1' })).toBe(true);
    expect(webasmThreadsFromEnv({})).toBe(false);
  });

  it('item() throws there, so the sync versions cannot run; the async ones give the sync webasm results', async () => {
    const b = await asyncBackend();
    expect(b.isAsync).toBe(true);
    const reference = await backendFor('webasm');
    const cgSync = await on(reference, async () => {
      const { apply, g } = cgProblem();
      return cgResult(truncatedCg(apply, g, cgOptions));
    });
    await on(b, async () => {
      const { apply, g } = cgProblem();
      expect(() => truncatedCg(apply, g, cgOptions)).toThrow(GpujsSyncReadError);
      expect(await cgResult(truncatedCgAsync(apply, g, cgOptions))).toEqual(cgSync);
    });
  });

  it('Newton-CG: the constructor throws; createAsync and stepAsync take the sync webasm steps', async () => {
    const b = await asyncBackend();
    const start = () => fromArray(Float32Array.of(-1.2, 1), [2]);
    const sync = await on(await backendFor('webasm'), async () => {
      const s = new NewtonCgSolver(rosen, start());
      return newtonSteps(s, async () => s.step());
    });
    await on(b, async () => {
      expect(() => new NewtonCgSolver(rosen, start())).toThrow(GpujsSyncReadError);
      const a = await NewtonCgSolver.createAsync(rosen, start());
      expect(await newtonSteps(a, () => a.stepAsync())).toEqual(sync);
    });
  });

  it('checkGrads throws; checkGradsAsync passes a right derivative and rejects a wrong one', async () => {
    const b = await asyncBackend();
    await on(b, async () => {
      expect(() => checkGrads(smooth, [x0()], float32Check)).toThrow(GpujsSyncReadError);
      await checkGradsAsync(smooth, [x0()], float32Check);
      const wrong = (t: Tensor) => sum(customGradForTest(t));
      await expect(checkGradsAsync(wrong, [x0()], float32Check)).rejects.toThrow(GradCheckError);
    });
  });
});
