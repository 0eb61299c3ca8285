// SPDX-License-Identifier: MIT
/*
 * mqflood: the limit of this machine and broker for per-reading
 * publishing, without tbdaqd. A bare libmosquitto client publishes
 * readings shaped as SPEC's per-reading payload (its own seq and ts_us,
 * benchsub can count them) at QoS 1 as fast as the broker acknowledges,
 * with at most WINDOW unacknowledged (tbdaqd's PUBLISH_WINDOW, libmosquitto's
 * send maximum set to it as tbdaqd sets it), for SECONDS or until SIGTERM.
 * Nothing is polled, stored or read back: what benchsub receives per second
 * here is the most any per-reading publisher could deliver end to end on
 * the same broker and subscriber, and run.sh reports it beside tbdaqd's
 * per-reading ceiling. Prints one line of key=value figures and exits 1 if
 * the connection failed.
 *
 *   mqflood HOST PORT TOPIC_PREFIX SECONDS WINDOW
 */
#include <errno.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/util.h"
#include "tests/bench/arg.h"
#include "tests/bench/mqstep.h"

#define MQFLOOD_KEEPALIVE_S 30
/* Sensors the readings cycle through (their topics). */
#define MQFLOOD_SENSORS 1000
#define MQFLOOD_TOPIC_MAX 256
#define MQFLOOD_PAYLOAD_MAX 512
/* A turn's wait when the window is full: the PUBACKs wake it sooner. */
#define MQFLOOD_POLL_MS 100

static volatile sig_atomic_t mqflood_stop;

struct mqflood {
    uint64_t published, acked;
    bool connected, failed;
};

static void mqflood_on_signal(int sig)
{
    (void)sig;
    mqflood_stop = 1;
}

static void mqflood_on_connect(struct mosquitto *mosq, void *arg, int rc)
{
    struct mqflood *f = arg;

    (void)mosq;
    if (rc != 0) {
        fprintf(stderr, "mqflood: connection refused: %s\n",
                mosquitto_connack_string(rc));
        f->failed = true;
        return;
    }
    f->connected = true;
}

static void mqflood_on_publish(struct mosquitto *mosq, void *arg, int mid)
{
    struct mqflood *f = arg;

    (void)mosq;
    (void)mid;
    f->acked++;
}

/* One reading as tbdaqd publishes it (SPEC, MQTT), seq from 1. */
static int mqflood_publish(struct mosquitto *mosq, struct mqflood *f,
                           const char *prefix)
{
    char topic[MQFLOOD_TOPIC_MAX], payload[MQFLOOD_PAYLOAD_MAX],
        ts[TIME_ISO_LEN];
    uint64_t seq = f->published + 1;
    int64_t us = time_real_us();
    int n;

    time_format_iso(us, ts);
    snprintf(topic, sizeof(topic), "%s/bench/flow/FT-%" PRIu64, prefix,
             seq % MQFLOOD_SENSORS);
    n = snprintf(payload, sizeof(payload),
                 "{\"seq\":%" PRIu64
                 ",\"site\":\"bench\",\"sensor\":\"FT-%" PRIu64
                 "\",\"kind\":\"flow\",\"ts\":\"%s\",\"ts_us\":%" PRId64
                 ",\"value\":%.17g,\"unit\":\"m3/h\",\"quality\":\"good\"}",
                 seq, seq % MQFLOOD_SENSORS, ts, us, (double)seq * 0.001);
    return mosquitto_publish(mosq, NULL, topic, n, payload, 1, false);
}

int main(int argc, char **argv)
{
    struct mqflood f = {0};
    struct mosquitto *mosq;
    struct sigaction sa = {.sa_handler = mqflood_on_signal};
    long port, secs, window;
    int64_t start = 0, end = 0;
    int rc, status = 1;

    if (argc != 6) {
        fprintf(stderr,
                "usage: mqflood HOST PORT TOPIC_PREFIX SECONDS WINDOW\n");
        return 2;
    }
    if ((port = bench_arg("mqflood", argv[2], 1, 65535, "port")) < 0 ||
        (secs = bench_arg("mqflood", argv[4], 1, 3600, "duration")) < 0 ||
        (window = bench_arg("mqflood", argv[5], 1, 65535, "window")) < 0)
        return 2;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    mosquitto_lib_init();
    if (!(mosq = mosquitto_new(NULL, true, &f))) {
        fprintf(stderr, "mqflood: cannot create a client: %s\n",
                strerror(errno));
        goto out;
    }
    mosquitto_int_option(mosq, MOSQ_OPT_SEND_MAXIMUM, (int)window);
    mosquitto_connect_callback_set(mosq, mqflood_on_connect);
    mosquitto_publish_callback_set(mosq, mqflood_on_publish);
    rc = mosquitto_connect(mosq, argv[1], (int)port, MQFLOOD_KEEPALIVE_S);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(
            stderr, "mqflood: cannot connect to %s:%ld: %s\n", argv[1], port,
            rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        goto out;
    }
    while (!mqflood_stop && !f.failed) {
        if (f.connected && start == 0) {
            start = time_mono_ns();
            end = start + secs * NS_PER_S;
        }
        if (start && time_mono_ns() >= end)
            break;
        while (f.connected && f.published - f.acked < (uint64_t)window) {
            if ((rc = mqflood_publish(mosq, &f, argv[3])) != MOSQ_ERR_SUCCESS) {
                fprintf(stderr, "mqflood: cannot publish: %s\n",
                        mosquitto_strerror(rc));
                goto out;
            }
            f.published++;
        }
        rc = mqstep(mosq, MQFLOOD_POLL_MS, &mqflood_stop);
        if (rc == MQSTEP_POLL_FAILED) {
            perror("mqflood: poll");
            goto out;
        }
        if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(mosq) < 0) {
            fprintf(stderr, "mqflood: connection lost: %s\n",
                    rc == MOSQ_ERR_SUCCESS ? "closed by the broker"
                                           : mosquitto_strerror(rc));
            goto out;
        }
    }
    if (!f.failed && start) {
        double wall = (double)(time_mono_ns() - start) / NS_PER_S;

        printf("published=%" PRIu64 " acked=%" PRIu64 " seconds=%.3f"
               " acked_per_s=%.0f\n",
               f.published, f.acked, wall, (double)f.acked / wall);
        status = 0;
    }
out:
    if (mosq) {
        mosquitto_disconnect(mosq);
        mosquitto_destroy(mosq);
    }
    mosquitto_lib_cleanup();
    return status;
}
