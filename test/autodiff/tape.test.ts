import { describe, expect, it } from 'vitest';
import {
  abs,
  add,
  exp,
  GradientTape,
  hessian,
  hvp,
  jacobian,
  matmul,
  max,
  maximum,
  mul,
  relu,
  sin,
  square,
  sum,
  tanh,
  tensor,
  variable,
} from '../../src/index.js';

const close = (a: number[] | number, b: number[] | number, tol = 1e-5) => {
  const xa = Array.isArray(a) ? a : [a];
  const xb = Array.isArray(b) ? b : [b];
  expect(xa.length).toBe(xb.length);
  xa.forEach((v, i) => {
    expect(Math.abs(v - xb[i]!)).toBeLessThan(tol);
  });
};

describe('GradientTape semantics', () => {
  it('watches trainable Variables automatically, and not when switched off', () => {
    const v = variable(2);
    const t1 = new GradientTape();
    const y1 = t1.record(() => mul(v, v));
    expect(t1.gradient(y1, v)!.item()).toBe(4);
    const t2 = new GradientTape({ watchAccessedVariables: false });
    const y2 = t2.record(() => mul(v, v));
    expect(t2.gradient(y2, v)).toBeNull();
  });

  it('does not watch non-trainable Variables', () => {
    const v = variable(2, { trainable: false });
    const t = new GradientTape();
    const y = t.record(() => mul(v, v));
    expect(t.gradient(y, v)).toBeNull();
  });

  it('a second gradient() on a non-persistent tape is an error that says so', () => {
    const x = variable(1);
    const t = new GradientTape();
    const y = t.record(() => exp(x));
    t.gradient(y, x);
    expect(() => t.gradient(y, x)).toThrow(/persistent/);
  });

  it('a persistent tape answers several gradients', () => {
    const x = variable(0.5);
    const t = new GradientTape({ persistent: true });
    const [y, z] = t.record(() => [sin(x), square(x)] as const);
    close(t.gradient(y, x)!.item(), Math.cos(0.5));
    close(t.gradient(z, x)!.item(), 1);
  });

  it('stopRecording hides ops from the tape', () => {
    const x = variable(3);
    const t = new GradientTape();
    const y = t.record(() => {
      const a = mul(x, x);
      const b = t.stopRecording(() => mul(x, 10));
      return add(a, b);
    });
    expect(t.gradient(y, x)!.item()).toBe(6);
  });

  it('reset forgets the recording', () => {
    const x = variable(3);
    const t = new GradientTape({ persistent: true });
    t.record(() => mul(x, x));
    t.reset();
    const y = t.record(() => mul(x, 2));
    expect(t.gradient(y, x)!.item()).toBe(2);
  });

  it('answers in the structure of the sources: tensor, array, record', () => {
    const a = variable(1);
    const b = variable(2);
    const t = new GradientTape({ persistent: true });
    const y = t.record(() => mul(a, b));
    expect(t.gradient(y, a)!.item()).toBe(2);
    const arr = t.gradient(y, [a, b]);
    expect(arr.map((g) => g!.item())).toEqual([2, 1]);
    const rec = t.gradient(y, { first: a, second: b });
    expect(rec.first!.item()).toBe(2);
    expect(rec.second!.item()).toBe(1);
  });

  it('unconnected sources give null by default and zeros on request', () => {
    const a = variable([1, 2]);
    const b = variable([3, 4]);
    const t = new GradientTape({ persistent: true });
    const y = t.record(() => sum(square(a)));
    expect(t.gradient(y, b)).toBeNull();
    expect(t.gradient(y, b, { unconnected: 'zero' }).arraySync()).toEqual([0, 0]);
  });

  it('a non-scalar target means the gradient of its sum; outputGradients seed a VJP', () => {
    const x = variable([1, 2, 3]);
    const t = new GradientTape({ persistent: true });
    const y = t.record(() => square(x));
    expect(t.gradient(y, x)!.arraySync()).toEqual([2, 4, 6]);
    expect(t.gradient(y, x, { outputGradients: tensor([1, 0, -1]) })!.arraySync()).toEqual([2, 0, -6]);
    expect(() => t.gradient(y, x, { outputGradients: tensor([1, 0]) })).toThrow(/shape/);
  });

  it('integer tensors cannot be differentiated', () => {
    const i = tensor([1, 2], undefined, 'int32');
    const t = new GradientTape();
    expect(() => t.watch(i)).toThrow(/int32/);
    const y = t.record(() => exp(tensor(1)));
    expect(() => t.gradient(y, i)).toThrow(/int32/);
  });

  it('an assign after the forward pass does not change the gradient (the read is snapshotted)', () => {
    const v = variable(3);
    const t = new GradientTape();
    const y = t.record(() => mul(v, v));
    v.assign(tensor(100));
    expect(t.gradient(y, v)!.item()).toBe(6);
  });

  it('nested tapes: third derivative of sin through three levels', () => {
    const x = variable(0.7);
    const t3 = new GradientTape();
    const t2 = new GradientTape();
    const t1 = new GradientTape();
    const d2 = t3.record(() => {
      const d1 = t2.record(() => {
        const y = t1.record(() => sin(x));
        return t1.gradient(y, x)!;
      });
      return t2.gradient(d1, x)!;
    });
    close(d2.item(), -Math.sin(0.7));
    close(t3.gradient(d2, x)!.item(), -Math.cos(0.7));
  });

  it('nested tapes never confuse whose perturbation is whose (d/dx [x * d/dy (x + y)] = 1)', () => {
    // The classic perturbation-confusion test (Siskind & Pearlmutter): the inner derivative is 1, not x.
    const x = variable(2);
    const y = variable(5);
    const outer = new GradientTape();
    const z = outer.record(() => {
      const inner = new GradientTape();
      const s = inner.record(() => add(x, y));
      const dsdy = inner.gradient(s, y)!;
      return mul(x, dsdy);
    });
    expect(outer.gradient(z, x)!.item()).toBe(1);
  });

  it('second derivatives of exp, sigmoid and tanh stay connected (tfjs#3252)', () => {
    const x = variable(0.3);
    const outer = new GradientTape();
    const g = outer.record(() => {
      const inner = new GradientTape();
      const y = inner.record(() => tanh(x));
      return inner.gradient(y, x)!;
    });
    const t = Math.tanh(0.3);
    close(outer.gradient(g, x)!.item(), -2 * t * (1 - t * t));
  });

  it("kink conventions: relu'(0) = 0, abs'(0) = 0, maximum ties go to the first argument, max ties share", () => {
    const x = variable([0, 1, -1]);
    const t = new GradientTape({ persistent: true });
    const [r, a] = t.record(() => [relu(x), abs(x)] as const);
    expect(t.gradient(r, x)!.arraySync()).toEqual([0, 1, 0]);
    expect(t.gradient(a, x)!.arraySync()).toEqual([0, 1, -1]);
    const p = variable(2);
    const q = variable(2);
    const t2 = new GradientTape({ persistent: true });
    const m = t2.record(() => maximum(p, q));
    expect(t2.gradient(m, p)!.item()).toBe(1);
    expect(t2.gradient(m, q)!.item()).toBe(0);
    const v = variable([3, 1, 3]);
    const t3 = new GradientTape();
    const mx = t3.record(() => max(v));
    expect(t3.gradient(mx, v)!.arraySync()).toEqual([0.5, 0, 0.5]);
  });

  it('jacobian, batchJacobian, hvp and hessian', () => {
    const x = tensor([
      [1, 2],
      [3, 4],
    ]);
    const W = tensor([
      [1, -1, 0.5],
      [2, 0, 1],
    ]);
    const J = jacobian((v) => matmul(v, W), x);
    expect(J.shape).toEqual([2, 3, 2, 2]);
    // d y[0,j] / d x[0,k] = W[k,j]; d y[0,j] / d x[1,k] = 0
    const Jv = J.arraySync() as number[][][][];
    expect(Jv[0]![2]![0]![1]).toBe(1);
    expect(Jv[0]![2]![1]![1]).toBe(0);
    const t = new GradientTape({ persistent: true });
    const y = t.record(() => {
      t.watch(x);
      return square(x);
    });
    const bj = t.batchJacobian(y, x);
    expect(bj.shape).toEqual([2, 2, 2]);
    expect(bj.arraySync()).toEqual([
      [
        [2, 0],
        [0, 4],
      ],
      [
        [6, 0],
        [0, 8],
      ],
    ]);
    const f = (v: typeof x) => sum(mul(exp(v), v));
    const v0 = tensor([0.1, -0.2]);
    // d²/dx² (x e^x) = (x + 2) e^x
    const H = hessian(f, v0).arraySync() as number[][];
    close(H[0]![0]!, 2.1 * Math.exp(0.1));
    close(H[0]![1]!, 0);
    close(hvp(f, v0, tensor([1, 2])).arraySync() as number[], [
      2.1 * Math.exp(0.1),
      2 * 1.8 * Math.exp(-0.2),
    ]);
  });

  it('memory of a non-persistent tape is released after its gradient', () => {
    const x = variable([1, 2, 3]);
    const t = new GradientTape();
    const y = t.record(() => sum(exp(x)));
    t.gradient(y, x);
    // The tape keeps no nodes or tracked ids afterwards.
    expect((t as unknown as { nodes: unknown[] }).nodes.length).toBe(0);
  });
});
