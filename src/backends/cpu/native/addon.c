/*
 * metatape's optional native addon (`npm run setup:native`): the module entry and the argument helpers that
 * blas.c (matmul on the system's BLAS) and elementwise.c (float32 loops on the tensors' own storage) share.
 */
#include <limits.h>
#include <node_api.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "native.h"

napi_value native_throw(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

float *native_f32(napi_env env, napi_value v, size_t *length) {
  napi_typedarray_type type;
  void *data = NULL;
  if (napi_get_typedarray_info(env, v, &type, length, &data, NULL, NULL) != napi_ok ||
      type != napi_float32_array)
    return NULL;
  /* An empty array may have no storage at all: any non-null pointer serves, nothing is read or written. */
  static float nothing;
  return data != NULL ? data : &nothing;
}

/*
 * Tensor storage is malloc'd (Node's ArrayBuffer allocator). By default glibc serves every block over
 * 128 KiB to 32 MiB with its own mmap and unmaps it on free, and returns freed heap tops to the OS, so each
 * new big tensor faults in fresh zeroed pages: conv4's meta-iteration, whose intermediates reach
 * gigabytes, spent 40% of its time in the kernel doing that (1.2 million page faults per 2 iterations).
 * Kept in the heap and not trimmed, freed storage is reused as is: 5.4 s -> 2.1 s per iteration, the same
 * peak RSS (`/usr/bin/time -v` on bench/fairWorker.ts conv4). The process keeps its peak heap; that is the
 * trade. METATAPE_MALLOC=system leaves glibc's defaults.
 */
static void tune_malloc(void) {
#if defined(__GLIBC__)
  const char *choice = getenv("METATAPE_MALLOC");
  if (choice != NULL && strcmp(choice, "system") == 0) return;
  mallopt(M_MMAP_MAX, 0);
  mallopt(M_TRIM_THRESHOLD, INT_MAX);
#endif
}

static pthread_once_t malloc_once = PTHREAD_ONCE_INIT;

/* Context-aware (NAPI_MODULE_INIT), so worker threads load it too. */
NAPI_MODULE_INIT() {
  pthread_once(&malloc_once, tune_malloc);
  if (native_register_blas(env, exports) != napi_ok || native_register_elementwise(env, exports) != napi_ok ||
      native_register_parallel(env, exports) != napi_ok)
    return native_throw(env, "metatape native addon: registering its functions failed");
  return exports;
}
