// What a "time word" costs the machine: a native thread that keeps one shared word at
// CLOCK_MONOTONIC ns, refreshed every `interval` (or spinning), while the main thread
// (the traced program) runs busy and reads the word as a plain load. Reports the
// refresher's CPU (its own CLOCK_THREAD_CPUTIME_ID over wall time), the refreshes per
// second achieved and how stale the word is when the program reads it (median, p99,
// max), per interval. Timer slack is set to 1 ns (the default 50 µs would make every
// short sleep ~50 µs).
//
//   zig cc -O2 -pthread scripts/bench-clock-refresh.c -o /tmp/bench-clock-refresh && /tmp/bench-clock-refresh [seconds]
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>

static _Atomic uint64_t word;
static _Atomic int stop;
static long interval_ns;
static uint64_t refreshes;
static double refresher_cpu_s;

static uint64_t now_ns(clockid_t id) {
  struct timespec t;
  clock_gettime(id, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void *refresher(void *unused) {
  (void)unused;
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  uint64_t count = 0;
  struct timespec pause = {0, interval_ns};
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    atomic_store_explicit(&word, now_ns(CLOCK_MONOTONIC), memory_order_relaxed);
    count++;
    if (interval_ns > 0) nanosleep(&pause, NULL);
  }
  refreshes = count;
  refresher_cpu_s = now_ns(CLOCK_THREAD_CPUTIME_ID) / 1e9;
  return NULL;
}

static int compare(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

enum { samples_max = 1 << 20 };
static uint64_t stale[samples_max];

int main(int argc, char **argv) {
  double seconds = argc > 1 ? atof(argv[1]) : 2;
  long intervals[] = {0, 1000, 10000, 100000};
  printf("| refresh every | refresher CPU, %% of a core | refreshes/s | staleness median / p99 / max, us |\n|---|---|---|---|\n");
  for (unsigned i = 0; i < sizeof intervals / sizeof intervals[0]; i++) {
    interval_ns = intervals[i];
    atomic_store(&stop, 0);
    atomic_store(&word, now_ns(CLOCK_MONOTONIC));
    pthread_t thread;
    pthread_create(&thread, NULL, refresher, NULL);
    uint64_t start = now_ns(CLOCK_MONOTONIC), end = start + (uint64_t)(seconds * 1e9);
    size_t count = 0;
    uint64_t t;
    // The program: busy, sampling the word's age now and then.
    while ((t = now_ns(CLOCK_MONOTONIC)) < end) {
      uint64_t seen = atomic_load_explicit(&word, memory_order_relaxed);
      if (count < samples_max) stale[count++] = t > seen ? t - seen : 0;
      for (volatile int spin = 0; spin < 200; spin++) {}
    }
    atomic_store(&stop, 1);
    pthread_join(thread, NULL);
    double wall = (now_ns(CLOCK_MONOTONIC) - start) / 1e9;
    qsort(stale, count, sizeof stale[0], compare);
    printf("| %s%ld us | %.1f | %.0f | %.1f / %.1f / %.1f |\n", interval_ns ? "" : "spin ", interval_ns / 1000, 100 * refresher_cpu_s / wall, refreshes / wall,
           stale[count / 2] / 1e3, stale[count * 99 / 100] / 1e3, stale[count - 1] / 1e3);
  }
  return 0;
}
