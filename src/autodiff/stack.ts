/**
 * The one stack of differentiators (gradient tapes and forward accumulators), outermost first: the trace
 * levels of HIPS/autograd and JAX. Keeping both kinds in one ordered stack is what makes them nest either
 * way: while the differentiator at position k computes derivatives of an op (an accumulator pushing
 * tangents), only positions below k see the ops it runs, so outer differentiators differentiate the inner
 * one's work and never the reverse (TensorFlow's rule: "accumulators are applied in the order their context
 * managers were entered, so an inner accumulator does not see the outer one's JVP computation").
 */

/** What the stack holds; `kind` tells tapes (record ops) from accumulators (push tangents). */
export interface Differentiator {
  readonly kind: 'tape' | 'forward';
  /** Recording now (inside its `record`, not paused). */
  isActive(): boolean;
}

/** The visible stack: replaced by a prefix of itself while an accumulator computes derivatives. */
let stack: Differentiator[] = [];
let noGradDepth = 0;
const NONE: readonly Differentiator[] = [];

/** The differentiators visible to an op that runs now, outermost first (none inside {@link noGrad}). */
export function visibleStack(): readonly Differentiator[] {
  return noGradDepth > 0 ? NONE : stack;
}

/** @internal Pushes a differentiator (on entering its `record`). */
export function pushDifferentiator(d: Differentiator): void {
  stack.push(d);
}

/** @internal Removes a differentiator (on leaving its `record`). */
export function popDifferentiator(d: Differentiator): void {
  const i = stack.lastIndexOf(d);
  if (i >= 0) stack.splice(i, 1);
}

/** True when `d` is on the visible stack (its `record` is running and no inner level hides it). */
export function isOnStack(d: Differentiator): boolean {
  return stack.includes(d);
}

/**
 * Runs `fn` seeing only the differentiators below position `k`: used while the differentiator at k computes
 * derivatives, so that the outer ones record that computation and the inner ones do not. Differentiators
 * that `fn` itself enters stack on top of that prefix.
 */
export function withLevelsBelow<T>(k: number, fn: () => T): T {
  const saved = stack;
  stack = saved.slice(0, k);
  try {
    return fn();
  } finally {
    stack = saved;
  }
}

/**
 * Runs `fn` with every tape and accumulator paused (evaluation, logging, optimizer bookkeeping): nothing it
 * computes is recorded, given a tangent, or kept alive by a differentiator.
 */
export function noGrad<T>(fn: () => T): T {
  noGradDepth++;
  try {
    return fn();
  } finally {
    noGradDepth--;
  }
}
