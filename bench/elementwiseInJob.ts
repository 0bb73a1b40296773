/**
 * The float32 elementwise wasm path measured inside a real MAML job (issue 13), where operands come cold from
 * earlier ops and results land in fresh storage, which a micro-benchmark does not reproduce. Preloaded into
 * bench/fairWorker.ts:
 *
 * ```sh
 * node --import tsx --import ./bench/elementwiseInJob.ts bench/fairWorker.ts /tmp/fix omniglot:2:1 60 1
 * ```
 *
 * Each binary op the backend sends to wasm (same-shape or scalar operand) runs through one variant drawn at
 * random: whole operands copied in and the result out (the path before chunking), the shared instance
 * (chunks of ELEMENTWISE_CHUNK floats), chunks of 4096, a plain JS loop, or the wasm loop alone on its
 * scratch without any copy (the bound a storage living in wasm memory could reach; the op's result is then
 * computed again, untimed, by the shared instance). On exit it prints, per size band, the median wall
 * nanoseconds per element of each variant (medians, because a loaded machine preempts some calls) and the
 * call count. Every variant gives the same bits, so the job's losses are unchanged.
 */
import { ElementwiseWasm, elementwiseWasm } from '../src/backends/cpu/elementwiseWasm.js';

type Binary = (op: string, a: Float32Array, b: Float32Array, out: Float32Array) => boolean;

const shared = elementwiseWasm;
if (shared === undefined) throw new Error('elementwiseInJob: this engine has no WebAssembly SIMD');
const sharedBinary = shared.binary.bind(shared);
const whole = new ElementwiseWasm({ chunk: Number.POSITIVE_INFINITY });
const chunk4096 = new ElementwiseWasm({ chunk: 4096 });

type Loop = (a: Float32Array, b: Float32Array, out: Float32Array) => void;

/**
 * Plain JS loops, one monomorphic function per op and operand mode (through a shared function calling an op
 * closure per element they would be several times slower); a single-value operand is read once.
 */
function jsLoops(expr: string): readonly [vv: Loop, vs: Loop, sv: Loop] {
  const make = (body: string) => new Function('A', 'B', 'O', body) as Loop;
  return [
    make(`for (let i = 0, n = O.length; i < n; i++) { const a = A[i], b = B[i]; O[i] = ${expr}; }`),
    make(`const b = B[0]; for (let i = 0, n = O.length; i < n; i++) { const a = A[i]; O[i] = ${expr}; }`),
    make(`const a = A[0]; for (let i = 0, n = O.length; i < n; i++) { const b = B[i]; O[i] = ${expr}; }`),
  ];
}
const JS_LOOPS: Record<string, readonly [Loop, Loop, Loop]> = {
  add: jsLoops('a + b'),
  sub: jsLoops('a - b'),
  mul: jsLoops('a * b'),
  div: jsLoops('a / b'),
};

function jsBinary(op: string, a: Float32Array, b: Float32Array, out: Float32Array): boolean {
  const n = out.length;
  JS_LOOPS[op]![a.length === n ? (b.length === n ? 0 : 1) : 2](a, b, out);
  return true;
}

/**
 * The wasm loop alone over `whole`'s scratch (whatever it holds): reaches into the instance's private
 * members, which only this measurement needs.
 */
function loopOnly(op: string, a: Float32Array, b: Float32Array, out: Float32Array): boolean {
  const n = out.length;
  const inner = whole as unknown as {
    reserve(floats: number): boolean;
    binaryFns: Map<string, readonly ((a: number, b: number, o: number, n: number) => void)[]>;
  };
  if (!inner.reserve(2 * n + 64)) return false;
  const mode = a.length === n ? (b.length === n ? 0 : 1) : 2;
  inner.binaryFns.get(op)![mode]!(0, (n + 16) * 4, 0, n);
  return true;
}

const VARIANTS: Record<string, Binary> = {
  'whole copy': (op, a, b, o) => whole.binary(op, a, b, o),
  shared: sharedBinary,
  'chunk 4096': (op, a, b, o) => chunk4096.binary(op, a, b, o),
  'JS loop': jsBinary,
  'loop only': loopOnly,
};
const NAMES = Object.keys(VARIANTS);
const BANDS = [128, 256, 512, 1024, 4096, 16384, 65536, Number.POSITIVE_INFINITY];
const samples = new Map<string, number[]>();

const band = (n: number): string => {
  const i = BANDS.findIndex((b) => n < b);
  return i <= 0 ? `<${BANDS[0]}` : `${BANDS[i - 1]}-${BANDS[i]! - 1}`;
};

shared.binary = (op, a, b, out) => {
  const name = NAMES[Math.floor(Math.random() * NAMES.length)]!;
  const t0 = process.hrtime.bigint();
  let done = VARIANTS[name]!(op, a, b, out);
  const ns = Number(process.hrtime.bigint() - t0);
  if (name === 'loop only') done = sharedBinary(op, a, b, out);
  const key = `${band(out.length)}|${name}`;
  const list = samples.get(key) ?? [];
  list.push(ns / out.length);
  samples.set(key, list);
  return done;
};

process.on('exit', () => {
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
  console.error(
    `elementwise binary in the job: median wall ns per element (calls)\nelements\t${NAMES.join('\t')}`,
  );
  const bands = [...new Set([...samples.keys()].map((k) => k.split('|')[0]!))].sort(
    (x, y) => Number.parseInt(x.replace('<', ''), 10) - Number.parseInt(y.replace('<', ''), 10),
  );
  for (const b of bands) {
    const cells = NAMES.map((name) => {
      const xs = samples.get(`${b}|${name}`);
      return xs ? `${median(xs).toFixed(3)} (${xs.length})` : '-';
    });
    console.error(`${b}\t${cells.join('\t')}`);
  }
});
