// Generates elementwise.wat (float32 SIMD loops for the hottest elementwise kernels) and assembles it into
// elementwiseWasm.generated.ts (the module as base64), so that neither the runtime nor CI needs a WebAssembly
// toolchain. Run `node src/backends/cpu/wasm/buildElementwise.mjs` after editing; wabt is a dev dependency only.
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import initWabt from 'wabt';

const here = (name) => fileURLToPath(new URL(name, import.meta.url));

// Every loop works on byte offsets into memory: a full 4-lane body, then a scalar tail. Each lane's result is
// the IEEE binary32 result of the op, which is what JS computes for these ops too (double rounding of +, -,
// *, / from float32 operands through float64 is exact), and the select-style ops mirror the JS formulas
// bit for bit (NaN and -0 included): relu = x > 0 ? x : +0, step = x > 0 ? 1 : 0.
const BIN = { add: 'add', sub: 'sub', mul: 'mul', div: 'div' };

/** Binary op over (vector a, vector b) with b either streamed or splat; mode: 'vv' | 'vs' | 'sv'. */
function binary(name, op, mode) {
  const loadA = mode === 'sv' ? '(local.get $va)' : '(v128.load (local.get $a))';
  const loadB = mode === 'vs' ? '(local.get $vb)' : '(v128.load (local.get $b))';
  const tailA = mode === 'sv' ? '(local.get $sa)' : '(f32.load (local.get $a))';
  const tailB = mode === 'vs' ? '(local.get $sb)' : '(f32.load (local.get $b))';
  const stepA = mode === 'sv' ? '' : '(local.set $a (i32.add (local.get $a) (i32.const 16)))';
  const stepB = mode === 'vs' ? '' : '(local.set $b (i32.add (local.get $b) (i32.const 16)))';
  const tstepA = mode === 'sv' ? '' : '(local.set $a (i32.add (local.get $a) (i32.const 4)))';
  const tstepB = mode === 'vs' ? '' : '(local.set $b (i32.add (local.get $b) (i32.const 4)))';
  return `
  (func (export "${name}") (param $a i32) (param $b i32) (param $o i32) (param $n i32)
    (local $end i32) (local $vend i32) (local $va v128) (local $vb v128) (local $sa f32) (local $sb f32)
    (local.set $end (i32.add (local.get $o) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $o) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    ${mode === 'sv' ? '(local.set $sa (f32.load (local.get $a))) (local.set $va (f32x4.splat (local.get $sa)))' : ''}
    ${mode === 'vs' ? '(local.set $sb (f32.load (local.get $b))) (local.set $vb (f32x4.splat (local.get $sb)))' : ''}
    (block $vdone
      (br_if $vdone (i32.ge_u (local.get $o) (local.get $vend)))
      (loop $v
        (v128.store (local.get $o) (f32x4.${op} ${loadA} ${loadB}))
        ${stepA} ${stepB}
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (br_if $v (i32.lt_u (local.get $o) (local.get $vend)))))
    (block $done
      (br_if $done (i32.ge_u (local.get $o) (local.get $end)))
      (loop $t
        (f32.store (local.get $o) (f32.${op} ${tailA} ${tailB}))
        ${tstepA} ${tstepB}
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (br_if $t (i32.lt_u (local.get $o) (local.get $end))))))`;
}

/**
 * Binary op of a full operand (p x q rows of r) and a [p, r] block of rows repeated along q (a bias row per
 * task, say): 'vr' computes full op rows, 'rv' rows op full. The output may be the full operand's memory
 * (each element is read before it is written).
 */
function rows(name, op, mode) {
  const x = '(v128.load (local.get $a))';
  const y = '(v128.load (i32.add (local.get $brow) (local.get $j4)))';
  const sx = '(f32.load (local.get $a))';
  const sy = '(f32.load (i32.add (local.get $brow) (local.get $j4)))';
  const [va, vb] = mode === 'vr' ? [x, y] : [y, x];
  const [sa, sb] = mode === 'vr' ? [sx, sy] : [sy, sx];
  return `
  (func (export "${name}") (param $a i32) (param $b i32) (param $o i32) (param $p i32) (param $q i32) (param $r i32)
    (local $pi i32) (local $qi i32) (local $j4 i32) (local $rb i32) (local $rvb i32) (local $brow i32)
    (local.set $rb (i32.shl (local.get $r) (i32.const 2)))
    (local.set $rvb (i32.shl (i32.and (local.get $r) (i32.const -4)) (i32.const 2)))
    (local.set $brow (local.get $b))
    (block $pdone
      (br_if $pdone (i32.ge_s (local.get $pi) (local.get $p)))
      (loop $ploop
        (local.set $qi (i32.const 0))
        (block $qdone
          (br_if $qdone (i32.ge_s (local.get $qi) (local.get $q)))
          (loop $qloop
            (local.set $j4 (i32.const 0))
            (block $vdone
              (br_if $vdone (i32.ge_u (local.get $j4) (local.get $rvb)))
              (loop $v
                (v128.store (local.get $o) (f32x4.${op} ${va} ${vb}))
                (local.set $a (i32.add (local.get $a) (i32.const 16)))
                (local.set $o (i32.add (local.get $o) (i32.const 16)))
                (local.set $j4 (i32.add (local.get $j4) (i32.const 16)))
                (br_if $v (i32.lt_u (local.get $j4) (local.get $rvb)))))
            (block $tdone
              (br_if $tdone (i32.ge_u (local.get $j4) (local.get $rb)))
              (loop $t
                (f32.store (local.get $o) (f32.${op} ${sa} ${sb}))
                (local.set $a (i32.add (local.get $a) (i32.const 4)))
                (local.set $o (i32.add (local.get $o) (i32.const 4)))
                (local.set $j4 (i32.add (local.get $j4) (i32.const 4)))
                (br_if $t (i32.lt_u (local.get $j4) (local.get $rb)))))
            (local.set $qi (i32.add (local.get $qi) (i32.const 1)))
            (br_if $qloop (i32.lt_s (local.get $qi) (local.get $q)))))
        (local.set $brow (i32.add (local.get $brow) (local.get $rb)))
        (local.set $pi (i32.add (local.get $pi) (i32.const 1)))
        (br_if $ploop (i32.lt_s (local.get $pi) (local.get $p))))))`;
}

/** Unary op: vector and scalar bodies as functions of a value expression. */
function unary(name, vec, scal) {
  return `
  (func (export "${name}") (param $x i32) (param $o i32) (param $n i32)
    (local $end i32) (local $vend i32) (local $v v128) (local $s f32)
    (local.set $end (i32.add (local.get $o) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $o) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (block $vdone
      (br_if $vdone (i32.ge_u (local.get $o) (local.get $vend)))
      (loop $l
        (local.set $v (v128.load (local.get $x)))
        (v128.store (local.get $o) ${vec})
        (local.set $x (i32.add (local.get $x) (i32.const 16)))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (br_if $l (i32.lt_u (local.get $o) (local.get $vend)))))
    (block $done
      (br_if $done (i32.ge_u (local.get $o) (local.get $end)))
      (loop $t
        (local.set $s (f32.load (local.get $x)))
        (f32.store (local.get $o) ${scal})
        (local.set $x (i32.add (local.get $x) (i32.const 4)))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (br_if $t (i32.lt_u (local.get $o) (local.get $end))))))`;
}

const zero = '(v128.const f32x4 0 0 0 0)';
const one = '(v128.const f32x4 1 1 1 1)';
const funcs = [];
for (const [name, op] of Object.entries(BIN)) {
  funcs.push(binary(`${name}_vv`, op, 'vv'), binary(`${name}_vs`, op, 'vs'), binary(`${name}_sv`, op, 'sv'));
}
funcs.push(
  unary(
    'relu',
    `(v128.and (local.get $v) (f32x4.gt (local.get $v) ${zero}))`,
    '(select (local.get $s) (f32.const 0) (f32.gt (local.get $s) (f32.const 0)))',
  ),
  unary(
    'step',
    `(v128.and ${one} (f32x4.gt (local.get $v) ${zero}))`,
    '(select (f32.const 1) (f32.const 0) (f32.gt (local.get $s) (f32.const 0)))',
  ),
  unary('neg', '(f32x4.neg (local.get $v))', '(f32.neg (local.get $s))'),
  unary('square', '(f32x4.mul (local.get $v) (local.get $v))', '(f32.mul (local.get $s) (local.get $s))'),
  unary('sqrt', '(f32x4.sqrt (local.get $v))', '(f32.sqrt (local.get $s))'),
);

// Column sums: x holds p blocks of [q, r]; o[pi, j] = ((0 + x[pi, 0, j]) + x[pi, 1, j]) + ..., in float32 after
// every addition, which is exactly the order and rounding of the JS reduction that accumulates into a
// float32 output row by row.
funcs.push(`
  (func (export "colsum") (param $x i32) (param $o i32) (param $p i32) (param $q i32) (param $r i32)
    (local $row i32) (local $rv i32) (local $pi i32) (local $j i32) (local $k i32) (local $ptr i32)
    (local $acc v128) (local $s f32)
    (local.set $row (i32.shl (local.get $r) (i32.const 2)))
    (local.set $rv (i32.and (local.get $r) (i32.const -4)))
    (block $pdone
      (br_if $pdone (i32.ge_s (local.get $pi) (local.get $p)))
      (loop $ploop
        (local.set $j (i32.const 0))
        (block $vdone
          (br_if $vdone (i32.ge_s (local.get $j) (local.get $rv)))
          (loop $vloop
            (local.set $acc (v128.const f32x4 0 0 0 0))
            (local.set $ptr (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $k (i32.const 0))
            (block $kdone
              (br_if $kdone (i32.ge_s (local.get $k) (local.get $q)))
              (loop $kloop
                (local.set $acc (f32x4.add (local.get $acc) (v128.load (local.get $ptr))))
                (local.set $ptr (i32.add (local.get $ptr) (local.get $row)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br_if $kloop (i32.lt_s (local.get $k) (local.get $q)))))
            (v128.store (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2))) (local.get $acc))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))
            (br_if $vloop (i32.lt_s (local.get $j) (local.get $rv)))))
        (block $tdone
          (br_if $tdone (i32.ge_s (local.get $j) (local.get $r)))
          (loop $tloop
            (local.set $s (f32.const 0))
            (local.set $ptr (i32.add (local.get $x) (i32.shl (local.get $j) (i32.const 2))))
            (local.set $k (i32.const 0))
            (block $kdone2
              (br_if $kdone2 (i32.ge_s (local.get $k) (local.get $q)))
              (loop $kloop2
                (local.set $s (f32.add (local.get $s) (f32.load (local.get $ptr))))
                (local.set $ptr (i32.add (local.get $ptr) (local.get $row)))
                (local.set $k (i32.add (local.get $k) (i32.const 1)))
                (br_if $kloop2 (i32.lt_s (local.get $k) (local.get $q)))))
            (f32.store (i32.add (local.get $o) (i32.shl (local.get $j) (i32.const 2))) (local.get $s))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br_if $tloop (i32.lt_s (local.get $j) (local.get $r)))))
        (local.set $x (i32.add (local.get $x) (i32.mul (local.get $q) (local.get $row))))
        (local.set $o (i32.add (local.get $o) (local.get $row)))
        (local.set $pi (i32.add (local.get $pi) (i32.const 1)))
        (br_if $ploop (i32.lt_s (local.get $pi) (local.get $p))))))`);

// Appended last, so the functions above keep their indices (profiles name wasm functions by index).
for (const [name, op] of Object.entries(BIN))
  funcs.push(rows(`${name}_vr`, op, 'vr'), rows(`${name}_rv`, op, 'rv'));

const source = `;; Generated by buildElementwise.mjs. Do not edit.
(module
  (memory (export "memory") 1)${funcs.join('\n')})
`;
await writeFile(here('elementwise.wat'), source);
const wabt = await initWabt();
const module = wabt.parseWat('elementwise.wat', source, { simd: true });
module.validate();
const { buffer } = module.toBinary({});
module.destroy();
const base64 = Buffer.from(buffer).toString('base64');
const text = `// Generated by src/backends/cpu/wasm/buildElementwise.mjs (elementwise.wat). Do not edit.

/** The float32 elementwise kernels (elementwise.wat) as a base64 WebAssembly module, ${buffer.length} bytes. */
export const elementwiseWasmBase64 =
  '${base64}';
`;
await writeFile(here('elementwiseWasm.generated.ts'), text);
console.log(`elementwiseWasm.generated.ts: ${buffer.length} bytes of wasm`);
