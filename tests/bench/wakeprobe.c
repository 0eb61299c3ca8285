// SPDX-License-Identifier: MIT
/*
 * wakeprobe: how late this machine wakes a lone thread for a time it asked
 * for, measured beside a workload, so the workload's timing deviation can
 * be read against what the platform gives any program. One thread,
 * scheduled as tbdaqd's pollers are (SCHED_FIFO at PRIO, or SCHED_OTHER
 * with PRIO 0) with the pollers' timer slack, sleeps to every PERIOD_MS
 * point of CLOCK_REALTIME shifted by OFFSET_US (off the pollers' grid, so
 * it never competes with them for a core) until SIGTERM or SIGINT (for
 * at most SECONDS), and takes how long
 * after each point it ran: the kernel's timer, the scheduler, and the
 * hypervisor's stalls of the virtual CPU. Nothing else runs in it.
 * Prints one line of key=value figures (quantiles as benchsub's: the
 * value at index q * n of the sorted lateness):
 *
 *   wakes=N p50_ns= p99_ns= max_ns= over_500us=N over_1ms=N sched=fifo|other
 *
 *   wakeprobe PERIOD_MS OFFSET_US SECONDS PRIO
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "common/util.h"
#include "tests/bench/arg.h"

/* tbdaqd's pollers' timer slack (daemon/poller.c). */
#define WAKEPROBE_TIMER_SLACK_NS 1000

static volatile sig_atomic_t wakeprobe_stop;

static void wakeprobe_on_signal(int sig)
{
    (void)sig;
    wakeprobe_stop = 1;
}

static int wakeprobe_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    long period_ms, offset_us, secs, prio;
    int64_t period, t, end, *late;
    size_t n = 0, cap, over_half = 0, over_ms = 0;
    const char *sched = "other";
    struct sigaction sa = {.sa_handler = wakeprobe_on_signal};

    if (argc != 5) {
        fprintf(stderr, "usage: wakeprobe PERIOD_MS OFFSET_US SECONDS PRIO\n");
        return 2;
    }
    if ((period_ms = bench_arg("wakeprobe", argv[1], 1, 60000, "period")) < 0 ||
        (offset_us = bench_arg("wakeprobe", argv[2], 0, period_ms * 1000 - 1,
                               "offset")) < 0 ||
        (secs = bench_arg("wakeprobe", argv[3], 1, 86400, "duration")) < 0 ||
        (prio = bench_arg("wakeprobe", argv[4], 0, 99, "priority")) < 0)
        return 2;

    if (prio > 0) {
        struct sched_param sp = {.sched_priority = (int)prio};

        if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) {
            fprintf(stderr, "wakeprobe: cannot run SCHED_FIFO %ld: %s\n", prio,
                    strerror(errno));
            return 1;
        }
        sched = "fifo";
    }
    prctl(PR_SET_TIMERSLACK, WAKEPROBE_TIMER_SLACK_NS, 0, 0, 0);
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    period = period_ms * 1000000;
    cap = (size_t)(secs * 1000 / period_ms) + 1;
    late = xcalloc(cap, sizeof(*late));
    t = time_real_ns();
    end = t + secs * NS_PER_S;
    t = (t / period + 1) * period + offset_us * 1000;
    for (; t < end && n < cap && !wakeprobe_stop; t += period) {
        struct timespec ts = {.tv_sec = (time_t)(t / NS_PER_S),
                              .tv_nsec = (long)(t % NS_PER_S)};
        int rc;

        rc = clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &ts, NULL);
        if (wakeprobe_stop)
            break;
        if (rc == EINTR)
            continue;
        if (rc != 0) {
            fprintf(stderr, "wakeprobe: clock_nanosleep: %s\n", strerror(rc));
            free(late);
            return 1;
        }
        late[n] = time_real_ns() - t;
        over_half += late[n] > 500000;
        over_ms += late[n] > 1000000;
        n++;
    }
    if (n == 0) {
        fprintf(stderr, "wakeprobe: no wake in %ld s\n", secs);
        free(late);
        return 1;
    }
    qsort(late, n, sizeof(*late), wakeprobe_cmp);
    printf("wakes=%zu p50_ns=%" PRId64 " p99_ns=%" PRId64 " max_ns=%" PRId64
           " over_500us=%zu over_1ms=%zu sched=%s\n",
           n, late[n / 2], late[n * 99 / 100], late[n - 1], over_half, over_ms,
           sched);
    free(late);
    return 0;
}
