/*
 * A recorded kernel program (parallel.c, "Kernel programs") run on two threads by a static schedule.
 *
 * Replayed, an Omniglot MLP meta-gradient is some 860 kernels, most of them small, with no JavaScript left
 * between them for a second thread to overlap: queued to the executor and split where big, the trainer's
 * iteration ran 0.98-1.29 times as fast on two threads as on one (`npm run bench -- threads`). Scheduled,
 * 1.39x (the meta-gradient alone 1.53x) where two threads hand each other work in 40-50 ns. But its kernels are not one chain: a layer's backward pass makes
 * the gradient of its weights and of its input from the same inputs, a bias gradient is a column sum beside
 * them, and a second-order pass repeats the pattern. A program makes the same kernels on the same memory
 * every run, so the dependencies between its kernels (one reads or writes memory the other writes) and
 * their costs can be found once and a schedule made for them:
 *
 * 1. Profile: the first runs go in order on the calling thread, each kernel timed (the least of
 *    PROFILE_RUNS), noting which kernels split and which must split exactly as the pool splits them.
 * 2. Plan: a list schedule over the two threads, kernels taken in program order, each placed where it
 *    would finish first: whole on either thread, or split in two halves (one per thread), counting a
 *    hand-off cost where a kernel waits for one the other thread ran.
 * 3. Run: each thread runs its list in order; before a kernel it waits until the other thread has finished
 *    the kernels of its list that this one depends on (a count, known from the plan). No locks, no queue.
 * 4. Measure: runs by the schedule and in order are timed in trials, back to back, now and then, and the
 *    faster way is taken until the next (choose_way: what two threads pay to share work moves with the
 *    machine).
 *
 * Values: every kernel computes what the queue would, bit for bit. A whole kernel runs its chunks in order
 * on one thread and a split one a fixed range of chunks on each (each chunk is a fixed range of the output,
 * so where it runs changes nothing), and a product, whose last bits depend on how it is split, is split
 * exactly when, and as, the pool would split it (native_split_changes_bits).
 */
#define _GNU_SOURCE
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "program.h"

/* Runs profiled before the schedule is made (the first touches fresh memory: its times are not typical). */
#define PROFILE_RUNS 2

/* Longest program scheduled: finding the dependencies compares every pair of kernels. */
#define MAX_SCHEDULED 8192

/* What a kernel waiting for one the other thread ran costs beyond the wait itself: the signal, and its
 * inputs crossing from the other core's cache. */
#define HANDOFF_NS 800.0

/* What splitting a kernel costs beyond its halves. */
#define SPLIT_NS 400.0

/* What reading memory the other thread wrote costs per byte beyond reading one's own (its caches' lines
 * cross between cores): 60 bytes a nanosecond. It makes the plan keep a kernel beside its inputs where the
 * times are close (2-4% faster runs on the Omniglot MLP, alternating runs with and without). */
#define CROSS_BYTES_PER_NS 60.0

/* The planned speed-up below which a program runs in order on one thread. */
#define MIN_GAIN 1.08

/* Measured runs (choose_way): TRIAL_RUNS runs of each way back to back, then the faster way for
 * REFRESH_RUNS runs, and again. */
#define TRIAL_RUNS 16
#define REFRESH_RUNS 1024

typedef struct {
  _Alignas(64) atomic_int done;
} list_progress;

struct program_schedule {
  int profiled;
  /* Per kernel: least time measured (ns), whether it split, whether its split must be kept. */
  double *cost;
  bool *splits, *exact;
  bool planned, worthwhile;
  /* Per kernel: 0 or 1 (whole on that thread) or 2 (split over both). */
  int8_t *where;
  /* Each thread's kernels in order, and per item the count of the other list's items done before it. */
  int32_t *list[2], *need[2];
  int32_t len[2];
  list_progress progress[2];
  program_run_mode last;
  double serial_ns, planned_ns, critical_ns;
  /* Measured (choose_way): the way now taken, the trial it is in (or none), runs since it began, the
   * trial's times so far, and each way's median time in the last trial (0: none yet). */
  bool scheduled_now, on_trial;
  int runs_now, trial_count;
  double trial_ns[TRIAL_RUNS];
  double median_ns[2];
  int32_t split_count;
  kernel_program *program;
};

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

void schedule_free(program_schedule *s) {
  if (s == NULL) return;
  free(s->cost);
  free(s->splits);
  free(s->exact);
  free(s->where);
  for (int t = 0; t < 2; t++) {
    free(s->list[t]);
    free(s->need[t]);
  }
  free(s);
}

static program_schedule *schedule_new(kernel_program *p) {
  program_schedule *s = calloc(1, sizeof *s);
  if (s == NULL) return NULL;
  const size_t n = p->count > 0 ? p->count : 1;
  s->program = p;
  s->cost = calloc(n, sizeof *s->cost);
  s->splits = calloc(n, sizeof *s->splits);
  s->exact = calloc(n, sizeof *s->exact);
  if (s->cost == NULL || s->splits == NULL || s->exact == NULL) {
    schedule_free(s);
    return NULL;
  }
  return s;
}

/*
 * Runs the program in order on this thread, each kernel split as over two threads (a product decides from
 * the thread count) with every chunk here: the values of the scheduled run. With `s`, each kernel is timed
 * and how it splits noted.
 */
static void run_in_order(const kernel_program *p, program_schedule *s) {
  _Alignas(16) unsigned char scratch[NATIVE_CALL_BYTES];
  for (size_t i = 0; i < p->count; i++) {
    const queued_call *c = &p->calls[i];
    memcpy(scratch, c->ctx, c->size);
    native_split_begin(0, 2, true);
    const double t0 = s != NULL ? now_ns() : 0;
    c->exec(scratch);
    bool split, exact;
    native_split_end(&split, &exact);
    if (s == NULL) continue;
    const double dt = now_ns() - t0;
    if (s->profiled == 0 || dt < s->cost[i]) s->cost[i] = dt;
    s->splits[i] = split;
    s->exact[i] = exact;
  }
  if (s != NULL) s->profiled++;
}

static double max2(double a, double b) { return a > b ? a : b; }

/* Bytes kernel `r` reads of the memory kernel `w` writes. */
static double read_overlap(const queued_call *w, const queued_call *r) {
  double bytes = 0;
  for (int a = 0; a < w->count; a++) {
    if (!w->ranges[a].write) continue;
    for (int b = 0; b < r->count; b++) {
      if (r->ranges[b].write) continue;
      const char *wl = w->ranges[a].lo, *wh = w->ranges[a].hi, *rl = r->ranges[b].lo, *rh = r->ranges[b].hi;
      const char *lo = wl > rl ? wl : rl, *hi = wh < rh ? wh : rh;
      if (hi > lo) bytes += (double)(hi - lo);
    }
  }
  return bytes;
}

/*
 * The list schedule (see the top), in one pass over the kernels in program order: each kernel's
 * dependencies are the earlier kernels whose memory overlaps its own where either writes (every pair is
 * compared: MAX_SCHEDULED bounds the time), and it goes whole on the thread where it would finish first,
 * counting HANDOFF_NS for a dependency the other thread ran, or split over both where that is sooner (a
 * product that splits always splits). Fills `where`, the lists and their waits, and the predicted times.
 * False when out of memory.
 */
static bool plan(program_schedule *s) {
  const kernel_program *p = s->program;
  const size_t n = p->count;
  double *finish = malloc((n + 1) * sizeof *finish), *path = malloc((n + 1) * sizeof *path);
  int32_t *pos[2] = {malloc((n + 1) * sizeof(int32_t)), malloc((n + 1) * sizeof(int32_t))};
  s->where = malloc(n + 1);
  for (int t = 0; t < 2; t++) {
    s->list[t] = malloc((n + 1) * sizeof(int32_t));
    s->need[t] = malloc((n + 1) * sizeof(int32_t));
  }
  const bool ok = finish != NULL && path != NULL && pos[0] != NULL && pos[1] != NULL && s->where != NULL &&
                  s->list[0] != NULL && s->list[1] != NULL && s->need[0] != NULL && s->need[1] != NULL;
  if (ok) {
    double free_at[2] = {0, 0};
    s->serial_ns = s->critical_ns = 0;
    s->split_count = 0;
    s->len[0] = s->len[1] = 0;
    for (size_t i = 0; i < n; i++) {
      const double cost = s->cost[i];
      /* When its inputs are ready on each thread, its longest chain, and (for each thread) how many of the
       * other thread's list must be done before it starts there. */
      double ready[2] = {0, 0}, longest = 0;
      int32_t need[2] = {0, 0};
      /* Time reading what the other thread wrote, placed whole or as a half on each thread. */
      double cross_whole[2] = {0, 0}, cross_half[2] = {0, 0};
      for (size_t j = 0; j < i; j++) {
        if (!calls_conflict(&p->calls[j], &p->calls[i])) continue;
        const double crossing = read_overlap(&p->calls[j], &p->calls[i]) / CROSS_BYTES_PER_NS;
        const int wj = s->where[j];
        for (int t = 0; t < 2; t++) {
          ready[t] = max2(ready[t], finish[j] + (wj == t || wj == 2 ? 0 : HANDOFF_NS));
          if (pos[1 - t][j] + 1 > need[t]) need[t] = pos[1 - t][j] + 1;
          /* A split kernel's halves are assumed to line up: each half reads the half its thread wrote. */
          cross_whole[t] += crossing * (wj == 2 ? 0.5 : wj == t ? 0 : 1);
          cross_half[t] += crossing * (wj == 2 || wj == t ? 0 : 0.5);
        }
        longest = max2(longest, path[j]);
      }
      path[i] = longest + cost;
      s->serial_ns += cost;
      s->critical_ns = max2(s->critical_ns, path[i]);
      const double start[2] = {max2(free_at[0], ready[0]), max2(free_at[1], ready[1])};
      const double whole[2] = {start[0] + cost + cross_whole[0], start[1] + cost + cross_whole[1]};
      const double half[2] = {start[0] + cost / 2 + SPLIT_NS + cross_half[0],
                              start[1] + cost / 2 + SPLIT_NS + cross_half[1]};
      int where = whole[1] < whole[0] ? 1 : 0;
      double end = whole[where];
      if (s->exact[i] || (s->splits[i] && max2(half[0], half[1]) < end)) {
        where = 2;
        end = max2(half[0], half[1]);
        free_at[0] = half[0];
        free_at[1] = half[1];
        s->split_count++;
      } else
        free_at[where] = end;
      s->where[i] = (int8_t)where;
      finish[i] = end;
      for (int t = 0; t < 2; t++) {
        pos[t][i] = -1;
        if (where != t && where != 2) continue;
        pos[t][i] = s->len[t];
        s->need[t][s->len[t]] = need[t];
        s->list[t][s->len[t]++] = (int32_t)i;
      }
    }
    s->planned_ns = max2(free_at[0], free_at[1]);
    s->worthwhile = s->serial_ns >= MIN_GAIN * s->planned_ns;
  }
  free(finish);
  free(path);
  free(pos[0]);
  free(pos[1]);
  s->planned = ok;
  return ok;
}

/* Runs list `t` of the schedule: each kernel once the other thread has done what it depends on. */
static void run_list(program_schedule *s, int t) {
  const kernel_program *p = s->program;
  atomic_int *mine = &s->progress[t].done, *other = &s->progress[1 - t].done;
  _Alignas(16) unsigned char scratch[NATIVE_CALL_BYTES];
  for (int32_t k = 0; k < s->len[t]; k++) {
    const int32_t i = s->list[t][k], need = s->need[t][k];
    unsigned steps = 0;
    while (atomic_load_explicit(other, memory_order_acquire) < need) spin_step(&steps);
    const queued_call *c = &p->calls[i];
    memcpy(scratch, c->ctx, c->size);
    const bool split = s->where[i] == 2;
    native_split_begin(split ? t : 0, split ? 2 : 1, false);
    c->exec(scratch);
    bool did_split, exact;
    native_split_end(&did_split, &exact);
    atomic_store_explicit(mine, k + 1, memory_order_release);
  }
}

/* The other thread's list, as a queued call: its context names the schedule. */
static void other_list_exec(void *ctx) {
  program_schedule *s;
  memcpy(&s, ctx, sizeof s);
  run_list(s, 1);
}

/* Runs the program by its schedule: each thread its list (this one list 0), returning when both are done. */
static void run_scheduled(program_schedule *s,
                          void (*start_other)(native_exec_fn list_exec, void *ctx, size_t size)) {
  atomic_store_explicit(&s->progress[0].done, 0, memory_order_relaxed);
  atomic_store_explicit(&s->progress[1].done, 0, memory_order_relaxed);
  /* Posting the other list publishes the reset counts (the queue's release). */
  start_other(other_list_exec, &s, sizeof s);
  run_list(s, 0);
  unsigned steps = 0;
  while (atomic_load_explicit(&s->progress[1].done, memory_order_acquire) < s->len[1]) spin_step(&steps);
}

static int compare_ns(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Starts a trial of one way: its runs are timed until it has TRIAL_RUNS (or the test setting's) of them. */
static void begin_trial(program_schedule *s, bool scheduled) {
  s->scheduled_now = scheduled;
  s->on_trial = true;
  s->runs_now = 0;
  s->trial_count = 0;
}

/*
 * Which way the next run goes, from measured runs: the schedule's plan can be wrong about this machine, and
 * what two threads pay to share work moves (on this project's 2-core VMs, with where the host puts the two
 * virtual CPUs: in some hours a scheduled Omniglot MLP meta-gradient ran 1.6 times faster than in order, in
 * others no faster). Both ways give the same values, so the choice changes only the time. Each way runs a
 * trial, the schedule's first, back to back, and the one with the lower median time runs until the next
 * pair of trials, REFRESH_RUNS runs later. Back to back and by medians, so that a slow spell (a garbage
 * collection, another process, the first runs' cold caches) does not decide for a whole run.
 */
static void choose_way(program_schedule *s, double ran_ns) {
  /* METATAPE_SCHEDULE_REFRESH=n: trials every n runs, of min(n, TRIAL_RUNS) runs each (tests set it low to
   * see both ways). */
  static int refresh = 0;
  if (refresh == 0) {
    const char *e = getenv("METATAPE_SCHEDULE_REFRESH");
    refresh = e != NULL && atoi(e) > 0 ? atoi(e) : REFRESH_RUNS;
  }
  const int trial = refresh < TRIAL_RUNS ? refresh : TRIAL_RUNS;
  s->runs_now++;
  if (!s->on_trial) {
    if (s->runs_now >= refresh) begin_trial(s, true);
    return;
  }
  /* The first run of a trial is left out: it finds the caches as the other way left them. */
  if (s->runs_now > 1) s->trial_ns[s->trial_count++] = ran_ns;
  if (s->trial_count < trial) return;
  qsort(s->trial_ns, (size_t)s->trial_count, sizeof *s->trial_ns, compare_ns);
  s->median_ns[s->scheduled_now] = s->trial_ns[s->trial_count / 2];
  if (s->scheduled_now) begin_trial(s, false);
  else {
    s->on_trial = false;
    s->runs_now = 0;
    s->scheduled_now = s->median_ns[1] <= s->median_ns[0];
  }
}

program_run_mode schedule_run(kernel_program *p,
                              void (*start_other)(native_exec_fn list_exec, void *ctx, size_t size)) {
  if (p->schedule == NULL) {
    p->schedule = schedule_new(p);
    /* Too long to plan: in order, its runs still reported as such. */
    if (p->schedule != NULL && p->count > MAX_SCHEDULED) p->schedule->planned = true;
  }
  program_schedule *s = p->schedule;
  if (s == NULL || (s->planned && !s->worthwhile)) {
    run_in_order(p, NULL);
    if (s != NULL) s->last = RUN_IN_ORDER;
    return RUN_IN_ORDER;
  }
  if (!s->planned) {
    run_in_order(p, s);
    if (s->profiled >= PROFILE_RUNS) {
      /* Out of memory for the plan: in order from now on. */
      if (!plan(s)) s->worthwhile = false, s->planned = true;
      begin_trial(s, true);
    }
    return s->last = RUN_PROFILED;
  }
  const double t0 = now_ns();
  if (s->scheduled_now) run_scheduled(s, start_other);
  else run_in_order(p, NULL);
  const program_run_mode ran = s->scheduled_now ? RUN_SCHEDULED : RUN_IN_ORDER;
  choose_way(s, now_ns() - t0);
  return s->last = ran;
}

void schedule_ran_alone(kernel_program *p) {
  if (p->schedule != NULL) p->schedule->last = RUN_ONE_THREAD;
}

int schedule_last_run(const kernel_program *p) { return p->schedule == NULL ? -1 : (int)p->schedule->last; }

void schedule_describe(const kernel_program *p, schedule_info *out) {
  const program_schedule *s = p->schedule;
  memset(out, 0, sizeof *out);
  if (s == NULL) return;
  out->last = s->last;
  out->profiled = s->profiled;
  out->planned = s->planned;
  out->worthwhile = s->worthwhile;
  out->serial_ns = s->serial_ns;
  out->planned_ns = s->planned_ns;
  out->critical_ns = s->critical_ns;
  out->in_order_ns = s->median_ns[0];
  out->scheduled_ns = s->median_ns[1];
  out->lists[0] = s->len[0];
  out->lists[1] = s->len[1];
  out->split = s->split_count;
}
