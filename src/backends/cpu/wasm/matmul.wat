;; Float32 matrix-product kernels for the CPU backend, on WebAssembly SIMD (f32x4).
;;
;; Regenerate the embedded module after editing: `npm run build:wasm` (writes matmulWasm.generated.ts).
;;
;; Layout contract with the JS driver (matmulWasm.ts), all pointers are byte offsets into `memory`:
;;  - A is first packed by `packA` into panels of 4 rows: panel q holds rows 4q..4q+3 interleaved by column,
;;    element (r, p) at panel + (p*4 + r)*4. Rows past m are zero, so the kernels never need a row remainder
;;    path (the padded rows are computed and simply not stored).
;;  - B is row-major [k, n] (a transposed B is first transposed by `transpose`), read in place.
;;  - C is row-major [m, n].
;; Products are one multiply and one add per step (no fused multiply-add in baseline SIMD); nothing is skipped,
;; so NaN and Inf propagate exactly as in the naive loop.
(module
  (memory (export "memory") 16)

  ;; Packs A[i, p] = src[i*rs + p*cs] (byte strides, so both transposes are the same code) into 4-row panels
  ;; at dst, zero-filling rows m..roundUp(m, 4)-1. Walks one source row at a time: contiguous reads when A is
  ;; not transposed, and a fixed 16-byte step on the panel side either way.
  (func (export "packA")
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

  ;; C[m, n] = A[m, k] B[k, n] for one matrix: a = packed A panels, b = row-major B, c = row-major C.
  ;; Every row panel sweeps the columns in 8-wide tiles, then one 4-wide tile, then single columns.
  (func (export "gemm") (param $a i32) (param $b i32) (param $c i32) (param $m i32) (param $n i32) (param $k i32)
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
