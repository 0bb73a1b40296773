/* A queued or recorded kernel call, and a recorded program of them: what parallel.c (the queue, recording)
 * and schedule.c (a program's static two-thread schedule) share. */
#ifndef METATAPE_PROGRAM_H
#define METATAPE_PROGRAM_H
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "native.h"

#if defined(__x86_64__) || defined(__i386__)
#define CPU_RELAX() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define CPU_RELAX() __asm__ volatile("yield")
#else
#define CPU_RELAX() ((void)0)
#endif

/*
 * One step of a wait for another thread: a pause for the first SPIN_PAUSES steps, then a yield of the core.
 * Where the threads outnumber the cores (trainer.threads above the cores a process may use), the thread
 * waited for may need this very core; on a free core a yield returns at once.
 */
#define SPIN_PAUSES 1024
static inline void spin_step(unsigned *steps) {
  if (++*steps < SPIN_PAUSES) CPU_RELAX();
  else sched_yield();
}

enum { CALL_QUEUED, CALL_RUNNING, CALL_DONE };

/* One checked kernel call: its function, a copy of its context and the memory it reads and writes. */
typedef struct {
  native_exec_fn exec;
  int state;
  int count;
  bool big;
  /* Bytes of ctx in use. */
  uint32_t size;
  native_range ranges[NATIVE_MAX_RANGES];
  _Alignas(16) unsigned char ctx[NATIVE_CALL_BYTES];
} queued_call;

/* Whether the two kernels touch common memory that either writes. */
static inline bool calls_conflict(const queued_call *x, const queued_call *y) {
  for (int i = 0; i < x->count; i++)
    for (int j = 0; j < y->count; j++) {
      const native_range *a = &x->ranges[i], *b = &y->ranges[j];
      if ((a->write || b->write) && (const char *)a->lo < (const char *)b->hi &&
          (const char *)b->lo < (const char *)a->hi)
        return true;
    }
  return false;
}

typedef struct program_schedule program_schedule;

/* A recorded program (parallel.c, "Kernel programs"). */
typedef struct {
  queued_call *calls;
  size_t count, cap;
  /* Memory the program's calls point to and the program frees (a product's offsets past the inline ones). */
  void **owned;
  size_t owned_count, owned_cap;
  /* A call could not be recorded (out of memory): the program is incomplete, and endProgram says so. */
  bool failed;
  /* Its two-thread schedule (schedule.c), made at its first run on two threads; NULL before. */
  program_schedule *schedule;
} kernel_program;

/* --- schedule.c --- */

/* How a program's last run went. */
typedef enum {
  RUN_ONE_THREAD, /* on a thread that does not queue: in order, big kernels split as its pool splits them */
  RUN_PROFILED,   /* in order on the calling thread, split as over two threads, each kernel timed */
  RUN_IN_ORDER,   /* the same untimed: the schedule would not gain */
  RUN_SCHEDULED   /* on two threads, by its schedule */
} program_run_mode;

/*
 * Runs `p` on the calling thread and one other: `start_other(list_exec, ctx)` must start list_exec(ctx) on
 * another thread that runs nothing else meanwhile (the queue's executor). The first runs profile the kernels
 * in order on this thread; later ones follow the schedule made from them, or run in order where the schedule
 * would not gain. Returns how it ran, once every kernel has run.
 */
program_run_mode schedule_run(kernel_program *p, void (*start_other)(native_exec_fn list_exec, void *ctx, size_t size));

/* Notes that a program with a schedule ran on a thread that does not queue (RUN_ONE_THREAD). */
void schedule_ran_alone(kernel_program *p);

/* How a program last ran (a program_run_mode), or -1 before its first run on a thread that queues. */
int schedule_last_run(const kernel_program *p);

/* Frees a program's schedule (NULL: nothing). */
void schedule_free(program_schedule *s);

/* What a program's schedule predicts and how it last ran, for JavaScript (programSchedule). */
typedef struct {
  program_run_mode last;
  int profiled;
  bool planned, worthwhile;
  double serial_ns, planned_ns, critical_ns;
  /* Median wall time of runs in order and by the schedule in their last trial (0: none yet). */
  double in_order_ns, scheduled_ns;
  int32_t lists[2], split;
} schedule_info;

void schedule_describe(const kernel_program *p, schedule_info *out);

/* --- parallel.c: how a scheduled kernel splits --- */

/*
 * From now on, on the calling thread, a kernel that would split runs only part `part` of `parts` of its
 * chunks (parts 1: all of them, here) and native_parts() says `parts`; with `probe`, it runs every chunk
 * here and reports, at native_split_end, whether it split and whether its split changes bits.
 */
void native_split_begin(int part, int parts, bool probe);

/* Ends native_split_begin's mode; *split: a kernel split since (native_run_parts was called), *exact: its
 * split must be kept (a product's, whose last bits depend on it: native_split_changes_bits). */
void native_split_end(bool *split, bool *exact);
#endif
