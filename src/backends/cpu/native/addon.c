/*
 * metatape's optional native addon (`npm run setup:native`): the module entry and the argument helpers that
 * blas.c (matmul on the system's BLAS) and elementwise.c (float32 loops on the tensors' own storage) share.
 */
#include <node_api.h>

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
  return data;
}

/* Context-aware (NAPI_MODULE_INIT), so worker threads load it too. */
NAPI_MODULE_INIT() {
  if (native_register_blas(env, exports) != napi_ok || native_register_elementwise(env, exports) != napi_ok)
    return native_throw(env, "metatape native addon: registering its functions failed");
  return exports;
}
