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

static char library_path[1024];
static char library_config[512];
static char load_error[1024];

/*
 * Whether one copy of the library may run in several threads at once. OpenBLAS's single-threaded build is
 * safe for concurrent callers only when built with USE_LOCKING=1, and it does not report that flag: without
 * it, the allocator of its packing buffers claims a buffer with an unlocked test-and-set
 * (OpenMathLib/OpenBLAS#2126, #2136). Debian 12's libopenblas0-serial (0.3.21) is such a build: its
 * blas_memory_alloc releases alloc_lock after the first-call setup and scans the buffer table without it
 * (objdump). So when the library says it is sequential (openblas_get_parallel() == 0, or the call is
 * missing), each thread that multiplies gets a copy of its own (claim_copy), and calls into one
 * copy are serialized by that copy's lock, uncontended unless copies ran out.
 */
static bool sequential_library;

/*
 * One loaded copy of the library. Copy 0 is the dlopen'd one; the others are loaded with
 * dlmopen(LM_ID_NEWLM), each into a link-map namespace of its own, so each has its own buffer table and
 * state: two threads on two copies multiply at full speed with nothing shared. glibc allows 16 namespaces
 * and reserves static TLS for a few libc copies; where dlmopen fails (or is absent: macOS, musl), threads
 * share a copy and take turns on its lock.
 */
typedef struct {
  sgemm_fn sgemm;
  dgemm_fn dgemm;
  pthread_mutex_t lock;
  int users;
} blas_copy;

#define MAX_COPIES 8
static blas_copy copies[MAX_COPIES];
static int copy_count;
static int private_copies_failed;
static pthread_mutex_t copies_lock = PTHREAD_MUTEX_INITIALIZER;

/* A thread's (a Node-API env's) claim on a copy, made at its first product and given back at its exit. */
typedef struct {
  blas_copy *copy;
} blas_lane;

/* Fills copies[i] from an opened library handle; false if it lacks the CBLAS entries. */
static bool fill_copy(int i, void *lib) {
  sgemm_fn s = (sgemm_fn)dlsym(lib, "cblas_sgemm");
  dgemm_fn d = (dgemm_fn)dlsym(lib, "cblas_dgemm");
  if (s == NULL || d == NULL) return false;
  /* One thread per call: parallelism is metatape's (worker or kernel threads), as PyTorch's bench runs it. */
  set_threads_fn set_threads = (set_threads_fn)dlsym(lib, "openblas_set_num_threads");
  if (set_threads != NULL) set_threads(1);
  copies[i].sgemm = s;
  copies[i].dgemm = d;
  pthread_mutex_init(&copies[i].lock, NULL);
  copies[i].users = 0;
  return true;
}

/*
 * The copy a thread multiplies with: for a multithreaded library, copy 0 for all (it is made for concurrent
 * callers); for a sequential one, a copy no other live thread holds, loaded on demand, else the least shared.
 */
static blas_copy *claim_copy(void) {
  pthread_mutex_lock(&copies_lock);
  blas_copy *got = NULL;
  if (!sequential_library) got = &copies[0];
  for (int i = 0; got == NULL && i < copy_count; i++)
    if (copies[i].users == 0) got = &copies[i];
#if defined(__GLIBC__)
  if (got == NULL && copy_count < MAX_COPIES && !private_copies_failed) {
    void *lib = dlmopen(LM_ID_NEWLM, library_path, RTLD_NOW | RTLD_LOCAL);
    if (lib != NULL && fill_copy(copy_count, lib)) got = &copies[copy_count++];
    else {
      if (lib != NULL) dlclose(lib);
      private_copies_failed = 1;
    }
  }
#endif
  if (got == NULL) {
    got = &copies[0];
    for (int i = 1; i < copy_count; i++)
      if (copies[i].users < got->users) got = &copies[i];
  }
  got->users++;
  pthread_mutex_unlock(&copies_lock);
  return got;
}

/* Env cleanup hook: the exiting thread's copy is free for the next thread. */
static void release_lane(void *arg) {
  blas_lane *lane = arg;
  if (lane->copy != NULL) {
    pthread_mutex_lock(&copies_lock);
    lane->copy->users--;
    pthread_mutex_unlock(&copies_lock);
  }
  free(lane);
}

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
    if (!fill_copy(0, lib)) {
      size_t used = strlen(load_error);
      snprintf(load_error + used, sizeof load_error - used, "%s%s has no cblas_sgemm/cblas_dgemm",
               used ? "; " : "", name);
      dlclose(lib);
      continue;
    }
    copy_count = 1;
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
    sequential_library = parallel == NULL || parallel() == 0;
    if (sequential_library) {
      size_t used = strlen(library_config);
      snprintf(library_config + used, sizeof library_config - used,
               "; sequential: one copy of the library per thread");
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

/*
 * info() -> { path, config, copies, copyPerThread, copy } when a BLAS was loaded, { error } when none was:
 * copies is how many copies of the library are loaded, copyPerThread whether threads that multiply at the
 * same time each still get one of their own (a sequential library, and no dlmopen has failed), copy the
 * index of the calling thread's copy (-1 before its first product).
 */
static napi_value info(napi_env env, napi_callback_info cb) {
  blas_lane *lane;
  CHECK(napi_get_cb_info(env, cb, NULL, NULL, NULL, (void **)&lane));
  napi_value out;
  CHECK(napi_create_object(env, &out));
  if (copy_count > 0) {
    CHECK(napi_set_named_property(env, out, "path", make_string(env, library_path)));
    CHECK(napi_set_named_property(env, out, "config", make_string(env, library_config)));
    pthread_mutex_lock(&copies_lock);
    const int count = copy_count, failed = private_copies_failed;
    pthread_mutex_unlock(&copies_lock);
    napi_value v;
    CHECK(napi_create_int32(env, count, &v));
    CHECK(napi_set_named_property(env, out, "copies", v));
    CHECK(napi_get_boolean(env, sequential_library && !failed, &v));
    CHECK(napi_set_named_property(env, out, "copyPerThread", v));
    CHECK(napi_create_int32(env, lane->copy == NULL ? -1 : (int)(lane->copy - copies), &v));
    CHECK(napi_set_named_property(env, out, "copy", v));
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

/* Products below this many multiply-adds (all of a call's products together) run on one thread. */
#define SPLIT_MIN_MACS 131072.0

/* One gemm call, as its parts see it. */
/* Offsets a queued call carries inline (32 products); more are copied to the heap. */
#define INLINE_OFFSETS 64

typedef struct {
  blas_copy *copy;
  bool f32;
  int ta, tb, lda, ldb;
  int64_t m, n, k, count;
  const void *a, *b;
  void *c;
  const double *offsets;
  /* Parts a helper left to the caller: its copy was the caller's own (copies ran out, or no dlmopen). */
  bool left[256];
  /* A queued call's own copy of the offsets (JavaScript reuses its array): here when they fit, else
   * malloc'd and freed once the call has run (or, in a recorded program, with the program). */
  double *heap_offsets;
  bool program_offsets;
  double inline_offsets[INLINE_OFFSETS];
} gemm_call;

/* The copy of the library a kernel-thread helper multiplies with, claimed at its first product. */
static __thread blas_copy *helper_copy;

void native_blas_thread_exit(void) {
  if (helper_copy == NULL) return;
  pthread_mutex_lock(&copies_lock);
  helper_copy->users--;
  pthread_mutex_unlock(&copies_lock);
  helper_copy = NULL;
}

/* C_t[m0:m1, n0:n1] of product t, on `copy` (whose lock the caller holds where one is needed). */
static void gemm_block(blas_copy *copy, const gemm_call *g, int64_t t, int64_t m0, int64_t m1, int64_t n0,
                       int64_t n1) {
  if (m1 <= m0 || n1 <= n0) return;
  const size_t oa = (size_t)g->offsets[2 * t] + (size_t)(g->ta == TRANS ? m0 : m0 * g->lda);
  const size_t ob = (size_t)g->offsets[2 * t + 1] + (size_t)(g->tb == TRANS ? n0 * g->ldb : n0);
  const size_t oc = (size_t)(t * g->m * g->n + m0 * g->n + n0);
  const int rows = (int)(m1 - m0), cols = (int)(n1 - n0), k = (int)g->k, ldc = (int)g->n;
  if (g->f32)
    copy->sgemm(ROW_MAJOR, g->ta, g->tb, rows, cols, k, 1.0f, (const float *)g->a + oa, g->lda,
                (const float *)g->b + ob, g->ldb, 0.0f, (float *)g->c + oc, ldc);
  else
    copy->dgemm(ROW_MAJOR, g->ta, g->tb, rows, cols, k, 1.0, (const double *)g->a + oa, g->lda,
                (const double *)g->b + ob, g->ldb, 0.0, (double *)g->c + oc, ldc);
}

/*
 * Part `part` of `parts` of a call: a share of its products when it has at least one per part, else a share
 * of the one product's rows or columns (the longer side). Every element of C is still one BLAS dot product
 * over the whole k, so where a part's block lands changes only which kernel edge computes it.
 */
static void gemm_range_on(blas_copy *copy, const gemm_call *g, int part, int parts);

/* Part `part` of `parts`, computed by the caller on its own copy (a part a helper left). */
static void gemm_part_here(const gemm_call *g, int part, int parts) { gemm_range_on(g->copy, g, part, parts); }

static void gemm_part(void *arg, int part, int parts) {
  const gemm_call *g = arg;
  blas_copy *copy = g->copy;
  if (native_on_helper()) {
    if (helper_copy == NULL) helper_copy = claim_copy();
    /* The caller holds its copy's lock for the whole call: sharing it would deadlock, so leave the part. */
    if (sequential_library && helper_copy == g->copy) {
      ((gemm_call *)arg)->left[part] = true;
      return;
    }
    copy = helper_copy;
    if (sequential_library) pthread_mutex_lock(&copy->lock);
  }
  gemm_range_on(copy, g, part, parts);
  if (copy != g->copy && sequential_library) pthread_mutex_unlock(&copy->lock);
}

/* The blocks of part `part` of `parts`, on `copy`. */
static void gemm_range_on(blas_copy *copy, const gemm_call *g, int part, int parts) {
  if (g->count >= parts) {
    for (int64_t t = g->count * part / parts; t < g->count * (part + 1) / parts; t++)
      gemm_block(copy, g, t, 0, g->m, 0, g->n);
  } else
    for (int64_t t = 0; t < g->count; t++) {
      if (g->m >= g->n)
        gemm_block(copy, g, t, g->m * part / parts, g->m * (part + 1) / parts, 0, g->n);
      else
        gemm_block(copy, g, t, 0, g->m, g->n * part / parts, g->n * (part + 1) / parts);
    }
}

/* Runs a call whole on `call->copy`, split over the calling thread's kernel threads where it is big enough. */
static void gemm_run(gemm_call *call) {
  if (sequential_library) pthread_mutex_lock(&call->copy->lock);
  const int parts = native_parts();
  const double macs = (double)call->m * (double)call->n * (double)call->k * (double)call->count;
  const bool split = parts > 1 && macs >= SPLIT_MIN_MACS &&
                     (call->count >= parts || (call->m >= call->n ? call->m : call->n) >= 16 * parts);
  if (split) native_split_changes_bits();
  if (!split || !native_run_parts(gemm_part, call, parts)) gemm_part(call, 0, 1);
  else
    for (int part = 0; part < parts; part++)
      if (call->left[part]) gemm_part_here(call, part, parts);
  if (sequential_library) pthread_mutex_unlock(&call->copy->lock);
}

/* A queued call, on the queue's executor thread: it multiplies on a BLAS copy of its own. */
static void gemm_queued(void *ctx) {
  gemm_call *call = ctx;
  if (helper_copy == NULL) helper_copy = claim_copy();
  call->copy = helper_copy;
  call->offsets = call->heap_offsets != NULL ? call->heap_offsets : call->inline_offsets;
  gemm_run(call);
  if (!call->program_offsets) free(call->heap_offsets);
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
  blas_lane *lane;
  CHECK(napi_get_cb_info(env, cb, &argc, argv, NULL, (void **)&lane));
  if (argc != 10) {
    napi_throw_type_error(env, NULL, "gemm: expected 10 arguments");
    return NULL;
  }
  if (copy_count == 0) {
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
  gemm_call call = {NULL, type == napi_float32_array, ta, tb, lda, ldb, m, n, k, count, a, b, c,
                    offsets, {false}, NULL, false, {0}};
  /* Queued: the call keeps a copy of the offsets, since JavaScript reuses its array for the next call. */
  if (native_queued()) {
    const size_t offset_bytes = (size_t)count * 2 * sizeof(double);
    if (count * 2 <= INLINE_OFFSETS) memcpy(call.inline_offsets, offsets, offset_bytes);
    else {
      call.heap_offsets = malloc(offset_bytes > 0 ? offset_bytes : 1);
      if (call.heap_offsets == NULL) return native_throw(env, "gemm: out of memory");
      memcpy(call.heap_offsets, offsets, offset_bytes);
      /* A recorded call runs again and again: its offsets live as long as its program. */
      if (native_recording()) {
        if (!native_program_owns(call.heap_offsets)) {
          free(call.heap_offsets);
          return native_throw(env, "gemm: out of memory");
        }
        call.program_offsets = true;
      }
    }
    const size_t elt = call.f32 ? sizeof(float) : sizeof(double);
    const native_range ranges[] = {{a, (const char *)a + na * elt, false},
                                   {b, (const char *)b + nb * elt, false},
                                   {c, (const char *)c + nc * elt, true}};
    const double macs = (double)m * (double)n * (double)k * (double)count;
    native_enqueue(gemm_queued, &call, sizeof call, ranges, 3, macs >= SPLIT_MIN_MACS);
    return NULL;
  }
  if (lane->copy == NULL) lane->copy = claim_copy();
  call.copy = lane->copy;
  gemm_run(&call);
  return NULL;
}

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

/* Adds gemm and info to the module's exports; the library is opened once per process, whichever worker
 * thread loads the addon first, and each thread's gemm carries its own claim on a copy of it. */
napi_status native_register_blas(napi_env env, napi_value exports) {
  pthread_once(&blas_once, open_blas);
  blas_lane *lane = calloc(1, sizeof *lane);
  if (lane == NULL) return napi_generic_failure;
  napi_status status = napi_add_env_cleanup_hook(env, release_lane, lane);
  if (status != napi_ok) {
    free(lane);
    return status;
  }
  const napi_property_descriptor fns[] = {
      {"gemm", NULL, gemm, NULL, NULL, NULL, napi_default, lane},
      {"blasInfo", NULL, info, NULL, NULL, NULL, napi_default, lane},
  };
  return napi_define_properties(env, exports, sizeof fns / sizeof *fns, fns);
}
