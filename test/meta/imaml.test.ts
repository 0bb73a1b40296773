import { describe, expect, it } from 'vitest';
import { experimentConfigSchema } from '../../src/config/schema.js';
import { activation, dense, fromArray, Model, Rng, withDefaultFloat } from '../../src/index.js';
import { learnerOptions } from '../../src/meta/factories.js';
import { MetaLearner } from '../../src/meta/learner.js';
import type { TaskBatch } from '../../src/meta/tasks.js';
import type { Params } from '../../src/tensor/params.js';
import { metaLosses } from './algorithmsRun.js';

const f64 = (v: number[], shape: number[]) => fromArray(Float64Array.from(v), shape);

describe('iMAML', () => {
  it('equals the closed-form implicit gradient of a quadratic inner loss (f(x) = w x, squared error)', () => {
    withDefaultFloat('float64', () => {
      const [xs, ys, xq, yq, theta, lambda] = [1.5, 2, -0.5, 1, 0.7, 2];
      const learner = new MetaLearner(new Model([dense(1, { useBias: false })], [1]), 'regression', {
        algorithm: 'imaml',
        order: 2,
        // Gradient descent on the proximal loss contracts by 1 - 0.1 (2 xs^2 + lambda) = 0.35 per step.
        innerSteps: 60,
        innerLr: 0.1,
        imaml: { lambda, cgSteps: 3 },
      });
      const batch: TaskBatch = {
        supportX: f64([xs], [1, 1, 1]),
        supportY: f64([ys], [1, 1, 1]),
        queryX: f64([xq], [1, 1, 1]),
        queryY: f64([yq], [1, 1, 1]),
      };
      const { loss, grads } = learner.metaGradient({ '0.dense/kernel': f64([theta], [1, 1]) }, batch);
      // argmin (w xs - ys)^2 + lambda/2 (w - theta)^2, and d w*/d theta = lambda / (2 xs^2 + lambda).
      const wStar = (2 * xs * ys + lambda * theta) / (2 * xs * xs + lambda);
      const dLq = 2 * xq * (wStar * xq - yq);
      expect(loss.item()).toBeCloseTo((wStar * xq - yq) ** 2, 12);
      expect(grads['0.dense/kernel']!.item()).toBeCloseTo((lambda / (2 * xs * xs + lambda)) * dLq, 12);
    });
  });

  it('matches central differences of the solved inner problem on a small tanh network (two tasks)', () => {
    withDefaultFloat('float64', () => {
      const model = new Model([dense(3), activation('tanh'), dense(1)], [1]);
      const options = {
        algorithm: 'imaml' as const,
        order: 2 as const,
        innerSteps: 400,
        innerLr: 0.05,
        imaml: { lambda: 4, cgSteps: 40 },
      };
      const learner = new MetaLearner(model, 'regression', options);
      const meta: Params = learner.initMetaParams(model.initParams(new Rng(3)));
      const rng = new Rng(5);
      const r = (n: number) => Array.from({ length: n }, () => rng.uniform() * 2 - 1);
      const batch: TaskBatch = {
        supportX: f64(r(8), [2, 4, 1]),
        supportY: f64(r(8), [2, 4, 1]),
        queryX: f64(r(6), [2, 3, 1]),
        queryY: f64(r(6), [2, 3, 1]),
      };
      const { grads } = learner.metaGradient(meta, batch);
      const lossAt = (m: Params) => learner.metaGradient(m, batch).loss.item();
      const h = 1e-5;
      for (const name of Object.keys(meta)) {
        const base = Array.from(meta[name]!.dataSync());
        const shape = meta[name]!.shape;
        const analytic = Array.from(grads[name]!.dataSync());
        base.forEach((v, i) => {
          const at = (d: number) => {
            const moved = base.slice();
            moved[i] = v + d;
            return lossAt({ ...meta, [name]: f64(moved, [...shape]) });
          };
          const numeric = (at(h) - at(-h)) / (2 * h);
          expect(Math.abs(analytic[i]! - numeric)).toBeLessThan(1e-6 + 1e-4 * Math.abs(numeric));
        });
      }
    });
  });

  it('adapts with its proximal inner loop in evaluation too (and its own solver and step size)', () => {
    withDefaultFloat('float64', () => {
      const [xs, ys, theta, lambda, lr] = [1.5, 2, 0.7, 2, 0.1];
      const model = new Model([dense(1, { useBias: false })], [1]);
      const adaptTwice = (imaml: { lambda: number; innerOptimizer?: 'adam'; innerLr?: number }) => {
        const learner = new MetaLearner(model, 'regression', {
          algorithm: 'imaml',
          order: 2,
          innerSteps: 2,
          innerLr: lr,
          imaml,
        });
        const steps: number[] = [];
        learner.adapt(
          { '0.dense/kernel': f64([theta], [1, 1]) },
          f64([xs], [1, 1, 1]),
          f64([ys], [1, 1, 1]),
          2,
          'none',
          (_s, fast) => steps.push(fast.params['0.dense/kernel']!.item()),
        );
        return steps;
      };
      // Gradient descent on (w xs - ys)^2 + lambda/2 (w - theta)^2.
      const grad = (w: number) => 2 * xs * (w * xs - ys) + lambda * (w - theta);
      const w1 = theta - lr * grad(theta);
      const w2 = w1 - lr * grad(w1);
      const sgdSteps = adaptTwice({ lambda });
      expect(sgdSteps[1]).toBeCloseTo(w1, 12);
      expect(sgdSteps[2]).toBeCloseTo(w2, 12);
      // Adam's first step moves by its step size (trainer.imaml.innerLr), against the gradient.
      const adamSteps = adaptTwice({ lambda, innerOptimizer: 'adam', innerLr: 0.03 });
      expect(adamSteps[1]).toBeCloseTo(theta - 0.03 * Math.sign(grad(theta)), 9);
    });
  });

  it('is chosen in a config (trainer.algorithm: imaml, trainer.imaml.lambda / cgSteps)', () => {
    const config = experimentConfigSchema.parse({
      name: 'imaml',
      data: { kind: 'sinusoid' },
      model: { kind: 'mlp' },
      trainer: { algorithm: 'imaml', iterations: 1, imaml: { lambda: 0.5 } },
    });
    expect(learnerOptions(config)).toMatchObject({
      algorithm: 'imaml',
      imaml: { lambda: 0.5, cgSteps: 5, innerOptimizer: 'trainer' },
    });
    expect(() =>
      experimentConfigSchema.parse({
        name: 'imaml',
        data: { kind: 'sinusoid' },
        model: { kind: 'mlp' },
        trainer: { algorithm: 'imaml', iterations: 1, imaml: { innerOptimizer: 'lbfgs' } },
      }),
    ).toThrow(/innerOptimizer/);
  });

  it('learns on the sinusoid: the meta-loss falls over 100 meta-updates (10 tasks each)', async () => {
    const trainer = {
      algorithm: 'imaml',
      metaBatchSize: 10,
      innerSteps: 10,
      innerLr: 0.01,
      imaml: { lambda: 1, cgSteps: 5 },
      outerOptimizer: { lr: 0.005 },
    };
    // 100 meta-losses, then the last gradient's checksum (dropped). Recorded: 4.16 -> 3.23.
    const losses = (await metaLosses(trainer, 100)).slice(0, 100);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(losses.slice(80))).toBeLessThan(0.85 * mean(losses.slice(0, 20)));
  }, 60_000);
});
