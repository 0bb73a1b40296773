/**
 * Core benchmarks: per-op overhead against a raw typed-array loop, and the cost of a second-order gradient
 * of a 1-40-40-1 MLP on a batch of 10 (forward, gradient, gradient of the gradient norm) against the forward.
 */
import {
  add,
  dense,
  GradientTape,
  Model,
  matmul,
  mean,
  mul,
  Rng,
  relu,
  square,
  sub,
  sum,
  type Tensor,
  tensor,
} from '../src/index.js';
import { mapParams } from '../src/nn/params.js';
import { type BenchRow, fmtTime, timeIt } from './table.js';

export function benchCore(): BenchRow[] {
  const rows: BenchRow[] = [];
  const small = tensor([1, 2, 3, 4]);
  const raw4 = new Float32Array(4);
  const a4 = Float32Array.of(1, 2, 3, 4);
  const rawSmall = timeIt(() => {
    const o = new Float32Array(4);
    for (let i = 0; i < 4; i++) o[i] = a4[i]! + a4[i]!;
    raw4[0] = o[0]!;
  }, 20000);
  const opSmall = timeIt(() => add(small, small), 20000);
  rows.push({
    figure: fmtTime(opSmall),
    work: 'add, 4 elements (per-op overhead)',
    value: `${fmtTime(opSmall)}/op`,
    ratio: `${(opSmall / rawSmall).toFixed(1)}x a raw JS loop`,
  });

  const big = tensor(new Float32Array(10000).map((_, i) => Math.sin(i)));
  const rawBig = new Float32Array(10000).map((_, i) => Math.sin(i));
  const rawRelu = timeIt(() => {
    const o = new Float32Array(10000);
    for (let i = 0; i < 10000; i++) o[i] = Math.max(rawBig[i]!, 0);
  }, 2000);
  const opRelu = timeIt(() => relu(big), 2000);
  rows.push({
    figure: fmtTime(opRelu),
    work: 'relu, 10,000 elements',
    value: `${((10000 / opRelu) * 1e-6).toFixed(2)} Gelem/s`,
    ratio: `${(opRelu / rawRelu).toFixed(2)}x a raw JS loop`,
  });

  const recordTape = new GradientTape();
  const x = tensor(new Float32Array(10000).fill(0.5));
  const recorded = timeIt(() => {
    recordTape.record(() => {
      recordTape.watch(x);
      relu(x);
    });
    recordTape.reset();
  }, 2000);
  rows.push({
    figure: fmtTime(recorded),
    work: 'relu, 10,000 elements, recorded on a tape',
    value: `${fmtTime(recorded)}/op`,
    ratio: `${(recorded / opRelu).toFixed(2)}x unrecorded`,
  });

  for (const n of [16, 64, 256]) {
    const A = tensor(new Float32Array(n * n).fill(0.01), [n, n]);
    const t = timeIt(() => matmul(A, A), n >= 256 ? 20 : 500);
    rows.push({
      figure: fmtTime(t),
      work: `matmul ${n}x${n}x${n}`,
      value: `${((2 * n * n * n) / t / 1e6).toFixed(2)} GFLOP/s`,
      ratio: '',
    });
  }

  // Second order on a 1-40-40-1 MLP, batch 10.
  const model = new Model(
    [dense(40, { activation: 'relu' }), dense(40, { activation: 'relu' }), dense(1)],
    [1],
  );
  const params = model.initParams(new Rng(0));
  const xs = tensor(
    new Float32Array(10).map((_, i) => i / 2 - 2.5),
    [10, 1],
  );
  const ys = tensor(
    new Float32Array(10).map((_, i) => Math.sin(i / 2 - 2.5)),
    [10, 1],
  );
  const loss = (p: typeof params): Tensor => mean(square(sub(model.apply(p, xs), ys)));
  const fwd = timeIt(() => loss(params).dataSync(), 300);
  const grad = timeIt(() => {
    const tape = new GradientTape();
    const l = tape.record(() => {
      tape.watch(...Object.values(params));
      return loss(params);
    });
    const g = tape.gradient(l, params);
    g['0.dense/kernel']!.dataSync();
  }, 300);
  const second = timeIt(() => {
    const outer = new GradientTape();
    const gn = outer.record(() => {
      outer.watch(...Object.values(params));
      const inner = new GradientTape();
      const l = inner.record(() => {
        inner.watch(...Object.values(params));
        return loss(params);
      });
      const g = inner.gradient(l, params, { unconnected: 'zero' });
      let s: Tensor | undefined;
      for (const v of Object.values(mapParams(g, (t) => sum(mul(t, t))))) s = s ? add(s, v) : v;
      return s!;
    });
    const gg = outer.gradient(gn, params);
    gg['0.dense/kernel']!.dataSync();
  }, 200);
  rows.push({
    figure: fmtTime(fwd),
    work: 'MLP 1-40-40-1, batch 10: forward + MSE',
    value: `${fmtTime(fwd)}`,
    ratio: '1.00x (baseline)',
  });
  rows.push({
    figure: fmtTime(grad),
    work: 'same: loss and gradient (1 tape)',
    value: `${fmtTime(grad)}`,
    ratio: `${(grad / fwd).toFixed(2)}x forward`,
  });
  rows.push({
    figure: fmtTime(second),
    work: 'same: gradient of the gradient norm (2 nested tapes)',
    value: `${fmtTime(second)}`,
    ratio: `${(second / fwd).toFixed(2)}x forward, ${(second / grad).toFixed(2)}x gradient`,
  });
  return rows;
}
