import { describe, expect, it } from 'vitest';
import {
  exp,
  GradientTape,
  jacobian,
  matmul,
  mul,
  reshape,
  sin,
  square,
  sum,
  type Tensor,
  tensor,
  variable,
  withDefaultFloat,
} from '../../src/index.js';

const arr = (t: Tensor | null | undefined): number[] => Array.from(t!.dataSync());

describe('sources and targets as TensorFlow takes them', () => {
  it('any nest of sources comes back as the same nest ({ a: [x, b] } was { a: null })', () => {
    const x = variable(2);
    const b = variable(3);
    const c = variable(5);
    const t = new GradientTape();
    const y = t.record(() => mul(mul(x, b), c));
    const g = t.gradient(y, { a: [x, b], deep: { c: [[c]] } });
    expect(g.a.map((e) => e!.item())).toEqual([15, 10]);
    expect(g.deep.c[0]![0]!.item()).toBe(6);
  });

  it('a list or record of targets is summed; outputGradients may be the same nest', () => {
    const x = variable([1, 2]);
    const t = new GradientTape({ persistent: true });
    const [p, q] = t.record(() => [square(x), mul(x, 3)]);
    expect(arr(t.gradient([p!, q!], x))).toEqual([5, 7]);
    expect(arr(t.gradient({ p: p!, q: q! }, x))).toEqual([5, 7]);
    // The same target twice counts twice, as in TF.
    expect(arr(t.gradient([q!, q!], x))).toEqual([6, 6]);
    const seeds = [tensor([1, 0]), tensor([0, 10])];
    expect(arr(t.gradient([p!, q!], x, { outputGradients: seeds }))).toEqual([2, 30]);
    expect(() => t.gradient([p!, q!], x, { outputGradients: [tensor([1, 0])] })).toThrow(
      /1 outputGradients for 2 targets/,
    );
    expect(() => t.gradient([p!, q!], x, { outputGradients: [tensor([1]), tensor([1, 1])] })).toThrow(
      /target 0 has \[2\]/,
    );
  });

  it('what is not a tensor is a clear error that names where it is', () => {
    const x = variable(1);
    const t = new GradientTape({ persistent: true });
    const y = t.record(() => exp(x));
    expect(() => t.gradient(y, { a: [x, 3] } as never)).toThrow(
      /sources\.a\[1\] is the number 3, not a Tensor/,
    );
    expect(() => t.gradient(y, [x, undefined] as never)).toThrow(/sources\[1\] is undefined/);
    expect(() => t.gradient({ loss: 'y' } as never, x)).toThrow(/target\.loss is a string/);
    expect(() => t.gradient(y, new Map() as never)).toThrow(/sources is a Map/);
  });
});

describe('tape lifecycle', () => {
  it('re-entering a recording tape is an error naming the tape', () => {
    const x = variable(1);
    const t = new GradientTape({ name: 'outerLoss' });
    expect(() => t.record(() => t.record(() => exp(x)))).toThrow(/'outerLoss'.*already recording/);
    const anonymous = new GradientTape();
    expect(() => anonymous.record(() => anonymous.record(() => 0))).toThrow(
      new RegExp(`'tape${anonymous.level}'`),
    );
  });

  it('watchedVariables() lists the Variables watched, explicitly or on access, in order', () => {
    const a = variable(1, { name: 'a' });
    const b = variable(2, { name: 'b' });
    const frozen = variable(3, { name: 'frozen', trainable: false });
    const c = variable(4, { name: 'c' });
    const plain = tensor(5);
    const t = new GradientTape();
    t.record(() => {
      t.watch(c, plain);
      return mul(mul(b, a), mul(frozen, plain));
    });
    expect(t.watchedVariables().map((v) => v.name)).toEqual(['c', 'b', 'a']);
    const off = new GradientTape({ watchAccessedVariables: false });
    off.record(() => mul(a, b));
    expect(off.watchedVariables()).toEqual([]);
  });
});

describe('jacobian picks forward or reverse mode', () => {
  it('forward, reverse and auto agree (wide and tall)', () => {
    withDefaultFloat('float64', () => {
      const W = tensor([
        [1, -1, 0.5],
        [2, 0, 1],
      ]);
      const wide = (x: Tensor): Tensor => sum(sin(matmul(x, W)), { axis: 1 }); // [2,2] -> [2]
      const tall = (x: Tensor): Tensor => reshape(mul(sin(x), tensor([[1], [2], [3]])), [3, 2]); // [2] -> [3,2]
      const xw = tensor([
        [0.1, 0.2],
        [0.3, 0.4],
      ]);
      const xt = tensor([0.5, -0.7]);
      for (const [f, x] of [
        [wide, xw],
        [tall, xt],
      ] as const) {
        const r = jacobian(f, x, { mode: 'reverse' });
        const fw = jacobian(f, x, { mode: 'forward' });
        const auto = jacobian(f, x);
        expect(fw.shape).toEqual(r.shape);
        expect(auto.shape).toEqual(r.shape);
        const rv = arr(r);
        arr(fw).forEach((v, i) => {
          expect(Math.abs(v - rv[i]!)).toBeLessThan(1e-15);
        });
        expect(arr(auto)).toEqual(arr(x === xt ? fw : r));
      }
    });
  });

  it('auto runs f once plus one JVP per input element for a tall Jacobian, once for a wide one', () => {
    let calls = 0;
    const tall = (x: Tensor): Tensor => {
      calls++;
      return mul(reshape(x, [1, 2]), tensor([[1], [2], [3], [4]]));
    };
    jacobian(tall, tensor([1, 2]));
    expect(calls).toBe(1 + 2);
    calls = 0;
    const wide = (x: Tensor): Tensor => {
      calls++;
      return sum(square(x));
    };
    jacobian(wide, tensor([1, 2, 3]));
    expect(calls).toBe(1);
  });
});
