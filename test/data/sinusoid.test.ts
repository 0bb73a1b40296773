import { describe, expect, it } from 'vitest';
import { DataConfigError } from '../../src/data/errors.js';
import { sampleSinusoidTasks, sinusoidCurve } from '../../src/data/sinusoid.js';
import { Rng } from '../../src/tensor/random.js';

describe('sampleSinusoidTasks', () => {
  it('lays out T tasks with K support and Q query points and consistent shapes', () => {
    const b = sampleSinusoidTasks(new Rng(1), { count: 4, supportShots: 10, queryShots: 7 });
    expect(b.shapes.supportX).toEqual([4, 10, 1]);
    expect(b.shapes.queryY).toEqual([4, 7, 1]);
    expect(b.supportX.length).toBe(40);
    expect(b.queryX.length).toBe(28);
    expect(b.amplitude.length).toBe(4);
    for (let t = 0; t < 4; t++) {
      for (let k = 0; k < 10; k++) {
        const x = b.supportX[t * 10 + k]!;
        expect(b.supportY[t * 10 + k]).toBeCloseTo(b.amplitude[t]! * Math.sin(x - b.phase[t]!), 5);
      }
    }
  });

  it('draws parameters from the MAML ranges with the right moments', () => {
    const b = sampleSinusoidTasks(new Rng(7), { count: 20_000, supportShots: 5, queryShots: 0 });
    const mean = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    expect(Math.min(...b.amplitude)).toBeGreaterThanOrEqual(0.1);
    expect(Math.max(...b.amplitude)).toBeLessThan(5);
    expect(Math.min(...b.phase)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...b.phase)).toBeLessThan(Math.PI);
    expect(mean(b.amplitude)).toBeCloseTo(2.55, 1);
    expect(mean(b.phase)).toBeCloseTo(Math.PI / 2, 1);
    expect(mean(b.supportX)).toBeCloseTo(0, 1);
    // Var of U[-5, 5] is 100 / 12.
    const vx = b.supportX.reduce((s, v) => s + v * v, 0) / b.supportX.length;
    expect(vx).toBeGreaterThan(8.1);
    expect(vx).toBeLessThan(8.6);
    expect(b.queryX.length).toBe(0);
  });

  it('honours custom ranges', () => {
    const b = sampleSinusoidTasks(new Rng(3), {
      count: 100,
      supportShots: 3,
      queryShots: 3,
      amplitude: [1, 1],
      phase: [0, 0],
      xRange: [0, 1],
    });
    expect([...b.amplitude].every((a) => a === 1)).toBe(true);
    expect([...b.supportX].every((x) => x >= 0 && x < 1)).toBe(true);
    expect(b.queryY[0]).toBeCloseTo(Math.sin(b.queryX[0]!), 6);
  });

  it('is reproducible from the seed and differs across seeds', () => {
    const opts = { count: 8, supportShots: 5, queryShots: 5 };
    const a = sampleSinusoidTasks(new Rng(42), opts);
    const b = sampleSinusoidTasks(new Rng(42), opts);
    const c = sampleSinusoidTasks(new Rng(43), opts);
    expect(b.supportX).toEqual(a.supportX);
    expect(b.queryY).toEqual(a.queryY);
    expect(b.phase).toEqual(a.phase);
    expect(c.supportX).not.toEqual(a.supportX);
  });

  it('rejects bad options with a typed error', () => {
    expect(() => sampleSinusoidTasks(new Rng(1), { count: 0, supportShots: 1, queryShots: 1 })).toThrow(
      DataConfigError,
    );
    expect(() =>
      sampleSinusoidTasks(new Rng(1), { count: 1, supportShots: 1, queryShots: 1, xRange: [1, -1] }),
    ).toThrow(DataConfigError);
  });
});

describe('sinusoidCurve', () => {
  it('samples the true curve on an inclusive grid', () => {
    const { x, y } = sinusoidCurve(2, 0.5, 11, [-5, 5]);
    expect(x[0]).toBe(-5);
    expect(x[10]).toBe(5);
    expect(y[5]).toBeCloseTo(2 * Math.sin(-0.5), 6);
  });
});
