// SPDX-License-Identifier: MIT
/*
 * latency: how late a thread of this machine wakes up, right now. For the
 * timing checks of the integration tests: a busy machine (other builds,
 * other tests) delays tbdaqd's pollers and the simulator alike, and the
 * checks widen their tolerance by what this probe saw over the same
 * minutes, instead of failing for the load (or of being loose always).
 *
 *   latency PERIOD_MS
 *
 * Sleeps to absolute deadlines PERIOD_MS apart (CLOCK_MONOTONIC), and
 * measures how late each wake-up is. Prints "ready" once started; on
 * SIGTERM or SIGINT prints "wakeups N worst_us W p99_us P" and exits 0.
 * Exit status 2 on misuse. Plain C, no libraries: it shares nothing with
 * what it measures.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Wake-ups kept for the percentile: an hour at 10 ms. */
#define LATENCY_KEEP 360000

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static int64_t mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    int64_t period_ns, next, worst = 0, *late;
    size_t n = 0, kept = 0;
    char *end;
    long ms;

    if (argc != 2 || (ms = strtol(argv[1], &end, 10)) < 1 || ms > 1000 ||
        *end) {
        fprintf(stderr, "usage: latency PERIOD_MS (1..1000)\n");
        return 2;
    }
    period_ns = (int64_t)ms * 1000000;
    if (!(late = malloc(LATENCY_KEEP * sizeof(*late))))
        return 1;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    printf("ready\n");
    fflush(stdout);
    next = mono_ns() + period_ns;
    while (!stop) {
        struct timespec at = {(time_t)(next / 1000000000),
                              (long)(next % 1000000000)};
        int64_t l;

        if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) != 0)
            continue; /* a signal: stop is set, or it was not ours */
        l = mono_ns() - next;
        if (l > worst)
            worst = l;
        if (kept < LATENCY_KEEP)
            late[kept++] = l;
        n++;
        next += period_ns;
        if (next < mono_ns()) /* far behind: skip, do not burst */
            next = mono_ns() + period_ns;
    }
    qsort(late, kept, sizeof(*late), cmp_i64);
    printf("wakeups %zu worst_us %lld p99_us %lld\n", n,
           (long long)(worst / 1000),
           (long long)(kept ? late[kept * 99 / 100] / 1000 : 0));
    free(late);
    return 0;
}
