/*
 * The native addon's matmul: float32 and float64 products handed to the system's BLAS (OpenBLAS where
 * installed), the library PyTorch's CPU build multiplies with.
 *
 * Why a BLAS and not more hand-written kernels: WebAssembly SIMD is 128 bits wide with no fused
 * multiply-add, so metatape's wasm gemm tops out near a quarter of an AVX-512 OpenBLAS on one core.
 * OpenBLAS is kept, tuned per CPU at run time and already on most Linux machines that run PyTorch.
 *
 * The library is opened with dlopen at load, not linked: the addon builds without BLAS headers, and a
 * machine without a BLAS gets a clear "not found" from `blasInfo()` instead of a failed require.
 * Built by src/backends/cpu/native/build.mjs (`npm run setup:native`) with the system C compiler and
 * Node's own headers; nothing is downloaded.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#ifdef __linux__
#include <link.h>
#endif
#include <node_api.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "native.h"

/* CBLAS's enums (cblas.h), fixed by the standard: row-major, no-transpose, transpose. */
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int,
                         float, float *, int);
typedef void (*dgemm_fn)(int, int, int, int, int, int, double, const double *, int, const double *, int,
                         double, double *, int);
typedef void (*set_threads_fn)(int);
typedef char *(*get_config_fn)(void);
typedef char *(*get_corename_fn)(void);
typedef int (*get_parallel_fn)(void);

static sgemm_fn sgemm;
static dgemm_fn dgemm;
static char library_path[1024];
static char library_config[512];
static char load_error[1024];

/*
 * Whether calls into the BLAS must be serialized across threads. OpenBLAS's single-threaded build is safe
 * to call from several threads at once only when it was built with USE_LOCKING=1 (its allocator of packing
 * buffers is otherwise unlocked: OpenMathLib/OpenBLAS#2126, #2136), and the library does not report that
 * flag. So when it says it is sequential (openblas_get_parallel() == 0, or the call is missing), products
 * from metatape's worker threads take one lock: a single thread pays an uncontended lock per call (tens of
 * ns against a product's microseconds), and `trainer.threads` never risks a wrong product.
 */
static bool serialize_calls;
static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;

/* Libraries tried in order: an explicit METATAPE_BLAS path, the serial OpenBLAS Debian ships (no thread
 * pool of its own to fight metatape's workers), then whatever OpenBLAS or CBLAS the loader finds. */
static void open_blas(void) {
  const char *candidates[] = {
      getenv("METATAPE_BLAS"),
      "/usr/lib/x86_64-linux-gnu/openblas-serial/libopenblas.so.0",
      "/usr/lib/aarch64-linux-gnu/openblas-serial/libopenblas.so.0",
      "libopenblas.so.0",
      "libopenblas.so",
      "libopenblas.dylib",
      "libcblas.so.3",
  };
  load_error[0] = 0;
  for (size_t i = 0; i < sizeof candidates / sizeof *candidates; i++) {
    const char *name = candidates[i];
    if (name == NULL || name[0] == 0) continue;
    void *lib = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
      const char *e = dlerror();
      size_t used = strlen(load_error);
      snprintf(load_error + used, sizeof load_error - used, "%s%s", used ? "; " : "", e ? e : name);
      continue;
    }
    sgemm_fn s = (sgemm_fn)dlsym(lib, "cblas_sgemm");
    dgemm_fn d = (dgemm_fn)dlsym(lib, "cblas_dgemm");
    if (s == NULL || d == NULL) {
      size_t used = strlen(load_error);
      snprintf(load_error + used, sizeof load_error - used, "%s%s has no cblas_sgemm/cblas_dgemm",
               used ? "; " : "", name);
      dlclose(lib);
      continue;
    }
    sgemm = s;
    dgemm = d;
    /* One thread per call: parallelism is metatape's (worker threads), as PyTorch's bench runs it. */
    set_threads_fn set_threads = (set_threads_fn)dlsym(lib, "openblas_set_num_threads");
    if (set_threads != NULL) set_threads(1);
    snprintf(library_path, sizeof library_path, "%s", name);
#ifdef __linux__
    /* The file the loader resolved the name to, so that the log says which library really runs. */
    struct link_map *map = NULL;
    if (dlinfo(lib, RTLD_DI_LINKMAP, &map) == 0 && map != NULL && map->l_name != NULL && map->l_name[0])
      snprintf(library_path, sizeof library_path, "%s", map->l_name);
#endif
    get_config_fn config = (get_config_fn)dlsym(lib, "openblas_get_config");
    get_corename_fn corename = (get_corename_fn)dlsym(lib, "openblas_get_corename");
    snprintf(library_config, sizeof library_config, "%s%s%s", config ? config() : "",
             corename ? " core=" : "", corename ? corename() : "");
    get_parallel_fn parallel = (get_parallel_fn)dlsym(lib, "openblas_get_parallel");
    serialize_calls = parallel == NULL || parallel() == 0;
    if (serialize_calls) {
      size_t used = strlen(library_config);
      snprintf(library_config + used, sizeof library_config - used, "; one call at a time across threads");
    }
    return;
  }
}

#define CHECK(call)                                                          \
  do {                                                                       \
    if ((call) != napi_ok) return native_throw(env, "native blas: " #call " failed"); \
  } while (0)

static napi_value make_string(napi_env env, const char *s) {
  napi_value v;
  napi_create_string_utf8(env, s, NAPI_AUTO_LENGTH, &v);
  return v;
}

/* info() -> { path, config } when a BLAS was loaded, { error } when none was. */
static napi_value info(napi_env env, napi_callback_info cb) {
  (void)cb;
  napi_value out;
  CHECK(napi_create_object(env, &out));
  if (sgemm != NULL) {
    CHECK(napi_set_named_property(env, out, "path", make_string(env, library_path)));
    CHECK(napi_set_named_property(env, out, "config", make_string(env, library_config)));
  } else {
    CHECK(napi_set_named_property(env, out, "error", make_string(env, load_error)));
  }
  return out;
}

/* The data pointer and element count of a typed array argument; its type must be `want`. */
static void *typed_data(napi_env env, napi_value v, napi_typedarray_type want, size_t *length) {
  napi_typedarray_type type;
  void *data = NULL;
  if (napi_get_typedarray_info(env, v, &type, length, &data, NULL, NULL) != napi_ok || type != want)
    return NULL;
  return data;
}

/*
 * gemm(a, b, c, m, n, k, transA, transB, offsets, count): `count` products
 * C_t[m, n] = op(A_t) op(B_t) with A_t at a + offsets[2t], B_t at b + offsets[2t + 1] (element offsets,
 * whole numbers in a Float64Array, which holds any offset a typed array can have) and C_t at c + t*m*n, all
 * row-major; op transposes where asked. a, b and c are all Float32Array (sgemm) or all Float64Array (dgemm).
 * Every range is checked against the arrays' lengths before BLAS runs, so a wrong call throws instead of
 * reading or writing outside them.
 */
static napi_value gemm(napi_env env, napi_callback_info cb) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(napi_get_cb_info(env, cb, &argc, argv, NULL, NULL));
  if (argc != 10) {
    napi_throw_type_error(env, NULL, "gemm: expected 10 arguments");
    return NULL;
  }
  if (sgemm == NULL) {
    napi_throw_error(env, NULL, "gemm: no BLAS library was loaded");
    return NULL;
  }
  napi_typedarray_type type;
  size_t na, nb, nc, n_offsets;
  void *a;
  if (napi_get_typedarray_info(env, argv[0], &type, &na, &a, NULL, NULL) != napi_ok ||
      (type != napi_float32_array && type != napi_float64_array)) {
    napi_throw_type_error(env, NULL, "gemm: a must be a Float32Array or Float64Array");
    return NULL;
  }
  void *b = typed_data(env, argv[1], type, &nb);
  void *c = typed_data(env, argv[2], type, &nc);
  if (b == NULL || c == NULL) {
    napi_throw_type_error(env, NULL, "gemm: a, b and c must be typed arrays of one float type");
    return NULL;
  }
  int64_t dims[3];
  for (int i = 0; i < 3; i++) CHECK(napi_get_value_int64(env, argv[3 + i], &dims[i]));
  bool trans_a, trans_b;
  CHECK(napi_get_value_bool(env, argv[6], &trans_a));
  CHECK(napi_get_value_bool(env, argv[7], &trans_b));
  const double *offsets = typed_data(env, argv[8], napi_float64_array, &n_offsets);
  int64_t count;
  CHECK(napi_get_value_int64(env, argv[9], &count));
  if (offsets == NULL || count < 0 || (size_t)count * 2 > n_offsets) {
    napi_throw_type_error(env, NULL, "gemm: offsets must be a Float64Array of at least 2*count offsets");
    return NULL;
  }
  const int64_t m = dims[0], n = dims[1], k = dims[2];
  if (m <= 0 || n <= 0 || k <= 0 || m > INT32_MAX || n > INT32_MAX || k > INT32_MAX) {
    napi_throw_range_error(env, NULL, "gemm: m, n and k must be positive 32-bit sizes");
    return NULL;
  }
  if ((double)(m * n) * (double)count > (double)nc) {
    napi_throw_range_error(env, NULL, "gemm: c is shorter than count*m*n");
    return NULL;
  }
  for (int64_t t = 0; t < 2 * count; t++) {
    const double off = offsets[t];
    const double need = (double)(t % 2 == 0 ? m * k : k * n);
    if (!(off >= 0) || off != (double)(size_t)off || off + need > (double)(t % 2 == 0 ? na : nb)) {
      napi_throw_range_error(env, NULL, "gemm: a matrix offset runs past its array");
      return NULL;
    }
  }
  const int lda = trans_a ? (int)m : (int)k;
  const int ldb = trans_b ? (int)k : (int)n;
  const int ta = trans_a ? TRANS : NO_TRANS, tb = trans_b ? TRANS : NO_TRANS;
  if (serialize_calls) pthread_mutex_lock(&blas_lock);
  for (int64_t t = 0; t < count; t++) {
    const size_t oa = (size_t)offsets[2 * t], ob = (size_t)offsets[2 * t + 1];
    const size_t oc = (size_t)t * (size_t)(m * n);
    if (type == napi_float32_array)
      sgemm(ROW_MAJOR, ta, tb, (int)m, (int)n, (int)k, 1.0f, (const float *)a + oa, lda,
            (const float *)b + ob, ldb, 0.0f, (float *)c + oc, (int)n);
    else
      dgemm(ROW_MAJOR, ta, tb, (int)m, (int)n, (int)k, 1.0, (const double *)a + oa, lda,
            (const double *)b + ob, ldb, 0.0, (double *)c + oc, (int)n);
  }
  if (serialize_calls) pthread_mutex_unlock(&blas_lock);
  return NULL;
}

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

/* Adds gemm and info to the module's exports; the library is opened once per process, whichever worker
 * thread loads the addon first. */
napi_status native_register_blas(napi_env env, napi_value exports) {
  pthread_once(&blas_once, open_blas);
  const napi_property_descriptor fns[] = {
      {"gemm", NULL, gemm, NULL, NULL, NULL, napi_default, NULL},
      {"blasInfo", NULL, info, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof fns / sizeof *fns, fns);
}
