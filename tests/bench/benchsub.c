// SPDX-License-Identifier: MIT
/*
 * benchsub: the benchmark's MQTT subscriber and its arithmetic, built by
 * tests/bench/run.sh. `sub` counts every reading tbdaqd publishes and
 * stamps it with CLOCK_REALTIME the moment libmosquitto hands it over, so
 * that arrival minus the reading's ts_us (when its Modbus response
 * arrived) is the poll-to-subscriber latency. It must cost little CPU on a
 * machine the daemon, the broker and the simulator share, so it drives
 * the socket with its own poll(2) and reads every packet the kernel holds
 * before polling again (libmosquitto's loop reads one packet per select),
 * and writes its records in large blocks. `psub` is the same with a
 * persistent session (fixed client id, clean session off) that reconnects
 * whenever the broker goes away, for the soak's broker restarts. `stats`
 * joins the records with the database's readings of the measured window:
 * what was received, what is missing, duplicates, and the latency
 * percentiles. `timing` judges poll timing from the simulator's request
 * log, on the server side, so that the daemon cannot flatter itself.
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

/* Records are written out once this much is buffered... */
#define BENCHSUB_BUF_FLUSH (768 * 1024)
/* ...or this long after the last write, so run.sh can follow progress. */
#define BENCHSUB_FLUSH_MS 100
/* Longest record line: three 64-bit numbers, spaces, newline. */
#define BENCHSUB_LINE_MAX 80
/* Longest poll(2) wait: signals and the flush timer are checked between. */
#define BENCHSUB_POLL_MS 100
/* MQTT keepalive of the subscriber. */
#define BENCHSUB_KEEPALIVE_S 30
/* Missing seqs named as examples in the stats. */
#define BENCHSUB_EXAMPLES 5
/* Longest payload kept: tbdaqd's are at most PAYLOAD_MAX. */
#define BENCHSUB_PAYLOAD_MAX 1024
/* Longest line of an input file of `stats` and `timing`. */
#define BENCHSUB_INPUT_LINE 256
/* Pause between reconnection attempts of `psub` while the broker is away. */
#define BENCHSUB_RECONNECT_MS 100

static volatile sig_atomic_t benchsub_stop;

struct benchsub {
    int fd; /* the record file */
    char buf[BENCHSUB_BUF_FLUSH + BENCHSUB_LINE_MAX];
    size_t len;
    int64_t flushed_at; /* CLOCK_MONOTONIC ns */
    uint64_t readings, others;
    uint64_t reconnects;
    int qos;
    bool subscribed, failed;
    const char *topic;
};

static void benchsub_on_signal(int sig)
{
    (void)sig;
    benchsub_stop = 1;
}

static int benchsub_flush(struct benchsub *b)
{
    size_t off = 0;

    while (off < b->len) {
        ssize_t n = write(b->fd, b->buf + off, b->len - off);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, "benchsub: cannot write the records: %s\n",
                    strerror(errno));
            b->failed = true;
            return -1;
        }
        off += (size_t)n;
    }
    b->len = 0;
    b->flushed_at = time_mono_ns();
    return 0;
}

/* The integer after "key": in a NUL-terminated payload, or -1. */
static int64_t benchsub_field(const char *payload, const char *key)
{
    const char *p = strstr(payload, key);

    if (!p)
        return -1;
    return strtoll(p + strlen(key), NULL, 10);
}

/* Records one reading: "seq ts_us arrival_ns". */
static void benchsub_record(struct benchsub *b, int64_t seq, int64_t ts_us,
                            int64_t arrival)
{
    b->readings++;
    b->len += (size_t)snprintf(b->buf + b->len, BENCHSUB_LINE_MAX,
                               "%" PRId64 " %" PRId64 " %" PRId64 "\n", seq,
                               ts_us, arrival);
    if (b->len >= BENCHSUB_BUF_FLUSH)
        benchsub_flush(b);
}

/* A device message ({"site":..,"readings":[{"seq":..,...,"ts_us":..},...]},
 * mqtt.layout "device"): every reading in it, by its "seq" and the
 * "ts_us" after it. Returns how many. */
static size_t benchsub_device(struct benchsub *b, const char *p,
                              int64_t arrival)
{
    static const char kseq[] = "{\"seq\":", kts[] = "\"ts_us\":";
    size_t n = 0;

    while ((p = strstr(p, kseq))) {
        const char *t;
        int64_t seq = strtoll(p + sizeof(kseq) - 1, NULL, 10);

        if (!(t = strstr(p, kts)))
            break;
        benchsub_record(b, seq, strtoll(t + sizeof(kts) - 1, NULL, 10),
                        arrival);
        n++;
        p = t;
    }
    return n;
}

static void benchsub_on_message(struct mosquitto *mosq, void *arg,
                                const struct mosquitto_message *m)
{
    struct benchsub *b = arg;
    int64_t arrival = time_real_ns();
    char payload[BENCHSUB_PAYLOAD_MAX];
    int64_t seq, ts_us;
    size_t len;

    (void)mosq;
    len = m->payloadlen < 0 ? 0 : (size_t)m->payloadlen;
    /* libmosquitto NUL-terminates every payload it hands over. */
    if (strncmp(m->payload, "{\"site\":", 8) == 0 &&
        benchsub_device(b, m->payload, arrival) > 0)
        return;
    if (len >= sizeof(payload))
        len = sizeof(payload) - 1;
    memcpy(payload, m->payload, len);
    payload[len] = '\0';
    if (strncmp(payload, "{\"seq\":", 7) != 0) {
        b->others++;
        return;
    }
    seq = benchsub_field(payload, "{\"seq\":");
    ts_us = benchsub_field(payload, "\"ts_us\":");
    benchsub_record(b, seq, ts_us, arrival);
}

static void benchsub_on_connect(struct mosquitto *mosq, void *arg, int rc)
{
    struct benchsub *b = arg;

    if (rc != 0) {
        fprintf(stderr, "benchsub: connection refused: %s\n",
                mosquitto_connack_string(rc));
        b->failed = true;
        return;
    }
    rc = mosquitto_subscribe(mosq, NULL, b->topic, b->qos);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "benchsub: cannot subscribe to '%s': %s\n", b->topic,
                mosquitto_strerror(rc));
        b->failed = true;
    }
}

static void benchsub_on_subscribe(struct mosquitto *mosq, void *arg, int mid,
                                  int n, const int *granted)
{
    struct benchsub *b = arg;

    (void)mosq;
    (void)mid;
    if (n < 1 || granted[0] != b->qos) {
        fprintf(stderr,
                "benchsub: subscription to '%s' not granted at QoS "
                "%d\n",
                b->topic, b->qos);
        b->failed = true;
        return;
    }
    b->subscribed = true;
    /* run.sh waits for this line. */
    printf("benchsub: subscribed to %s\n", b->topic);
    fflush(stdout);
}

/*
 * Connects again after the broker went away, every BENCHSUB_RECONNECT_MS
 * until it answers or a signal stops us. Returns 0 once connected.
 */
static int benchsub_reconnect(struct mosquitto *mosq, struct benchsub *b)
{
    const struct timespec pause = {0, BENCHSUB_RECONNECT_MS * NS_PER_MS};

    b->reconnects++;
    while (!benchsub_stop) {
        if (mosquitto_reconnect(mosq) == MOSQ_ERR_SUCCESS)
            return 0;
        nanosleep(&pause, NULL);
    }
    return -1;
}

/*
 * sub HOST PORT TOPIC FILE [CLIENT_ID]: records "seq ts_us arrival_ns" per
 * reading. With a client id the session is persistent (clean session off:
 * the broker queues QoS 1 messages while we are away) and a lost
 * connection is re-established; without, a lost connection is an error.
 */
static int benchsub_sub(const char *host, int port, const char *topic,
                        const char *path, const char *client_id)
{
    struct benchsub *b = xcalloc(1, sizeof(*b));
    struct mosquitto *mosq = NULL;
    struct sigaction sa;
    int rc, status = 1;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = benchsub_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    b->topic = topic;
    b->qos = 1;
    b->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (b->fd < 0) {
        fprintf(stderr, "benchsub: cannot create '%s': %s\n", path,
                strerror(errno));
        goto fail;
    }
    mosquitto_lib_init();
    mosq = mosquitto_new(client_id, client_id == NULL, b);
    if (!mosq) {
        fprintf(stderr, "benchsub: cannot create a client: %s\n",
                strerror(errno));
        goto fail;
    }
    mosquitto_connect_callback_set(mosq, benchsub_on_connect);
    mosquitto_subscribe_callback_set(mosq, benchsub_on_subscribe);
    mosquitto_message_callback_set(mosq, benchsub_on_message);
    rc = mosquitto_connect(mosq, host, port, BENCHSUB_KEEPALIVE_S);
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "benchsub: cannot connect to %s:%d: %s\n", host, port,
                rc == MOSQ_ERR_ERRNO ? strerror(errno)
                                     : mosquitto_strerror(rc));
        goto fail;
    }
    b->flushed_at = time_mono_ns();
    while (!benchsub_stop && !b->failed) {
        rc = mqstep(mosq, BENCHSUB_POLL_MS, &benchsub_stop);
        if (rc == MQSTEP_POLL_FAILED) {
            perror("benchsub: poll");
            goto fail;
        }
        if (rc != MOSQ_ERR_SUCCESS || mosquitto_socket(mosq) < 0) {
            fprintf(stderr, "benchsub: connection lost: %s\n",
                    rc == MOSQ_ERR_ERRNO ? strerror(errno)
                    : rc == MOSQ_ERR_SUCCESS || rc == MOSQ_ERR_NO_CONN
                        ? "closed by the broker"
                        : mosquitto_strerror(rc));
            if (!client_id)
                goto fail;
            /* Whatever we received so far is on disk before we wait. */
            if (benchsub_flush(b) < 0 || benchsub_reconnect(mosq, b) < 0)
                break;
            fprintf(stderr, "benchsub: reconnected\n");
        }
        if (b->len > 0 &&
            time_mono_ns() - b->flushed_at >= BENCHSUB_FLUSH_MS * NS_PER_MS)
            benchsub_flush(b);
    }
    if (!b->failed)
        status = 0;
fail:
    if (b->fd >= 0 && benchsub_flush(b) < 0)
        status = 1;
    if (b->fd >= 0)
        close(b->fd);
    fprintf(stderr,
            "benchsub: %" PRIu64 " readings, %" PRIu64
            " other messages received, %" PRIu64 " reconnections\n",
            b->readings, b->others, b->reconnects);
    if (mosq) {
        mosquitto_disconnect(mosq);
        mosquitto_destroy(mosq);
    }
    mosquitto_lib_cleanup();
    free(b);
    return status;
}

/* One committed reading of the window, by seq - lo. */
struct benchsub_slot {
    int64_t ts_us;
    int64_t latency_us;
    uint32_t received; /* copies received */
    bool in_db;
};

static int benchsub_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of n sorted values, nearest rank. */
static int64_t benchsub_quantile(const int64_t *v, size_t n, double q)
{
    size_t i;

    if (n == 0)
        return -1;
    i = (size_t)(q * (double)n);
    if (i >= n)
        i = n - 1;
    return v[i];
}

/*
 * stats DBFILE SUBFILE FROM_US TO_US: DBFILE holds "seq ts_us" for each
 * reading committed in the window FROM_US..TO_US, SUBFILE the subscriber's
 * records. Prints one line of key=value figures (arrived: readings of any
 * seq that arrived within the window, the delivery rate); exits 1 if an
 * input cannot be read.
 */
static int benchsub_stats(const char *dbpath, const char *subpath,
                          int64_t from_us, int64_t to_us)
{
    FILE *f = NULL;
    char line[BENCHSUB_INPUT_LINE];
    struct benchsub_slot *slots = NULL;
    int64_t *lat = NULL, lo = INT64_MAX, hi = INT64_MIN;
    int64_t seq, ts, arrival;
    uint64_t db = 0, received = 0, dups = 0, mismatched = 0, missing = 0;
    uint64_t arrived = 0;
    size_t nlat = 0, nslots, nex = 0;
    char examples[BENCHSUB_EXAMPLES * 24 + 1] = "";
    int status = 1;

    /* Two passes over the database's list: its seq range, then the slots. */
    if (!(f = fopen(dbpath, "r")))
        goto fail_open;
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%" SCNd64 " %" SCNd64, &seq, &ts) != 2)
            continue;
        lo = seq < lo ? seq : lo;
        hi = seq > hi ? seq : hi;
        db++;
    }
    if (db == 0) {
        printf("db=0 received=0 missing=0 dups=0 mismatched=0 arrived=0\n");
        fclose(f);
        return 0;
    }
    nslots = (size_t)(hi - lo + 1);
    slots = xcalloc(nslots, sizeof(*slots));
    lat = xcalloc(db, sizeof(*lat));
    rewind(f);
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "%" SCNd64 " %" SCNd64, &seq, &ts) != 2)
            continue;
        slots[seq - lo].in_db = true;
        slots[seq - lo].ts_us = ts;
    }
    fclose(f);

    if (!(f = fopen(subpath, "r"))) {
        dbpath = subpath;
        goto fail_open;
    }
    while (fgets(line, sizeof(line), f)) {
        struct benchsub_slot *s;

        if (sscanf(line, "%" SCNd64 " %" SCNd64 " %" SCNd64, &seq, &ts,
                   &arrival) != 3)
            continue;
        if (arrival / 1000 >= from_us && arrival / 1000 < to_us)
            arrived++;
        if (seq < lo || seq > hi || !slots[seq - lo].in_db)
            continue;
        s = &slots[seq - lo];
        if (s->received++ > 0) {
            dups++;
            continue;
        }
        received++;
        if (ts != s->ts_us)
            mismatched++;
        s->latency_us = arrival / 1000 - s->ts_us;
        lat[nlat++] = s->latency_us;
    }
    fclose(f);
    f = NULL;

    for (size_t i = 0; i < nslots; i++) {
        if (!slots[i].in_db || slots[i].received)
            continue;
        if (missing++ < BENCHSUB_EXAMPLES) {
            size_t len = strlen(examples);

            snprintf(examples + len, sizeof(examples) - len, "%s%" PRId64,
                     nex++ ? "," : "", lo + (int64_t)i);
        }
    }
    qsort(lat, nlat, sizeof(*lat), benchsub_cmp_i64);
    printf(
        "db=%" PRIu64 " lo=%" PRId64 " hi=%" PRId64 " received=%" PRIu64
        " missing=%" PRIu64 " dups=%" PRIu64 " mismatched=%" PRIu64
        " lat_min_us=%" PRId64 " lat_p50_us=%" PRId64 " lat_p99_us=%" PRId64
        " lat_p999_us=%" PRId64 " lat_max_us=%" PRId64 " arrived=%" PRIu64
        " missing_examples=%s\n",
        db, lo, hi, received, missing, dups, mismatched,
        benchsub_quantile(lat, nlat, 0.0), benchsub_quantile(lat, nlat, 0.50),
        benchsub_quantile(lat, nlat, 0.99), benchsub_quantile(lat, nlat, 0.999),
        benchsub_quantile(lat, nlat, 1.0), arrived, nex ? examples : "-");
    status = 0;
    goto out;
fail_open:
    fprintf(stderr, "benchsub: cannot read '%s': %s\n", dbpath,
            strerror(errno));
out:
    if (f)
        fclose(f);
    free(slots);
    free(lat);
    return status;
}

/*
 * timing SIMLOG INTERVAL_MS FROM_US TO_US: the deviation of each request
 * the simulator logged in the window ("<realtime ns> unit function address
 * count" per line) from its ideal time. tbdaqd puts every request of an
 * interval on one grid of whole multiples of the interval in UTC, so the
 * ideal time is the grid point nearest the arrival, and the deviation is
 * arrival minus that point: positive late, negative early. Prints the
 * percentiles of |deviation| and the extremes of the signed one, in ns,
 * and how many grid points (`intervals`) had even their earliest request
 * over BENCHSUB_STALL_NS late (`stalled`): all late together, a delay
 * before any poller ran (the timer, the scheduler, the hypervisor), not
 * their order among themselves.
 *
 * With `own` (a program that keeps its own phase, such as collectd, whose
 * reads are due at its start plus whole intervals, not at UTC multiples),
 * the grid is shifted to that phase, estimated as the earliest arrival of
 * the window modulo the interval: the deviation is then how much later a
 * request came than the earliest of any interval, never negative. That
 * flatters the program by its best wake-up delay (a few tens of us
 * against tbdaqd's strict grid).
 */
#define BENCHSUB_STALL_NS 500000

static int64_t benchsub_wrap(int64_t d, int64_t iv)
{
    d %= iv;
    if (d < 0)
        d += iv;
    return d > iv / 2 ? d - iv : d;
}

static int benchsub_timing(const char *path, int64_t interval_ms,
                           int64_t from_us, int64_t to_us, bool own)
{
    FILE *f = fopen(path, "r");
    char line[BENCHSUB_INPUT_LINE];
    int64_t *dev = NULL, iv = interval_ms * NS_PER_MS;
    /* Microseconds as nanoseconds, clamped: the log's times are far from
     * either end of int64_t. */
    int64_t lim = INT64_MAX / 1000;
    int64_t from_ns = (from_us < -lim  ? -lim
                       : from_us > lim ? lim
                                       : from_us) *
                      1000;
    int64_t to_ns = (to_us < -lim ? -lim : to_us > lim ? lim : to_us) * 1000;
    int64_t early = 0, min = 0, max = 0, ref = 0, phase = 0, *point = NULL;
    int64_t first = 0;
    size_t n = 0, cap = 0, pcap = 0, intervals = 0, stalled = 0;

    if (!f) {
        fprintf(stderr, "benchsub: cannot read '%s': %s\n", path,
                strerror(errno));
        return 1;
    }
    while (fgets(line, sizeof(line), f)) {
        int64_t ns, d;

        if (sscanf(line, "%" SCNd64, &ns) != 1 || ns < from_ns || ns >= to_ns)
            continue;
        /* Own phase: relative to the first request, on one side of it
         * within half an interval, so that a phase near the interval's
         * end does not split the requests of one interval in two. */
        if (own && n == 0)
            ref = ns;
        d = benchsub_wrap(ns - ref, iv);
        xgrow(&dev, &cap, n + 1, sizeof(*dev));
        xgrow(&point, &pcap, n + 1, sizeof(*point));
        point[n] = ns - d; /* its grid point (own: before the shift) */
        dev[n++] = d;
        if (own && d < phase)
            phase = d;
    }
    fclose(f);
    for (size_t i = 0; i < n; i++) {
        int64_t d = dev[i] - phase;

        if (d < 0)
            early++;
        min = i == 0 || d < min ? d : min;
        max = i == 0 || d > max ? d : max;
        /* The log is in arrival order: a grid point's requests follow
         * one another. */
        if (i == 0 || point[i] != point[i - 1]) {
            stalled += i > 0 && first > BENCHSUB_STALL_NS;
            intervals++;
            first = d;
        } else if (d < first) {
            first = d;
        }
        dev[i] = d < 0 ? -d : d;
    }
    stalled += n > 0 && first > BENCHSUB_STALL_NS;
    qsort(dev, n, sizeof(*dev), benchsub_cmp_i64);
    printf("requests=%zu early=%" PRId64 " dev_p50_ns=%" PRId64
           " dev_p99_ns=%" PRId64 " dev_max_ns=%" PRId64
           " signed_min_ns=%" PRId64 " signed_max_ns=%" PRId64
           " intervals=%zu stalled=%zu\n",
           n, early, benchsub_quantile(dev, n, 0.50),
           benchsub_quantile(dev, n, 0.99), benchsub_quantile(dev, n, 1.0), min,
           max, intervals, stalled);
    free(point);
    free(dev);
    return 0;
}

static void benchsub_usage(void)
{
    fprintf(stderr,
            "usage: benchsub sub HOST PORT TOPIC FILE [CLIENT_ID]\n"
            "       benchsub stats DBFILE SUBFILE FROM_US TO_US\n"
            "       benchsub timing SIMLOG INTERVAL_MS FROM_US TO_US [own]\n");
}

int main(int argc, char **argv)
{
    if ((argc == 6 || argc == 7) && strcmp(argv[1], "sub") == 0) {
        char *end;
        long port = strtol(argv[3], &end, 10);

        if (*end || port < 1 || port > 65535) {
            fprintf(stderr, "benchsub: bad port '%s'\n", argv[3]);
            return 2;
        }
        return benchsub_sub(argv[2], (int)port, argv[4], argv[5],
                            argc == 7 ? argv[6] : NULL);
    }
    if (argc == 6 && strcmp(argv[1], "stats") == 0)
        return benchsub_stats(argv[2], argv[3], strtoll(argv[4], NULL, 10),
                              strtoll(argv[5], NULL, 10));
    if ((argc == 6 || (argc == 7 && strcmp(argv[6], "own") == 0)) &&
        strcmp(argv[1], "timing") == 0) {
        int64_t iv = strtoll(argv[3], NULL, 10);

        if (iv < 1) {
            fprintf(stderr, "benchsub: bad interval '%s'\n", argv[3]);
            return 2;
        }
        return benchsub_timing(argv[2], iv, strtoll(argv[4], NULL, 10),
                               strtoll(argv[5], NULL, 10), argc == 7);
    }
    benchsub_usage();
    return 2;
}
