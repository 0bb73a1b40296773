/*
 * Kernel threads: helper threads that take parts of one big kernel (a product's rows or columns, a range of
 * an elementwise loop) while the calling thread does the first part, so that a single meta-gradient uses
 * several cores (`trainer.parallelism: kernels`), or each run a task slice's recorded program
 * (`trainer.parallelism: tasks`, "Task slices" below).
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
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "native.h"
#include "program.h"

/* Most parts one kernel is cut into (gemm's per-part bookkeeping holds 256). */
#define MAX_CHUNKS 256

/* How long an idle helper spins before it sleeps. */
#define SPIN_NS 100000L

/*
 * The same for a pool of task slices' threads: between two meta-gradients its helpers wait out the outer
 * step (0.1-0.2 ms on the Omniglot MLP), and a sleeping one took 150-200 us to start its program on this
 * project's 2-core VMs, where it starts within 5 us spinning.
 */
#define SLICES_SPIN_NS 2000000L

typedef struct kernel_pool kernel_pool;

typedef struct {
  kernel_pool *pool;
  int index;
  pthread_t thread;
} helper_slot;

struct kernel_pool {
  /* Threads that claim parts: the caller, the helpers, and in queue mode the JS thread while it syncs. */
  int parts;
  /*
   * Task slices' threads (runPrograms): products never split (native_parts() is 1), since their last bits
   * would depend on it and a slice's program runs them whole; elementwise loops, whose values do not depend
   * on the split, do.
   */
  bool slices;
  /* How long an idle helper spins before it sleeps. */
  long spin_ns;
  /* Helper threads started (helpers[1..started]). */
  int started;
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
  const long until = now_ns() + p->spin_ns;
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
 * Claims and runs parts of job `job` until none is left; returns how many it ran once there is nothing more
 * to claim. A
 * claim is a compare-and-swap on the job number and part together, so a thread that saw an older job never
 * takes a part of a newer one with the older job's function: the caller posts a new job only once every
 * part of the last is done, and a part is claimed before the job's function and context are read.
 */
static int run_claimed(kernel_pool *p, uint32_t job) {
  uint64_t s = atomic_load_explicit(&p->state, memory_order_acquire);
  for (int ran = 0;; ran++) {
    if (JOB_OF(s) != job || PART_OF(s) >= CHUNKS_OF(s)) return ran;
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
  for (int i = 1; i <= p->started; i++) pthread_join(p->helpers[i].thread, NULL);
  pthread_mutex_destroy(&p->lock);
  pthread_cond_destroy(&p->wake);
  free(p->helpers);
  free(p);
}

/*
 * A pool of `parts` part-claiming threads in all, `helpers` of them started here (the caller is one more;
 * in queue mode the JS thread while it syncs is the last), or NULL if a thread could not start.
 */
static kernel_pool *start_pool(int parts, int helpers_wanted, bool slices) {
  kernel_pool *p = calloc(1, sizeof *p);
  helper_slot *helpers = calloc((size_t)helpers_wanted + 1, sizeof *helpers);
  if (p == NULL || helpers == NULL) {
    free(p);
    free(helpers);
    return NULL;
  }
  p->parts = parts;
  p->slices = slices;
  p->spin_ns = slices ? SLICES_SPIN_NS : SPIN_NS;
  p->helpers = helpers;
  pthread_mutex_init(&p->lock, NULL);
  pthread_cond_init(&p->wake, NULL);
  for (int i = 1; i <= helpers_wanted; i++) {
    helpers[i].pool = p;
    helpers[i].index = i;
    if (pthread_create(&helpers[i].thread, NULL, helper_main, &helpers[i]) != 0) {
      stop_pool(p);
      return NULL;
    }
    p->started = i;
  }
  return p;
}

/*
 * A scheduled kernel's split (native_split_begin, schedule.c): the calling thread runs only its part of a
 * kernel that splits, the other thread of the schedule the rest, each a fixed range of chunks, so the
 * values are those of the pool's split (each chunk is a fixed range of the output).
 */
typedef struct {
  bool on, probe;
  int part, parts;
  /* Since native_split_begin: a kernel split, and one whose split changes its last bits. */
  bool split, exact;
} split_mode;

static __thread split_mode scheduled;

void native_split_begin(int part, int parts, bool probe) {
  scheduled = (split_mode){true, probe, part, parts, false, false};
}

void native_split_end(bool *split, bool *exact) {
  *split = scheduled.split;
  *exact = scheduled.exact;
  scheduled.on = false;
}

void native_split_changes_bits(void) {
  if (scheduled.on) scheduled.exact = true;
}

int native_parts(void) {
  if (scheduled.on) return scheduled.parts;
  return current == NULL || current->slices ? 1 : current->parts;
}

/* Runs fn's `chunks` parts on pool `p` (this thread claiming too), returning when all are done. */
static void pool_run(kernel_pool *p, native_part_fn fn, void *ctx, int chunks) {
  p->fn = fn;
  p->ctx = ctx;
  atomic_store_explicit(&p->done, 0, memory_order_relaxed);
  const uint32_t job = JOB_OF(atomic_load_explicit(&p->state, memory_order_relaxed)) + 1;
  atomic_store_explicit(&p->state, (uint64_t)job << 32 | (uint64_t)chunks << 16, memory_order_release);
  /* The store before the load of `sleepers`, as a helper going to sleep counts itself before it reads the
   * job again (wait_for_job): else both could miss the other, the helper sleep through the job, and a slices
   * job, whose parts wait at a barrier for a thread each, never end. */
  atomic_thread_fence(memory_order_seq_cst);
  if (atomic_load(&p->sleepers) > 0) {
    pthread_mutex_lock(&p->lock);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
  }
  run_claimed(p, job);
  unsigned steps = 0;
  while (atomic_load_explicit(&p->done, memory_order_acquire) < chunks) spin_step(&steps);
}

bool native_run_parts(native_part_fn fn, void *ctx, int chunks) {
  if (scheduled.on) {
    if (chunks < 1) chunks = scheduled.parts;
    if (chunks > MAX_CHUNKS) chunks = MAX_CHUNKS;
    scheduled.split = true;
    /* Probing: every chunk here, in order. Else this thread's share of the chunks. */
    const int lo = scheduled.probe ? 0 : chunks * scheduled.part / scheduled.parts;
    const int hi = scheduled.probe ? chunks : chunks * (scheduled.part + 1) / scheduled.parts;
    for (int i = lo; i < hi; i++) fn(ctx, i, chunks);
    return true;
  }
  kernel_pool *p = current;
  if (p == NULL || p->parts < 2) return false;
  if (chunks < 1) chunks = p->parts;
  if (chunks > MAX_CHUNKS) chunks = MAX_CHUNKS;
  pool_run(p, fn, ctx, chunks);
  return true;
}

/*
 * --- Queue mode: kernels run on other threads while JavaScript goes on ---
 *
 * With threads split only inside big kernels, two threads made the Omniglot MLP's meta-iteration at most
 * about 1.4 times faster: the op dispatch, the tape and the small kernels stay on the JS thread, and a split
 * kernel waits for its slower half. In queue mode every native kernel call (checked at once, so a wrong call
 * still throws where it is made) is copied into a queue with the memory it reads and writes, and returns; an
 * executor thread runs the queue, splitting big kernels with the pool's helpers, while the JS thread records
 * the next ops. When JavaScript needs a result (a read, a kernel it runs itself) it syncs: it waits for the
 * kernels concerned and, while it waits, runs small queued kernels itself and claims parts of the
 * executor's split ones.
 *
 * Order: a kernel may run before an earlier one only when neither writes memory the other touches, so every
 * kernel sees exactly the memory it would see with the queue run in order (the results are those of direct
 * calls with the same thread count, bit for bit). A kernel is claimed under the queue's lock after checking
 * it against every earlier kernel not yet done, within a window of the oldest ones.
 *
 * Storage: JavaScript keeps every array a queued kernel uses alive until it has run, and touches no storage
 * a queued kernel uses before syncing (src/backends/cpu/kernelQueue.ts).
 */

/* Kernels the queue holds at most; a full queue makes the JS thread help until a slot is free. */
#define QUEUE_SLOTS 512

/* How far past the oldest unfinished kernel a thread looks for one it may run. */
#define QUEUE_WINDOW 32

typedef struct {
  kernel_pool *pool;
  pthread_t executor;
  bool executor_started;
  queued_call *slots;
  /* Kernels finished in a row from the first (advanced under `claims`) and kernels queued (by the JS
   * thread), counting from 0. */
  _Atomic uint64_t head;
  _Atomic uint64_t tail;
  /* Taken to claim a kernel or mark one done: the states, and head's advance, change only under it. */
  pthread_spinlock_t claims;
  /* Bumped whenever a kernel finishes or is queued: a thread that found nothing to run waits for a change. */
  _Atomic uint64_t changes;
  atomic_bool executor_sleeps;
  atomic_bool stop;
  /* Time the executor spent running kernels, the JS thread spent syncing, and what it ran meanwhile. */
  _Atomic uint64_t busy_ns, sync_ns, helped, stolen;
  pthread_mutex_t lock;
  pthread_cond_t wake;
} kernel_queue;

/* The calling JS thread's queue, or NULL (its kernels run where they are called). */
static __thread kernel_queue *queue;

static queued_call *slot_of(kernel_queue *q, uint64_t i) { return &q->slots[i % QUEUE_SLOTS]; }

/*
 * Claims the oldest queued kernel that may run now (every earlier unfinished kernel leaves its memory
 * alone), among those before `limit`; with `small_only`, only one that would not split. NULL when none.
 */
static queued_call *claim_call(kernel_queue *q, uint64_t limit, bool small_only) {
  pthread_spin_lock(&q->claims);
  const uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
  uint64_t end = atomic_load_explicit(&q->tail, memory_order_acquire);
  if (end > limit) end = limit;
  if (end > head + QUEUE_WINDOW) end = head + QUEUE_WINDOW;
  queued_call *got = NULL;
  for (uint64_t j = head; j < end && got == NULL; j++) {
    queued_call *c = slot_of(q, j);
    if (c->state != CALL_QUEUED || (small_only && c->big)) continue;
    bool free = true;
    for (uint64_t i = head; i < j && free; i++) {
      const queued_call *before = slot_of(q, i);
      if (before->state != CALL_DONE && calls_conflict(before, c)) free = false;
    }
    if (free) {
      c->state = CALL_RUNNING;
      got = c;
    }
  }
  pthread_spin_unlock(&q->claims);
  return got;
}

/* Marks a claimed kernel done, and moves the head past every finished kernel at the front. */
static void finish_call(kernel_queue *q, queued_call *c) {
  pthread_spin_lock(&q->claims);
  c->state = CALL_DONE;
  uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);
  const uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
  while (head < tail && slot_of(q, head)->state == CALL_DONE) head++;
  atomic_store_explicit(&q->head, head, memory_order_release);
  pthread_spin_unlock(&q->claims);
  atomic_fetch_add_explicit(&q->changes, 1, memory_order_release);
}

/* Waits until the queue holds a kernel past `seen` or stops: spins, then sleeps. False once it stops. */
static bool wait_for_call(kernel_queue *q, uint64_t seen) {
  const long until = now_ns() + SPIN_NS;
  for (unsigned spins = 0;; spins++) {
    if (atomic_load_explicit(&q->tail, memory_order_acquire) != seen) return true;
    if (atomic_load(&q->stop)) return false;
    if ((spins & 63) == 63 && now_ns() > until) break;
    CPU_RELAX();
  }
  pthread_mutex_lock(&q->lock);
  /* Set before the tail is read again: the JS thread stores the tail, then reads this flag (both seq_cst),
   * so either this thread sees the new kernel or the JS thread sees it asleep and signals. */
  atomic_store(&q->executor_sleeps, true);
  while (atomic_load(&q->tail) == seen && !atomic_load(&q->stop)) pthread_cond_wait(&q->wake, &q->lock);
  atomic_store(&q->executor_sleeps, false);
  pthread_mutex_unlock(&q->lock);
  return atomic_load(&q->tail) != seen;
}

static void *executor_main(void *arg) {
  kernel_queue *q = arg;
  /* Kernels that split here split over the queue's pool: its helpers and the JS thread when it syncs. */
  current = q->pool;
  for (;;) {
    const uint64_t seen = atomic_load_explicit(&q->changes, memory_order_acquire);
    queued_call *c = claim_call(q, UINT64_MAX, false);
    if (c != NULL) {
      const long t0 = now_ns();
      c->exec(c->ctx);
      atomic_fetch_add_explicit(&q->busy_ns, (uint64_t)(now_ns() - t0), memory_order_relaxed);
      finish_call(q, c);
      continue;
    }
    const uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
    if (atomic_load_explicit(&q->head, memory_order_acquire) >= tail) {
      /* All run: wait for the next kernel. */
      if (!wait_for_call(q, tail)) break;
    } else
      /* What is left waits for a kernel the JS thread runs: wait for it to finish (or for a new one). */
      for (unsigned steps = 0;
           atomic_load_explicit(&q->changes, memory_order_acquire) == seen && !atomic_load(&q->stop);)
        spin_step(&steps);
    if (atomic_load(&q->stop)) break;
  }
  current = NULL;
  native_blas_thread_exit();
  return NULL;
}

/*
 * Returns once the kernels before `until` have all run. Meanwhile this (JS) thread runs queued kernels that
 * would not split, and claims parts of the executor's split kernels like a helper.
 */
static void help_until_empty(kernel_queue *q, uint64_t until) {
  if (atomic_load_explicit(&q->head, memory_order_acquire) >= until) return;
  const bool was_helper = on_helper;
  const long t0 = now_ns();
  uint64_t helped = 0, stolen = 0;
  unsigned steps = 0;
  while (atomic_load_explicit(&q->head, memory_order_acquire) < until) {
    const uint64_t seen = atomic_load_explicit(&q->changes, memory_order_acquire);
    queued_call *c = claim_call(q, until, true);
    if (c != NULL) {
      /* Whole, on this thread's own BLAS copy (blas.c's gemm_queued). */
      on_helper = false;
      c->exec(c->ctx);
      finish_call(q, c);
      stolen++;
      continue;
    }
    /* A part claimed here multiplies on a BLAS copy of this thread's own, as a helper's does (blas.c). */
    on_helper = true;
    for (;;) {
      const uint64_t s = atomic_load_explicit(&q->pool->state, memory_order_acquire);
      if (PART_OF(s) < CHUNKS_OF(s)) {
        helped += run_claimed(q->pool, JOB_OF(s));
        steps = 0;
      }
      if (atomic_load_explicit(&q->changes, memory_order_acquire) != seen ||
          atomic_load_explicit(&q->head, memory_order_acquire) >= until)
        break;
      spin_step(&steps);
    }
  }
  atomic_fetch_add_explicit(&q->sync_ns, (uint64_t)(now_ns() - t0), memory_order_relaxed);
  atomic_fetch_add_explicit(&q->helped, helped, memory_order_relaxed);
  atomic_fetch_add_explicit(&q->stolen, stolen, memory_order_relaxed);
  on_helper = was_helper;
}

/*
 * --- Kernel programs: a recorded sequence of kernels, run again on new data ---
 *
 * While a thread records (beginProgram), each kernel call is checked as always, then appended to the program
 * instead of running or being queued; endProgram hands the program to JavaScript, and runProgram runs its
 * kernels in order as direct calls (or, on a thread that queues, on it and the executor by a schedule made
 * for the program: schedule.c). A meta-iteration of fixed shapes makes the same kernel calls on the same
 * storage every time, so replaying them skips everything JavaScript does per op
 * (src/backends/cpu/kernelProgram.ts keeps the storage alive and private).
 */
/* The program the calling thread records into, or NULL. */
static __thread kernel_program *recording;

bool native_recording(void) { return recording != NULL; }

static void free_program(kernel_program *p) {
  if (p == NULL) return;
  for (size_t i = 0; i < p->owned_count; i++) free(p->owned[i]);
  free(p->owned);
  schedule_free(p->schedule);
  free(p->calls);
  free(p);
}

bool native_program_owns(void *memory) {
  kernel_program *p = recording;
  if (p == NULL) return false;
  if (p->owned_count == p->owned_cap) {
    const size_t cap = p->owned_cap ? 2 * p->owned_cap : 16;
    void **grown = realloc(p->owned, cap * sizeof *grown);
    if (grown == NULL) return false;
    p->owned = grown;
    p->owned_cap = cap;
  }
  p->owned[p->owned_count++] = memory;
  return true;
}

/* Writes a checked call into a queue slot or a program's next entry. */
static void write_call(queued_call *c, native_exec_fn exec, const void *ctx, size_t size,
                       const native_range *ranges, int count, bool big) {
  c->exec = exec;
  c->state = CALL_QUEUED;
  c->count = count;
  c->big = big;
  c->size = (uint32_t)size;
  memcpy(c->ranges, ranges, (size_t)count * sizeof *ranges);
  memcpy(c->ctx, ctx, size);
}

/* Appends a checked call to the recording program (or marks it failed, out of memory). Returns true: the
 * call is taken either way, and endProgram reports a failed program. */
static bool record_call(kernel_program *p, native_exec_fn exec, const void *ctx, size_t size,
                        const native_range *ranges, int count, bool big) {
  if (p->failed) return true;
  if (p->count == p->cap) {
    const size_t cap = p->cap ? 2 * p->cap : 256;
    queued_call *grown = realloc(p->calls, cap * sizeof *grown);
    if (grown == NULL) {
      p->failed = true;
      return true;
    }
    p->calls = grown;
    p->cap = cap;
  }
  write_call(&p->calls[p->count++], exec, ctx, size, ranges, count, big);
  return true;
}

bool native_queued(void) { return queue != NULL || recording != NULL; }

bool native_enqueue(native_exec_fn exec, const void *ctx, size_t size, const native_range *ranges, int count,
                    bool big) {
  if (size > NATIVE_CALL_BYTES || count > NATIVE_MAX_RANGES) return false;
  if (recording != NULL) return record_call(recording, exec, ctx, size, ranges, count, big);
  kernel_queue *q = queue;
  if (q == NULL) return false;
  const uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
  if (t - atomic_load_explicit(&q->head, memory_order_acquire) >= QUEUE_SLOTS)
    help_until_empty(q, t - QUEUE_SLOTS + 1);
  write_call(slot_of(q, t), exec, ctx, size, ranges, count, big);
  atomic_store(&q->tail, t + 1);
  atomic_fetch_add_explicit(&q->changes, 1, memory_order_release);
  if (atomic_load(&q->executor_sleeps)) {
    pthread_mutex_lock(&q->lock);
    pthread_cond_signal(&q->wake);
    pthread_mutex_unlock(&q->lock);
  }
  /* The executor is the busier thread (JavaScript records a kernel in a fraction of its run time): a split
   * kernel of its that has parts left gets this thread's help now, before JavaScript goes on. */
  const uint64_t s = atomic_load_explicit(&q->pool->state, memory_order_acquire);
  if (PART_OF(s) < CHUNKS_OF(s)) {
    const bool was_helper = on_helper;
    on_helper = true;
    atomic_fetch_add_explicit(&q->helped, (uint64_t)run_claimed(q->pool, JOB_OF(s)), memory_order_relaxed);
    on_helper = was_helper;
  }
  return true;
}

/* Returns once every kernel queued so far has run, helping with their parts meanwhile. */
static void sync_queue(kernel_queue *q) {
  if (q != NULL) help_until_empty(q, atomic_load_explicit(&q->tail, memory_order_relaxed));
}

static void stop_queue(kernel_queue *q) {
  if (q == NULL) return;
  if (q->executor_started) {
    sync_queue(q);
    pthread_mutex_lock(&q->lock);
    atomic_store(&q->stop, true);
    pthread_cond_broadcast(&q->wake);
    pthread_mutex_unlock(&q->lock);
    pthread_join(q->executor, NULL);
  }
  stop_pool(q->pool);
  pthread_mutex_destroy(&q->lock);
  pthread_spin_destroy(&q->claims);
  pthread_cond_destroy(&q->wake);
  free(q->slots);
  free(q);
}

/* A queue whose kernels split over `parts` threads: its executor, parts - 2 helpers and the JS thread. */
static kernel_queue *start_queue(int parts) {
  kernel_queue *q = calloc(1, sizeof *q);
  if (q == NULL) return NULL;
  pthread_mutex_init(&q->lock, NULL);
  pthread_spin_init(&q->claims, PTHREAD_PROCESS_PRIVATE);
  pthread_cond_init(&q->wake, NULL);
  q->slots = aligned_alloc(16, QUEUE_SLOTS * sizeof *q->slots);
  q->pool = start_pool(parts, parts - 2, false);
  if (q->slots == NULL || q->pool == NULL || pthread_create(&q->executor, NULL, executor_main, q) != 0) {
    stop_queue(q);
    return NULL;
  }
  q->executor_started = true;
  return q;
}

/* Stops the calling thread's queue or pool, after the queue has run dry. */
static void stop_threads(void) {
  stop_queue(queue);
  queue = NULL;
  stop_pool(current);
  current = NULL;
}

/* Env cleanup hook: the exiting thread's helpers stop with it. */
static void stop_current(void *arg) {
  (void)arg;
  free_program(recording);
  recording = NULL;
  stop_threads();
  native_blas_thread_exit();
}

/*
 * setKernelThreads(n, queued = false, slices = false): this thread's big kernels run on n threads from now on
 * (1: no helpers), and with queued (n >= 2) every kernel is queued to run on an executor thread (see above);
 * with slices (n >= 2) the threads are task slices' (runPrograms): products stay whole. Returns n.
 */
static napi_value set_kernel_threads(napi_env env, napi_callback_info cb) {
  size_t argc = 3;
  napi_value argv[3];
  int32_t n;
  bool queued = false, slices = false;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1 || n > 256 ||
      (argc >= 2 && napi_get_value_bool(env, argv[1], &queued) != napi_ok) ||
      (argc >= 3 && napi_get_value_bool(env, argv[2], &slices) != napi_ok))
    return native_throw(env, "setKernelThreads: expected a whole number of threads from 1 to 256 (and queued and slices, booleans)");
  if (queued && n < 2) return native_throw(env, "setKernelThreads: a queue needs at least 2 threads");
  if (queued && slices) return native_throw(env, "setKernelThreads: a queue's threads are not task slices'");
  if (n < 2) slices = false;
  const bool same = queue != NULL ? queued && queue->pool->parts == n
                                  : !queued && (current == NULL ? n == 1
                                                                : current->parts == n &&
                                                                      current->slices == slices);
  if (!same) {
    stop_threads();
    if (queued) {
      queue = start_queue(n);
      if (queue == NULL) return native_throw(env, "setKernelThreads: could not start the queue's threads");
    } else if (n > 1) {
      current = start_pool(n, n - 1, slices);
      if (current == NULL) return native_throw(env, "setKernelThreads: could not start the helper threads");
    }
  }
  napi_value out;
  napi_create_int32(env, queue != NULL ? queue->pool->parts : current != NULL ? current->parts : 1, &out);
  return out;
}

/*
 * syncKernels(leave): returns once every kernel this thread queued has run but the last `leave` (at once
 * where it queues none).
 */
static napi_value sync_kernels(napi_env env, napi_callback_info cb) {
  size_t argc = 1;
  napi_value argv[1];
  int64_t leave = 0;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok ||
      (argc >= 1 && napi_get_value_int64(env, argv[0], &leave) != napi_ok) || leave < 0)
    return native_throw(env, "syncKernels: expected (leave, a whole number)");
  kernel_queue *q = queue;
  if (q != NULL) {
    const uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
    if ((uint64_t)leave < tail) help_until_empty(q, tail - (uint64_t)leave);
  }
  return NULL;
}

/*
 * queueStats() -> { kernels, busyMs, syncMs, helped, ranHere } of this thread's queue since it started
 * (undefined without one): kernels run, the executor's time running them, this thread's time in syncs, and
 * the kernel parts and whole kernels it ran meanwhile.
 */
static napi_value queue_stats(napi_env env, napi_callback_info cb) {
  (void)cb;
  kernel_queue *q = queue;
  napi_value out, v;
  if (q == NULL) {
    napi_get_undefined(env, &out);
    return out;
  }
  napi_create_object(env, &out);
  napi_create_double(env, (double)atomic_load(&q->head), &v);
  napi_set_named_property(env, out, "kernels", v);
  napi_create_double(env, (double)atomic_load(&q->busy_ns) / 1e6, &v);
  napi_set_named_property(env, out, "busyMs", v);
  napi_create_double(env, (double)atomic_load(&q->sync_ns) / 1e6, &v);
  napi_set_named_property(env, out, "syncMs", v);
  napi_create_double(env, (double)atomic_load(&q->helped), &v);
  napi_set_named_property(env, out, "helped", v);
  napi_create_double(env, (double)atomic_load(&q->stolen), &v);
  napi_set_named_property(env, out, "ranHere", v);
  return out;
}

/* Marks the handles endProgram makes, so that another external is never taken for a program. */
static const napi_type_tag PROGRAM_TAG = {0x6d6574617461706bULL, 0x70726f6772616d31ULL};

static void program_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free_program(data);
}

/* beginProgram(): the calling thread's kernel calls are recorded from now on instead of run (see above). */
static napi_value begin_program(napi_env env, napi_callback_info cb) {
  (void)cb;
  if (recording != NULL) return native_throw(env, "beginProgram: this thread is already recording a program");
  /* Kernels queued before must not be overtaken by the program's first run. */
  sync_queue(queue);
  recording = calloc(1, sizeof *recording);
  if (recording == NULL) return native_throw(env, "beginProgram: out of memory");
  return NULL;
}

/*
 * endProgram(keep = true) -> the recorded program (an opaque handle; its memory goes with it), or undefined
 * with keep false (recording abandoned). Either way the thread stops recording.
 */
static napi_value end_program(napi_env env, napi_callback_info cb) {
  size_t argc = 1;
  napi_value argv[1];
  bool keep = true;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok ||
      (argc >= 1 && napi_get_value_bool(env, argv[0], &keep) != napi_ok))
    return native_throw(env, "endProgram: expected (keep, a boolean)");
  kernel_program *p = recording;
  recording = NULL;
  if (p == NULL) return native_throw(env, "endProgram: this thread is not recording");
  napi_value out;
  if (p->failed) {
    free_program(p);
    return native_throw(env, "endProgram: out of memory while recording (the recorded kernels are lost)");
  }
  if (!keep) {
    free_program(p);
    napi_get_undefined(env, &out);
    return out;
  }
  if (napi_create_external(env, p, program_finalize, NULL, &out) != napi_ok) {
    free_program(p);
    return native_throw(env, "endProgram: could not hand the program over");
  }
  if (napi_type_tag_object(env, out, &PROGRAM_TAG) != napi_ok)
    return native_throw(env, "endProgram: could not tag the program");
  return out;
}

/* The program `v` holds, or NULL (not a program from endProgram). */
static kernel_program *program_of(napi_env env, napi_value v) {
  void *data = NULL;
  bool tagged = false;
  if (napi_check_object_type_tag(env, v, &PROGRAM_TAG, &tagged) != napi_ok || !tagged ||
      napi_get_value_external(env, v, &data) != napi_ok)
    return NULL;
  return data;
}

/* The program a call's first argument holds, or NULL with `what` thrown (not a program from endProgram). */
static kernel_program *program_arg(napi_env env, napi_callback_info cb, const char *what) {
  size_t argc = 1;
  napi_value argv[1];
  kernel_program *p = NULL;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) == napi_ok && argc >= 1) p = program_of(env, argv[0]);
  if (p == NULL) native_throw(env, what);
  return p;
}

/* Starts list_exec(ctx) on the calling thread's queue executor: a call that touches no memory the queue
 * orders by (the schedule orders its kernels itself) and that the JS thread never takes (big). */
static void start_on_executor(native_exec_fn list_exec, void *ctx, size_t size) {
  const native_range none = {NULL, NULL, false};
  native_enqueue(list_exec, ctx, size, &none, 0, true);
}

/*
 * runProgram(program) -> calls queued: the program's kernels, all run when it returns. On a thread without a
 * queue, in order as direct calls (split over its kernel threads where big); on a thread that queues, on it
 * and the queue's executor by the program's two-thread schedule (schedule.c: its first runs profile it), the
 * executor's share being one queued call (counted, so that JavaScript's count of queued calls stays the
 * addon's). Each call runs on a copy of its recorded context, since a kernel may write its context as it runs.
 */
static napi_value run_program(napi_env env, napi_callback_info cb) {
  kernel_program *p = program_arg(env, cb, "runProgram: expected a program from endProgram");
  if (p == NULL) return NULL;
  if (recording != NULL) return native_throw(env, "runProgram: this thread is recording a program");
  kernel_queue *q = queue;
  double queued = 0;
  if (q != NULL) {
    /* Two threads: this one and the executor, by the program's schedule (schedule.c), once what was queued
     * before has run. The executor's list is one queued call, done when this returns. */
    sync_queue(q);
    if (schedule_run(p, start_on_executor) == RUN_SCHEDULED) {
      sync_queue(q);
      queued = 1;
    }
  } else {
    _Alignas(16) unsigned char scratch[NATIVE_CALL_BYTES];
    for (size_t i = 0; i < p->count; i++) {
      const queued_call *c = &p->calls[i];
      memcpy(scratch, c->ctx, c->size);
      c->exec(scratch);
    }
    schedule_ran_alone(p);
  }
  napi_value out;
  napi_create_double(env, queued, &out);
  return out;
}

/*
 * --- Task slices: several programs at once, one per thread ---
 *
 * `trainer.parallelism: tasks` on the native kernels (src/meta/kernelReplay.ts): a meta-batch's tasks are cut
 * into one slice per thread, each slice's meta-gradient is a program of its own, and the programs run at
 * once, each whole on one thread, sharing nothing but the meta-parameters they read. Two threads then hand
 * each other work twice per meta-gradient (start, end), where the kernels of one program split over them
 * hand work back and forth some 500 times (schedule.c): on this project's 2-core VMs, where that hand-off
 * costs 40 ns in some hours and 350-400 ns in others, slices lose little in either.
 *
 * Values: each kernel runs as the op-by-op computation runs it on this thread (the pool's split, with every
 * chunk here: native_split_begin's probe), so a slice's program gives the numbers of that slice computed op
 * by op, bit for bit, whichever thread runs it.
 */
/* A copy into a program's input before the programs run (runPrograms' feeds). */
typedef struct {
  void *dst;
  const void *src;
  size_t bytes;
} feed_item;

/* One result made from the programs' (runPrograms' combines): out and one part per program. */
typedef struct {
  void *out;
  const void **parts;
  size_t n;
  bool f64;
} combine_item;

typedef struct {
  kernel_program *const *programs;
  uint32_t count;
  /* native_parts() of the calling thread: how each kernel splits (its chunks all run on one thread). */
  int parts;
  const feed_item *feeds;
  size_t feed_count, feed_bytes;
  const combine_item *combines;
  size_t combine_count, combine_elems;
  const double *weights;
  /* Threads past the feeding, and past their program: the barriers between the three steps. */
  _Alignas(64) atomic_uint fed;
  _Alignas(64) atomic_uint ran;
} slices_job;

/* Share `part` of `parts` of the feeding: a contiguous range of all the feeds' bytes, in order. */
static void feed_share(const slices_job *job, int part, int parts) {
  size_t lo, hi, a, b, at = 0;
  native_share(job->feed_bytes, part, parts, &lo, &hi);
  for (size_t i = 0; i < job->feed_count && at < hi; i++) {
    const feed_item *f = &job->feeds[i];
    native_overlap(lo, hi, at, f->bytes, &a, &b);
    if (a < b) memcpy((char *)f->dst + a, (const char *)f->src + a, b - a);
    at += f->bytes;
  }
}

/* Share `part` of `parts` of the combining: a contiguous range of all the results' elements, in order. */
static void combine_share(const slices_job *job, int part, int parts) {
  size_t lo, hi, a, b, at = 0;
  native_share(job->combine_elems, part, parts, &lo, &hi);
  for (size_t i = 0; i < job->combine_count && at < hi; i++) {
    const combine_item *c = &job->combines[i];
    native_overlap(lo, hi, at, c->n, &a, &b);
    if (a < b) {
      if (c->f64)
        native_combine_f64(c->out, (const double *const *)c->parts, job->weights, job->count, a, b);
      else
        native_combine_f32(c->out, (const float *const *)c->parts, job->weights, job->count, a, b);
    }
    at += c->n;
  }
}

/* Runs program `i` of the job, in order, on this thread. */
static void run_one(const slices_job *job, uint32_t i) {
  const kernel_program *p = job->programs[i];
  /* Whole kernels, a product on this thread's own BLAS copy, as on the queue's executor (blas.c's
   * gemm_queued: a helper would leave its part to the caller). */
  const bool was_helper = on_helper;
  on_helper = false;
  _Alignas(16) unsigned char scratch[NATIVE_CALL_BYTES];
  for (size_t k = 0; k < p->count; k++) {
    const queued_call *c = &p->calls[k];
    memcpy(scratch, c->ctx, c->size);
    native_split_begin(0, job->parts, true);
    c->exec(scratch);
    bool split, exact;
    native_split_end(&split, &exact);
  }
  on_helper = was_helper;
}

/* Waits until `count` threads have passed `barrier`, this one included. */
static void pass_barrier(atomic_uint *barrier, uint32_t count) {
  atomic_fetch_add_explicit(barrier, 1, memory_order_acq_rel);
  unsigned steps = 0;
  while (atomic_load_explicit(barrier, memory_order_acquire) < count) spin_step(&steps);
}

/*
 * Part `part` of a slices job on the kernel pool, one per thread (the pool has at least as many threads as
 * the job has programs, so every part is claimed by a thread of its own and the barriers meet): its share of
 * the feeding, then, once every thread has fed, program `part`, then, once every program has run, its share
 * of the combining.
 */
static void run_slice(void *ctx, int part, int parts) {
  (void)parts;
  slices_job *job = ctx;
  feed_share(job, part, (int)job->count);
  pass_barrier(&job->fed, job->count);
  run_one(job, (uint32_t)part);
  if (job->combine_count == 0) return;
  pass_barrier(&job->ran, job->count);
  combine_share(job, part, (int)job->count);
}

/* Most programs one runPrograms call runs. */
#define MAX_SLICES 256

/* Bytes per element of a typed array type. */
static size_t element_bytes(napi_typedarray_type type) {
  switch (type) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array:
      return 1;
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_float64_array:
    case napi_bigint64_array:
    case napi_biguint64_array:
      return 8;
    default:
      return 4;
  }
}

/* A typed array's data (never NULL for an empty one), its type and byte length; NULL if `v` is none. */
static void *typed_bytes(napi_env env, napi_value v, size_t *bytes, napi_typedarray_type *type) {
  size_t length = 0;
  void *data = NULL;
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, type, &length, &data, NULL, NULL) != napi_ok)
    return NULL;
  *bytes = length * element_bytes(*type);
  static char nothing;
  return data != NULL ? data : &nothing;
}

/*
 * runPrograms(programs, feeds = [], combines = [], weights): runs the programs at once, each whole on one of
 * this thread's kernel threads (this one included; setKernelThreads), returning when all are done; without
 * kernel threads (or with fewer than programs), one after another. First the feeds, pairs [dst, src, ...]
 * of typed arrays of one byte length, are copied (by all the threads, before any program starts); after the
 * programs, the combines, groups [out, part for program 0, part for program 1, ...] of Float32Arrays or
 * Float64Arrays of one length, are made out[j] = weights[0] * part0[j] + weights[1] * part1[j] + ... (in
 * float64 in that order, rounded once; weights a Float64Array, one per program), by all the threads.
 * Not on a thread that queues its kernels (runProgram runs a program there).
 */
static napi_value run_programs(napi_env env, napi_callback_info cb) {
  const char *usage =
      "runPrograms: expected (programs, feeds, combines, weights): 1 to 256 programs from endProgram, feeds "
      "as [dst, src, ...] typed arrays of equal byte lengths, combines as [out, one part per program, ...] "
      "Float32Arrays or Float64Arrays of one length, weights a Float64Array of one per program";
  size_t argc = 4;
  napi_value argv[4];
  bool is_array = false;
  uint32_t n = 0, feeds_len = 0, combines_len = 0;
  if (napi_get_cb_info(env, cb, &argc, argv, NULL, NULL) != napi_ok || argc < 1 ||
      napi_is_array(env, argv[0], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[0], &n) != napi_ok || n < 1 || n > MAX_SLICES)
    return native_throw(env, usage);
  if (argc >= 2 && (napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
                    napi_get_array_length(env, argv[1], &feeds_len) != napi_ok || feeds_len % 2 != 0))
    return native_throw(env, usage);
  if (argc >= 3 && (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array ||
                    napi_get_array_length(env, argv[2], &combines_len) != napi_ok || combines_len % (n + 1) != 0))
    return native_throw(env, usage);
  kernel_program *programs[MAX_SLICES];
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    if (napi_get_element(env, argv[0], i, &v) != napi_ok || (programs[i] = program_of(env, v)) == NULL)
      return native_throw(env, usage);
    /* One program on two threads at once would race on its own memory. */
    for (uint32_t j = 0; j < i; j++)
      if (programs[j] == programs[i]) return native_throw(env, "runPrograms: a program given twice");
  }
  const double *weights = NULL;
  if (combines_len > 0) {
    napi_typedarray_type type;
    size_t wn = 0;
    void *w = NULL;
    if (argc < 4 || napi_get_typedarray_info(env, argv[3], &type, &wn, &w, NULL, NULL) != napi_ok ||
        type != napi_float64_array || wn != n)
      return native_throw(env, usage);
    weights = w;
  }
  if (recording != NULL) return native_throw(env, "runPrograms: this thread is recording a program");
  if (queue != NULL) return native_throw(env, "runPrograms: this thread queues its kernels (use runProgram)");
  const size_t feed_count = feeds_len / 2, combine_count = combines_len / (n + 1);
  feed_item *feeds = calloc(feed_count > 0 ? feed_count : 1, sizeof *feeds);
  combine_item *combines = calloc(combine_count > 0 ? combine_count : 1, sizeof *combines);
  const void **part_ptrs = calloc(combine_count * n + 1, sizeof *part_ptrs);
  napi_value result = NULL;
  if (feeds == NULL || combines == NULL || part_ptrs == NULL) {
    native_throw(env, "runPrograms: out of memory");
    goto done;
  }
  size_t feed_bytes = 0, combine_elems = 0;
  for (size_t i = 0; i < feed_count; i++) {
    napi_value d, s;
    size_t db = 0, sb = 0;
    napi_typedarray_type dt, st;
    void *dst = NULL;
    const void *src = NULL;
    if (napi_get_element(env, argv[1], (uint32_t)(2 * i), &d) != napi_ok ||
        napi_get_element(env, argv[1], (uint32_t)(2 * i + 1), &s) != napi_ok ||
        (dst = typed_bytes(env, d, &db, &dt)) == NULL || (src = typed_bytes(env, s, &sb, &st)) == NULL || db != sb) {
      native_throw(env, usage);
      goto done;
    }
    feeds[i] = (feed_item){dst, src, db};
    feed_bytes += db;
  }
  for (size_t i = 0; i < combine_count; i++) {
    combine_item *c = &combines[i];
    c->parts = &part_ptrs[i * n];
    for (uint32_t k = 0; k <= n; k++) {
      napi_value v;
      size_t bytes = 0;
      napi_typedarray_type type;
      void *data = NULL;
      if (napi_get_element(env, argv[2], (uint32_t)(i * (n + 1) + k), &v) != napi_ok ||
          (data = typed_bytes(env, v, &bytes, &type)) == NULL ||
          (type != napi_float32_array && type != napi_float64_array)) {
        native_throw(env, usage);
        goto done;
      }
      const bool f64 = type == napi_float64_array;
      const size_t len = bytes / (f64 ? 8 : 4);
      if (k == 0) {
        c->out = data;
        c->f64 = f64;
        c->n = len;
      } else if (f64 != c->f64 || len != c->n) {
        native_throw(env, usage);
        goto done;
      } else
        c->parts[k - 1] = data;
    }
    combine_elems += c->n;
  }
  {
    slices_job job = {.programs = programs,
                      .count = n,
                      .parts = native_parts(),
                      .feeds = feeds,
                      .feed_count = feed_count,
                      .feed_bytes = feed_bytes,
                      .combines = combines,
                      .combine_count = combine_count,
                      .combine_elems = combine_elems,
                      .weights = weights};
    atomic_init(&job.fed, 0);
    atomic_init(&job.ran, 0);
    kernel_pool *p = current;
    if (n > 1 && p != NULL && p->parts >= (int)n) pool_run(p, run_slice, &job, (int)n);
    else {
      /* One thread: the same steps, in order. */
      feed_share(&job, 0, 1);
      for (uint32_t i = 0; i < n; i++) run_one(&job, i);
      combine_share(&job, 0, 1);
    }
    for (uint32_t i = 0; i < n; i++) schedule_ran_alone(programs[i]);
  }
done:
  free(feeds);
  free(combines);
  free(part_ptrs);
  return result;
}

/* programKernels(program) -> the kernels a program holds. */
static napi_value program_kernels(napi_env env, napi_callback_info cb) {
  const kernel_program *p = program_arg(env, cb, "programKernels: expected a program from endProgram");
  if (p == NULL) return NULL;
  napi_value out;
  napi_create_double(env, (double)p->count, &out);
  return out;
}

/* programLastRun(program) -> how it last ran on a thread that queues (program.h's program_run_mode), or -1
 * before such a run: the one number the replay reads every meta-iteration (programSchedule builds an object). */
static napi_value program_last_run(napi_env env, napi_callback_info cb) {
  const kernel_program *p = program_arg(env, cb, "programLastRun: expected a program from endProgram");
  if (p == NULL) return NULL;
  napi_value out;
  napi_create_int32(env, schedule_last_run(p), &out);
  return out;
}

/*
 * programSchedule(program) -> { last, profiled, planned, worthwhile, serialMs, plannedMs, criticalMs,
 * inOrderMs, scheduledMs, lists, split }: how the program last ran ('one thread', 'profiled', 'in order' or 'scheduled', see program.h) and
 * what its two-thread schedule predicts (schedule.c); undefined before its first run on a thread that queues.
 */
static napi_value program_schedule_info(napi_env env, napi_callback_info cb) {
  const kernel_program *p = program_arg(env, cb, "programSchedule: expected a program from endProgram");
  if (p == NULL) return NULL;
  napi_value out, v;
  if (p->schedule == NULL) {
    napi_get_undefined(env, &out);
    return out;
  }
  schedule_info info;
  schedule_describe(p, &info);
  static const char *const modes[] = {"one thread", "profiled", "in order", "scheduled"};
  napi_create_object(env, &out);
  napi_create_string_utf8(env, modes[info.last], NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, out, "last", v);
  napi_create_int32(env, info.profiled, &v);
  napi_set_named_property(env, out, "profiled", v);
  napi_get_boolean(env, info.planned, &v);
  napi_set_named_property(env, out, "planned", v);
  napi_get_boolean(env, info.worthwhile, &v);
  napi_set_named_property(env, out, "worthwhile", v);
  napi_create_double(env, info.serial_ns / 1e6, &v);
  napi_set_named_property(env, out, "serialMs", v);
  napi_create_double(env, info.planned_ns / 1e6, &v);
  napi_set_named_property(env, out, "plannedMs", v);
  napi_create_double(env, info.critical_ns / 1e6, &v);
  napi_set_named_property(env, out, "criticalMs", v);
  napi_create_double(env, info.in_order_ns / 1e6, &v);
  napi_set_named_property(env, out, "inOrderMs", v);
  napi_create_double(env, info.scheduled_ns / 1e6, &v);
  napi_set_named_property(env, out, "scheduledMs", v);
  napi_value lists;
  napi_create_array_with_length(env, 2, &lists);
  for (uint32_t t = 0; t < 2; t++) {
    napi_create_int32(env, info.lists[t], &v);
    napi_set_element(env, lists, t, v);
  }
  napi_set_named_property(env, out, "lists", lists);
  napi_create_int32(env, info.split, &v);
  napi_set_named_property(env, out, "split", v);
  return out;
}

/*
 * coreRoundTrip() -> ns: the median time, over 15 batches of 2000, for this thread to hand a flag to a new
 * thread and get it back. What two threads pay to hand each other work; on this project's 2-core VMs it has
 * been 80-110 ns in some hours and 360-400 ns in others (where the host puts the two virtual CPUs), and the
 * two-thread figures of a schedule move with it, so the benchmark reports it beside them.
 */
typedef struct {
  _Alignas(64) atomic_int flag;
  int rounds;
} round_trip;

static void *round_trip_echo(void *arg) {
  round_trip *r = arg;
  for (int i = 0; i < r->rounds; i++) {
    unsigned steps = 0;
    while (atomic_load_explicit(&r->flag, memory_order_acquire) != 2 * i + 1) spin_step(&steps);
    atomic_store_explicit(&r->flag, 2 * i + 2, memory_order_release);
  }
  return NULL;
}

static int compare_doubles(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static napi_value core_round_trip(napi_env env, napi_callback_info cb) {
  (void)cb;
  enum { BATCHES = 16, PER = 2000 };
  round_trip r = {0, BATCHES * PER};
  pthread_t echo;
  if (pthread_create(&echo, NULL, round_trip_echo, &r) != 0)
    return native_throw(env, "coreRoundTrip: could not start a thread");
  double ns[BATCHES];
  for (int b = 0; b < BATCHES; b++) {
    const long t0 = now_ns();
    for (int i = b * PER; i < (b + 1) * PER; i++) {
      atomic_store_explicit(&r.flag, 2 * i + 1, memory_order_release);
      unsigned steps = 0;
      while (atomic_load_explicit(&r.flag, memory_order_acquire) != 2 * i + 2) spin_step(&steps);
    }
    ns[b] = (double)(now_ns() - t0) / PER;
  }
  pthread_join(echo, NULL);
  /* The first batch starts the thread: left out. */
  qsort(ns + 1, BATCHES - 1, sizeof *ns, compare_doubles);
  napi_value out;
  napi_create_double(env, ns[BATCHES / 2], &out);
  return out;
}

napi_status native_register_parallel(napi_env env, napi_value exports) {
  napi_status status = napi_add_env_cleanup_hook(env, stop_current, NULL);
  if (status != napi_ok) return status;
  const napi_property_descriptor fns[] = {
      {"setKernelThreads", NULL, set_kernel_threads, NULL, NULL, NULL, napi_default, NULL},
      {"syncKernels", NULL, sync_kernels, NULL, NULL, NULL, napi_default, NULL},
      {"queueStats", NULL, queue_stats, NULL, NULL, NULL, napi_default, NULL},
      {"beginProgram", NULL, begin_program, NULL, NULL, NULL, napi_default, NULL},
      {"endProgram", NULL, end_program, NULL, NULL, NULL, napi_default, NULL},
      {"runProgram", NULL, run_program, NULL, NULL, NULL, napi_default, NULL},
      {"runPrograms", NULL, run_programs, NULL, NULL, NULL, napi_default, NULL},
      {"programKernels", NULL, program_kernels, NULL, NULL, NULL, napi_default, NULL},
      {"programSchedule", NULL, program_schedule_info, NULL, NULL, NULL, napi_default, NULL},
      {"programLastRun", NULL, program_last_run, NULL, NULL, NULL, napi_default, NULL},
      {"coreRoundTrip", NULL, core_round_trip, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof fns / sizeof *fns, fns);
}
