// SPDX-License-Identifier: MIT
/*
 * The poller's stall allowance: the longest a healthy request may take on
 * a bus, from its settings, doubled plus a margin (poller.h). Too small and
 * a slow but working device gets the daemon restarted; too large and a
 * wedged bus goes unnoticed, so every term of the formula is pinned here.
 *
 * Then a live poller against a small Modbus TCP server in a thread, which
 * can drip its reply a byte at a time as a broken gateway would: the
 * stall deadline must follow the request in progress, and time spent
 * waiting for room in the queue must never count as a stall.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "daemon/poller.h"

static struct bus_params tcp(const char *host, int timeout_ms, int retries)
{
    struct bus_params p;

    memset(&p, 0, sizeof(p));
    p.type = BUS_TCP;
    snprintf(p.host, sizeof(p.host), "%s", host);
    p.port = 502;
    p.timeout_ms = timeout_ms;
    p.retries = retries;
    p.max_registers = BUS_MAX_REGISTERS;
    return p;
}

static struct bus_params rtu(int baud, char parity, int data_bits,
                             int stop_bits, int timeout_ms, int retries,
                             int delay_ms)
{
    struct bus_params p;

    memset(&p, 0, sizeof(p));
    p.type = BUS_RTU;
    snprintf(p.device, sizeof(p.device), "/dev/ttyUSB0");
    p.baud = baud;
    p.parity = parity;
    p.data_bits = data_bits;
    p.stop_bits = stop_bits;
    p.timeout_ms = timeout_ms;
    p.retries = retries;
    p.delay_ms = delay_ms;
    p.max_registers = BUS_MAX_REGISTERS;
    return p;
}

static void test_allowance(void **state)
{
    const struct {
        const char *what;
        struct bus_params p;
        int count;
        int64_t want_ms;
    } cases[] = {
        /* connect 300 + one attempt of 2 x 300: 2 x (300 + 600) + 5000 */
        {"tcp address", tcp("127.0.0.1", 300, 0), 40,
         2 * (2 * 300 + 600) + 5000},
        /* the register count does not matter on TCP */
        {"tcp address, 1 reg", tcp("127.0.0.1", 300, 0), 1,
         2 * (2 * 300 + 600) + 5000},
        {"tcp ipv6", tcp("::1", 200, 1), 125, 2 * (2 * 200 + 2 * 400) + 5000},
        /* a host name may cost a lookup on each of the two connects */
        {"tcp name", tcp("plc.example", 1000, 2), 10,
         2 * (2 * (1000 + 10000) + 3 * 2000) + 5000},
        /* 8N1 = 10 bits; 8 + 5 + 250 bytes at 9600 baud = 273.96 -> 274 ms */
        {"rtu 9600 8N1", rtu(9600, 'N', 8, 1, 500, 0, 5), 125,
         2 * (5 + 500 + 274) + 5000},
        /* 8E2 = 12 bits; 263 bytes at 1200 baud = 2630 ms exactly */
        {"rtu 1200 8E2", rtu(1200, 'E', 8, 2, 1000, 1, 0), 125,
         2 * (2 * (1000 + 2630)) + 5000},
        /* 7O1 = 10 bits; 15 bytes at 115200 = 1.3 -> 2 ms */
        {"rtu 115200 7O1", rtu(115200, 'O', 7, 1, 100, 0, 0), 1,
         2 * (100 + 2) + 5000},
        /* retries multiply the attempt, delay included */
        {"rtu retries", rtu(19200, 'N', 8, 1, 150, 3, 5), 2,
         2 * (4 * (5 + 150 + 9)) + 5000},
    };
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t got = poller_allowance_ms(&cases[i].p, cases[i].count);

        if (got != cases[i].want_ms)
            fail_msg("%s: allowance %lld ms, want %lld ms", cases[i].what,
                     (long long)got, (long long)cases[i].want_ms);
    }
}

/* Whatever the settings, the allowance covers every attempt a healthy
 * request makes, with room to spare, and grows with each setting. */
static void test_allowance_bounds(void **state)
{
    static const int timeouts[] = {1, 50, 300, 1000, 10000};
    static const int retries[] = {0, 1, 5};
    (void)state;
    for (size_t t = 0; t < sizeof(timeouts) / sizeof(timeouts[0]); t++) {
        for (size_t r = 0; r < sizeof(retries) / sizeof(retries[0]); r++) {
            struct bus_params a = tcp("10.0.0.1", timeouts[t], retries[r]);
            struct bus_params b =
                rtu(9600, 'N', 8, 1, timeouts[t], retries[r], 20);
            int64_t worst_tcp = (int64_t)timeouts[t] * (1 + retries[r]);
            int64_t worst_rtu = (int64_t)(timeouts[t] + 20) * (1 + retries[r]);
            int64_t base_a, base_b;

            assert_true(poller_allowance_ms(&a, 125) >=
                        2 * worst_tcp + POLLER_STALL_MARGIN_MS);
            assert_true(poller_allowance_ms(&b, 125) >=
                        2 * worst_rtu + POLLER_STALL_MARGIN_MS);
            /* more registers take longer on a serial line */
            assert_true(poller_allowance_ms(&b, 125) >
                        poller_allowance_ms(&b, 1));
            base_a = poller_allowance_ms(&a, 125);
            base_b = poller_allowance_ms(&b, 125);
            a.retries++;
            b.timeout_ms++;
            assert_true(poller_allowance_ms(&a, 125) > base_a);
            assert_true(poller_allowance_ms(&b, 125) > base_b);
        }
    }
}

/* The live tests' bus: a short timeout, so the server's drip (below it,
 * so libmodbus keeps reading) stretches one request over seconds. */
#define LIVE_TIMEOUT_MS 100
#define LIVE_DRIP_MS 40
#define LIVE_SENSORS 20 /* float32: one request of 40 registers */
#define LIVE_INTERVAL_MS 100
#define LIVE_WAIT_NS (5 * NS_PER_S)
/* Modbus TCP: a read request is 12 bytes, its reply 9 plus the data. */
#define MB_REQUEST_LEN 12
#define MB_REPLY_HEAD 9

/* A one-client Modbus TCP server answering reads with zeros, whole or a
 * byte every drip_ms; rest_now sends the rest of a dripping reply. */
struct server {
    int lfd;
    int port;
    pthread_t thread;
    atomic_int drip_ms;
    atomic_bool rest_now;
    atomic_bool dripping;           /* inside a dripping reply */
    atomic_int_fast64_t request_ns; /* when the last request arrived */
    atomic_int requests;
};

static int server_recv_all(int fd, unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = recv(fd, p, n, 0);

        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static void server_serve(struct server *sv, int fd)
{
    unsigned char req[MB_REQUEST_LEN], rep[MB_REPLY_HEAD + 2 * 125];
    struct timespec pause = {0, 0};

    while (server_recv_all(fd, req, sizeof(req)) == 0) {
        int count = req[10] << 8 | req[11];
        size_t n = MB_REPLY_HEAD + 2 * (size_t)count, i;
        int drip = atomic_load(&sv->drip_ms);

        atomic_store(&sv->request_ns, time_mono_ns());
        memset(rep, 0, sizeof(rep));
        memcpy(rep, req, 4); /* transaction and protocol ids */
        rep[5] = (unsigned char)(3 + 2 * count);
        rep[6] = req[6];
        rep[7] = req[7];
        rep[8] = (unsigned char)(2 * count);
        atomic_fetch_add(&sv->requests, 1);
        if (!drip) {
            send(fd, rep, n, MSG_NOSIGNAL);
            continue;
        }
        pause.tv_nsec = drip * NS_PER_MS;
        atomic_store(&sv->dripping, true);
        for (i = 0; i < n && !atomic_load(&sv->rest_now); i++) {
            send(fd, rep + i, 1, MSG_NOSIGNAL);
            nanosleep(&pause, NULL);
        }
        send(fd, rep + i, n - i, MSG_NOSIGNAL);
        atomic_store(&sv->dripping, false);
    }
}

static void *server_main(void *arg)
{
    struct server *sv = arg;
    int fd, one = 1;

    while ((fd = accept(sv->lfd, NULL, NULL)) >= 0) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        server_serve(sv, fd);
        close(fd);
    }
    return NULL;
}

static void server_start(struct server *sv)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);

    memset(sv, 0, sizeof(*sv));
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sv->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(sv->lfd >= 0);
    assert_int_equal(bind(sv->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(sv->lfd, 4), 0);
    assert_int_equal(getsockname(sv->lfd, (struct sockaddr *)&a, &len), 0);
    sv->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&sv->thread, NULL, server_main, sv), 0);
}

/* After every client is gone: wakes accept() and ends the thread. */
static void server_stop(struct server *sv)
{
    shutdown(sv->lfd, SHUT_RDWR);
    pthread_join(sv->thread, NULL);
    close(sv->lfd);
}

/* One TCP bus to the server with LIVE_SENSORS float32 sensors on unit 1,
 * all in one request, as config_load() and plan_build() would make them. */
struct live {
    struct bus_conf bus;
    struct sensor_conf sensors[LIVE_SENSORS];
    size_t index[LIVE_SENSORS];
    struct config config;
    struct plan_request request;
    struct plan plan;
};

static void live_init(struct live *lv, int port)
{
    memset(lv, 0, sizeof(*lv));
    lv->bus.name = (char *)"live";
    lv->bus.params = tcp("127.0.0.1", LIVE_TIMEOUT_MS, 0);
    lv->bus.params.port = port;
    for (size_t i = 0; i < LIVE_SENSORS; i++) {
        struct sensor_conf *sc = &lv->sensors[i];

        sc->id = (char *)"S";
        sc->kind = KIND_GENERIC;
        sc->unit_id = 1;
        sc->table = TABLE_HOLDING;
        sc->address = 1000 + 2 * (int)i;
        sc->type = REG_FLOAT32;
        sc->order = BO_ABCD;
        sc->scale = 1.0;
        sc->interval_ms = LIVE_INTERVAL_MS;
        sc->range_lo = -1e300;
        sc->range_hi = 1e300;
        sc->db_id = (int64_t)i + 1;
        lv->index[i] = i;
    }
    lv->config.buses = &lv->bus;
    lv->config.nbuses = 1;
    lv->config.sensors = lv->sensors;
    lv->config.nsensors = LIVE_SENSORS;
    lv->request.unit_id = 1;
    lv->request.table = TABLE_HOLDING;
    lv->request.interval_ms = LIVE_INTERVAL_MS;
    lv->request.address = 1000;
    lv->request.count = 2 * LIVE_SENSORS;
    lv->request.sensors = lv->index;
    lv->request.nsensors = LIVE_SENSORS;
    lv->plan.requests = &lv->request;
    lv->plan.nrequests = 1;
}

/* Waits (polling, with a deadline) until *counter reaches want. */
static void wait_count(atomic_int *counter, int want)
{
    int64_t end = time_mono_ns() + LIVE_WAIT_NS;
    struct timespec tick = {0, NS_PER_MS};

    while (atomic_load(counter) < want && time_mono_ns() < end)
        nanosleep(&tick, NULL);
    assert_true(atomic_load(counter) >= want);
}

static void wait_true(atomic_bool *flag)
{
    int64_t end = time_mono_ns() + LIVE_WAIT_NS;
    struct timespec tick = {0, NS_PER_MS};

    while (!atomic_load(flag) && time_mono_ns() < end)
        nanosleep(&tick, NULL);
    assert_true(atomic_load(flag));
}

/* While a request drags on, the deadline is its start plus the allowance:
 * healthy now, stalled by exactly the excess later; and healthy again
 * once it ends. */
static void test_stall_follows_request(void **state)
{
    struct server sv;
    struct live lv;
    struct queue *q = queue_new(100000);
    struct poller *pl;
    int64_t allowed, now, req, st;
    (void)state;

    server_start(&sv);
    live_init(&lv, sv.port);
    pl = poller_start(&lv.config, &lv.plan, 0, q, 0);
    assert_non_null(pl);
    allowed = poller_allowed_ns(pl);
    assert_int_equal(allowed,
                     poller_allowance_ms(&lv.bus.params, 2 * LIVE_SENSORS) *
                         NS_PER_MS);
    wait_count(&sv.requests, 3);
    now = time_mono_ns();
    assert_int_equal(poller_stalled_ns(pl, now), 0);
    /* waiting for its next slot (at most an interval away), or in a quick
     * request: healthy for the allowance to come */
    assert_int_equal(poller_stalled_ns(pl, now + allowed / 2), 0);

    atomic_store(&sv.drip_ms, LIVE_DRIP_MS);
    wait_true(&sv.dripping);
    req = atomic_load(&sv.request_ns);
    now = time_mono_ns();
    assert_int_equal(poller_stalled_ns(pl, now), 0);
    /* the poller took the slot shortly before the request arrived */
    st = poller_stalled_ns(pl, req + allowed + NS_PER_S);
    assert_true(st >= NS_PER_S);
    assert_true(st <= NS_PER_S + LIVE_INTERVAL_MS * NS_PER_MS);

    /* the rest at once: the request ends, the next ones are quick */
    atomic_store(&sv.drip_ms, 0);
    atomic_store(&sv.rest_now, true);
    wait_count(&sv.requests, atomic_load(&sv.requests) + 2);
    now = time_mono_ns();
    assert_int_equal(poller_stalled_ns(pl, now), 0);
    assert_int_equal(poller_stalled_ns(pl, now + allowed / 2), 0);

    poller_stop(pl);
    queue_free(q);
    server_stop(&sv);
}

/* A poller blocked on a full queue waits for the main thread, not for its
 * bus: never a stall, however long. */
static void test_queue_wait_is_not_stall(void **state)
{
    struct server sv;
    struct live lv;
    struct queue *q = queue_new(1);
    struct poller *pl;
    struct poller_stats stats;
    int64_t end;
    struct timespec tick = {0, NS_PER_MS};
    (void)state;

    server_start(&sv);
    live_init(&lv, sv.port);
    pl = poller_start(&lv.config, &lv.plan, 0, q, 0);
    assert_non_null(pl);
    /* readings are counted after the bus is done and before the push
     * that cannot complete: LIVE_SENSORS items into room for one */
    end = time_mono_ns() + LIVE_WAIT_NS;
    do {
        nanosleep(&tick, NULL);
        poller_stats(pl, &stats);
    } while (stats.readings < LIVE_SENSORS && time_mono_ns() < end);
    assert_true(stats.readings >= LIVE_SENSORS);
    assert_int_equal(queue_length(q), 1);
    assert_int_equal(poller_stalled_ns(pl, time_mono_ns() + 3600 * NS_PER_S),
                     0);

    queue_close(q);
    poller_stop(pl);
    queue_free(q);
    server_stop(&sv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowance),
        cmocka_unit_test(test_allowance_bounds),
        cmocka_unit_test(test_stall_follows_request),
        cmocka_unit_test(test_queue_wait_is_not_stall),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
