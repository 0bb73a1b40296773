/* What the native addon's source files share. */
#ifndef METATAPE_NATIVE_H
#define METATAPE_NATIVE_H
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Throws a JS Error with `message` and returns NULL (a Node-API callback's "threw" result). */
napi_value native_throw(napi_env env, const char *message);

/* The data of a Float32Array argument and its length in floats, or NULL if it is not one. */
float *native_f32(napi_env env, napi_value v, size_t *length);

/* Adds gemm and blasInfo (blas.c) to the module's exports. */
napi_status native_register_blas(napi_env env, napi_value exports);

/* Adds binary, rows, unary and colsum (elementwise.c) to the module's exports. */
napi_status native_register_elementwise(napi_env env, napi_value exports);

/* Adds setKernelThreads (parallel.c) to the module's exports. */
napi_status native_register_parallel(napi_env env, napi_value exports);

/* One part of a kernel split over `parts` threads. */
typedef void (*native_part_fn)(void *ctx, int part, int parts);

/* Threads the calling thread's products split over (1 without a pool, and with a task slices' pool, whose
 * threads split elementwise loops only: native_run_parts). */
int native_parts(void);

/*
 * Runs fn(ctx, i, chunks) for every part i < chunks (chunks < 1: one per thread), each part on whichever
 * thread claims it first, this one included, returning when all are done; or runs nothing and returns false
 * when this thread has no helpers.
 */
bool native_run_parts(native_part_fn fn, void *ctx, int chunks);

/*
 * Called by a kernel just before it splits where its split changes its last bits (a product: where a block
 * lands decides which BLAS kernel edge computes it): a static schedule (schedule.c) must then split it
 * exactly as the pool would, so that its values do not depend on the schedule.
 */
void native_split_changes_bits(void);

/* True on a kernel-thread helper (false on the thread that called native_run_parts). */
bool native_on_helper(void);

/* Most bytes of a queued kernel's call (its context, copied into the queue). */
#define NATIVE_CALL_BYTES 1024

/* A queued kernel: runs the whole kernel its context describes (splitting it as a direct call would). */
typedef void (*native_exec_fn)(void *ctx);

/* Memory a queued kernel reads or writes: bytes [lo, hi). */
typedef struct {
  const void *lo, *hi;
  bool write;
} native_range;

/* Most ranges one kernel names. */
#define NATIVE_MAX_RANGES 6

/* The range of `n` floats at `p`, read or written. */
static inline native_range native_floats(const void *p, size_t n, bool write) {
  const native_range r = {p, (const char *)p + n * sizeof(float), write};
  return r;
}

/*
 * When the calling thread queues its kernels (setKernelThreads(n, true)): copies `size` bytes of `ctx` (at
 * most NATIVE_CALL_BYTES) into its queue, to run as exec(copy) on another thread once every kernel queued
 * before it that touches its memory has run (`ranges`, at most NATIVE_MAX_RANGES: what it reads and writes),
 * and returns true. `big`: it would split over kernel threads (the JS thread leaves it to the executor and
 * helps with its parts). Returns false, queuing nothing, on a thread that does not queue: the caller then runs
 * the kernel itself. Arguments are checked before: a queued kernel cannot throw.
 */
bool native_enqueue(native_exec_fn exec, const void *ctx, size_t size, const native_range *ranges, int count,
                    bool big);

/* Whether the calling thread queues its kernels or records them into a program (native_enqueue takes them). */
bool native_queued(void);

/* Whether the calling thread records its kernels into a program (parallel.c, "Kernel programs"). */
bool native_recording(void);

/*
 * Hands `memory` (malloc'd, pointed to by the kernel about to be recorded) to the recording program, which
 * frees it with itself; false when none records (the caller keeps it).
 */
bool native_program_owns(void *memory);

/* Gives back the calling thread's copy of the BLAS library, if it took one (a helper thread at its exit). */
void native_blas_thread_exit(void);

/*
 * Work laid end to end over several items (arrays of a call, each `n` units long), shared by `parts`
 * threads: part `part` takes units [lo, hi) of the `total` (native_share), which cover units [a, b) of the
 * item starting at unit `at` (native_overlap; none where a >= b).
 */
static inline void native_share(size_t total, int part, int parts, size_t *lo, size_t *hi) {
  *lo = total * (size_t)part / (size_t)parts;
  *hi = total * (size_t)(part + 1) / (size_t)parts;
}
static inline void native_overlap(size_t lo, size_t hi, size_t at, size_t n, size_t *a, size_t *b) {
  *a = lo > at ? lo - at : 0;
  *b = hi > at ? (hi - at < n ? hi - at : n) : 0;
}

/*
 * out[j] = weights[0] * parts[0][j] + ... + weights[count - 1] * parts[count - 1][j] for j in [lo, hi), summed
 * in float64 in that order and rounded once: task slices' results made one (elementwise.c).
 */
void native_combine_f32(float *out, const float *const *parts, const double *weights, uint32_t count, size_t lo,
                        size_t hi);
void native_combine_f64(double *out, const double *const *parts, const double *weights, uint32_t count,
                        size_t lo, size_t hi);

/* The first element of part `part` of `n` split in `parts` (whole 16-element blocks, so each part starts
 * on a vector boundary): part p covers [native_part_start(n, parts, p), native_part_start(n, parts, p + 1)). */
static inline size_t native_part_start(size_t n, int parts, int part) {
  if (part >= parts) return n;
  const size_t blocks = (n + 15) / 16, per = (blocks + (size_t)parts - 1) / (size_t)parts;
  const size_t at = per * (size_t)part * 16;
  return at < n ? at : n;
}

#endif
