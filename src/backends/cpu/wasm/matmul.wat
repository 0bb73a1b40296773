;; Float32 matrix-product kernels for the CPU backend, on WebAssembly SIMD (f32x4).
;;
;; Regenerate the embedded module after editing: `npm run build:wasm` (writes matmulWasm.generated.ts).
;; All pointers are byte offsets into `memory`; operands are read through byte strides, so a transposed
;; operand is the same code with its strides swapped.
;;
;; `gemm` is the general product, blocked GotoBLAS-style for the caches:
;;   for jc (NC = 2048 columns of B and C):
;;     for pc (KC = 256 steps of k):        pack B[pc.., jc..] into 8-column panels (KC x 8 floats, 8 KiB: L1)
;;       for ic (MC = 120 rows of A and C): pack A[ic.., pc..] into 5-row panels (MC x KC floats, 120 KiB: L2)
;;         for jr (8 columns), ir (5 rows): the 5x8 register kernel over KC steps, C = (first pc) or += the tile.
;; The 5x8 tile is the largest that stays in registers: V8 maps v128 onto the 16 xmm registers and keeps one or
;; two for itself; the ten accumulators, two B vectors, the broadcast A value and the product's temporary use
;; fourteen (6x8 spills, measured 25 vs 45-50 GFLOP/s). Unrolling by k makes V8 hoist the next step's loads
;; above this step's arithmetic and spill too, so the loop is not unrolled. Panels are zero-padded to 5 rows
;; and 8 columns; a tile past the edge of C is computed into a scratch tile and its valid part copied (by the
;; 5x4 kernel when at most 4 columns remain).
;; Products are one multiply and one add per step (no fused multiply-add in baseline SIMD; relaxed SIMD needs
;; a flag on Node 20); nothing is skipped, so NaN and Inf propagate exactly as in the naive loop. Measured
;; ~52 GFLOP/s from 128^3 to 1024^3 on a ~3.7 GHz AMD EPYC core, about 90% of the 16 flops per cycle its two
;; multiply and two add pipes allow on 4-lane vectors (single-thread AVX2 OpenBLAS there: ~60, per issue 13).
;;
;; `gemmNarrow` (with `packA4` and `transpose`) is the unblocked kernel kept for n < 8 and m < 5, where padding
;; to 8-column or 5-row panels would waste most of the work (matrix-vector, vector-matrix): A in 4-row panels,
;; B row-major in place, 4x8 / 4x4 tiles and a 4x1 column loop.
(module
  (memory (export "memory") 16)

  ;; The register kernel: a 5x8 tile of C = (add = 0) or += (add = 1) the product of a 5-row A panel (5 floats
  ;; per step) and 8 columns of B (8 floats per step, ldb bytes apart: a packed panel or B itself) over k steps.
  ;; Ten accumulators (two vectors per row) stay in registers; each step loads the B row once and broadcasts
  ;; each A value from memory.
  (func $kernel5x8 (param $a i32) (param $b i32) (param $ldb i32) (param $c i32) (param $ldc i32) (param $k i32) (param $add i32)
    (local $c0_0 v128) (local $c0_1 v128) (local $c1_0 v128) (local $c1_1 v128) (local $c2_0 v128) (local $c2_1 v128) (local $c3_0 v128) (local $c3_1 v128) (local $c4_0 v128) (local $c4_1 v128) (local $b0 v128) (local $b1 v128) (local $av v128)
    (block $done1 (loop $step1
        (br_if $done1 (i32.eqz (local.get $k)))
        (local.set $b0 (v128.load offset=0 (local.get $b)))
        (local.set $b1 (v128.load offset=16 (local.get $b)))
        (local.set $av (v128.load32_splat offset=0 (local.get $a)))
        (local.set $c0_0 (f32x4.add (local.get $c0_0) (f32x4.mul (local.get $av) (local.get $b0))))
        (local.set $c0_1 (f32x4.add (local.get $c0_1) (f32x4.mul (local.get $av) (local.get $b1))))
        (local.set $av (v128.load32_splat offset=4 (local.get $a)))
        (local.set $c1_0 (f32x4.add (local.get $c1_0) (f32x4.mul (local.get $av) (local.get $b0))))
        (local.set $c1_1 (f32x4.add (local.get $c1_1) (f32x4.mul (local.get $av) (local.get $b1))))
        (local.set $av (v128.load32_splat offset=8 (local.get $a)))
        (local.set $c2_0 (f32x4.add (local.get $c2_0) (f32x4.mul (local.get $av) (local.get $b0))))
        (local.set $c2_1 (f32x4.add (local.get $c2_1) (f32x4.mul (local.get $av) (local.get $b1))))
        (local.set $av (v128.load32_splat offset=12 (local.get $a)))
        (local.set $c3_0 (f32x4.add (local.get $c3_0) (f32x4.mul (local.get $av) (local.get $b0))))
        (local.set $c3_1 (f32x4.add (local.get $c3_1) (f32x4.mul (local.get $av) (local.get $b1))))
        (local.set $av (v128.load32_splat offset=16 (local.get $a)))
        (local.set $c4_0 (f32x4.add (local.get $c4_0) (f32x4.mul (local.get $av) (local.get $b0))))
        (local.set $c4_1 (f32x4.add (local.get $c4_1) (f32x4.mul (local.get $av) (local.get $b1))))
        (local.set $a (i32.add (local.get $a) (i32.const 20)))
        (local.set $b (i32.add (local.get $b) (local.get $ldb)))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (br $step1)))
    (if (local.get $add) (then
      (v128.store offset=0 (local.get $c) (f32x4.add (v128.load offset=0 (local.get $c)) (local.get $c0_0)))
      (v128.store offset=16 (local.get $c) (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c0_1)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store offset=0 (local.get $c) (f32x4.add (v128.load offset=0 (local.get $c)) (local.get $c1_0)))
      (v128.store offset=16 (local.get $c) (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c1_1)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store offset=0 (local.get $c) (f32x4.add (v128.load offset=0 (local.get $c)) (local.get $c2_0)))
      (v128.store offset=16 (local.get $c) (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c2_1)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store offset=0 (local.get $c) (f32x4.add (v128.load offset=0 (local.get $c)) (local.get $c3_0)))
      (v128.store offset=16 (local.get $c) (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c3_1)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store offset=0 (local.get $c) (f32x4.add (v128.load offset=0 (local.get $c)) (local.get $c4_0)))
      (v128.store offset=16 (local.get $c) (f32x4.add (v128.load offset=16 (local.get $c)) (local.get $c4_1)))
    ) (else
      (v128.store offset=0 (local.get $c) (local.get $c0_0))
      (v128.store offset=16 (local.get $c) (local.get $c0_1))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store offset=0 (local.get $c) (local.get $c1_0))
      (v128.store offset=16 (local.get $c) (local.get $c1_1))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store offset=0 (local.get $c) (local.get $c2_0))
      (v128.store offset=16 (local.get $c) (local.get $c2_1))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store offset=0 (local.get $c) (local.get $c3_0))
      (v128.store offset=16 (local.get $c) (local.get $c3_1))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store offset=0 (local.get $c) (local.get $c4_0))
      (v128.store offset=16 (local.get $c) (local.get $c4_1))
    )))

  ;; The 5x4 variant of $kernel5x8 for a last column panel of 1..4 columns: same B layout, only its first
  ;; vector is read, so a narrow edge costs half a tile instead of a whole one.
  (func $kernel5x4 (param $a i32) (param $b i32) (param $ldb i32) (param $c i32) (param $ldc i32) (param $k i32) (param $add i32)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128) (local $c4 v128) (local $b0 v128) (local $av v128)
    (block $done (loop $step
        (br_if $done (i32.eqz (local.get $k)))
        (local.set $b0 (v128.load (local.get $b)))
        (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (v128.load32_splat offset=0 (local.get $a)) (local.get $b0))))
        (local.set $c1 (f32x4.add (local.get $c1) (f32x4.mul (v128.load32_splat offset=4 (local.get $a)) (local.get $b0))))
        (local.set $c2 (f32x4.add (local.get $c2) (f32x4.mul (v128.load32_splat offset=8 (local.get $a)) (local.get $b0))))
        (local.set $c3 (f32x4.add (local.get $c3) (f32x4.mul (v128.load32_splat offset=12 (local.get $a)) (local.get $b0))))
        (local.set $c4 (f32x4.add (local.get $c4) (f32x4.mul (v128.load32_splat offset=16 (local.get $a)) (local.get $b0))))
        (local.set $a (i32.add (local.get $a) (i32.const 20)))
        (local.set $b (i32.add (local.get $b) (local.get $ldb)))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (br $step)))
    (if (local.get $add) (then
      (v128.store (local.get $c) (f32x4.add (v128.load (local.get $c)) (local.get $c0)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store (local.get $c) (f32x4.add (v128.load (local.get $c)) (local.get $c1)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store (local.get $c) (f32x4.add (v128.load (local.get $c)) (local.get $c2)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store (local.get $c) (f32x4.add (v128.load (local.get $c)) (local.get $c3)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store (local.get $c) (f32x4.add (v128.load (local.get $c)) (local.get $c4)))
    ) (else
      (v128.store (local.get $c) (local.get $c0))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store (local.get $c) (local.get $c1))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store (local.get $c) (local.get $c2))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store (local.get $c) (local.get $c3))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store (local.get $c) (local.get $c4))
    )))

  ;; Packs rows [0, mc) x cols [0, kc) of A (A[i,p] at src + i*rs + p*cs bytes) into 5-row panels at dst:
  ;; panel q, step p, row r at dst + ((q*kc + p)*5 + r)*4. Rows past mc are zero.
  (func $packA5 (param $src i32) (param $rs i32) (param $cs i32) (param $dst i32) (param $mc i32) (param $kc i32)
    (local $i i32) (local $r i32) (local $p i32) (local $s i32) (local $rows i32)
    (local $x0 v128) (local $x1 v128) (local $x2 v128) (local $x3 v128) (local $x4 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (block $done (loop $panel
      (br_if $done (i32.ge_u (local.get $i) (local.get $mc)))
      (local.set $rows (i32.sub (local.get $mc) (local.get $i)))
      (local.set $p (i32.const 0))
      (if (i32.ge_u (local.get $rows) (i32.const 5))
        (then
          (if (i32.eq (local.get $cs) (i32.const 4))
            (then
              ;; Row-major A: four steps at a time, a 4x4 transpose of rows 0..3 (one vector per row) and the
              ;; lanes of row 4.
              (local.set $s (local.get $src))
              (block $qd (loop $ql
                (br_if $qd (i32.gt_u (i32.add (local.get $p) (i32.const 4)) (local.get $kc)))
                (local.set $x0 (v128.load (local.get $s)))
                (local.set $x1 (v128.load (i32.add (local.get $s) (local.get $rs))))
                (local.set $x2 (v128.load (i32.add (local.get $s) (i32.shl (local.get $rs) (i32.const 1)))))
                (local.set $x3 (v128.load (i32.add (local.get $s) (i32.mul (local.get $rs) (i32.const 3)))))
                (local.set $x4 (v128.load (i32.add (local.get $s) (i32.shl (local.get $rs) (i32.const 2)))))
                ;; t0 = a0 b0 a1 b1, t1 = a2 b2 a3 b3 (rows 0, 1); t2, t3 the same of rows 2, 3.
                (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $x0) (local.get $x1)))
                (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $x0) (local.get $x1)))
                (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $x2) (local.get $x3)))
                (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $x2) (local.get $x3)))
                (v128.store offset=0 (local.get $dst)
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
                (f32.store offset=16 (local.get $dst) (f32x4.extract_lane 0 (local.get $x4)))
                (v128.store offset=20 (local.get $dst)
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
                (f32.store offset=36 (local.get $dst) (f32x4.extract_lane 1 (local.get $x4)))
                (v128.store offset=40 (local.get $dst)
                  (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
                (f32.store offset=56 (local.get $dst) (f32x4.extract_lane 2 (local.get $x4)))
                (v128.store offset=60 (local.get $dst)
                  (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
                (f32.store offset=76 (local.get $dst) (f32x4.extract_lane 3 (local.get $x4)))
                (local.set $s (i32.add (local.get $s) (i32.const 16)))
                (local.set $dst (i32.add (local.get $dst) (i32.const 80)))
                (local.set $p (i32.add (local.get $p) (i32.const 4)))
                (br $ql)))))
          (if (i32.eq (local.get $rs) (i32.const 4))
            (then
              ;; Transposed A: the five rows of a step are adjacent, one vector and one float.
              (local.set $s (local.get $src))
              (block $td (loop $tl
                (br_if $td (i32.ge_u (local.get $p) (local.get $kc)))
                (v128.store (local.get $dst) (v128.load (local.get $s)))
                (f32.store offset=16 (local.get $dst) (f32.load offset=16 (local.get $s)))
                (local.set $s (i32.add (local.get $s) (local.get $cs)))
                (local.set $dst (i32.add (local.get $dst) (i32.const 20)))
                (local.set $p (i32.add (local.get $p) (i32.const 1)))
                (br $tl)))))
          ;; Any strides, and the last steps of a row-major A.
          (block $pd (loop $pl
            (br_if $pd (i32.ge_u (local.get $p) (local.get $kc)))
            (local.set $s (i32.add (local.get $src) (i32.mul (local.get $p) (local.get $cs))))
            (f32.store offset=0 (local.get $dst) (f32.load (i32.add (local.get $s) (i32.mul (local.get $rs) (i32.const 0)))))
            (f32.store offset=4 (local.get $dst) (f32.load (i32.add (local.get $s) (i32.mul (local.get $rs) (i32.const 1)))))
            (f32.store offset=8 (local.get $dst) (f32.load (i32.add (local.get $s) (i32.mul (local.get $rs) (i32.const 2)))))
            (f32.store offset=12 (local.get $dst) (f32.load (i32.add (local.get $s) (i32.mul (local.get $rs) (i32.const 3)))))
            (f32.store offset=16 (local.get $dst) (f32.load (i32.add (local.get $s) (i32.mul (local.get $rs) (i32.const 4)))))
            (local.set $dst (i32.add (local.get $dst) (i32.const 20)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $pl))))
        (else
          (block $pd2 (loop $pl2
            (br_if $pd2 (i32.ge_u (local.get $p) (local.get $kc)))
            (local.set $s (i32.add (local.get $src) (i32.mul (local.get $p) (local.get $cs))))
            (local.set $r (i32.const 0))
            (block $rd (loop $rl
              (br_if $rd (i32.ge_u (local.get $r) (i32.const 5)))
              (f32.store (local.get $dst)
                (if (result f32) (i32.lt_u (local.get $r) (local.get $rows))
                  (then (f32.load (i32.add (local.get $s) (i32.mul (local.get $rs) (local.get $r)))))
                  (else (f32.const 0))))
              (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
              (local.set $r (i32.add (local.get $r) (i32.const 1)))
              (br $rl)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $pl2)))))
      (local.set $src (i32.add (local.get $src) (i32.mul (local.get $rs) (i32.const 5))))
      (local.set $i (i32.add (local.get $i) (i32.const 5)))
      (br $panel))))

  ;; Packs rows [0, kc) x cols [0, nc) of B (B[p,j] at src + p*rs + j*cs bytes) into 8-column panels at dst:
  ;; panel q, step p, column j at dst + ((q*kc + p)*8 + j)*4. Columns past nc are zero.
  (func $packB8 (param $src i32) (param $rs i32) (param $cs i32) (param $dst i32) (param $kc i32) (param $nc i32)
    (local $j i32) (local $c i32) (local $p i32) (local $s i32) (local $cols i32)
    (block $done (loop $panel
      (br_if $done (i32.ge_u (local.get $j) (local.get $nc)))
      (local.set $cols (i32.sub (local.get $nc) (local.get $j)))
      (local.set $s (local.get $src))
      (local.set $p (i32.const 0))
      (if (i32.and (i32.ge_u (local.get $cols) (i32.const 8)) (i32.eq (local.get $cs) (i32.const 4)))
        (then
          (block $pd (loop $pl
            (br_if $pd (i32.ge_u (local.get $p) (local.get $kc)))
            (v128.store offset=0 (local.get $dst) (v128.load offset=0 (local.get $s)))
            (v128.store offset=16 (local.get $dst) (v128.load offset=16 (local.get $s)))
            (local.set $s (i32.add (local.get $s) (local.get $rs)))
            (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $pl))))
        (else (if (i32.ge_u (local.get $cols) (i32.const 8))
          (then
            ;; A full panel of a transposed B: eight strided columns, unrolled.
            (block $pd3 (loop $pl3
              (br_if $pd3 (i32.ge_u (local.get $p) (local.get $kc)))
              (f32.store offset=0 (local.get $dst) (f32.load (i32.add (local.get $s) (i32.mul (local.get $cs) (i32.const 0)))))
              (f32.store offset=4 (local.get $dst) (f32.load (i32.add (local.get $s) (i32.mul (local.get $cs) (i32.const 1)))))
              (f32.store offset=8 (local.get $dst) (f32.load (i32.add (local.get $s) (i32.mul (local.get $cs) (i32.const 2)))))
              (f32.store offset=12 (local.get $dst) (f32.load (i32.add (local.get $s) (i32.mul (local.get $cs) (i32.const 3)))))
              (f32.store offset=16 (local.get $dst) (f32.load (i32.add (local.get $s) (i32.mul (local.get $cs) (i32.const 4)))))
              (f32.store offset=20 (local.get $dst) (f32.load (i32.add (local.get $s) (i32.mul (local.get $cs) (i32.const 5)))))
              (f32.store offset=24 (local.get $dst) (f32.load (i32.add (local.get $s) (i32.mul (local.get $cs) (i32.const 6)))))
              (f32.store offset=28 (local.get $dst) (f32.load (i32.add (local.get $s) (i32.mul (local.get $cs) (i32.const 7)))))
              (local.set $s (i32.add (local.get $s) (local.get $rs)))
              (local.set $dst (i32.add (local.get $dst) (i32.const 32)))
              (local.set $p (i32.add (local.get $p) (i32.const 1)))
              (br $pl3))))
        (else
          ;; The last, partial panel: zero past column nc.
          (block $pd2 (loop $pl2
            (br_if $pd2 (i32.ge_u (local.get $p) (local.get $kc)))
            (local.set $c (i32.const 0))
            (block $cd (loop $cl
              (br_if $cd (i32.ge_u (local.get $c) (i32.const 8)))
              (f32.store (local.get $dst)
                (if (result f32) (i32.lt_u (local.get $c) (local.get $cols))
                  (then (f32.load (i32.add (local.get $s) (i32.mul (local.get $cs) (local.get $c)))))
                  (else (f32.const 0))))
              (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
              (local.set $c (i32.add (local.get $c) (i32.const 1)))
              (br $cl)))
            (local.set $s (i32.add (local.get $s) (local.get $rs)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $pl2)))))))
      (local.set $src (i32.add (local.get $src) (i32.mul (local.get $cs) (i32.const 8))))
      (local.set $j (i32.add (local.get $j) (i32.const 8)))
      (br $panel))))

  ;; C[0..mr, 0..nr] (=|+=) tile[0..mr, 0..nr], tile row-major with 8 columns.
  (func $edge (param $t i32) (param $c i32) (param $ldc i32) (param $mr i32) (param $nr i32) (param $add i32)
    (local $i i32) (local $j i32)
    (block $done (loop $row
      (br_if $done (i32.ge_u (local.get $i) (local.get $mr)))
      (local.set $j (i32.const 0))
      (block $rd (loop $col
        (br_if $rd (i32.ge_u (local.get $j) (local.get $nr)))
        (f32.store (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2)))
          (if (result f32) (local.get $add)
            (then (f32.add (f32.load (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2))))
                           (f32.load (i32.add (local.get $t) (i32.shl (local.get $j) (i32.const 2))))))
            (else (f32.load (i32.add (local.get $t) (i32.shl (local.get $j) (i32.const 2)))))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $col)))
      (local.set $t (i32.add (local.get $t) (i32.const 32)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $row))))

  ;; C[m, n] (row-major, ldc bytes per row) = A[m, k] B[k, n], A[i,p] at a + i*ars + p*acs and B[p,j] at
  ;; b + p*brs + j*bcs (byte strides), k > 0. Workspace: pa (120x256 floats), pb (256x2048 floats), tile (5x8).
  ;; A small row-major B (k*n <= 16384 floats, so it stays in cache; bcs = 4) is read in place rather than
  ;; packed: the kernels then step ldb = brs bytes per k and read whole vectors past the last column, into
  ;; the next row or past B's end (so 28 bytes of memory must follow B); those lanes only reach tile columns
  ;; that are never copied out, since lanes never mix.
  (func (export "gemm") (param $a i32) (param $ars i32) (param $acs i32) (param $b i32) (param $brs i32) (param $bcs i32)
    (param $c i32) (param $ldc i32) (param $m i32) (param $n i32) (param $k i32) (param $pa i32) (param $pb i32) (param $tile i32)
    (local $jc i32) (local $pc i32) (local $ic i32) (local $jr i32) (local $ir i32)
    (local $nc i32) (local $kc i32) (local $mc i32) (local $mr i32) (local $nr i32) (local $add i32)
    (local $direct i32) (local $ldb i32) (local $bBlock i32) (local $bPanel i32) (local $panelStep i32)
    (local $aPanel i32) (local $cp i32)
    (local.set $direct (i32.and (i32.eq (local.get $bcs) (i32.const 4)) (i32.le_u (i32.mul (local.get $k) (local.get $n)) (i32.const 16384))))
    (local.set $ldb (select (local.get $brs) (i32.const 32) (local.get $direct)))
    (block $jdone (loop $jloop
      (br_if $jdone (i32.ge_u (local.get $jc) (local.get $n)))
      (local.set $nc (select (i32.const 2048) (i32.sub (local.get $n) (local.get $jc)) (i32.gt_u (i32.sub (local.get $n) (local.get $jc)) (i32.const 2048))))
      (local.set $pc (i32.const 0))
      (block $pdone (loop $ploop
        (br_if $pdone (i32.ge_u (local.get $pc) (local.get $k)))
        (local.set $kc (select (i32.const 256) (i32.sub (local.get $k) (local.get $pc)) (i32.gt_u (i32.sub (local.get $k) (local.get $pc)) (i32.const 256))))
        (local.set $add (i32.ne (local.get $pc) (i32.const 0)))
        ;; B[pc.., jc..]: in place (column panels 32 bytes apart) or packed (panels kc*32 bytes apart).
        (local.set $bBlock (i32.add (local.get $b) (i32.add (i32.mul (local.get $pc) (local.get $brs)) (i32.mul (local.get $jc) (local.get $bcs)))))
        (local.set $panelStep (i32.const 32))
        (if (i32.eqz (local.get $direct))
          (then
            (call $packB8 (local.get $bBlock) (local.get $brs) (local.get $bcs) (local.get $pb) (local.get $kc) (local.get $nc))
            (local.set $bBlock (local.get $pb))
            (local.set $panelStep (i32.shl (local.get $kc) (i32.const 5)))))
        (local.set $ic (i32.const 0))
        (block $idone (loop $iloop
          (br_if $idone (i32.ge_u (local.get $ic) (local.get $m)))
          (local.set $mc (select (i32.const 120) (i32.sub (local.get $m) (local.get $ic)) (i32.gt_u (i32.sub (local.get $m) (local.get $ic)) (i32.const 120))))
          (call $packA5 (i32.add (local.get $a) (i32.add (i32.mul (local.get $ic) (local.get $ars)) (i32.mul (local.get $pc) (local.get $acs))))
            (local.get $ars) (local.get $acs) (local.get $pa) (local.get $mc) (local.get $kc))
          (local.set $jr (i32.const 0))
          (local.set $bPanel (local.get $bBlock))
          (block $jrdone (loop $jrloop
            (br_if $jrdone (i32.ge_u (local.get $jr) (local.get $nc)))
            (local.set $nr (select (i32.const 8) (i32.sub (local.get $nc) (local.get $jr)) (i32.gt_u (i32.sub (local.get $nc) (local.get $jr)) (i32.const 8))))
            (local.set $ir (i32.const 0))
            (local.set $aPanel (local.get $pa))
            (local.set $cp (i32.add (local.get $c) (i32.add (i32.mul (local.get $ic) (local.get $ldc)) (i32.shl (i32.add (local.get $jc) (local.get $jr)) (i32.const 2)))))
            (block $irdone (loop $irloop
              (br_if $irdone (i32.ge_u (local.get $ir) (local.get $mc)))
              (local.set $mr (select (i32.const 5) (i32.sub (local.get $mc) (local.get $ir)) (i32.gt_u (i32.sub (local.get $mc) (local.get $ir)) (i32.const 5))))
              (if (i32.and (i32.eq (local.get $mr) (i32.const 5)) (i32.eq (local.get $nr) (i32.const 8)))
                (then (call $kernel5x8 (local.get $aPanel) (local.get $bPanel) (local.get $ldb) (local.get $cp) (local.get $ldc) (local.get $kc) (local.get $add)))
                (else
                  (if (i32.le_u (local.get $nr) (i32.const 4))
                    (then (call $kernel5x4 (local.get $aPanel) (local.get $bPanel) (local.get $ldb) (local.get $tile) (i32.const 32) (local.get $kc) (i32.const 0)))
                    (else (call $kernel5x8 (local.get $aPanel) (local.get $bPanel) (local.get $ldb) (local.get $tile) (i32.const 32) (local.get $kc) (i32.const 0))))
                  (call $edge (local.get $tile) (local.get $cp) (local.get $ldc) (local.get $mr) (local.get $nr) (local.get $add))))
              (local.set $aPanel (i32.add (local.get $aPanel) (i32.mul (local.get $kc) (i32.const 20))))
              (local.set $cp (i32.add (local.get $cp) (i32.mul (local.get $ldc) (i32.const 5))))
              (local.set $ir (i32.add (local.get $ir) (i32.const 5)))
              (br $irloop)))
            (local.set $bPanel (i32.add (local.get $bPanel) (local.get $panelStep)))
            (local.set $jr (i32.add (local.get $jr) (i32.const 8)))
            (br $jrloop)))
          (local.set $ic (i32.add (local.get $ic) (i32.const 120)))
          (br $iloop)))
        (local.set $pc (i32.add (local.get $pc) (i32.const 256)))
        (br $ploop)))
      (local.set $jc (i32.add (local.get $jc) (i32.const 2048)))
      (br $jloop))))

  ;; Packs A[i, p] = src[i*rs + p*cs] (byte strides, so both transposes are the same code) into 4-row panels
  ;; at dst, zero-filling rows m..roundUp(m, 4)-1. Walks one source row at a time: contiguous reads when A is
  ;; not transposed, and a fixed 16-byte step on the panel side either way.
  (func (export "packA4")
    (param $src i32) (param $dst i32) (param $m i32) (param $k i32) (param $rs i32) (param $cs i32)
    (local $row i32) (local $rows i32) (local $s i32) (local $d i32) (local $p i32)
    (local.set $rows (i32.and (i32.add (local.get $m) (i32.const 3)) (i32.const -4)))
    (block $done
      (loop $nextRow
        (br_if $done (i32.ge_u (local.get $row) (local.get $rows)))
        ;; d = dst + (row / 4) * k * 16 + (row % 4) * 4
        (local.set $d
          (i32.add (local.get $dst)
            (i32.add
              (i32.mul (i32.shr_u (local.get $row) (i32.const 2)) (i32.shl (local.get $k) (i32.const 4)))
              (i32.shl (i32.and (local.get $row) (i32.const 3)) (i32.const 2)))))
        (local.set $s (i32.add (local.get $src) (i32.mul (local.get $row) (local.get $rs))))
        (local.set $p (local.get $k))
        (if (i32.lt_u (local.get $row) (local.get $m))
          (then
            (block $copied
              (loop $copy
                (br_if $copied (i32.eqz (local.get $p)))
                (f32.store (local.get $d) (f32.load (local.get $s)))
                (local.set $s (i32.add (local.get $s) (local.get $cs)))
                (local.set $d (i32.add (local.get $d) (i32.const 16)))
                (local.set $p (i32.sub (local.get $p) (i32.const 1)))
                (br $copy))))
          (else
            (block $zeroed
              (loop $zero
                (br_if $zeroed (i32.eqz (local.get $p)))
                (f32.store (local.get $d) (f32.const 0))
                (local.set $d (i32.add (local.get $d) (i32.const 16)))
                (local.set $p (i32.sub (local.get $p) (i32.const 1)))
                (br $zero)))))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $nextRow))))

  ;; dst[c, r] = src[r, c] for a row-major src of shape [rows, cols]: turns a transposed B ([n, k] in memory)
  ;; into the row-major [k, n] the kernels read. Reads are contiguous; writes stride by rows.
  (func (export "transpose") (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32)
    (local $r i32) (local $c i32) (local $d i32) (local $step i32)
    (local.set $step (i32.shl (local.get $rows) (i32.const 2)))
    (block $done
      (loop $nextRow
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $d (i32.add (local.get $dst) (i32.shl (local.get $r) (i32.const 2))))
        (local.set $c (local.get $cols))
        (block $rowDone
          (loop $col
            (br_if $rowDone (i32.eqz (local.get $c)))
            (f32.store (local.get $d) (f32.load (local.get $src)))
            (local.set $src (i32.add (local.get $src) (i32.const 4)))
            (local.set $d (i32.add (local.get $d) (local.get $step)))
            (local.set $c (i32.sub (local.get $c) (i32.const 1)))
            (br $col)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $nextRow))))

  ;; One 4x8 tile of C: eight f32x4 accumulators (two vectors per row) stay in registers across the k loop;
  ;; each step loads one row of the B strip and broadcasts the four A values of the panel column. Stores only
  ;; the first mr rows.
  (func $tile4x8
    (param $a i32) (param $b i32) (param $ldb i32) (param $k i32) (param $c i32) (param $ldc i32) (param $mr i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $av v128)
    (block $done
      (loop $step
        (br_if $done (i32.eqz (local.get $k)))
        (local.set $b0 (v128.load (local.get $b)))
        (local.set $b1 (v128.load offset=16 (local.get $b)))
        (local.set $av (v128.load32_splat (local.get $a)))
        (local.set $c00 (f32x4.add (local.get $c00) (f32x4.mul (local.get $av) (local.get $b0))))
        (local.set $c01 (f32x4.add (local.get $c01) (f32x4.mul (local.get $av) (local.get $b1))))
        (local.set $av (v128.load32_splat offset=4 (local.get $a)))
        (local.set $c10 (f32x4.add (local.get $c10) (f32x4.mul (local.get $av) (local.get $b0))))
        (local.set $c11 (f32x4.add (local.get $c11) (f32x4.mul (local.get $av) (local.get $b1))))
        (local.set $av (v128.load32_splat offset=8 (local.get $a)))
        (local.set $c20 (f32x4.add (local.get $c20) (f32x4.mul (local.get $av) (local.get $b0))))
        (local.set $c21 (f32x4.add (local.get $c21) (f32x4.mul (local.get $av) (local.get $b1))))
        (local.set $av (v128.load32_splat offset=12 (local.get $a)))
        (local.set $c30 (f32x4.add (local.get $c30) (f32x4.mul (local.get $av) (local.get $b0))))
        (local.set $c31 (f32x4.add (local.get $c31) (f32x4.mul (local.get $av) (local.get $b1))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (local.get $ldb)))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (br $step)))
    (block $stored
      (v128.store (local.get $c) (local.get $c00))
      (v128.store offset=16 (local.get $c) (local.get $c01))
      (br_if $stored (i32.le_u (local.get $mr) (i32.const 1)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store (local.get $c) (local.get $c10))
      (v128.store offset=16 (local.get $c) (local.get $c11))
      (br_if $stored (i32.le_u (local.get $mr) (i32.const 2)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store (local.get $c) (local.get $c20))
      (v128.store offset=16 (local.get $c) (local.get $c21))
      (br_if $stored (i32.le_u (local.get $mr) (i32.const 3)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store (local.get $c) (local.get $c30))
      (v128.store offset=16 (local.get $c) (local.get $c31))))

  ;; The 4x4 tile for a column remainder of 4..7: $tile4x8 with one vector per row.
  (func $tile4x4
    (param $a i32) (param $b i32) (param $ldb i32) (param $k i32) (param $c i32) (param $ldc i32) (param $mr i32)
    (local $c0 v128) (local $c1 v128) (local $c2 v128) (local $c3 v128) (local $b0 v128)
    (block $done
      (loop $step
        (br_if $done (i32.eqz (local.get $k)))
        (local.set $b0 (v128.load (local.get $b)))
        (local.set $c0 (f32x4.add (local.get $c0) (f32x4.mul (v128.load32_splat (local.get $a)) (local.get $b0))))
        (local.set $c1
          (f32x4.add (local.get $c1) (f32x4.mul (v128.load32_splat offset=4 (local.get $a)) (local.get $b0))))
        (local.set $c2
          (f32x4.add (local.get $c2) (f32x4.mul (v128.load32_splat offset=8 (local.get $a)) (local.get $b0))))
        (local.set $c3
          (f32x4.add (local.get $c3) (f32x4.mul (v128.load32_splat offset=12 (local.get $a)) (local.get $b0))))
        (local.set $a (i32.add (local.get $a) (i32.const 16)))
        (local.set $b (i32.add (local.get $b) (local.get $ldb)))
        (local.set $k (i32.sub (local.get $k) (i32.const 1)))
        (br $step)))
    (block $stored
      (v128.store (local.get $c) (local.get $c0))
      (br_if $stored (i32.le_u (local.get $mr) (i32.const 1)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store (local.get $c) (local.get $c1))
      (br_if $stored (i32.le_u (local.get $mr) (i32.const 2)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store (local.get $c) (local.get $c2))
      (br_if $stored (i32.le_u (local.get $mr) (i32.const 3)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (v128.store (local.get $c) (local.get $c3))))

  ;; One column of a 4-row panel, for the last n % 4 columns (n = 1 is a common shape: matrix-vector). Here the
  ;; vector runs down the four rows instead: a panel column times a broadcast B element. Two accumulators over
  ;; alternate steps hide the add latency; they are summed at the end.
  (func $tile4x1
    (param $a i32) (param $b i32) (param $ldb i32) (param $k i32) (param $c i32) (param $ldc i32) (param $mr i32)
    (local $acc v128) (local $acc2 v128)
    (block $done
      (loop $step
        (br_if $done (i32.lt_u (local.get $k) (i32.const 2)))
        (local.set $acc
          (f32x4.add (local.get $acc) (f32x4.mul (v128.load (local.get $a)) (v128.load32_splat (local.get $b)))))
        (local.set $b (i32.add (local.get $b) (local.get $ldb)))
        (local.set $acc2
          (f32x4.add (local.get $acc2)
            (f32x4.mul (v128.load offset=16 (local.get $a)) (v128.load32_splat (local.get $b)))))
        (local.set $a (i32.add (local.get $a) (i32.const 32)))
        (local.set $b (i32.add (local.get $b) (local.get $ldb)))
        (local.set $k (i32.sub (local.get $k) (i32.const 2)))
        (br $step)))
    (if (local.get $k)
      (then
        (local.set $acc
          (f32x4.add (local.get $acc) (f32x4.mul (v128.load (local.get $a)) (v128.load32_splat (local.get $b)))))))
    (local.set $acc (f32x4.add (local.get $acc) (local.get $acc2)))
    (block $stored
      (f32.store (local.get $c) (f32x4.extract_lane 0 (local.get $acc)))
      (br_if $stored (i32.le_u (local.get $mr) (i32.const 1)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (f32.store (local.get $c) (f32x4.extract_lane 1 (local.get $acc)))
      (br_if $stored (i32.le_u (local.get $mr) (i32.const 2)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (f32.store (local.get $c) (f32x4.extract_lane 2 (local.get $acc)))
      (br_if $stored (i32.le_u (local.get $mr) (i32.const 3)))
      (local.set $c (i32.add (local.get $c) (local.get $ldc)))
      (f32.store (local.get $c) (f32x4.extract_lane 3 (local.get $acc)))))

  ;; C[m, n] = A[m, k] B[k, n] for one narrow matrix (n < 8 or m < 5): a = packA4 panels, b = row-major B, c = row-major C.
  ;; Every row panel sweeps the columns in 8-wide tiles, then one 4-wide tile, then single columns.
  (func (export "gemmNarrow") (param $a i32) (param $b i32) (param $c i32) (param $m i32) (param $n i32) (param $k i32)
    (local $i i32) (local $j i32) (local $mr i32) (local $ld i32) (local $panel i32) (local $n8 i32)
    (local.set $ld (i32.shl (local.get $n) (i32.const 2)))
    (local.set $panel (i32.shl (local.get $k) (i32.const 4)))
    (local.set $n8 (i32.and (local.get $n) (i32.const -8)))
    (block $done
      (loop $rows
        (br_if $done (i32.ge_u (local.get $i) (local.get $m)))
        (local.set $mr (i32.sub (local.get $m) (local.get $i)))
        (if (i32.gt_u (local.get $mr) (i32.const 4)) (then (local.set $mr (i32.const 4))))
        (local.set $j (i32.const 0))
        (block $wideDone
          (loop $wide
            (br_if $wideDone (i32.ge_u (local.get $j) (local.get $n8)))
            (call $tile4x8
              (local.get $a)
              (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2)))
              (local.get $ld)
              (local.get $k)
              (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2)))
              (local.get $ld)
              (local.get $mr))
            (local.set $j (i32.add (local.get $j) (i32.const 8)))
            (br $wide)))
        (if (i32.le_u (i32.add (local.get $j) (i32.const 4)) (local.get $n))
          (then
            (call $tile4x4
              (local.get $a)
              (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2)))
              (local.get $ld)
              (local.get $k)
              (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2)))
              (local.get $ld)
              (local.get $mr))
            (local.set $j (i32.add (local.get $j) (i32.const 4)))))
        (block $narrowDone
          (loop $narrow
            (br_if $narrowDone (i32.ge_u (local.get $j) (local.get $n)))
            (call $tile4x1
              (local.get $a)
              (i32.add (local.get $b) (i32.shl (local.get $j) (i32.const 2)))
              (local.get $ld)
              (local.get $k)
              (i32.add (local.get $c) (i32.shl (local.get $j) (i32.const 2)))
              (local.get $ld)
              (local.get $mr))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $narrow)))
        (local.set $a (i32.add (local.get $a) (local.get $panel)))
        (local.set $c (i32.add (local.get $c) (i32.shl (local.get $ld) (i32.const 2))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $rows))))
)
