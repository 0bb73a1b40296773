/*
 * Kernel threads: helper threads that take parts of one big kernel (a product's rows or columns, a range of
 * an elementwise loop) while the calling thread does the first part, so that a single meta-gradient uses
 * several cores. This is `trainer.parallelism: kernels`: unlike splitting a meta-batch's tasks over worker
 * threads, it does not repeat each op's fixed cost (dispatch, tape, small ops) once per thread, which on the
 * Omniglot MLP made a 16-task half cost 60% of the 32-task whole.
 *
 * Each JS thread (Node-API env) has its own pool, made by setKernelThreads(n) on that thread; a thread
 * without one runs every kernel whole. Between kernels the helpers spin for a short while (the next big
 * kernel of a meta-gradient usually follows within microseconds, and a sleeping thread takes tens of
 * microseconds to wake), then sleep on a condition variable.
 *
 * Parts are claimed, not assigned: the caller and the helpers each take the next unclaimed part until none
 * is left, and the caller then waits only for parts a helper has started. A helper that is late (asleep,
 * or its core busy with a garbage collector, a compiler thread or another process) costs nothing but its
 * share of the speed-up: the caller does its parts. With parts fixed per helper, the caller waited for the
 * late one, and on a loaded 2-core machine a split product took up to 18 times its one-thread time.
 * Which thread computes a part never changes its values (each part is a fixed range of the output).
 */
#define _GNU_SOURCE
#include <node_api.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "native.h"

#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ volatile("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

/* Most parts one kernel is cut into (gemm's per-part bookkeeping holds 256). */
#define MAX_CHUNKS 256

/* How long an idle helper spins before it sleeps. */
#define SPIN_NS 100000L

typedef struct kernel_pool kernel_pool;

typedef struct {
  kernel_pool *pool;
  int index;
  pthread_t thread;
} helper_slot;

struct kernel_pool {
  int parts;
  helper_slot *helpers;
  pthread_mutex_t lock;
  pthread_cond_t wake;
  /* The job: its number (high 32 bits, counting from 1), its part count (16 bits) and its next unclaimed
   * part (low 16 bits). The count travels with the claim: a thread that read it from a field could see the
   * next job's count against the last job's claim, and claim a part that does not exist. */
  _Atomic uint64_t state;
  /* Parts of the current job finished, by whichever thread. */
  atomic_int done;
  atomic_int sleepers;
  atomic_bool stop;
  /* The current job: written before its state is posted, read after a part of it is claimed. */
  native_part_fn fn;
  void *ctx;
};

/* The calling JS thread's pool, or NULL. */
static __thread kernel_pool *current;

/* True on a kernel-thread helper. */
static __thread bool on_helper;

bool native_on_helper(void) { return on_helper; }

static long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1000000000L + t.tv_nsec;
}

#define JOB_OF(state) ((uint32_t)((state) >> 32))
#define CHUNKS_OF(state) ((uint32_t)(((state) >> 16) & 0xffffu))
#define PART_OF(state) ((uint32_t)((state) & 0xffffu))

/* Waits until a job other than `seen` is posted or the pool stops: spins, then sleeps. Returns that job. */
static uint32_t wait_for_job(kernel_pool *p, uint32_t seen) {
  const long until = now_ns() + SPIN_NS;
  for (unsigned spins = 0;; spins++) {
    const uint32_t job = JOB_OF(atomic_load_explicit(&p->state, memory_order_acquire));
    if (job != seen || atomic_load(&p->stop)) return job;
    if ((spins & 63) == 63 && now_ns() > until) break;
    CPU_RELAX();
  }
  pthread_mutex_lock(&p->lock);
  atomic_fetch_add(&p->sleepers, 1);
  while (JOB_OF(atomic_load(&p->state)) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->wake, &p->lock);
  atomic_fetch_sub(&p->sleepers, 1);
  pthread_mutex_unlock(&p->lock);
  return JOB_OF(atomic_load_explicit(&p->state, memory_order_acquire));
}

/*
 * Claims and runs parts of job `job` until none is left; returns when there is nothing more to claim. A
 * claim is a compare-and-swap on the job number and part together, so a thread that saw an older job never
 * takes a part of a newer one with the older job's function: the caller posts a new job only once every
 * part of the last is done, and a part is claimed before the job's function and context are read.
 */
static void run_claimed(kernel_pool *p, uint32_t job) {
  uint64_t s = atomic_load_explicit(&p->state, memory_order_acquire);
  for (;;) {
    if (JOB_OF(s) != job || PART_OF(s) >= CHUNKS_OF(s)) return;
    if (!atomic_compare_exchange_weak_explicit(&p->state, &s, s + 1, memory_order_acq_rel,
                                               memory_order_acquire))
      continue;
    p->fn(p->ctx, (int)PART_OF(s), (int)CHUNKS_OF(s));
    atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
    s = atomic_load_explicit(&p->state, memory_order_acquire);
  }
}

static void *helper_main(void *arg) {
  helper_slot *slot = arg;
  kernel_pool *p = slot->pool;
  on_helper = true;
  uint32_t seen = 0;
  for (;;) {
    seen = wait_for_job(p, seen);
    if (atomic_load(&p->stop)) break;
    run_claimed(p, seen);
  }
  native_blas_thread_exit();
  return NULL;
}

static void stop_pool(kernel_pool *p) {
  if (p == NULL) return;
  pthread_mutex_lock(&p->lock);
  atomic_store(&p->stop, true);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->lock);
  for (int i = 1; i < p->parts; i++) pthread_join(p->helpers[i].thread, NULL);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->wake);
  free(p->helpers);
  free(p);
}

/* A pool of `parts` threads in all (parts - 1 helpers), or NULL if a thread could not start. */
static kernel_pool *start_pool(int parts) {
  kernel_pool *p = calloc(1, sizeof *p);
  helper_slot *helpers = calloc((size_t)parts, sizeof *helpers);
  if (p == NULL || helpers == NULL) {
    free(p);
    free(helpers);
    return NULL;
  }
  p->parts = 1;
  p->helpers = helpers;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->wake, NULL);
  for (int i = 1; i < parts; i++) {
    helpers[i].pool = p;
    helpers[i].index = i;
    if (pthread_create(&helpers[i].thread, NULL, helper_main, &helpers[i]) != 0) {
      stop_pool(p);
      return NULL;
    }
    p->parts = i + 1;
  }
  return p;
}

int native_parts(void) { return current == NULL ? 1 : current->parts; }

bool native_run_parts(native_part_fn fn, void *ctx, int chunks) {
  kernel_pool *p = current;
  if (p == NULL || p->parts < 2) return false;
  if (chunks < 1) chunks = p->parts;
  if (chunks > MAX_CHUNKS) chunks = MAX_CHUNKS;
  p->fn = fn;
  p->ctx = ctx;
  atomic_store_explicit(&p->done, 0, memory_order_relaxed);
  const uint32_t job = JOB_OF(atomic_load_explicit(&p->state, memory_order_relaxed)) + 1;
  atomic_store_explicit(&p->state, (uint64_t)job << 32 | (uint64_t)chunks << 16, memory_order_release);
  if (atomic_load(&p->sleepers) > 0) {
    pthread_mutex_lock(&p->lock);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
  }
  run_claimed(p, job);
  while (atomic_load_explicit(&p->done, memory_order_acquire) < chunks) CPU_RELAX();
  return true;
}

/* Env cleanup hook: the exiting thread's helpers stop with it. */
static void stop_current(void *arg) {
  (void)arg;
  stop_pool(current);
  current = NULL;
}

/* setKernelThreads(n): this thread's big kernels run on n threads from now on (1: no helpers). Returns n. */
static napi_value set_kernel_threads(napi_env env, napi_callback_info cb) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc != 1 ||
      napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1 || n > 256)
    return native_throw(env, "setKernelThreads: expected a whole number of threads from 1 to 256");
  if (native_parts() != n) {
    stop_pool(current);
    current = NULL;
    if (n > 1) {
      current = start_pool(n);
      if (current == NULL) return native_throw(env, "setKernelThreads: could not start the helper threads");
    }
  }
  napi_value out;
  napi_create_int32(env, native_parts(), &out);
  return out;
}

napi_status native_register_parallel(napi_env env, napi_value exports) {
  napi_status status = napi_add_env_cleanup_hook(env, stop_current, NULL);
  if (status != napi_ok) return status;
  const napi_property_descriptor fns[] = {
      {"setKernelThreads", NULL, set_kernel_threads, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, 1, fns);
}
