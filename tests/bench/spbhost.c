// SPDX-License-Identifier: MIT
/*
 * spbhost: make bench's Sparkplug B host (replay_spb.sh), written apart
 * from tbdaq's encoder: it decodes with protobuf-c code that replay_spb.sh
 * generates from the integration tests' own schema
 * (tests/integration/tools/sparkplug_test.proto, from the specification),
 * never with the project's proto/sparkplug_b.proto.
 *
 *   spbhost HOST PORT OUT CLIENT_ID FIRST_SEQ
 *
 * Subscribes to spBv1.0/# at QoS 1 with a persistent session (clean
 * session off; while the broker is away it reconnects every 100 ms) and
 * appends one line per DDATA metric to OUT: "seq ts_ms rx_us hist
 * sent_ms" (the metric's seq property, its timestamp, CLOCK_REALTIME when
 * libmosquitto handed the message over, is_historical 0/1, the payload's
 * timestamp: when the node encoded it); tests/bench/spbsub.py stats
 * reads them. Every 0.5 s it prints "progress msgs=N metrics=M low=L
 * births=B deaths=D bad=X" (L: every seq from FIRST_SEQ to L arrived).
 * It is C because the Python host (spbsub.py sub, python3-protobuf)
 * needed a whole core while a 10-minute backlog arrived (about 3 us a
 * metric), and live DDATA then waited for it: the host was the
 * bottleneck. The socket is driven as benchsub's: its own poll(2),
 * every packet the kernel holds read before polling again.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "tests/bench/mqstep.h"
#include "sparkplug_test.pb-c.h"

/* Records are written once this much is buffered, or every poll wait. */
#define SPBHOST_BUF_FLUSH (768 * 1024)
/* Longest record line: five 64-bit numbers, spaces, newline. */
#define SPBHOST_LINE_MAX 120
#define SPBHOST_POLL_MS 100
#define SPBHOST_PROGRESS_MS 500
#define SPBHOST_KEEPALIVE_S 30
#define SPBHOST_RECONNECT_MS 100

typedef TbdaqItest__SpbPayload Payload;
typedef TbdaqItest__SpbPayload__Metric Metric;

static volatile sig_atomic_t spbhost_stop;

struct spbhost {
    int fd;
    char buf[SPBHOST_BUF_FLUSH + SPBHOST_LINE_MAX];
    size_t len;
    uint64_t msgs, metrics, births, deaths, bad;
    bool failed;
    /* seqs seen from first on: seen[i] for seq first + i */
    int64_t first, low;
    unsigned char *seen;
    size_t cap;
};

static void spbhost_on_signal(int sig)
{
    (void)sig;
    spbhost_stop = 1;
}

static int64_t spbhost_real_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void spbhost_flush(struct spbhost *h)
{
    size_t off = 0;

    while (off < h->len) {
        ssize_t n = write(h->fd, h->buf + off, h->len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "spbhost: cannot write: %s\n", strerror(errno));
            h->failed = true;
            return;
        }
        off += (size_t)n;
    }
    h->len = 0;
}

/* Marks seq seen and moves the low-water mark on. */
static void spbhost_seen(struct spbhost *h, int64_t seq)
{
    size_t i;

    if (seq <= h->low)
        return;
    i = (size_t)(seq - h->first);
    if (i >= h->cap) {
        size_t cap = h->cap ? h->cap : 1 << 20;

        while (cap <= i)
            cap *= 2;
        h->seen = xrealloc(h->seen, cap);
        memset(h->seen + h->cap, 0, cap - h->cap);
        h->cap = cap;
    }
    h->seen[i] = 1;
    while ((size_t)(h->low + 1 - h->first) < h->cap &&
           h->seen[h->low + 1 - h->first])
        h->low++;
}

/* The seq property of m, or -1. */
static int64_t spbhost_seq(const Metric *m)
{
    const TbdaqItest__SpbPayload__PropertySet *ps = m->properties;

    if (!ps)
        return -1;
    for (size_t i = 0; i < ps->n_keys && i < ps->n_values; i++)
        if (strcmp(ps->keys[i], "seq") == 0 &&
            ps->values[i]->value_case ==
                TBDAQ_ITEST__SPB_PAYLOAD__PROPERTY_VALUE__VALUE_LONG_VALUE)
            return (int64_t)ps->values[i]->long_value;
    return -1;
}

static void spbhost_ddata(struct spbhost *h, const void *data, size_t len,
                          int64_t rx)
{
    Payload *p = tbdaq_itest__spb_payload__unpack(NULL, len, data);
    int64_t sent;

    if (!p) {
        h->bad++;
        return;
    }
    sent = p->has_timestamp ? (int64_t)p->timestamp : 0;
    for (size_t i = 0; i < p->n_metrics; i++) {
        const Metric *m = p->metrics[i];
        int64_t seq = spbhost_seq(m);

        if (seq < 0 || !m->has_timestamp) {
            h->bad++;
            continue;
        }
        h->metrics++;
        spbhost_seen(h, seq);
        h->len += (size_t)snprintf(
            h->buf + h->len, SPBHOST_LINE_MAX,
            "%" PRId64 " %" PRIu64 " %" PRId64 " %d %" PRId64 "\n", seq,
            m->timestamp, rx, m->has_is_historical && m->is_historical, sent);
        if (h->len >= SPBHOST_BUF_FLUSH)
            spbhost_flush(h);
    }
    tbdaq_itest__spb_payload__free_unpacked(p, NULL);
}

static void spbhost_on_message(struct mosquitto *mosq, void *arg,
                               const struct mosquitto_message *msg)
{
    struct spbhost *h = arg;
    int64_t rx = spbhost_real_us();
    const char *t = msg->topic;

    (void)mosq;
    h->msgs++;
    /* spBv1.0/<group>/<TYPE>/... */
    for (int k = 0; k < 2 && t; k++)
        if ((t = strchr(t, '/')))
            t++;
    if (!t)
        return;
    if (strncmp(t, "DDATA/", 6) == 0)
        spbhost_ddata(h, msg->payload, (size_t)msg->payloadlen, rx);
    else if (strncmp(t, "NBIRTH/", 7) == 0 || strncmp(t, "DBIRTH/", 7) == 0)
        h->births++;
    else if (strncmp(t, "NDEATH/", 7) == 0 || strncmp(t, "DDEATH/", 7) == 0)
        h->deaths++;
}

static void spbhost_on_connect(struct mosquitto *mosq, void *arg, int rc)
{
    struct spbhost *h = arg;

    printf("connected rc=%d\n", rc);
    fflush(stdout);
    if (rc == 0 &&
        mosquitto_subscribe(mosq, NULL, "spBv1.0/#", 1) != MOSQ_ERR_SUCCESS)
        h->failed = true;
}

static void spbhost_on_subscribe(struct mosquitto *mosq, void *arg, int mid,
                                 int n, const int *granted)
{
    (void)mosq;
    (void)arg;
    (void)mid;
    (void)n;
    (void)granted;
    printf("subscribed\n"); /* replay_spb.sh waits for this line */
    fflush(stdout);
}

static void spbhost_progress(const struct spbhost *h)
{
    printf("progress msgs=%" PRIu64 " metrics=%" PRIu64 " low=%" PRId64
           " births=%" PRIu64 " deaths=%" PRIu64 " bad=%" PRIu64 "\n",
           h->msgs, h->metrics, h->low, h->births, h->deaths, h->bad);
    fflush(stdout);
}

/* The connection's life: 0 when stopped by a signal, -1 on an error. */
static int spbhost_run(struct mosquitto *mosq, struct spbhost *h,
                       const char *host, int port)
{
    const struct timespec pause = {0, SPBHOST_RECONNECT_MS * NS_PER_MS};
    int64_t next = time_mono_ns();

    while (mosquitto_connect(mosq, host, port, SPBHOST_KEEPALIVE_S) !=
           MOSQ_ERR_SUCCESS) {
        if (spbhost_stop)
            return 0;
        nanosleep(&pause, NULL);
    }
    while (!spbhost_stop && !h->failed) {
        int rc;

        if (time_mono_ns() >= next) {
            spbhost_flush(h);
            spbhost_progress(h);
            next = time_mono_ns() + SPBHOST_PROGRESS_MS * NS_PER_MS;
        }
        rc = mqstep(mosq, SPBHOST_POLL_MS, &spbhost_stop);
        if (rc == MQSTEP_POLL_FAILED)
            return -1;
        if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(mosq) < 0) {
            spbhost_flush(h);
            while (!spbhost_stop &&
                   mosquitto_reconnect(mosq) != MOSQ_ERR_SUCCESS)
                nanosleep(&pause, NULL);
        }
    }
    return h->failed ? -1 : 0;
}

int main(int argc, char **argv)
{
    struct spbhost *h;
    struct mosquitto *mosq;
    struct sigaction sa;
    int status;

    if (argc != 6) {
        fprintf(stderr, "usage: spbhost HOST PORT OUT CLIENT_ID FIRST_SEQ\n");
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = spbhost_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    h = xcalloc(1, sizeof(*h));
    h->first = strtoll(argv[5], NULL, 10);
    h->low = h->first - 1;
    h->fd = open(argv[3], O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (h->fd < 0) {
        fprintf(stderr, "spbhost: cannot open '%s': %s\n", argv[3],
                strerror(errno));
        return 1;
    }
    mosquitto_lib_init();
    mosq = mosquitto_new(argv[4], false, h);
    if (!mosq) {
        fprintf(stderr, "spbhost: cannot create a client\n");
        return 1;
    }
    mosquitto_connect_callback_set(mosq, spbhost_on_connect);
    mosquitto_subscribe_callback_set(mosq, spbhost_on_subscribe);
    mosquitto_message_callback_set(mosq, spbhost_on_message);
    status = spbhost_run(mosq, h, argv[1], (int)strtol(argv[2], NULL, 10));
    spbhost_flush(h);
    spbhost_progress(h);
    close(h->fd);
    mosquitto_disconnect(mosq);
    mosquitto_destroy(mosq);
    mosquitto_lib_cleanup();
    free(h->seen);
    free(h);
    return status < 0 ? 1 : 0;
}
