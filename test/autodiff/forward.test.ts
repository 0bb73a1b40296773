import { describe, expect, it } from 'vitest';
import { cubic } from '../../experiments/seed/01-cubic.js';
import { twoVariables } from '../../experiments/seed/02-two-variables.js';
import { linearLayer } from '../../experiments/seed/03-linear-layer.js';
import {
  add,
  exp,
  ForwardAccumulator,
  GradientTape,
  hvp,
  jvp,
  linearize,
  logSoftmax,
  matmul,
  mean,
  mul,
  neg,
  oneHot,
  pow,
  Rng,
  randomNormal,
  sin,
  square,
  sub,
  sum,
  type Tensor,
  tanh,
  tensor,
  variable,
  withDefaultFloat,
} from '../../src/index.js';

const f64 = <T>(fn: () => T): T => withDefaultFloat('float64', fn);
const arr = (t: Tensor | null): number[] => Array.from(t!.dataSync());

function closeTo(a: number[], b: number[], tol = 1e-12): void {
  expect(a.length).toBe(b.length);
  a.forEach((v, i) => {
    expect(Math.abs(v - b[i]!)).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(b[i]!)));
  });
}

describe('ForwardAccumulator (TensorFlow semantics)', () => {
  it("reproduces TF's nested-accumulator example: x^3.5 at 1.1 gives 4.4417055 and 10.0947852", () => {
    f64(() => {
      const x = tensor(1.1);
      const outer = new ForwardAccumulator(x, tensor(1));
      const inner = new ForwardAccumulator(x, tensor(1));
      const innerJvp = outer.record(() => {
        const y = inner.record(() => pow(x, tensor(3.5)));
        return inner.jvp(y)!;
      });
      expect(innerJvp.item()).toBeCloseTo(4.4417055, 6);
      expect(outer.jvp(innerJvp)!.item()).toBeCloseTo(10.0947852, 6);
    });
  });

  it('an inner accumulator does not see the outer one’s JVP computation (TF: reversing the order gives nothing)', () => {
    const x = tensor(1.1);
    const outer = new ForwardAccumulator(x, tensor(1));
    const inner = new ForwardAccumulator(x, tensor(1));
    let y: Tensor | undefined;
    outer.record(() => {
      y = inner.record(() => pow(x, 3.5));
    });
    expect(inner.jvp(outer.jvp(y!)!)).toBeNull();
  });

  it("TF's forward-over-backward Hessian-vector product: sum(x³) at [1, 2] along [1, 0] is [6, 0]", () => {
    const x = tensor([1, 2]);
    const acc = new ForwardAccumulator(x, tensor([1, 0]));
    const backward = acc.record(() => {
      const tape = new GradientTape();
      const y = tape.record(() => {
        tape.watch(x);
        return sum(pow(x, 3));
      });
      return tape.gradient(y, x)!;
    });
    expect(arr(acc.jvp(backward))).toEqual([6, 0]);
  });

  it('reverse-over-forward: a tape around an accumulator differentiates the JVP, also with respect to the tangent', () => {
    f64(() => {
      const x = tensor([0.3, -0.4]);
      const v = tensor([1, 2]);
      const tape = new GradientTape({ persistent: true });
      const jv = tape.record(() => {
        tape.watch(x, v);
        const acc = new ForwardAccumulator(x, v);
        const y = acc.record(() => sum(sin(x)));
        return acc.jvp(y)!; // Σ cos(x) v
      });
      closeTo([jv.item()], [Math.cos(0.3) + 2 * Math.cos(-0.4)]);
      closeTo(arr(tape.gradient(jv, x)), [-Math.sin(0.3), -2 * Math.sin(-0.4)]);
      closeTo(arr(tape.gradient(jv, v)), [Math.cos(0.3), Math.cos(-0.4)]);
    });
  });

  it('unconnected tensors give null, or zeros on request; a watched primal gives its tangent; nests answer in kind', () => {
    const x = tensor([1, 2]);
    const z = tensor([3, 4]);
    const v = tensor([1, 1]);
    const acc = new ForwardAccumulator({ x }, { x: v });
    const y = acc.record(() => mul(x, x));
    expect(acc.jvp(z)).toBeNull();
    expect(arr(acc.jvp(z, { unconnected: 'zero' }))).toEqual([0, 0]);
    expect(acc.jvp(x)).toBe(v);
    const nest = acc.jvp({ a: [y, z], b: x });
    expect(arr(nest.a[0]!)).toEqual([2, 4]);
    expect(nest.a[1]).toBeNull();
    expect(nest.b).toBe(v);
  });

  it('Variables as primals, and ops outside record() get no tangent', () => {
    const w = variable(3);
    const acc = new ForwardAccumulator(w, 1);
    const inside = acc.record(() => mul(w, w));
    const outside = mul(w, w);
    expect(acc.jvp(inside)!.item()).toBe(6);
    expect(acc.jvp(outside)).toBeNull();
  });

  it('checks its arguments, and re-entering a recording accumulator is an error', () => {
    const x = tensor([1, 2]);
    expect(() => new ForwardAccumulator(x, tensor([1, 2, 3]))).toThrow(/tangent 0 .*\[3\].*\[2\]/);
    expect(() => new ForwardAccumulator([x], [])).toThrow(/1 primals but 0 tangents/);
    expect(() => new ForwardAccumulator({ a: [x, 3] } as never, { a: [x, x] })).toThrow(
      /primals\.a\[1\] is the number 3, not a Tensor/,
    );
    const acc = new ForwardAccumulator(x, x, { name: 'acc' });
    expect(() => acc.record(() => acc.record(() => 0))).toThrow(/'acc'.*already recording/);
  });
});

describe('functional forward mode', () => {
  it('jvp(f, primals, tangents) returns the value and J·t, zeros where unconnected', () => {
    const [y, t] = jvp((x) => pow(x, 3), [tensor(2)], [tensor(1)]);
    expect([y.item(), t.item()]).toEqual([8, 12]);
    const [out, tout] = jvp(
      (a, b) => ({ s: mul(a, b), c: tensor(1) }),
      [tensor(2), tensor(5)],
      [tensor(1), tensor(0)],
    );
    expect(out.s.item()).toBe(10);
    expect(tout.s.item()).toBe(5);
    expect(tout.c.item()).toBe(0);
  });

  it('linearize evaluates once and applies J to many tangents', () => {
    f64(() => {
      const x = tensor([0.2, 1]);
      const w = tensor([0.5, -1.5]);
      const [y, lin] = linearize((a, b) => mul(sin(a), b), [x, w]);
      closeTo(arr(y), [Math.sin(0.2) * 0.5, Math.sin(1) * -1.5]);
      closeTo(arr(lin(tensor([1, 0]), tensor([0, 0]))), [Math.cos(0.2) * 0.5, 0]);
      closeTo(arr(lin(tensor([0, 0]), tensor([1, 1]))), [Math.sin(0.2), Math.sin(1)]);
      const [, t] = jvp((a, b) => mul(sin(a), b), [x, w], [tensor([0.3, -2]), tensor([1, 4])]);
      closeTo(arr(lin(tensor([0.3, -2]), tensor([1, 4]))), arr(t));
    });
  });
});

describe('forward-over-reverse equals reverse-over-reverse', () => {
  it('HVP of a small MLP softmax cross-entropy loss, both modes, in float64', () => {
    f64(() => {
      const rng = new Rng(3);
      const X = randomNormal([5, 4], rng);
      const W2 = randomNormal([6, 3], rng);
      const labels = oneHot(tensor([0, 2, 1, 1, 0], undefined, 'int32'), 3);
      const loss = (w: Tensor): Tensor => {
        const h = tanh(matmul(X, w));
        const logits = matmul(exp(mul(h, 0.5)), W2);
        return neg(mean(sum(mul(labels, logSoftmax(logits)), { axis: -1 })));
      };
      const w = randomNormal([4, 6], rng);
      const v = randomNormal([4, 6], rng);
      const fwd = hvp(loss, w, v, { mode: 'forward-over-reverse' });
      const rev = hvp(loss, w, v, { mode: 'reverse-over-reverse' });
      closeTo(arr(fwd), arr(rev), 1e-12);
      closeTo(arr(hvp(loss, w, v)), arr(fwd), 0);
    });
  });

  it('third order, forward-over-reverse-over-reverse and reverse-over-forward-over-reverse agree', () => {
    f64(() => {
      const x = tensor([0.4, -0.3]);
      const v = tensor([1, 0.5]);
      const f = (a: Tensor): Tensor => sum(mul(exp(a), square(a)));
      // d/dx <H(x) v, v> by a tape around a forward-over-reverse HVP ...
      const tape = new GradientTape();
      const vHv = tape.record(() => {
        tape.watch(x);
        return sum(mul(hvp(f, x, v), v));
      });
      const viaTape = arr(tape.gradient(vHv, x));
      // ... and by an accumulator around reverse-over-reverse, one component at a time.
      const viaAcc = [0, 1].map((i) => {
        const e = tensor(i === 0 ? [1, 0] : [0, 1]);
        const acc = new ForwardAccumulator(x, e);
        const s = acc.record(() => sum(mul(hvp(f, x, v, { mode: 'reverse-over-reverse' }), v)));
        return acc.jvp(s)!.item();
      });
      closeTo(viaTape, viaAcc, 1e-12);
      // Exact: f''' of e^a a² is e^a (a² + 6a + 6), so d/dx_i <Hv, v> = f'''(x_i) v_i².
      closeTo(
        viaTape,
        [0.4, -0.3].map((a, i) => Math.exp(a) * (a * a + 6 * a + 6) * [1, 0.25][i]!),
        1e-12,
      );
    });
  });
});

describe("the seed article's examples, forward-over-reverse, give the nested tapes' values", () => {
  it('cubic: 27 and 18', () => {
    const x = variable(3);
    const acc = new ForwardAccumulator(x, 1);
    const dydx = acc.record(() => {
      const tape = new GradientTape();
      const y = tape.record(() => pow(x, 3));
      return tape.gradient(y, x)!;
    });
    const nested = cubic();
    expect([dydx.item(), acc.jvp(dydx)!.item()]).toEqual([nested.dydx, nested.d2ydx2]);
    expect([nested.dydx, nested.d2ydx2]).toEqual([27, 18]);
  });

  it('two variables: gradient [4, 7], d²f/dx² = 2, d²f/dy² = 6', () => {
    const x = variable(2);
    const y = variable(1);
    const second = (tx: number, ty: number) => {
      const acc = new ForwardAccumulator([x, y], [tensor(tx), tensor(ty)]);
      const g = acc.record(() => {
        const tape = new GradientTape();
        const f = tape.record(() => add(mul(pow(x, 2), y), pow(y, 3)));
        return tape.gradient(f, [x, y]);
      });
      return { g: g.map((t) => t!.item()), jvp: acc.jvp(g).map((t) => t!.item()) };
    };
    const alongX = second(1, 0);
    const alongY = second(0, 1);
    const nested = twoVariables();
    expect(alongX.g).toEqual(nested.grads);
    expect(alongX.jvp[0]).toBe(nested.d2fdx2);
    expect(alongY.jvp[1]).toBe(nested.d2fdy2);
    expect([nested.d2fdx2, nested.d2fdy2]).toEqual([2, 6]);
  });

  it('linear layer: the second derivatives of sum(dL/dW) and sum(dL/db)', () => {
    const W = variable([[0.5, -0.25]]);
    const b = variable([0.1, 0.2]);
    const x = tensor([[2]]);
    const target = tensor([[3, 5]]);
    // By symmetry of the Hessian, d(sum dL/dW)/dθ = H·[1_W, 0_b]: one forward-over-reverse pass each.
    const along = (tW: number, tb: number) => {
      const acc = new ForwardAccumulator({ W, b }, { W: tensor([[tW, tW]]), b: tensor([tb, tb]) });
      const g = acc.record(() => {
        const tape = new GradientTape();
        const loss = tape.record(() => mean(square(sub(add(matmul(x, W), b), target))));
        return tape.gradient(loss, { W, b });
      });
      return acc.jvp(g);
    };
    const ofW = along(1, 0);
    const ofB = along(0, 1);
    const nested = linearLayer();
    expect(ofW.W!.arraySync()).toEqual(nested.d2W_dW);
    expect(ofW.b!.arraySync()).toEqual(nested.d2W_db);
    expect(ofB.W!.arraySync()).toEqual(nested.d2b_dW);
    expect(ofB.b!.arraySync()).toEqual(nested.d2b_db);
    expect(nested.d2W_dW).toEqual([[4, 4]]);
    expect(nested.d2b_db).toEqual([1, 1]);
  });
});
