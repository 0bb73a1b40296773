import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getBackend, mul, tensor } from '../../src/index.js';
import { findNonFinite, readIterationScalars } from '../../src/meta/nonFinite.js';
import { smokeRunArgs } from './smokeRun.js';

const root = resolve(import.meta.dirname, '../..');

describe('NaN/Inf guard', () => {
  it('names the gradient that holds a NaN', async () => {
    const r = await findNonFinite(tensor(1.5), {
      'a/kernel': tensor([1, 2]),
      'b/bias': tensor([0, Number.NaN]),
    });
    expect(r.loss).toBe(1.5);
    expect(r.bad).toBe("the meta-gradient of 'b/bias'");
  });

  it("reads an iteration's loss, metric and gradient norm in one read, the numbers read alone", async () => {
    const loss = mul(tensor(0.1), tensor(3)); // 0.30000001192092896 in float32, not 0.3
    const metric = tensor(0.7);
    const grads = { w: tensor([1, 2]), b: tensor([-3]) };
    const before = getBackend().counters!.reads;
    const r = await readIterationScalars(loss, metric, grads);
    expect(getBackend().counters!.reads - before).toBe(1);
    expect(r).toEqual({ loss: (await loss.data())[0], metric: (await metric.data())[0] });
    expect(r.loss).not.toBe(0.3);
    const bad = await readIterationScalars(loss, metric, { w: tensor([1, Number.POSITIVE_INFINITY]) });
    expect(bad.bad).toBe("the meta-gradient of 'w'");
    expect((await readIterationScalars(tensor(Number.NaN), metric, grads)).bad).toBe('the meta-loss');
    // float64 loss with a float32 metric: joined as float64, each value exact.
    const mixed = await readIterationScalars(tensor(0.1, undefined, 'float64'), metric, grads);
    expect(mixed).toEqual({ loss: 0.1, metric: (await metric.data())[0] });
  });

  it('passes finite values and flags a non-finite loss', async () => {
    expect((await findNonFinite(tensor(0.5), { w: tensor([1, 2]) })).bad).toBeUndefined();
    expect((await findNonFinite(tensor(Number.POSITIVE_INFINITY), { w: tensor([1]) })).bad).toBe(
      'the meta-loss',
    );
  });

  it('a diverging run stops with an error naming the iteration and the tensor, and its status says failed', () => {
    const out = mkdtempSync(join(tmpdir(), 'metatape-nan-'));
    try {
      let code = 0;
      let stderr = '';
      try {
        execFileSync(process.execPath, smokeRunArgs(['trainer.innerLr=1e30'], out), {
          cwd: root,
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { ...process.env, METATAPE_LOG_LEVEL: 'error' },
        });
      } catch (err) {
        const e = err as { status: number; stderr: string };
        code = e.status;
        stderr = e.stderr;
      }
      expect(code).toBe(1);
      expect(stderr).toMatch(/non-finite value at iteration 1 in the meta-loss/);
      const runs = execFileSync('ls', [join(out, 'sinusoid-smoke')], { encoding: 'utf8' })
        .trim()
        .split('\n');
      const status = JSON.parse(readFileSync(join(out, 'sinusoid-smoke', runs[0]!, 'status.json'), 'utf8'));
      expect(status.state).toBe('failed');
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
