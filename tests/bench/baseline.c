// SPDX-License-Identifier: MIT
/*
 * baseline: the limit of this machine for the benchmark's flood workload
 * (W4), without tbdaqd. A bare libmodbus read loop: CONNS threads, each
 * with its own TCP connection to tbdaq-sim and its own unit id (1..CONNS,
 * as W4 gives each unit its own bus), reads COUNT input registers from
 * ADDRESS as fast as the simulator answers, for SECONDS. Nothing is
 * decoded, stored or published, so readings/s here is the ceiling any
 * daemon could reach on the same simulator; tests/bench/run.sh reports
 * tbdaqd's W4 ceiling as a fraction of it. Prints one line of key=value
 * figures (registers/s, requests/s, readings/s at 2 registers a float32
 * reading) and exits 1 if a connection or a read failed.
 *
 *   baseline HOST PORT CONNS SECONDS ADDRESS COUNT
 */
#include <errno.h>
#include <inttypes.h>
#include <modbus.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "tests/bench/arg.h"

/* Registers of one float32 reading. */
#define BASELINE_REGS_PER_READING 2
/* Most connections (threads) and the Modbus read limit. */
#define BASELINE_CONNS_MAX 247
#define BASELINE_COUNT_MAX 125
/* A reply slower than this is an error: the simulator answers in well
 * under a millisecond. */
#define BASELINE_TIMEOUT_S 1

struct baseline_conn {
    pthread_t thread;
    const char *host;
    int port, unit, address, count;
    int64_t deadline_ns; /* CLOCK_MONOTONIC end of the run */
    uint64_t requests;
    bool failed;
};

static void *baseline_main(void *arg)
{
    struct baseline_conn *c = arg;
    uint16_t regs[BASELINE_COUNT_MAX];
    modbus_t *ctx = modbus_new_tcp(c->host, c->port);

    if (!ctx) {
        fprintf(stderr, "baseline: cannot create a context: %s\n",
                modbus_strerror(errno));
        c->failed = true;
        return NULL;
    }
    modbus_set_slave(ctx, c->unit);
    modbus_set_response_timeout(ctx, BASELINE_TIMEOUT_S, 0);
    if (modbus_connect(ctx) < 0) {
        fprintf(stderr, "baseline: cannot connect to %s:%d: %s\n", c->host,
                c->port, modbus_strerror(errno));
        c->failed = true;
        goto out;
    }
    while (time_mono_ns() < c->deadline_ns) {
        if (modbus_read_input_registers(ctx, c->address, c->count, regs) !=
            c->count) {
            fprintf(stderr, "baseline: unit %d: read failed: %s\n", c->unit,
                    modbus_strerror(errno));
            c->failed = true;
            break;
        }
        c->requests++;
    }
    modbus_close(ctx);
out:
    modbus_free(ctx);
    return NULL;
}

int main(int argc, char **argv)
{
    struct baseline_conn *conns = NULL;
    long port, nconns, secs, address, count;
    int64_t start, end;
    uint64_t requests = 0;
    size_t started = 0;
    int status = 1;
    double wall;

    if (argc != 7) {
        fprintf(stderr,
                "usage: baseline HOST PORT CONNS SECONDS ADDRESS COUNT\n");
        return 2;
    }
    if ((port = bench_arg("baseline", argv[2], 1, 65535, "port")) < 0 ||
        (nconns = bench_arg("baseline", argv[3], 1, BASELINE_CONNS_MAX,
                            "connection count")) < 0 ||
        (secs = bench_arg("baseline", argv[4], 1, 3600, "duration")) < 0 ||
        (address = bench_arg("baseline", argv[5], 0, 65535, "address")) < 0 ||
        (count = bench_arg("baseline", argv[6], 1, BASELINE_COUNT_MAX,
                           "register count")) < 0)
        return 2;

    conns = xcalloc((size_t)nconns, sizeof(*conns));
    start = time_mono_ns();
    for (long i = 0; i < nconns; i++) {
        struct baseline_conn *c = &conns[i];
        int rc;

        c->host = argv[1];
        c->port = (int)port;
        c->unit = (int)i + 1;
        c->address = (int)address;
        c->count = (int)count;
        c->deadline_ns = start + secs * NS_PER_S;
        if ((rc = pthread_create(&c->thread, NULL, baseline_main, c)) != 0) {
            fprintf(stderr, "baseline: cannot start a thread: %s\n",
                    strerror(rc));
            goto fail;
        }
        started++;
    }
    status = 0;
fail:
    for (size_t i = 0; i < started; i++) {
        pthread_join(conns[i].thread, NULL);
        requests += conns[i].requests;
        if (conns[i].failed)
            status = 1;
    }
    end = time_mono_ns();
    wall = (double)(end - start) / (double)NS_PER_S;
    if (started > 0)
        printf("conns=%zu seconds=%.3f requests=%" PRIu64
               " requests_per_s=%.0f registers_per_s=%.0f"
               " readings_per_s=%.0f\n",
               started, wall, requests, (double)requests / wall,
               (double)requests * (double)count / wall,
               (double)requests * (double)(count / BASELINE_REGS_PER_READING) /
                   wall);
    free(conns);
    return status;
}
