/* What the native addon's source files share. */
#ifndef METATAPE_NATIVE_H
#define METATAPE_NATIVE_H
#include <node_api.h>
#include <stddef.h>

/* Throws a JS Error with `message` and returns NULL (a Node-API callback's "threw" result). */
napi_value native_throw(napi_env env, const char *message);

/* The data of a Float32Array argument and its length in floats, or NULL if it is not one. */
float *native_f32(napi_env env, napi_value v, size_t *length);

/* Adds gemm and blasInfo (blas.c) to the module's exports. */
napi_status native_register_blas(napi_env env, napi_value exports);

/* Adds binary, rows, unary and colsum (elementwise.c) to the module's exports. */
napi_status native_register_elementwise(napi_env env, napi_value exports);

#endif
