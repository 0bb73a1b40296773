;; Adam's float32 moment update for the CPU backend, on WebAssembly SIMD (f32x4).
;;
;; Regenerate the embedded module after editing: `npm run build:wasm` (writes adamWasm.generated.ts).
;; The caller (adamWasm.ts) streams a tensor through in chunks that fit the one page of memory, so the
;; module never grows and the three chunks stay in L1 between the copies in, this pass and the copies out.
;;
;; Per element, in this order and each rounded to float32 (every f32x4 op is the IEEE binary32 operation, so
;; this is bit for bit the composition of the float32 ops `add`, `sub`, `mul`, `square`, `sqrt`, `div`):
;;   m' = m + (g - m) * s1
;;   v' = v + (g * g - v) * s2
;;   u  = (m' / (sqrt(v' [+ epsRoot]) + epsHat)) * scale
;; `+ epsRoot` is skipped (not added as 0) when the caller says so, as the composition skips it: adding +0
;; would turn a -0 into +0.
(module
  (memory (export "memory") 2)

  ;; g, m and v: byte offsets of n floats each (g's chunk, 16-byte aligned). m' overwrites m, v' overwrites v,
  ;; u overwrites g; each lane is read before it is written.
  (func (export "adam") (param $g i32) (param $m i32) (param $v i32) (param $n i32)
    (param $s1 f32) (param $s2 f32) (param $epsRoot f32) (param $epsHat f32) (param $scale f32) (param $withRoot i32)
    (local $end i32) (local $vend i32)
    (local $vs1 v128) (local $vs2 v128) (local $veps v128) (local $vhat v128) (local $vscale v128)
    (local $gi v128) (local $mn v128) (local $vn v128) (local $root v128)
    (local $sg f32) (local $smn f32) (local $svn f32) (local $sroot f32)
    (local.set $end (i32.add (local.get $g) (i32.shl (local.get $n) (i32.const 2))))
    (local.set $vend (i32.add (local.get $g) (i32.shl (i32.and (local.get $n) (i32.const -4)) (i32.const 2))))
    (local.set $vs1 (f32x4.splat (local.get $s1)))
    (local.set $vs2 (f32x4.splat (local.get $s2)))
    (local.set $veps (f32x4.splat (local.get $epsRoot)))
    (local.set $vhat (f32x4.splat (local.get $epsHat)))
    (local.set $vscale (f32x4.splat (local.get $scale)))
    (block $vdone
      (br_if $vdone (i32.ge_u (local.get $g) (local.get $vend)))
      (loop $vloop
        (local.set $gi (v128.load (local.get $g)))
        (local.set $mn (v128.load (local.get $m)))
        (local.set $mn
          (f32x4.add (local.get $mn) (f32x4.mul (f32x4.sub (local.get $gi) (local.get $mn)) (local.get $vs1))))
        (local.set $vn (v128.load (local.get $v)))
        (local.set $vn
          (f32x4.add
            (local.get $vn)
            (f32x4.mul (f32x4.sub (f32x4.mul (local.get $gi) (local.get $gi)) (local.get $vn)) (local.get $vs2))))
        (local.set $root
          (f32x4.sqrt
            (if (result v128) (local.get $withRoot)
              (then (f32x4.add (local.get $vn) (local.get $veps)))
              (else (local.get $vn)))))
        (v128.store (local.get $m) (local.get $mn))
        (v128.store (local.get $v) (local.get $vn))
        (v128.store (local.get $g)
          (f32x4.mul
            (f32x4.div (local.get $mn) (f32x4.add (local.get $root) (local.get $vhat)))
            (local.get $vscale)))
        (local.set $g (i32.add (local.get $g) (i32.const 16)))
        (local.set $m (i32.add (local.get $m) (i32.const 16)))
        (local.set $v (i32.add (local.get $v) (i32.const 16)))
        (br_if $vloop (i32.lt_u (local.get $g) (local.get $vend)))))
    ;; The last n mod 4 elements, the same operations one lane at a time.
    (block $done
      (br_if $done (i32.ge_u (local.get $g) (local.get $end)))
      (loop $tail
        (local.set $sg (f32.load (local.get $g)))
        (local.set $smn (f32.load (local.get $m)))
        (local.set $smn
          (f32.add (local.get $smn) (f32.mul (f32.sub (local.get $sg) (local.get $smn)) (local.get $s1))))
        (local.set $svn (f32.load (local.get $v)))
        (local.set $svn
          (f32.add
            (local.get $svn)
            (f32.mul (f32.sub (f32.mul (local.get $sg) (local.get $sg)) (local.get $svn)) (local.get $s2))))
        (local.set $sroot
          (f32.sqrt
            (if (result f32) (local.get $withRoot)
              (then (f32.add (local.get $svn) (local.get $epsRoot)))
              (else (local.get $svn)))))
        (f32.store (local.get $m) (local.get $smn))
        (f32.store (local.get $v) (local.get $svn))
        (f32.store (local.get $g)
          (f32.mul (f32.div (local.get $smn) (f32.add (local.get $sroot) (local.get $epsHat))) (local.get $scale)))
        (local.set $g (i32.add (local.get $g) (i32.const 4)))
        (local.set $m (i32.add (local.get $m) (i32.const 4)))
        (local.set $v (i32.add (local.get $v) (i32.const 4)))
        (br_if $tail (i32.lt_u (local.get $g) (local.get $end))))))
)
