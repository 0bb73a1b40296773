import { describe, expect, it } from 'vitest';
import {
  add,
  checkGrads,
  exp,
  fromArray,
  GradCheckError,
  GradientTape,
  mul,
  sin,
  square,
  stopGradient,
  sub,
  sum,
  type Tensor,
  withDefaultFloat,
} from '../../src/index.js';
import type { Params } from '../../src/nn/params.js';
import {
  adam,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  type GradientTransformation,
  sgd,
} from '../../src/optim/index.js';
import { values } from './problems.js';

// A non-quadratic inner loss, so that the inner gradient's Jacobian (the Hessian) varies with x.
const innerLoss = (x: Tensor): Tensor =>
  add(sum(mul(sin(x), 2)), sum(mul(square(sub(x, 0.3)), exp(mul(x, 0.5)))));
const outerLoss = (x: Tensor): Tensor => sum(square(sub(x, fromArray(Float64Array.of(1, -0.5, 0.25), [3]))));

/** The outer loss after `steps` inner updates of `tx` from x0, all recorded so it can be differentiated. */
function unrolled<S>(
  tx: GradientTransformation<S>,
  steps: number,
  firstOrder = false,
): (x0: Tensor) => Tensor {
  return (x0) => {
    let params: Params = { x: x0 };
    let state = tx.init(params);
    for (let k = 0; k < steps; k++) {
      const tape = new GradientTape();
      const loss = tape.record(() => {
        tape.watch(params.x!);
        return innerLoss(params.x!);
      });
      let g = tape.gradient(loss, params.x!, { unconnected: 'zero' });
      if (firstOrder) g = stopGradient(g);
      const r = tx.update({ x: g }, state, params);
      params = applyUpdates(params, r.updates);
      state = r.state;
    }
    return outerLoss(params.x!);
  };
}

function metaGrad(f: (x: Tensor) => Tensor, x0: Tensor): number[] {
  const tape = new GradientTape();
  const y = tape.record(() => {
    tape.watch(x0);
    return f(x0);
  });
  return values(tape.gradient(y, x0, { unconnected: 'zero' }));
}

const x0 = () => fromArray(Float64Array.of(0.2, -0.4, 0.9), [3]);

describe('meta-gradients through inner optimizer steps match finite differences (float64)', () => {
  const cases: { name: string; tx: () => GradientTransformation<unknown>; order: number }[] = [
    { name: 'Adam, 3 inner steps', tx: () => adam({ lr: 0.1 }), order: 1 },
    { name: 'Adam with epsRoot, second order', tx: () => adam({ lr: 0.05, epsRoot: 1e-16 }), order: 2 },
    {
      name: 'SGD with momentum, 3 inner steps, to order 2',
      tx: () => sgd({ lr: 0.05, momentum: 0.9 }),
      order: 2,
    },
    {
      name: 'SGD with Nesterov momentum and weight decay',
      tx: () => sgd({ lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 0.1 }),
      order: 1,
    },
    {
      name: 'chain(clipByGlobalNorm, adam)',
      tx: () => chain(clipByGlobalNorm(0.5), adam({ lr: 0.1 })),
      order: 1,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      withDefaultFloat('float64', () => {
        expect(() =>
          checkGrads(unrolled(c.tx(), 3), [x0()], { order: c.order, rtol: 1e-5, atol: 1e-8 }),
        ).not.toThrow();
      });
    });
  }

  it('the second-order term is really there: the full meta-gradient differs from first-order MAML', () => {
    withDefaultFloat('float64', () => {
      const txs: GradientTransformation<unknown>[] = [adam({ lr: 0.1 }), sgd({ lr: 0.05, momentum: 0.9 })];
      for (const tx of txs) {
        const full = metaGrad(unrolled(tx, 3), x0());
        const fo = metaGrad(unrolled(tx, 3, true), x0());
        const diff = Math.max(...full.map((v, i) => Math.abs(v - fo[i]!)));
        expect(diff).toBeGreaterThan(1e-3);
      }
    });
  });

  it('the check is discriminating: dropping the second-order term fails it', () => {
    withDefaultFloat('float64', () => {
      expect(() => checkGrads(unrolled(adam({ lr: 0.1 }), 3, true), [x0()], { order: 1 })).toThrow(
        GradCheckError,
      );
    });
  });
});
