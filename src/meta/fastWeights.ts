import type { ApplyOptions, Model } from '../nn/model.js';
import { mapParams, type Params } from '../nn/params.js';
import { add, mul, neg } from '../ops/elementwise.js';
import { matmul } from '../ops/linalg.js';
import { mean } from '../ops/reduce.js';
import { concat, reshape, stopGradient } from '../ops/shape.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * A per-task low-rank correction of a shared `[in, out]` kernel: task t uses `W + u[t]ᵀ · v[t]`, with `u`
 * `[T, r, in]` and `v` `[T, r, out]`. One inner SGD step on a Dense kernel is exactly such a term (u: the
 * layer's inputs, v: the loss gradient at its outputs times -lr), so MAML's fast kernels never need a
 * `[T, in, out]` copy. Applied through `nn`'s one linear-product hook (`ApplyContext.onKernelProduct`).
 */
export interface LowRankDelta {
  u: Tensor;
  v: Tensor;
}

/**
 * The adapted parameters of a batch of T tasks. Most parameters are per-task tensors `[T, ...shape]`; a
 * Dense kernel adapted in low-rank form stays the shared `[in, out]` meta-parameter in `params`, and its
 * per-task part is the list of factors in `kernelDeltas` (one term per inner step), so task t's kernel is
 * `W + Σ u[t]ᵀ v[t]`. Run the network on them with {@link applyFast}; {@link materialize} sums the factors
 * into full per-task kernels.
 */
export interface FastWeights {
  params: Params;
  kernelDeltas: ReadonlyMap<string, readonly LowRankDelta[]>;
}

/** Options of {@link applyFast}: the model's, with an observer of each low-rank kernel's (corrected) product. */
export type FastApplyOptions = Omit<ApplyOptions, 'batched' | 'onKernelProduct'> & {
  onKernelProduct?: (kernel: string, x: Tensor, product: Tensor) => void;
};

/**
 * Runs `model` on a batch of per-task inputs `[T, N, ...]` with fast weights. Low-rank kernels are applied
 * through `nn`'s linear-product hook: `x (W + uᵀv) = x W + (x uᵀ) v`, never forming a `[T, in, out]` kernel.
 */
export function applyFast(
  model: Model,
  fast: FastWeights,
  x: Tensor,
  options: FastApplyOptions = {},
): Tensor {
  const { onKernelProduct: observe, ...rest } = options;
  const hook = (kernel: string, input: Tensor, product: Tensor): Tensor => {
    let y = product;
    for (const { u, v } of fast.kernelDeltas.get(kernel) ?? [])
      y = add(y, matmul(matmul(input, u, { transposeB: true }), v));
    observe?.(kernel, input, y);
    return y;
  };
  return model.apply(fast.params, x, { ...rest, batched: true, onKernelProduct: hook });
}

/**
 * The parameter record with low-rank kernels summed into full per-task kernels `[T, in, out]` (parameters
 * that were not adapted, such as ANIL's body, keep their shared shape).
 */
export function materialize(fast: FastWeights): Params {
  return mapParams(fast.params, (p, name) => {
    let full = p;
    for (const { u, v } of fast.kernelDeltas.get(name) ?? [])
      full = add(full, matmul(u, v, { transposeA: true }));
    return full;
  });
}

/**
 * The mean over the T tasks of one adapted parameter (Reptile's target). A low-rank kernel's mean is
 * `W + (1/T) Σ_t u[t]ᵀ v[t]`, one `[in, out]` product over all tasks' rows, without per-task copies.
 */
export function meanOverTasks(fast: FastWeights, name: string): Tensor {
  const p = fast.params[name]!;
  const terms = fast.kernelDeltas.get(name);
  if (!terms) return mean(p, { axis: 0 });
  let out = p;
  for (const { u, v } of terms) {
    const tasks = u.shape[0]!;
    const rows = (t: Tensor) => reshape(t, [-1, t.shape.at(-1)!]);
    out = add(out, mul(matmul(rows(u), rows(v), { transposeA: true }), 1 / tasks));
  }
  return out;
}

/** The same fast weights cut off from every tape (the constants of a first-order inner step). */
export function detachFast(fast: FastWeights): FastWeights {
  const kernelDeltas = new Map<string, LowRankDelta[]>();
  for (const [name, terms] of fast.kernelDeltas) {
    kernelDeltas.set(
      name,
      terms.map(({ u, v }) => ({ u: stopGradient(u), v: stopGradient(v) })),
    );
  }
  return { params: mapParams(fast.params, stopGradient), kernelDeltas };
}

/**
 * The low-rank bookkeeping of one inner step. During the support pass, {@link LowRankStep.observe} (given to
 * {@link applyFast}) sees every product of a low-rank kernel and has the tape watch it; a kernel's gradient
 * for task t is then `x[t]ᵀ dy[t]` (its input and the loss gradient at its product), and a kernel used several
 * times in a pass (a shared layer) has the sum of such terms: rows side by side. {@link LowRankStep.update}
 * turns them into this step's factor pair `u = x`, `v = -lr dy`.
 */
export class LowRankStep {
  private readonly uses = new Map<string, { input: Tensor; product: Tensor }[]>();

  constructor(
    private readonly kernels: ReadonlySet<string>,
    private readonly watch: (product: Tensor) => void,
  ) {}

  /** The observer of kernel products for {@link applyFast}. */
  readonly observe = (name: string, input: Tensor, product: Tensor): void => {
    if (!this.kernels.has(name)) return;
    this.watch(product);
    this.uses.set(name, [...(this.uses.get(name) ?? []), { input, product }]);
  };

  /** The watched products, keyed for `tape.gradient`; every low-rank kernel must have reported one. */
  products(): Params {
    for (const n of this.kernels) {
      if (!this.uses.has(n)) {
        throw new Error(
          `fast weights: kernel '${n}' is declared lowRankUpdates but its layer never reported its product; use trainer.fastWeights: full`,
        );
      }
    }
    const out: Params = {};
    [...this.uses.values()].flat().forEach((use, i) => {
      out[`#product/${i}`] = use.product;
    });
    return out;
  }

  /** The factor lists after this step, from the gradients at the products and each kernel's step size. */
  update(
    deltas: ReadonlyMap<string, readonly LowRankDelta[]>,
    grads: Params,
    lr: (name: string) => Tensor | number,
  ): Map<string, readonly LowRankDelta[]> {
    const next = new Map(deltas);
    let k = 0;
    for (const [n, list] of this.uses) {
      const dys = list.map(() => grads[`#product/${k++}`]!);
      const u =
        list.length === 1
          ? list[0]!.input
          : concat(
              list.map((use) => use.input),
              1,
            );
      const dy = dys.length === 1 ? dys[0]! : concat(dys, 1);
      const r = lr(n);
      const v = typeof r === 'number' ? mul(dy, -r) : mul(dy, neg(r));
      next.set(n, [...(deltas.get(n) ?? []), { u, v }]);
    }
    return next;
  }
}
