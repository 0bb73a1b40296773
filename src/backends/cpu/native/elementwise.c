/*
 * Float32 elementwise loops of the native addon: the same ops, operand layouts and results (bit for bit,
 * NaN and -0 included) as the WebAssembly SIMD loops in ../wasm/elementwise.wat, run on the tensors' own
 * storage. The wasm loops must copy every operand into wasm memory and the result out again, which costs
 * more than the arithmetic; here there is nothing to copy, and the loops are as wide as the CPU's vectors.
 *
 * Each loop is compiled for AVX-512, AVX2 and baseline x86-64 (GCC's target_clones; the loader picks one by
 * the CPU it runs on), so an addon built on one machine runs on another. No -ffast-math: sums keep their
 * order and every result rounds as the JS loops round it.
 */
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "native.h"

/*
 * Runs a checked call now, or queues it with the memory it touches (native_enqueue) where this thread queues
 * its kernels; the ranges are built only then, so a direct call pays one check.
 */
#define RUN_OR_QUEUE(exec, call, big, ...)                                                            \
  do {                                                                                                 \
    if (native_queued()) {                                                                             \
      const native_range ranges_[] = {__VA_ARGS__};                                                    \
      native_enqueue(exec, &(call), sizeof(call), ranges_, (int)(sizeof ranges_ / sizeof *ranges_), big); \
    } else                                                                                             \
      exec(&(call));                                                                                   \
  } while (0)

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define WIDE __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define WIDE
#endif

/* Op codes, shared with elementwise.ts (NATIVE_BINARY_OPS / NATIVE_UNARY_OPS order). */
enum { ADD, SUB, MUL, DIV };
enum { RELU, STEP, NEG, SQUARE, SQRT, RECIPROCAL, ABS, SIGN, EXP, LOG };
#include <math.h>

#define BINARY_LOOPS(name, expr)                                                                  \
  WIDE static void name##_vv(const float *a, const float *b, float *o, \
                             size_t n) {                                                          \
    for (size_t i = 0; i < n; i++) {                                                              \
      const float x = a[i], y = b[i];                                                             \
      o[i] = expr;                                                                                \
    }                                                                                             \
  }                                                                                               \
  WIDE static void name##_vs(const float *a, float y, float *o, size_t n) {     \
    for (size_t i = 0; i < n; i++) {                                                              \
      const float x = a[i];                                                                       \
      o[i] = expr;                                                                                \
    }                                                                                             \
  }                                                                                               \
  WIDE static void name##_sv(float x, const float *b, float *o, size_t n) {     \
    for (size_t i = 0; i < n; i++) {                                                              \
      const float y = b[i];                                                                       \
      o[i] = expr;                                                                                \
    }                                                                                             \
  }                                                                                               \
  /* full [p, q, r] op rows [p, r] repeated along q (rows_first: rows op full) */                 \
  WIDE static void name##_rows(const float *full, const float *rows,            \
                               float *o, size_t p, size_t q, size_t r, bool rows_first) { \
    for (size_t pi = 0; pi < p; pi++)                                                             \
      for (size_t qi = 0; qi < q; qi++) {                                                         \
        const float *f = full + (pi * q + qi) * r;                                                \
        const float *w = rows + pi * r;                                                           \
        float *d = o + (pi * q + qi) * r;                                                         \
        if (rows_first)                                                                           \
          for (size_t j = 0; j < r; j++) {                                                        \
            const float x = w[j], y = f[j];                                                       \
            d[j] = expr;                                                                          \
          }                                                                                       \
        else                                                                                      \
          for (size_t j = 0; j < r; j++) {                                                        \
            const float x = f[j], y = w[j];                                                       \
            d[j] = expr;                                                                          \
          }                                                                                       \
      }                                                                                           \
  }

BINARY_LOOPS(add, x + y)
BINARY_LOOPS(sub, x - y)
BINARY_LOOPS(mul, x * y)
BINARY_LOOPS(div, x / y)

#define UNARY_LOOP(name, expr)                                                         \
  WIDE static void name(const float *a, float *o, size_t n) {        \
    for (size_t i = 0; i < n; i++) {                                                   \
      const float x = a[i];                                                            \
      o[i] = expr;                                                                     \
    }                                                                                  \
  }

UNARY_LOOP(relu_loop, x > 0.0f ? x : 0.0f)
UNARY_LOOP(step_loop, x > 0.0f ? 1.0f : 0.0f)
UNARY_LOOP(neg_loop, -x)
UNARY_LOOP(square_loop, x *x)
UNARY_LOOP(sqrt_loop, __builtin_sqrtf(x))
/* 1 / x rounded once to float32, as JS's 1 / x in float64 then stored: the same number (float64 has more
 * than twice float32's precision, so rounding twice cannot differ for a quotient). */
UNARY_LOOP(reciprocal_loop, 1.0f / x)
UNARY_LOOP(abs_loop, __builtin_fabsf(x))
UNARY_LOOP(sign_loop, x > 0.0f ? 1.0f : x < 0.0f ? -1.0f : 0.0f)
/* exp and log in float64 rounded to float32, as JS's Math.exp and Math.log stored to a Float32Array: the C
 * library's and V8's float64 results can differ in their last bit, which changes the float32 result only when
 * it lies within that bit of a rounding boundary (test/backends/cpu/kernelQueue.test.ts compares them). Used
 * only in queue mode, where a JS loop would first wait for the queue. */
static void exp_loop(const float *a, float *o, size_t n) {
  for (size_t i = 0; i < n; i++) o[i] = (float)exp((double)a[i]);
}
static void log_loop(const float *a, float *o, size_t n) {
  for (size_t i = 0; i < n; i++) o[i] = (float)log((double)a[i]);
}

/* out[p0:p1, j0:j1] of out[p, r] = sum over q of x[p, q, r], adding the q rows in order in float32 (so any
 * split of p or of the columns gives the same sums). */
WIDE static void colsum_loop(const float *x, float *o, size_t p0, size_t p1, size_t q, size_t r, size_t j0,
                             size_t j1) {
  for (size_t pi = p0; pi < p1; pi++) {
    float *d = o + pi * r;
    const float *s = x + pi * q * r;
    for (size_t j = j0; j < j1; j++) d[j] = s[j];
    for (size_t qi = 1; qi < q; qi++)
      for (size_t j = j0; j < j1; j++) d[j] += s[qi * r + j];
  }
}

/* Ops of strided(): every binary op but pow (libm's powf and Math.pow round differently), coded in the order
 * of BINARY_OPS (src/backends/backend.ts) without pow, as elementwise.ts's STRIDED_CODES derives them. */
#define STRIDED_OPS(X)                 \
  X(0, s_add, x + y)                   \
  X(1, s_sub, x - y)                   \
  X(2, s_mul, x * y)                   \
  X(3, s_div, x / y)                   \
  X(4, s_maximum, x >= y ? x : y)      \
  X(5, s_minimum, x <= y ? x : y)      \
  X(6, s_greater, x > y ? 1.0f : 0.0f) \
  X(7, s_greater_equal, x >= y ? 1.0f : 0.0f) \
  X(8, s_less, x < y ? 1.0f : 0.0f)    \
  X(9, s_less_equal, x <= y ? 1.0f : 0.0f) \
  X(10, s_equal, x == y ? 1.0f : 0.0f) \
  X(11, s_not_equal, x != y ? 1.0f : 0.0f)
#define STRIDED_COUNT 12

/* One row of `inner` outputs, a and b stepping by ia and ib (each 0 or 1 in the fast cases). */
#define STRIDED_ROW(code, name, expr)                                                          \
  WIDE static void name(const float *a, const float *b, float *o, size_t inner, ptrdiff_t ia,  \
                        ptrdiff_t ib) {                                                        \
    if (ia == 1 && ib == 1)                                                                    \
      for (size_t j = 0; j < inner; j++) {                                                     \
        const float x = a[j], y = b[j];                                                        \
        o[j] = expr;                                                                           \
      }                                                                                        \
    else if (ia == 1 && ib == 0) {                                                             \
      const float y = b[0];                                                                    \
      for (size_t j = 0; j < inner; j++) {                                                     \
        const float x = a[j];                                                                  \
        o[j] = expr;                                                                           \
      }                                                                                        \
    } else if (ia == 0 && ib == 1) {                                                           \
      const float x = a[0];                                                                    \
      for (size_t j = 0; j < inner; j++) {                                                     \
        const float y = b[j];                                                                  \
        o[j] = expr;                                                                           \
      }                                                                                        \
    } else                                                                                     \
      for (size_t j = 0; j < inner; j++) {                                                     \
        const float x = a[(ptrdiff_t)j * ia], y = b[(ptrdiff_t)j * ib];                        \
        o[j] = expr;                                                                           \
      }                                                                                        \
  }
#define STRIDED_FN(code, name, expr) name,
STRIDED_OPS(STRIDED_ROW)
typedef void (*strided_row_fn)(const float *, const float *, float *, size_t, ptrdiff_t, ptrdiff_t);
static const strided_row_fn strided_rows[STRIDED_COUNT] = {STRIDED_OPS(STRIDED_FN)};

#define MAX_RANK 16

/*
 * The geometry argument of strided() and copy(): an Int32Array of `parts` runs of rank numbers (shape, then
 * one run of strides per operand). Returns the rank, or 0 when the argument is not such an array.
 */
static size_t geometry_arg(napi_env env, napi_value v, size_t parts, const int32_t **g) {
  napi_typedarray_type type;
  size_t len;
  void *data = NULL;
  if (napi_get_typedarray_info(env, v, &type, &len, &data, NULL, NULL) != napi_ok ||
      type != napi_int32_array || len == 0 || len % parts != 0 || len / parts > MAX_RANK)
    return 0;
  *g = data;
  return len / parts;
}

/* Throws "<fn>: <what>". */
static napi_value throw_in(napi_env env, const char *fn, const char *what) {
  char message[160];
  snprintf(message, sizeof message, "%s: %s", fn, what);
  return native_throw(env, message);
}

/*
 * out (contiguous, row-major over `shape`, n elements) = row(a, b) row by row, a and b read through element
 * strides sa and sb (0 along a broadcast axis). Every offset either operand can reach must lie inside it
 * (na, nb elements), and the shape must fill out exactly; returns what is wrong, or NULL once it has run.
 */
static const char *strided_check(size_t na, const int32_t *sa, size_t nb, const int32_t *sb, size_t n,
                                 const int32_t *shape, size_t rank) {
  double total = 1, reach_a = 0, reach_b = 0;
  for (size_t d = 0; d < rank; d++) {
    if (shape[d] <= 0 || sa[d] < 0 || sb[d] < 0) return "sizes must be positive and strides non-negative";
    total *= shape[d];
    reach_a += (double)(shape[d] - 1) * sa[d];
    reach_b += (double)(shape[d] - 1) * sb[d];
  }
  if (total != (double)n || reach_a >= (double)na || reach_b >= (double)nb)
    return "the geometry does not fit the operands or out";
  return NULL;
}

/*
 * Loops of at least this many elements run split over the calling thread's kernel threads (parallel.c),
 * each part a contiguous range starting on a 16-element boundary: every element is computed as it would be
 * whole, so the result is the same bit for bit.
 */
#define SPLIT_MIN 16384

/* Parts a split loop is cut into: more than the threads, so that a helper that starts late leaves the
 * caller less to wait for (each part of at least SPLIT_MIN / LOOP_CHUNKS elements). */
#define LOOP_CHUNKS 8

/* A checked strided call (strided() or copy()), as it runs or waits in the queue: the geometry copied, since
 * JavaScript reuses its array for the next call. */
typedef struct {
  strided_row_fn row;
  const float *a, *b;
  float *o;
  size_t n, rank;
  int32_t g[3 * MAX_RANK];
} strided_call;

/* Rows [r0, r1) of the output (rows of shape's last axis). */
static void strided_rows_range(const strided_call *c, size_t r0, size_t r1) {
  const size_t rank = c->rank, inner = (size_t)c->g[rank - 1];
  const int32_t *shape = c->g, *sa = c->g + rank, *sb = c->g + 2 * rank;
  size_t idx[MAX_RANK] = {0};
  ptrdiff_t ao = 0, bo = 0;
  /* The odometer's position at row r0. */
  for (size_t d = rank - 1, r = r0; d-- > 0;) {
    idx[d] = r % (size_t)shape[d];
    r /= (size_t)shape[d];
    ao += (ptrdiff_t)idx[d] * sa[d];
    bo += (ptrdiff_t)idx[d] * sb[d];
  }
  for (size_t row = r0; row < r1; row++) {
    c->row(c->a + ao, c->b + bo, c->o + row * inner, inner, sa[rank - 1], sb[rank - 1]);
    /* The odometer over the axes outside the last. */
    for (size_t d = rank - 1; d-- > 0;) {
      idx[d]++;
      ao += sa[d];
      bo += sb[d];
      if (idx[d] < (size_t)shape[d]) break;
      ao -= (ptrdiff_t)sa[d] * shape[d];
      bo -= (ptrdiff_t)sb[d] * shape[d];
      idx[d] = 0;
    }
  }
}

/* A share of the output's rows: each row is computed as the whole call computes it. */
static void strided_part(void *arg, int part, int parts) {
  const strided_call *c = arg;
  const size_t rows = c->n / (size_t)c->g[c->rank - 1];
  strided_rows_range(c, rows * (size_t)part / (size_t)parts, rows * (size_t)(part + 1) / (size_t)parts);
}

static void strided_exec(void *ctx) {
  strided_call *c = ctx;
  const size_t rows = c->n / (size_t)c->g[c->rank - 1];
  if (c->n < SPLIT_MIN || rows < 2 || !native_run_parts(strided_part, c, LOOP_CHUNKS))
    strided_rows_range(c, 0, rows);
}

/* Checks a strided call, then queues it or runs it; returns what is wrong, or NULL. */
static const char *strided_run(strided_row_fn row, const float *a, size_t na, const float *b, size_t nb,
                               float *o, size_t n, const int32_t *g, size_t operands, size_t rank) {
  const int32_t *sb = g + (operands == 3 ? 2 : 1) * rank;
  const char *wrong = strided_check(na, g + rank, nb, sb, n, g, rank);
  if (wrong != NULL) return wrong;
  /* Field by field: only the geometry's first 3 * rank numbers are read, so the rest stays unwritten. */
  strided_call call;
  call.row = row;
  call.a = a;
  call.b = b;
  call.o = o;
  call.n = n;
  call.rank = rank;
  for (size_t d = 0; d < rank; d++) {
    call.g[d] = g[d];
    call.g[rank + d] = g[rank + d];
    call.g[2 * rank + d] = sb[d];
  }
  RUN_OR_QUEUE(strided_exec, call, n >= SPLIT_MIN, native_floats(a, na, false), native_floats(b, nb, false),
               native_floats(o, n, true));
  return NULL;
}

/*
 * strided(op, a, b, out, geometry): out (contiguous, row-major over `shape`) = a op b, where a and b are
 * read through element strides (0 along a broadcast axis). geometry is an Int32Array of 3*rank numbers:
 * shape, then a's strides, then b's. Any broadcast the bias-row and scalar paths do not cover: batch norm's
 * statistics, max-pool's window masks.
 */
static napi_value strided(napi_env env, napi_callback_info cb) {
  size_t argc = 5;
  napi_value argv[5];
  int32_t op;
  size_t na, nb, n;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc != 5 ||
      napi_get_value_int32(env, argv[0], &op) != napi_ok || op < 0 || op >= STRIDED_COUNT)
    return native_throw(env, "strided: expected (op 0-11, a, b, out, geometry)");
  float *a = native_f32(env, argv[1], &na);
  float *b = native_f32(env, argv[2], &nb);
  float *o = native_f32(env, argv[3], &n);
  const int32_t *g = NULL;
  const size_t rank = geometry_arg(env, argv[4], 3, &g);
  if (a == NULL || b == NULL || o == NULL || rank == 0)
    return native_throw(env, "strided: a, b and out must be Float32Arrays, geometry an Int32Array of 3*rank");
  const char *wrong = strided_run(strided_rows[op], a, na, b, nb, o, n, g, 3, rank);
  return wrong == NULL ? NULL : throw_in(env, "strided", wrong);
}

/*
 * No `restrict`: out may be one of the operands (an op in place). GCC still vectorizes, checking for
 * overlap once per call.
 */

/* binary(op, a, b, out): a and b each have out's length or length 1 (not both 1). */
typedef struct {
  int op, kind; /* kind: 0 a and b full, 1 b a scalar, 2 a a scalar */
  const float *a, *b;
  float *o;
  size_t n;
} binary_call;

static void binary_range(const binary_call *c, size_t lo, size_t hi) {
  static void (*const vv[])(const float *, const float *, float *, size_t) = {add_vv, sub_vv, mul_vv, div_vv};
  static void (*const vs[])(const float *, float, float *, size_t) = {add_vs, sub_vs, mul_vs, div_vs};
  static void (*const sv[])(float, const float *, float *, size_t) = {add_sv, sub_sv, mul_sv, div_sv};
  if (hi <= lo) return;
  if (c->kind == 0) vv[c->op](c->a + lo, c->b + lo, c->o + lo, hi - lo);
  else if (c->kind == 1) vs[c->op](c->a + lo, c->b[0], c->o + lo, hi - lo);
  else sv[c->op](c->a[0], c->b + lo, c->o + lo, hi - lo);
}

static void binary_part(void *arg, int part, int parts) {
  const binary_call *c = arg;
  binary_range(c, native_part_start(c->n, parts, part), native_part_start(c->n, parts, part + 1));
}

static void binary_exec(void *ctx) {
  binary_call *c = ctx;
  if (c->n < SPLIT_MIN || !native_run_parts(binary_part, c, LOOP_CHUNKS)) binary_range(c, 0, c->n);
}

typedef struct {
  void (*fn)(const float *, float *, size_t);
  const float *x;
  float *o;
  size_t n;
} unary_call;

static void unary_part(void *arg, int part, int parts) {
  const unary_call *c = arg;
  const size_t lo = native_part_start(c->n, parts, part), hi = native_part_start(c->n, parts, part + 1);
  if (hi > lo) c->fn(c->x + lo, c->o + lo, hi - lo);
}

static void unary_exec(void *ctx) {
  unary_call *c = ctx;
  if (c->n < SPLIT_MIN || !native_run_parts(unary_part, c, LOOP_CHUNKS)) c->fn(c->x, c->o, c->n);
}

static napi_value binary(napi_env env, napi_callback_info cb) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t op;
  size_t na, nb, n;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc != 4 ||
      napi_get_value_int32(env, argv[0], &op) != napi_ok || op < ADD || op > DIV)
    return native_throw(env, "binary: expected (op 0-3, a, b, out)");
  float *a = native_f32(env, argv[1], &na);
  float *b = native_f32(env, argv[2], &nb);
  float *o = native_f32(env, argv[3], &n);
  if (a == NULL || b == NULL || o == NULL || !((na == n && (nb == n || nb == 1)) || (na == 1 && nb == n)))
    return native_throw(env, "binary: a, b and out must be Float32Arrays, a and b of out's length or 1");
  binary_call call = {op, na == n && nb == n ? 0 : na == n ? 1 : 2, a, b, o, n};
  RUN_OR_QUEUE(binary_exec, call, n >= SPLIT_MIN, native_floats(a, na, false), native_floats(b, nb, false),
               native_floats(o, n, true));
  return NULL;
}

typedef struct {
  void (*fn)(const float *, const float *, float *, size_t, size_t, size_t, bool);
  const float *full, *rows;
  float *o;
  size_t p, q, r;
  bool rows_first;
} rows_call;

/* A share of the p blocks when there are at least as many as parts, else of the q rows of each block. */
static void rows_part(void *arg, int part, int parts) {
  const rows_call *c = arg;
  const size_t qr = c->q * c->r;
  if (c->p >= (size_t)parts) {
    const size_t lo = c->p * (size_t)part / (size_t)parts, hi = c->p * (size_t)(part + 1) / (size_t)parts;
    if (hi > lo) c->fn(c->full + lo * qr, c->rows + lo * c->r, c->o + lo * qr, hi - lo, c->q, c->r, c->rows_first);
  } else
    for (size_t pi = 0; pi < c->p; pi++) {
      const size_t lo = c->q * (size_t)part / (size_t)parts, hi = c->q * (size_t)(part + 1) / (size_t)parts;
      if (hi > lo)
        c->fn(c->full + pi * qr + lo * c->r, c->rows + pi * c->r, c->o + pi * qr + lo * c->r, 1, hi - lo, c->r,
              c->rows_first);
    }
}

static void rows_exec(void *ctx) {
  rows_call *c = ctx;
  if (c->p * c->q * c->r < SPLIT_MIN || !native_run_parts(rows_part, c, LOOP_CHUNKS))
    c->fn(c->full, c->rows, c->o, c->p, c->q, c->r, c->rows_first);
}

/* rows(op, full, rows, rowsFirst, p, q, r, out): full and out [p, q, r], rows [p, r]. */
static napi_value rows(napi_env env, napi_callback_info cb) {
  size_t argc = 8;
  napi_value argv[8];
  int32_t op;
  bool rows_first;
  int64_t dims[3];
  size_t nf, nr, n;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc != 8 ||
      napi_get_value_int32(env, argv[0], &op) != napi_ok || op < ADD || op > DIV ||
      napi_get_value_bool(env, argv[3], &rows_first) != napi_ok)
    return native_throw(env, "rows: expected (op 0-3, full, rows, rowsFirst, p, q, r, out)");
  for (int i = 0; i < 3; i++)
    if (napi_get_value_int64(env, argv[4 + i], &dims[i]) != napi_ok || dims[i] < 0)
      return native_throw(env, "rows: p, q and r must be whole numbers");
  float *f = native_f32(env, argv[1], &nf);
  float *w = native_f32(env, argv[2], &nr);
  float *o = native_f32(env, argv[7], &n);
  const size_t p = (size_t)dims[0], q = (size_t)dims[1], r = (size_t)dims[2];
  if (f == NULL || w == NULL || o == NULL || nf != p * q * r || n != nf || nr != p * r)
    return native_throw(env, "rows: full and out must be Float32Arrays of p*q*r floats, rows of p*r");
  static void (*const fns[])(const float *, const float *, float *, size_t, size_t, size_t, bool) = {
      add_rows, sub_rows, mul_rows, div_rows};
  rows_call call = {fns[op], f, w, o, p, q, r, rows_first};
  RUN_OR_QUEUE(rows_exec, call, n >= SPLIT_MIN, native_floats(f, nf, false), native_floats(w, nr, false),
               native_floats(o, n, true));
  return NULL;
}

/* unary(op, x, out), equal lengths. */
static napi_value unary(napi_env env, napi_callback_info cb) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t op;
  size_t nx, n;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc != 3 ||
      napi_get_value_int32(env, argv[0], &op) != napi_ok || op < RELU || op > LOG)
    return native_throw(env, "unary: expected (op 0-9, x, out)");
  float *x = native_f32(env, argv[1], &nx);
  float *o = native_f32(env, argv[2], &n);
  if (x == NULL || o == NULL || nx != n)
    return native_throw(env, "unary: x and out must be Float32Arrays of one length");
  static void (*const fns[])(const float *, float *, size_t) = {
      relu_loop, step_loop, neg_loop, square_loop, sqrt_loop, reciprocal_loop, abs_loop, sign_loop, exp_loop, log_loop};
  unary_call call = {fns[op], x, o, n};
  RUN_OR_QUEUE(unary_exec, call, n >= SPLIT_MIN, native_floats(x, nx, false), native_floats(o, n, true));
  return NULL;
}

typedef struct {
  const float *x;
  float *o;
  size_t p, q, r;
} colsum_call;

/* A share of the p blocks when there are at least as many as parts, else of the r columns. */
static void colsum_part(void *arg, int part, int parts) {
  const colsum_call *c = arg;
  if (c->p >= (size_t)parts)
    colsum_loop(c->x, c->o, c->p * (size_t)part / (size_t)parts, c->p * (size_t)(part + 1) / (size_t)parts, c->q,
                c->r, 0, c->r);
  else
    colsum_loop(c->x, c->o, 0, c->p, c->q, c->r, native_part_start(c->r, parts, part),
                native_part_start(c->r, parts, part + 1));
}

static void colsum_exec(void *ctx) {
  colsum_call *c = ctx;
  if (c->q == 0)
    for (size_t i = 0; i < c->p * c->r; i++) c->o[i] = 0.0f;
  else if (c->p * c->q * c->r < SPLIT_MIN || !native_run_parts(colsum_part, c, LOOP_CHUNKS))
    colsum_loop(c->x, c->o, 0, c->p, c->q, c->r, 0, c->r);
}

/* colsum(x, p, q, r, out): x [p, q, r], out [p, r]; out must not alias x. */
static napi_value colsum(napi_env env, napi_callback_info cb) {
  size_t argc = 5;
  napi_value argv[5];
  int64_t dims[3];
  size_t nx, n;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc != 5)
    return native_throw(env, "colsum: expected (x, p, q, r, out)");
  for (int i = 0; i < 3; i++)
    if (napi_get_value_int64(env, argv[1 + i], &dims[i]) != napi_ok || dims[i] < 0)
      return native_throw(env, "colsum: p, q and r must be whole numbers");
  float *x = native_f32(env, argv[0], &nx);
  float *o = native_f32(env, argv[4], &n);
  const size_t p = (size_t)dims[0], q = (size_t)dims[1], r = (size_t)dims[2];
  if (x == NULL || o == NULL || nx != p * q * r || n != p * r)
    return native_throw(env, "colsum: x must be a Float32Array of p*q*r floats, out of p*r");
  colsum_call call = {x, o, p, q, r};
  RUN_OR_QUEUE(colsum_exec, call, nx >= SPLIT_MIN, native_floats(x, nx, false), native_floats(o, n, true));
  return NULL;
}

/* One row of a strided copy: `inner` elements of a, stepping by ia (1 contiguous, 0 a broadcast); b unread. */
WIDE static void copy_row(const float *a, const float *b, float *o, size_t inner, ptrdiff_t ia,
                          ptrdiff_t ib) {
  (void)b;
  (void)ib;
  if (ia == 1)
    for (size_t j = 0; j < inner; j++) o[j] = a[j];
  else if (ia == 0) {
    const float x = a[0];
    for (size_t j = 0; j < inner; j++) o[j] = x;
  } else
    for (size_t j = 0; j < inner; j++) o[j] = a[(ptrdiff_t)j * ia];
}

/*
 * copy(x, base, out, geometry): out (contiguous, row-major over `shape`) = x[base + sum(index[d] *
 * strides[d])], geometry an Int32Array of shape then strides (non-negative; 0 along a broadcast axis). The
 * copies of transpose, broadcastTo and slice in one call, where the JS routine (../strided.ts) runs a loop
 * or a copyWithin per row: batch norm's statistics repeated over a task's examples are 32 rows of 256.
 */
static napi_value copy(napi_env env, napi_callback_info cb) {
  size_t argc = 4;
  napi_value argv[4];
  int64_t base;
  size_t nx, n;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc != 4 ||
      napi_get_value_int64(env, argv[1], &base) != napi_ok || base < 0)
    return native_throw(env, "copy: expected (x, base >= 0, out, geometry)");
  float *x = native_f32(env, argv[0], &nx);
  float *o = native_f32(env, argv[2], &n);
  const int32_t *g = NULL;
  const size_t rank = geometry_arg(env, argv[3], 2, &g);
  if (x == NULL || o == NULL || rank == 0)
    return native_throw(env, "copy: x and out must be Float32Arrays, geometry an Int32Array of 2*rank");
  if ((size_t)base >= nx) return native_throw(env, "copy: the geometry does not fit x or out");
  /* x from `base` on is the one operand (read twice over: copy_row ignores its second). */
  const size_t left = nx - (size_t)base;
  const char *wrong = strided_run(copy_row, x + base, left, x + base, left, o, n, g, 2, rank);
  return wrong == NULL ? NULL : throw_in(env, "copy", wrong);
}

/*
 * Adam's moment update, every operation rounded to float32 in the order of ../fused.ts's adamF32 (and of
 * the composed ops), so the results are theirs bit for bit. Two loops rather than a test per element: vn + 0
 * would turn -0 into +0.
 */
#define ADAM_LOOP(name, root_of)                                                                     \
  WIDE static void name(const float *g, const float *m0, const float *v0, float *m, float *v,       \
                        float *u, size_t n, float s1, float s2, float eps_root, float eps_hat,       \
                        float scale) {                                                               \
    (void)eps_root;                                                                                  \
    for (size_t i = 0; i < n; i++) {                                                                 \
      const float gi = g[i], mi = m0[i], vi = v0[i];                                                 \
      const float mn = mi + (gi - mi) * s1;                                                          \
      const float vn = vi + (gi * gi - vi) * s2;                                                     \
      const float root = __builtin_sqrtf(root_of);                                                   \
      m[i] = mn;                                                                                     \
      v[i] = vn;                                                                                     \
      u[i] = (mn / (root + eps_hat)) * scale;                                                        \
    }                                                                                                \
  }
ADAM_LOOP(adam_loop, vn)
ADAM_LOOP(adam_root_loop, vn + eps_root)

/* adam(g, m0, v0, m, v, u, s1, s2, epsRoot, epsHat, scale): Float32Arrays of one length, out not aliasing in. */
typedef void (*adam_fn)(const float *, const float *, const float *, float *, float *, float *, size_t, float,
                        float, float, float, float);
typedef struct {
  adam_fn fn;
  float *v[6];
  size_t n;
  float s1, s2, eps_root, eps_hat, scale;
} adam_call;

static void adam_part(void *arg, int part, int parts) {
  const adam_call *c = arg;
  const size_t lo = native_part_start(c->n, parts, part), hi = native_part_start(c->n, parts, part + 1);
  if (hi > lo)
    c->fn(c->v[0] + lo, c->v[1] + lo, c->v[2] + lo, c->v[3] + lo, c->v[4] + lo, c->v[5] + lo, hi - lo, c->s1,
          c->s2, c->eps_root, c->eps_hat, c->scale);
}

static void adam_exec(void *ctx) {
  adam_call *c = ctx;
  /* Six arrays a element: worth splitting from a quarter of the elementwise threshold. */
  if (c->n < SPLIT_MIN / 4 || !native_run_parts(adam_part, c, LOOP_CHUNKS)) adam_part(c, 0, 1);
}

static napi_value adam(napi_env env, napi_callback_info cb) {
  size_t argc = 11;
  napi_value argv[11];
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc != 11)
    return native_throw(env, "adam: expected (g, m0, v0, m, v, u, s1, s2, epsRoot, epsHat, scale)");
  float *arrays[6];
  size_t lengths[6];
  for (int i = 0; i < 6; i++) {
    arrays[i] = native_f32(env, argv[i], &lengths[i]);
    if (arrays[i] == NULL || lengths[i] != lengths[0])
      return native_throw(env, "adam: g, m0, v0, m, v and u must be Float32Arrays of one length");
  }
  double c[5];
  for (int i = 0; i < 5; i++)
    if (napi_get_value_double(env, argv[6 + i], &c[i]) != napi_ok)
      return native_throw(env, "adam: s1, s2, epsRoot, epsHat and scale must be numbers");
  /* The constants rounded to float32 as the composed ops' scalars are (Math.fround: to nearest). */
  const float s1 = (float)c[0], s2 = (float)c[1], eps_root = (float)c[2], eps_hat = (float)c[3],
              scale = (float)c[4];
  adam_call call = {c[2] > 0 ? adam_root_loop : adam_loop,
                          {arrays[0], arrays[1], arrays[2], arrays[3], arrays[4], arrays[5]},
                          lengths[0],
                          s1,
                          s2,
                          eps_root,
                          eps_hat,
                          scale};
  RUN_OR_QUEUE(adam_exec, call, lengths[0] >= SPLIT_MIN / 4, native_floats(arrays[0], lengths[0], false),
               native_floats(arrays[1], lengths[1], false), native_floats(arrays[2], lengths[2], false),
               native_floats(arrays[3], lengths[3], true), native_floats(arrays[4], lengths[4], true),
               native_floats(arrays[5], lengths[5], true));
  return NULL;
}

/*
 * Adam's whole step for many parameters in one call (`Backend.adamStep`): per element the moment update of
 * adam_loop, then p' = p + u, each operation rounded to float32 as the composed ops (adamMoments, then
 * applyUpdates' add) round it, without u stored. One call for every parameter, split over the kernel
 * threads by elements: the Omniglot MLP's 18 parameters took 36 calls and wrote and read back its update.
 */
#define ADAM_STEP_LOOP(name, root_of)                                                                \
  WIDE static void name(const float *g, const float *m0, const float *v0, const float *p0, float *m, \
                        float *v, float *p, size_t n, float s1, float s2, float eps_root,             \
                        float eps_hat, float scale) {                                                 \
    (void)eps_root;                                                                                   \
    for (size_t i = 0; i < n; i++) {                                                                  \
      const float gi = g[i], mi = m0[i], vi = v0[i];                                                  \
      const float mn = mi + (gi - mi) * s1;                                                           \
      const float vn = vi + (gi * gi - vi) * s2;                                                      \
      const float root = __builtin_sqrtf(root_of);                                                    \
      const float u = (mn / (root + eps_hat)) * scale;                                                \
      m[i] = mn;                                                                                      \
      v[i] = vn;                                                                                      \
      p[i] = p0[i] + u;                                                                               \
    }                                                                                                 \
  }
ADAM_STEP_LOOP(adam_step_loop, vn)
ADAM_STEP_LOOP(adam_step_root_loop, vn + eps_root)

typedef void (*adam_step_fn)(const float *, const float *, const float *, const float *, float *, float *,
                             float *, size_t, float, float, float, float, float);

/* Most parameters one adamStep call updates. */
#define ADAM_STEP_MAX 1024

typedef struct {
  adam_step_fn fn;
  /* Per parameter: g, m0, v0, p0, m, v, p. */
  float *(*arrays)[7];
  const size_t *lengths;
  size_t count, total;
  float s1, s2, eps_root, eps_hat, scale;
} adam_step_call;

/* Part `part` of `parts`: a contiguous range of all the parameters' elements, in order. */
static void adam_step_part(void *arg, int part, int parts) {
  const adam_step_call *c = arg;
  /* Whole 16-element blocks of the parameters laid end to end per part (native_part_start). */
  const size_t lo = native_part_start(c->total, parts, part), hi = native_part_start(c->total, parts, part + 1);
  size_t a, b, at = 0;
  for (size_t k = 0; k < c->count && at < hi; k++) {
    const size_t n = c->lengths[k];
    native_overlap(lo, hi, at, n, &a, &b);
    if (a < b) {
      float *const *x = c->arrays[k];
      c->fn(x[0] + a, x[1] + a, x[2] + a, x[3] + a, x[4] + a, x[5] + a, x[6] + a, b - a, c->s1, c->s2,
            c->eps_root, c->eps_hat, c->scale);
    }
    at += n;
  }
}

/*
 * adamStep(arrays, s1, s2, epsRoot, epsHat, scale): arrays holds 7 Float32Arrays per parameter, g, m0, v0,
 * p0, m, v, p, of one length per parameter (the last three new, aliasing none of the first four): m, v and
 * p get Adam's new moments and the parameter after the step. Runs at once (not on a thread that queues or
 * records its kernels: JavaScript then takes adamMoments and add).
 */
static napi_value adam_step(napi_env env, napi_callback_info cb) {
  const char *usage =
      "adamStep: expected (arrays, s1, s2, epsRoot, epsHat, scale): 7 Float32Arrays per parameter (g, m0, v0, "
      "p0, m, v, p) of one length each, up to 1024 parameters, and numbers";
  size_t argc = 6;
  napi_value argv[6];
  bool is_array = false;
  uint32_t len = 0;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc != 6 ||
      napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[0], &len) != napi_ok || len % 7 != 0 || len / 7 > ADAM_STEP_MAX)
    return native_throw(env, usage);
  if (native_queued()) return native_throw(env, "adamStep: not while this thread queues or records its kernels");
  double c[5];
  for (int i = 0; i < 5; i++)
    if (napi_get_value_double(env, argv[1 + i], &c[i]) != napi_ok) return native_throw(env, usage);
  const size_t count = len / 7;
  float *(*arrays)[7] = calloc(count > 0 ? count : 1, sizeof *arrays);
  size_t *lengths = calloc(count > 0 ? count : 1, sizeof *lengths);
  if (arrays == NULL || lengths == NULL) {
    free(arrays);
    free(lengths);
    return native_throw(env, "adamStep: out of memory");
  }
  size_t total = 0;
  for (size_t k = 0; k < count; k++) {
    for (int j = 0; j < 7; j++) {
      napi_value v;
      size_t n = 0;
      if (napi_get_element(env, argv[0], (uint32_t)(7 * k + (size_t)j), &v) != napi_ok ||
          (arrays[k][j] = native_f32(env, v, &n)) == NULL || (j > 0 && n != lengths[k])) {
        free(arrays);
        free(lengths);
        return native_throw(env, usage);
      }
      if (j == 0) lengths[k] = n;
    }
    total += lengths[k];
  }
  /* The constants rounded to float32 as the composed ops' scalars are (Math.fround: to nearest). */
  adam_step_call call = {c[2] > 0 ? adam_step_root_loop : adam_step_loop,
                         arrays,
                         lengths,
                         count,
                         total,
                         (float)c[0],
                         (float)c[1],
                         (float)c[2],
                         (float)c[3],
                         (float)c[4]};
  /* Seven arrays an element: worth splitting from a quarter of the elementwise threshold. */
  if (total < SPLIT_MIN / 4 || !native_run_parts(adam_step_part, &call, 0)) adam_step_part(&call, 0, 1);
  free(arrays);
  free(lengths);
  return NULL;
}

/*
 * Reductions as reduce.ts's general loop computes them (reduceStrided below): a run into one element summed
 * in float64 and rounded once, a kept last axis summed per step in float32; max and min as Math.max and
 * Math.min (NaN wins, and +0 beats -0 for max, -0 beats +0 for min). A softmax's row sums and maxima, a
 * mean, max-pooling's window maxima.
 */
enum { R_SUM, R_MAX, R_MIN };

/*
 * The row after `*at` of an output whose rows follow x's (contiguous, `shape`) through out's strides `os`:
 * the odometer over every axis but the last, as reduce.ts and indexing.ts step theirs.
 */
static inline void next_row(size_t *idx, size_t *at, const int32_t *shape, const int32_t *os, size_t rank) {
  for (size_t d = rank - 1; d-- > 0;) {
    idx[d]++;
    *at += (size_t)os[d];
    if (idx[d] < (size_t)shape[d]) return;
    *at -= (size_t)os[d] * (size_t)shape[d];
    idx[d] = 0;
  }
}

/*
 * Reads a geometry argument (shape, then out's strides: 2 * rank int32s, rank 1-16) and checks it against x's
 * `nx` elements and out's `no` from element `base`: NULL, or what is wrong. `last_stride`: the only stride
 * out's last axis may have (-1: 0 or 1).
 */
static const char *geometry_fault(napi_env env, napi_value v, size_t nx, size_t no, size_t base, int last_stride,
                                  const int32_t **g, size_t *rank) {
  napi_typedarray_type type;
  size_t ng;
  void *data = NULL;
  if (napi_get_typedarray_info(env, v, &type, &ng, &data, NULL, NULL) != napi_ok || type != napi_int32_array ||
      ng % 2 != 0 || ng / 2 == 0 || ng / 2 > MAX_RANK)
    return "the geometry must be an Int32Array of 2 * rank numbers (rank 1-16)";
  *g = data;
  *rank = ng / 2;
  const int32_t *shape = *g, *os = *g + *rank;
  size_t n = 1, last = base;
  for (size_t d = 0; d < *rank; d++) {
    if (shape[d] <= 0 || os[d] < 0) return "sizes must be positive, strides non-negative";
    n *= (size_t)shape[d];
    last += (size_t)(shape[d] - 1) * (size_t)os[d];
  }
  const int32_t inner_stride = os[*rank - 1];
  if (n != nx || last >= no || (last_stride < 0 ? inner_stride > 1 : inner_stride != last_stride))
    return "the geometry does not fit x or out";
  return NULL;
}

/* geometry_fault, thrown as "`name`: what is wrong"; true when the geometry fits. */
static bool out_geometry(napi_env env, const char *name, napi_value v, size_t nx, size_t no, size_t base,
                         int last_stride, const int32_t **g, size_t *rank) {
  const char *wrong = geometry_fault(env, v, nx, no, base, last_stride, g, rank);
  if (wrong == NULL) return true;
  char message[160];
  snprintf(message, sizeof message, "%s: %s", name, wrong);
  native_throw(env, message);
  return false;
}

/* Math.max(acc, v) or Math.min(acc, v) as JavaScript picks: NaN wins, and +0 beats -0 for max (-0 for min). */
static inline double js_pick(int op, double acc, double v) {
  if (isnan(v) || isnan(acc)) return NAN;
  return (op == R_MAX ? v > acc || (v == acc && !signbit(v)) : v < acc || (v == acc && signbit(v))) ? v : acc;
}

/* A reduction over any axes, as src/backends/cpu/reduce.ts's general loop runs it: the geometry copied. */
typedef struct {
  int op;
  const float *x;
  float *o;
  size_t n, no, rank;
  int32_t g[2 * MAX_RANK];
} reduce_strided_call;

static void reduce_strided_exec(void *ctx) {
  const reduce_strided_call *c = ctx;
  const size_t rank = c->rank;
  const int32_t *shape = c->g, *os = c->g + rank;
  const size_t inner = (size_t)shape[rank - 1];
  const float init = c->op == R_SUM ? 0.0f : c->op == R_MAX ? -INFINITY : INFINITY;
  for (size_t k = 0; k < c->no; k++) c->o[k] = init;
  size_t idx[MAX_RANK] = {0};
  size_t at = 0;
  for (size_t i = 0; i < c->n; i += inner) {
    const float *x = c->x + i;
    float *o = c->o + at;
    if (os[rank - 1] == 0) {
      /* A contiguous run into one element: accumulated as a JS number (double), stored rounded once. */
      double acc = (double)*o;
      if (c->op == R_SUM)
        for (size_t j = 0; j < inner; j++) acc += (double)x[j];
      else
        for (size_t j = 0; j < inner; j++) acc = js_pick(c->op, acc, (double)x[j]);
      *o = (float)acc;
    } else if (c->op == R_SUM)
      for (size_t j = 0; j < inner; j++) o[j] += x[j];
    else
      for (size_t j = 0; j < inner; j++) o[j] = (float)js_pick(c->op, (double)o[j], (double)x[j]);
    next_row(idx, &at, shape, os, rank);
  }
}

/*
 * reduceStrided(op, x, out, geometry): op 0-2 = sum, max, min over x read as `shape` (contiguous), each
 * element going to out at sum(index[d] * outStrides[d]); geometry = shape, then outStrides (rank at most
 * 16, the last out stride 0 or 1), as reduce.ts collapses them. Sums into a kept last axis round to float32
 * at each step; a run into one element sums in double and rounds once, as the JavaScript loop does.
 */
static napi_value reduce_strided(napi_env env, napi_callback_info cb) {
  size_t argc = 4;
  napi_value argv[4];
  int32_t op;
  size_t nx, no, rank;
  const int32_t *g;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc != 4 ||
      napi_get_value_int32(env, argv[0], &op) != napi_ok || op < R_SUM || op > R_MIN)
    return native_throw(env, "reduceStrided: expected (op 0-2, x, out, geometry: Int32Array)");
  const float *x = native_f32(env, argv[1], &nx);
  float *o = native_f32(env, argv[2], &no);
  if (x == NULL || o == NULL) return native_throw(env, "reduceStrided: x and out must be Float32Arrays");
  if (!out_geometry(env, "reduceStrided", argv[3], nx, no, 0, -1, &g, &rank)) return NULL;
  reduce_strided_call call;
  call.op = op;
  call.x = x;
  call.o = o;
  call.n = nx;
  call.no = no;
  call.rank = rank;
  memcpy(call.g, g, 2 * rank * sizeof *g);
  RUN_OR_QUEUE(reduce_strided_exec, call, false, native_floats(x, nx, false), native_floats(o, no, true));
  return NULL;
}

typedef struct {
  float *o;
  size_t n;
  float value;
} fill_call;

static void fill_exec(void *ctx) {
  const fill_call *c = ctx;
  for (size_t i = 0; i < c->n; i++) c->o[i] = c->value;
}

/* fill(out, value): every element of the Float32Array out = value (rounded to float32 as a store is). */
static napi_value fill(napi_env env, napi_callback_info cb) {
  size_t argc = 2;
  napi_value argv[2];
  double value;
  size_t n;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      napi_get_value_double(env, argv[1], &value) != napi_ok)
    return native_throw(env, "fill: expected (out, value)");
  float *o = native_f32(env, argv[0], &n);
  if (o == NULL) return native_throw(env, "fill: out must be a Float32Array");
  fill_call call = {o, n, (float)value};
  RUN_OR_QUEUE(fill_exec, call, false, native_floats(o, n, true));
  return NULL;
}

typedef struct {
  const int32_t *x;
  float *o;
  size_t n;
} cast_call;

static void cast_exec(void *ctx) {
  const cast_call *c = ctx;
  for (size_t i = 0; i < c->n; i++) c->o[i] = (float)c->x[i];
}

/* castI32F32(x, out): out[i] = x[i], an Int32Array into a Float32Array of its length (to nearest, as JS). */
static napi_value cast_i32_f32(napi_env env, napi_callback_info cb) {
  size_t argc = 2;
  napi_value argv[2];
  napi_typedarray_type type;
  size_t nx, n;
  void *x = NULL;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc != 2 ||
      napi_get_typedarray_info(env, argv[0], &type, &nx, &x, NULL, NULL) != napi_ok || type != napi_int32_array)
    return native_throw(env, "castI32F32: expected (x: Int32Array, out: Float32Array)");
  float *o = native_f32(env, argv[1], &n);
  if (o == NULL || n != nx) return native_throw(env, "castI32F32: out must be a Float32Array of x's length");
  cast_call call = {x, o, n};
  RUN_OR_QUEUE(cast_exec, call, false, {x, (const int32_t *)x + nx, false}, native_floats(o, n, true));
  return NULL;
}

/*
 * gather and scatterAdd along one axis of a tensor seen as [outer, dim, inner] (src/backends/cpu/indexing.ts,
 * whose loops these are): im2col for convolution and pooling windows, and its gradient. `a` is gather's x
 * ([outer, dim, inner]) or scatterAdd's updates ([outer, indices, inner]); `o` is the other shape.
 */
typedef struct {
  const float *a;
  const int32_t *idx;
  float *o;
  size_t outer, dim, inner, ni;
} index_call;

/* Output rows [r0, r1) of gather, a row being one (outer, index) pair's `inner` elements. */
static void gather_rows(const index_call *c, size_t r0, size_t r1) {
  const size_t inner = c->inner;
  for (size_t r = r0; r < r1; r++) {
    const size_t o = r / c->ni, i = r % c->ni;
    const float *src = c->a + (o * c->dim + (size_t)c->idx[i]) * inner;
    float *dst = c->o + r * inner;
    if (inner == 1) *dst = *src;
    else memcpy(dst, src, inner * sizeof(float));
  }
}

static void gather_part(void *arg, int part, int parts) {
  const index_call *c = arg;
  const size_t rows = c->outer * c->ni;
  gather_rows(c, rows * (size_t)part / (size_t)parts, rows * (size_t)(part + 1) / (size_t)parts);
}

static void gather_exec(void *ctx) {
  index_call *c = ctx;
  const size_t rows = c->outer * c->ni;
  if (rows * c->inner < SPLIT_MIN || rows < 2 || !native_run_parts(gather_part, c, LOOP_CHUNKS))
    gather_rows(c, 0, rows);
}

/* Outer slices [o0, o1) of scatterAdd: zeroed, then each update added in index order, in float32. */
static void scatter_range(const index_call *c, size_t o0, size_t o1) {
  const size_t inner = c->inner, slice = c->dim * inner;
  memset(c->o + o0 * slice, 0, (o1 - o0) * slice * sizeof(float));
  for (size_t o = o0; o < o1; o++)
    for (size_t i = 0; i < c->ni; i++) {
      float *dst = c->o + (o * c->dim + (size_t)c->idx[i]) * inner;
      const float *src = c->a + (o * c->ni + i) * inner;
      for (size_t j = 0; j < inner; j++) dst[j] += src[j];
    }
}

static void scatter_part(void *arg, int part, int parts) {
  const index_call *c = arg;
  scatter_range(c, c->outer * (size_t)part / (size_t)parts, c->outer * (size_t)(part + 1) / (size_t)parts);
}

static void scatter_exec(void *ctx) {
  index_call *c = ctx;
  /* Split over outer slices only: two indices may name one output row, whose sums keep their order. */
  if (c->outer * c->ni * c->inner < SPLIT_MIN || c->outer < 2 || !native_run_parts(scatter_part, c, LOOP_CHUNKS))
    scatter_range(c, 0, c->outer);
}

/*
 * Reads and checks (a, indices, out, outer, dim, inner) of gather (`gathers`: a [outer, dim, inner], out
 * [outer, indices, inner]) or scatterAdd (the other way round), every index in [0, dim); runs or queues the
 * call. Throws, naming what is wrong (an index out of range by its value).
 */
static napi_value index_kernel(napi_env env, napi_callback_info cb, const char *name, bool gathers) {
  size_t argc = 6;
  napi_value argv[6];
  napi_typedarray_type type;
  void *data = NULL;
  size_t na, ni, no, d[3];
  char message[192];
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc != 6) {
    snprintf(message, sizeof message, "%s: expected (a, indices, out, outer, dim, inner)", name);
    return native_throw(env, message);
  }
  const float *a = native_f32(env, argv[0], &na);
  float *o = native_f32(env, argv[2], &no);
  bool ok = a != NULL && o != NULL &&
            napi_get_typedarray_info(env, argv[1], &type, &ni, &data, NULL, NULL) == napi_ok &&
            type == napi_int32_array;
  for (int k = 0; k < 3 && ok; k++) {
    int64_t v;
    ok = napi_get_value_int64(env, argv[3 + k], &v) == napi_ok && v >= 0;
    d[k] = ok ? (size_t)v : 0;
  }
  const size_t full = d[0] * d[1] * d[2], picked = d[0] * ni * d[2];
  if (!ok || na != (gathers ? full : picked) || no != (gathers ? picked : full)) {
    snprintf(message, sizeof message,
             "%s: expected Float32Arrays a and out of %s and %s elements, Int32Array indices, and whole "
             "numbers outer, dim, inner",
             name, gathers ? "outer*dim*inner" : "outer*indices*inner",
             gathers ? "outer*indices*inner" : "outer*dim*inner");
    return native_throw(env, message);
  }
  const int32_t *idx = data;
  for (size_t i = 0; i < ni; i++)
    if (idx[i] < 0 || (size_t)idx[i] >= d[1]) {
      snprintf(message, sizeof message, "%s: index %d is out of range [0, %zu)", name, (int)idx[i], d[1]);
      return native_throw(env, message);
    }
  index_call call = {a, idx, o, d[0], d[1], d[2], ni};
  RUN_OR_QUEUE((gathers ? gather_exec : scatter_exec), call, picked >= SPLIT_MIN, native_floats(a, na, false),
               {idx, idx + ni, false}, native_floats(o, no, true));
  return NULL;
}

/* gather(x, indices, out, outer, dim, inner): out[o, i, :] = x[o, indices[i], :] (see index_kernel). */
static napi_value gather(napi_env env, napi_callback_info cb) { return index_kernel(env, cb, "gather", true); }

/*
 * scatterAdd(updates, indices, out, outer, dim, inner): out [outer, dim, inner] zeroed, then
 * out[o, indices[i], :] += updates[o, i, :] for every i in order (each sum rounded to float32, as the
 * JavaScript loop into a Float32Array).
 */
static napi_value scatter_add(napi_env env, napi_callback_info cb) {
  return index_kernel(env, cb, "scatterAdd", false);
}

/* A checked pad call: x's shape and out's strides copied (JavaScript reuses its geometry array). */
typedef struct {
  const float *x;
  float *o;
  size_t nx, no, rank, base;
  float value;
  int32_t g[2 * MAX_RANK];
} pad_call;

/* out = value everywhere, then each run of x's last axis copied to its place (src/backends/cpu/indexing.ts padKernel). */
static void pad_exec(void *ctx) {
  const pad_call *c = ctx;
  for (size_t k = 0; k < c->no; k++) c->o[k] = c->value;
  const size_t rank = c->rank, inner = (size_t)c->g[rank - 1];
  const int32_t *shape = c->g, *os = c->g + rank;
  size_t idx[MAX_RANK] = {0};
  size_t at = c->base;
  for (size_t i = 0; i < c->nx; i += inner) {
    memcpy(c->o + at, c->x + i, inner * sizeof(float));
    next_row(idx, &at, shape, os, rank);
  }
}

/*
 * pad(x, out, geometry, base, value): out = value, with x (contiguous, `shape`) copied in at element
 * `base + sum(index[d] * outStrides[d])`; geometry = shape, then out's strides (rank 1-16).
 */
static napi_value pad(napi_env env, napi_callback_info cb) {
  size_t argc = 5;
  napi_value argv[5];
  size_t nx, no, rank;
  const int32_t *g;
  int64_t base;
  double value;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc != 5 ||
      napi_get_value_int64(env, argv[3], &base) != napi_ok || base < 0 ||
      napi_get_value_double(env, argv[4], &value) != napi_ok)
    return native_throw(env, "pad: expected (x, out, geometry: Int32Array, base, value)");
  const float *x = native_f32(env, argv[0], &nx);
  float *o = native_f32(env, argv[1], &no);
  if (x == NULL || o == NULL) return native_throw(env, "pad: x and out must be Float32Arrays");
  if (!out_geometry(env, "pad", argv[2], nx, no, (size_t)base, 1, &g, &rank)) return NULL;
  pad_call call;
  call.x = x;
  call.o = o;
  call.nx = nx;
  call.no = no;
  call.rank = rank;
  call.base = (size_t)base;
  call.value = (float)value;
  memcpy(call.g, g, 2 * rank * sizeof *g);
  RUN_OR_QUEUE(pad_exec, call, false, native_floats(x, nx, false), native_floats(o, no, true));
  return NULL;
}

/* --- combineSlices: task slices' results made one (src/meta/taskSlices.ts) --- */

/* Most arrays one combine sums. */
#define MAX_COMBINED 256

/* Below this many elements a combine runs on this thread alone. */
#define COMBINE_SPLIT_MIN 65536

typedef struct {
  float *out;
  const float *const *parts;
  const double *weights;
  size_t n;
  uint32_t count;
} combine_job;

WIDE void native_combine_f32(float *out, const float *const *parts, const double *weights, uint32_t count,
                             size_t lo, size_t hi) {
  const double w0 = weights[0];
  const float *a = parts[0];
  if (count == 2) {
    /* Two threads' slices, the common case: one pass the compiler vectorizes. */
    const double w1 = weights[1];
    const float *b = parts[1];
    for (size_t j = lo; j < hi; j++) out[j] = (float)(w0 * (double)a[j] + w1 * (double)b[j]);
    return;
  }
  for (size_t j = lo; j < hi; j++) {
    double acc = w0 * (double)a[j];
    for (uint32_t i = 1; i < count; i++) acc += weights[i] * (double)parts[i][j];
    out[j] = (float)acc;
  }
}

void native_combine_f64(double *out, const double *const *parts, const double *weights, uint32_t count,
                        size_t lo, size_t hi) {
  for (size_t j = lo; j < hi; j++) {
    double acc = weights[0] * parts[0][j];
    for (uint32_t i = 1; i < count; i++) acc += weights[i] * parts[i][j];
    out[j] = acc;
  }
}

static void combine_part(void *ctx, int part, int parts) {
  const combine_job *c = ctx;
  native_combine_f32(c->out, c->parts, c->weights, c->count, native_part_start(c->n, parts, part),
                     native_part_start(c->n, parts, part + 1));
}

/*
 * combineSlices(out, parts, weights): out[j] = weights[0] * parts[0][j] + weights[1] * parts[1][j] + ...,
 * summed in float64 in that order and rounded once (Float32Arrays of one length, weights a Float64Array),
 * split over this thread's kernel threads where big: the slices' results of runPrograms made one.
 */
static napi_value combine_slices(napi_env env, napi_callback_info cb) {
  const char *usage =
      "combineSlices: expected (out, parts, weights): Float32Arrays of one length, 1 to 256 of them in parts, "
      "and a Float64Array of as many weights";
  size_t argc = 3;
  napi_value argv[3];
  bool is_array = false;
  uint32_t count = 0;
  size_t n = 0, wn = 0;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc < 3 ||
      napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[1], &count) != napi_ok || count < 1 || count > MAX_COMBINED)
    return native_throw(env, usage);
  float *out = native_f32(env, argv[0], &n);
  napi_typedarray_type type;
  void *w = NULL;
  if (out == NULL || napi_get_typedarray_info(env, argv[2], &type, &wn, &w, NULL, NULL) != napi_ok ||
      type != napi_float64_array || wn != count)
    return native_throw(env, usage);
  const float *parts[MAX_COMBINED];
  for (uint32_t i = 0; i < count; i++) {
    napi_value v;
    size_t len = 0;
    if (napi_get_element(env, argv[1], i, &v) != napi_ok || (parts[i] = native_f32(env, v, &len)) == NULL ||
        len != n)
      return native_throw(env, usage);
  }
  if (native_queued()) return native_throw(env, "combineSlices: not while this thread records or queues its kernels");
  const combine_job job = {out, parts, w, n, count};
  if (n < COMBINE_SPLIT_MIN || !native_run_parts(combine_part, (void *)&job, 0)) combine_part((void *)&job, 0, 1);
  return NULL;
}

napi_status native_register_elementwise(napi_env env, napi_value exports) {
  const napi_property_descriptor fns[] = {
      {"binary", NULL, binary, NULL, NULL, NULL, napi_default, NULL},
      {"combineSlices", NULL, combine_slices, NULL, NULL, NULL, napi_default, NULL},
      {"adamStep", NULL, adam_step, NULL, NULL, NULL, napi_default, NULL},
      {"rows", NULL, rows, NULL, NULL, NULL, napi_default, NULL},
      {"strided", NULL, strided, NULL, NULL, NULL, napi_default, NULL},
      {"unary", NULL, unary, NULL, NULL, NULL, napi_default, NULL},
      {"colsum", NULL, colsum, NULL, NULL, NULL, napi_default, NULL},
      {"copy", NULL, copy, NULL, NULL, NULL, napi_default, NULL},
      {"adam", NULL, adam, NULL, NULL, NULL, napi_default, NULL},
      {"fill", NULL, fill, NULL, NULL, NULL, napi_default, NULL},
      {"castI32F32", NULL, cast_i32_f32, NULL, NULL, NULL, napi_default, NULL},
      {"reduceStrided", NULL, reduce_strided, NULL, NULL, NULL, napi_default, NULL},
      {"pad", NULL, pad, NULL, NULL, NULL, napi_default, NULL},
      {"gather", NULL, gather, NULL, NULL, NULL, napi_default, NULL},
      {"scatterAdd", NULL, scatter_add, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof fns / sizeof *fns, fns);
}
