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
 * waiting for room in the queue must never count as a stall. The server
 * can also go away and come back on the same port (the poller must try to
 * connect at every slot, and read again at the first or second slot after
 * it is back), or stop answering (a request longer than the interval: the
 * slots it spans become `missed` readings, one per sensor and slot).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
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

/* An rtu-over-tcp bus: connected like TCP, framed like RTU. */
static struct bus_params rot(const char *host, int timeout_ms, int retries,
                             int delay_ms)
{
    struct bus_params p = tcp(host, timeout_ms, retries);

    p.type = BUS_RTU_OVER_TCP;
    p.delay_ms = delay_ms;
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
        /* rtu over tcp: connect 500, one attempt of 5 + 3 x 500 (send,
         * answer, drain) + 2500 (a slow line's answer), whatever the baud */
        {"rtu over tcp", rot("127.0.0.1", 500, 0, 5), 125,
         2 * (2 * 500 + 5 + 3 * 500 + 2500) + 5000},
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

/* Addresses the test server holds values for (beyond: the same again). */
#define SERVER_SPAN 256
/* The longest reply: 2000 bits in 250 bytes, 125 registers in 250. */
#define MB_DATA_MAX 250

/* A one-client Modbus TCP server answering reads with its words or bits
 * (zeros unless set), whole or a byte every drip_ms; rest_now sends the
 * rest of a dripping reply. */
struct server {
    int lfd;
    int port;
    pthread_t thread;
    atomic_int drip_ms;
    atomic_bool rest_now;
    atomic_bool dripping;           /* inside a dripping reply */
    atomic_int_fast64_t request_ns; /* when the last request arrived */
    atomic_int requests;
    atomic_bool mute;  /* read requests, never answer */
    atomic_int cfd;    /* the client's connection, or -1 */
    atomic_bool ended; /* the serving thread is about to return */
    /* What reads return, by address modulo SERVER_SPAN (zeros unless a
     * test sets them before it starts a poller): registers for functions
     * 3 and 4, bits (0 or 1) for functions 1 and 2. */
    uint16_t words[SERVER_SPAN];
    uint8_t bits[SERVER_SPAN];
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

/* The data of a read reply into out; returns its bytes. */
static size_t server_data(const struct server *sv, int function, int address,
                          int count, unsigned char *out)
{
    size_t len = 0;

    if (function == 1 || function == 2) {
        for (int i = 0; i < count && i / 8 < MB_DATA_MAX; i++) {
            if (i % 8 == 0)
                out[len++] = 0;
            out[len - 1] |=
                (unsigned char)(sv->bits[(address + i) % SERVER_SPAN]
                                << (i % 8));
        }
        return len;
    }
    for (int i = 0; i < count && len + 2 <= MB_DATA_MAX; i++) {
        uint16_t w = sv->words[(address + i) % SERVER_SPAN];

        out[len++] = (unsigned char)(w >> 8);
        out[len++] = (unsigned char)(w & 0xff);
    }
    return len;
}

static void server_serve(struct server *sv, int fd)
{
    unsigned char req[MB_REQUEST_LEN], rep[MB_REPLY_HEAD + MB_DATA_MAX];
    struct timespec pause = {0, 0};

    while (server_recv_all(fd, req, sizeof(req)) == 0) {
        int count = req[10] << 8 | req[11];
        size_t data, n, i;
        int drip = atomic_load(&sv->drip_ms);

        atomic_store(&sv->request_ns, time_mono_ns());
        if (atomic_load(&sv->mute)) {
            atomic_fetch_add(&sv->requests, 1);
            continue;
        }
        memset(rep, 0, sizeof(rep));
        memcpy(rep, req, 4); /* transaction and protocol ids */
        data = server_data(sv, req[7], req[8] << 8 | req[9], count,
                           rep + MB_REPLY_HEAD);
        n = MB_REPLY_HEAD + data;
        rep[5] = (unsigned char)(3 + data);
        rep[6] = req[6];
        rep[7] = req[7];
        rep[8] = (unsigned char)data;
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
        atomic_store(&sv->cfd, fd);
        server_serve(sv, fd);
        atomic_store(&sv->cfd, -1);
        close(fd);
    }
    atomic_store(&sv->ended, true);
    return NULL;
}

/* Listens on port (0: any free one) of 127.0.0.1 and serves. */
static void server_start_on(struct server *sv, int port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int one = 1;

    memset(sv, 0, sizeof(*sv));
    atomic_store(&sv->cfd, -1);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    sv->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(sv->lfd >= 0);
    assert_int_equal(
        setsockopt(sv->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)), 0);
    assert_int_equal(bind(sv->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(sv->lfd, 4), 0);
    assert_int_equal(getsockname(sv->lfd, (struct sockaddr *)&a, &len), 0);
    sv->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&sv->thread, NULL, server_main, sv), 0);
}

static void server_start(struct server *sv)
{
    server_start_on(sv, 0);
}

/* After every client is gone: wakes accept() and ends the thread. */
static void server_stop(struct server *sv)
{
    shutdown(sv->lfd, SHUT_RDWR);
    pthread_join(sv->thread, NULL);
    close(sv->lfd);
}

/* The device goes away: its connection is cut and nothing listens on its
 * port any more (a connect is refused) until server_start_on() again. */
static void server_vanish(struct server *sv)
{
    int fd;

    shutdown(sv->lfd, SHUT_RDWR);
    /* the serving thread may be between accept() and storing the fd */
    while (!atomic_load(&sv->ended)) {
        struct timespec tick = {0, NS_PER_MS};

        if ((fd = atomic_load(&sv->cfd)) >= 0)
            shutdown(fd, SHUT_RDWR);
        nanosleep(&tick, NULL);
    }
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

/* nsensors (1..LIVE_SENSORS) sensors polled every interval_ms, on a bus
 * whose timeout is timeout_ms. */
static void live_init_with(struct live *lv, int port, size_t nsensors,
                           int interval_ms, int timeout_ms)
{
    memset(lv, 0, sizeof(*lv));
    lv->bus.name = (char *)"live";
    lv->bus.params = tcp("127.0.0.1", timeout_ms, 0);
    lv->bus.params.port = port;
    for (size_t i = 0; i < nsensors; i++) {
        struct sensor_conf *sc = &lv->sensors[i];

        sc->id = (char *)"S";
        sc->kind = KIND_GENERIC;
        sc->unit_id = 1;
        sc->table = TABLE_HOLDING;
        sc->address = 1000 + 2 * (int)i;
        sc->type = REG_FLOAT32;
        sc->order = BO_ABCD;
        sc->scale = 1.0;
        sc->interval_ms = interval_ms;
        sc->range_lo = -1e300;
        sc->range_hi = 1e300;
        sc->db_id = (int64_t)i + 1;
        lv->index[i] = i;
    }
    lv->config.buses = &lv->bus;
    lv->config.nbuses = 1;
    lv->config.sensors = lv->sensors;
    lv->config.nsensors = nsensors;
    lv->request.unit_id = 1;
    lv->request.table = TABLE_HOLDING;
    lv->request.interval_ms = interval_ms;
    lv->request.address = 1000;
    lv->request.count = 2 * (int)nsensors;
    lv->request.sensors = lv->index;
    lv->request.nsensors = nsensors;
    lv->plan.requests = &lv->request;
    lv->plan.nrequests = 1;
}

static void live_init(struct live *lv, int port)
{
    live_init_with(lv, port, LIVE_SENSORS, LIVE_INTERVAL_MS, LIVE_TIMEOUT_MS);
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
    pl = poller_start(&lv.config, &lv.plan, 0, q, 0, NULL);
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

    poller_join(pl);
    poller_free(pl);
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
    pl = poller_start(&lv.config, &lv.plan, 0, q, 0, NULL);
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
    poller_join(pl);
    poller_free(pl);
    queue_free(q);
    server_stop(&sv);
}

/* Everything the poller pushed, in order. */
struct drained {
    struct queue_item *items;
    size_t n, cap;
};

/* Takes what is in the queue now, without waiting. */
static void drain(struct queue *q, struct drained *d)
{
    struct queue_item buf[256];
    size_t k;

    while ((k = queue_pop(q, buf, 256, time_mono_ns() - 1)) > 0) {
        if (d->n + k > d->cap) {
            d->cap = 2 * (d->n + k);
            d->items = realloc(d->items, d->cap * sizeof(*d->items));
            assert_non_null(d->items);
        }
        memcpy(d->items + d->n, buf, k * sizeof(*buf));
        d->n += k;
    }
}

/* Asks the poller to stop, drains the queue until it has pushed its last
 * item, and frees it. */
static void stop_draining(struct poller *pl, struct queue *q, struct drained *d)
{
    struct timespec tick = {0, NS_PER_MS};

    poller_request_stop(pl);
    while (!poller_finished(pl)) {
        drain(q, d);
        nanosleep(&tick, NULL);
    }
    poller_join(pl);
    poller_free(pl);
    drain(q, d);
}

/* The readings of sensor db_id, in the order they were pushed. */
static size_t readings_of(const struct drained *d, int64_t db_id,
                          struct reading **out)
{
    size_t n = 0;

    *out = calloc(d->n + 1, sizeof(**out));
    assert_non_null(*out);
    for (size_t i = 0; i < d->n; i++)
        if (d->items[i].type == QUEUE_READING &&
            d->items[i].u.reading.sensor_id == db_id)
            (*out)[n++] = d->items[i].u.reading;
    return n;
}

/* Slots summed in the `missed` events ("...: N slots missed on bus ..."). */
static int64_t missed_in_events(const struct drained *d)
{
    int64_t sum = 0;

    for (size_t i = 0; i < d->n; i++) {
        const struct event *ev = &d->items[i].u.event;
        const char *p;

        if (d->items[i].type != QUEUE_EVENT || strcmp(ev->kind, "missed"))
            continue;
        p = strstr(ev->detail, ": ");
        assert_non_null(p);
        sum += strtoll(p + 2, NULL, 10);
    }
    return sum;
}

/* Slack for the thread's wake-up and a loaded (or sanitized) test run. */
#define LIVE_SLACK_US 60000
/* Long enough that the old back-off (100 ms doubling) waited 1.6 s. */
#define OUTAGE_MS 1700

/* A device that goes away and comes back on the same port: every slot
 * meanwhile is a comm_error reading ("not connected: ..."), and good
 * readings resume at the first or second slot after it accepts
 * connections again, because every slot tries to connect. */
static void test_reconnect_every_slot(void **state)
{
    const int64_t iv_us = LIVE_INTERVAL_MS * 1000;
    struct server sv;
    struct live lv;
    struct queue *q = queue_new(100000);
    struct drained d = {NULL, 0, 0};
    struct reading *r;
    struct poller *pl;
    struct timespec outage = {OUTAGE_MS / 1000, (OUTAGE_MS % 1000) * NS_PER_MS};
    int64_t down_us, up_us, first_good = -1, last_good = -1;
    size_t n, not_connected = 0;
    int port;
    (void)state;

    server_start(&sv);
    port = sv.port;
    live_init_with(&lv, port, 2, LIVE_INTERVAL_MS, LIVE_TIMEOUT_MS);
    pl = poller_start(&lv.config, &lv.plan, 0, q, 0, NULL);
    assert_non_null(pl);
    wait_count(&sv.requests, 3);
    down_us = time_real_us();
    server_vanish(&sv);
    /* the outage lasts this long: a duration, not a wait for a state */
    nanosleep(&outage, NULL);
    server_start_on(&sv, port); /* listening when this returns */
    up_us = time_real_us();
    wait_count(&sv.requests, 2);
    stop_draining(pl, q, &d);

    n = readings_of(&d, 1, &r);
    for (size_t i = 0; i < n; i++) {
        /* a response already on its way at the vanish may land just
         * after down_us: the outage's readings are those after the last
         * good one before the device came back */
        if (r[i].quality == QUALITY_GOOD && r[i].ts_us < up_us)
            last_good = (int64_t)i;
        if (r[i].quality == QUALITY_GOOD && r[i].ts_us > up_us &&
            first_good < 0)
            first_good = (int64_t)i;
    }
    assert_true(last_good >= 0 && first_good > last_good);
    /* no good reading while the device was away */
    assert_true(r[last_good].ts_us < down_us + iv_us);
    print_message("first good reading %.1f ms after the device listened "
                  "again, after a %d ms outage\n",
                  (double)(r[first_good].ts_us - up_us) / 1000, OUTAGE_MS);
    /* the slot under way when it came back, or the next one */
    if (r[first_good].ts_us - up_us > 2 * iv_us + LIVE_SLACK_US)
        fail_msg("first good reading %lld ms after the device was back "
                 "(interval %d ms): not tried at every slot",
                 (long long)(r[first_good].ts_us - up_us) / 1000,
                 LIVE_INTERVAL_MS);
    /* one reading per slot all along, each a comm_error while away */
    for (int64_t i = last_good + 1; i <= first_good; i++) {
        int64_t gap = r[i].ts_us - r[i - 1].ts_us;

        if (gap < iv_us - LIVE_SLACK_US || gap > iv_us + LIVE_SLACK_US)
            fail_msg("readings %lld us apart during the outage",
                     (long long)gap);
        if (i == first_good)
            break;
        assert_int_equal(r[i].quality, QUALITY_COMM_ERROR);
        assert_true(r[i].error[0] != '\0');
        not_connected += strncmp(r[i].error, "not connected: ", 15) == 0;
    }
    assert_true(not_connected * LIVE_INTERVAL_MS >= OUTAGE_MS - 300);
    free(r);
    free(d.items);
    queue_free(q);
    server_stop(&sv);
}

/* A device that stops answering, with a timeout longer than the interval:
 * the slots that pass during each request are `missed` readings, on the
 * grid, with no value and a reason; per sensor exactly one reading per
 * slot, their times increasing in the order they were pushed, and the
 * `missed` events count the same slots. */
static void test_missed_slow_device(void **state)
{
    enum { NS = 3, IV_MS = 100, TIMEOUT_MS = 350 };
    const int64_t iv_us = IV_MS * 1000;
    struct server sv;
    struct live lv;
    struct queue *q = queue_new(100000);
    struct drained d = {NULL, 0, 0};
    struct poller *pl;
    int64_t r0, rs, want, ev;
    (void)state;

    server_start(&sv);
    atomic_store(&sv.mute, true);
    live_init_with(&lv, sv.port, NS, IV_MS, TIMEOUT_MS);
    r0 = time_real_us();
    pl = poller_start(&lv.config, &lv.plan, 0, q, 0, NULL);
    assert_non_null(pl);
    wait_count(&sv.requests, 6);
    rs = time_real_us();
    stop_draining(pl, q, &d);
    /* the slots of [r0, rs): those at or after the start, before the stop */
    want = (rs + iv_us - 1) / iv_us - (r0 + iv_us - 1) / iv_us;
    ev = missed_in_events(&d);
    for (int64_t id = 1; id <= NS; id++) {
        struct reading *r;
        size_t n = readings_of(&d, id, &r), missed = 0, failed = 0;

        if ((int64_t)n < want - 1 || (int64_t)n > want + 1)
            fail_msg("sensor %lld: %zu readings for %lld slots", (long long)id,
                     n, (long long)want);
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && r[i].ts_us <= r[i - 1].ts_us)
                fail_msg("sensor %lld: reading %zu at %lld after one at %lld",
                         (long long)id, i, (long long)r[i].ts_us,
                         (long long)r[i - 1].ts_us);
            assert_int_equal(r[i].nraw, 0);
            if (r[i].quality == QUALITY_COMM_ERROR) {
                failed++;
                continue;
            }
            assert_int_equal(r[i].quality, QUALITY_MISSED);
            assert_int_equal(r[i].ts_us % iv_us, 0);
            if (strcmp(r[i].error, POLLER_WHY_BUS) != 0 &&
                strcmp(r[i].error, POLLER_WHY_STOP) != 0)
                fail_msg("missed reading with error '%s'", r[i].error);
            missed++;
        }
        print_message("sensor %lld: %zu readings (%zu comm_error, %zu missed) "
                      "for %lld slots\n",
                      (long long)id, n, failed, missed, (long long)want);
        /* a request of 350 ms spans 3 slots: 2 of them missed */
        assert_true(failed >= 6);
        assert_true(missed >= 2 * failed - 2);
        assert_int_equal((int64_t)missed, ev); /* slots, not readings */
        free(r);
    }
    free(d.items);
    queue_free(q);
    server_stop(&sv);
}

/* A poller restarted by a reload an hour after its predecessor stopped,
 * at 10 ms: 360,000 missed readings per sensor come first, each on its
 * slot, through a queue of 4096 items (pushed in chunks: nothing of that
 * size is ever allocated), then the good readings, one per slot. */
static void test_missed_long_gap(void **state)
{
    enum { NS = 2, IV_MS = 10 };
    const int64_t iv_us = IV_MS * 1000;
    struct server sv;
    struct live lv;
    struct queue *q = queue_new(4096);
    struct drained d = {NULL, 0, 0};
    struct poller *pl;
    int64_t t0 = time_mono_ns(), gap_s = 3600, want;
    (void)state;

    /* CLOCK_MONOTONIC starts at boot: a machine up for less than an hour
     * gets a shorter gap */
    if (gap_s > t0 / NS_PER_S - 1)
        gap_s = t0 / NS_PER_S - 1;
    assert_true(gap_s > 0);
    want = gap_s * 1000 / IV_MS;
    server_start(&sv);
    live_init_with(&lv, sv.port, NS, IV_MS, LIVE_TIMEOUT_MS);
    pl = poller_start(&lv.config, &lv.plan, 0, q, t0 - gap_s * NS_PER_S, NULL);
    assert_non_null(pl);
    /* taking what it pushes, as the main thread would, until it polls */
    while (atomic_load(&sv.requests) < 3 &&
           time_mono_ns() < t0 + 10 * LIVE_WAIT_NS)
        drain(q, &d);
    assert_true(atomic_load(&sv.requests) >= 3);
    stop_draining(pl, q, &d);
    print_message("%lld missed readings per sensor recorded and taken in "
                  "%.0f ms\n",
                  (long long)want, (double)(time_mono_ns() - t0) / NS_PER_MS);
    for (int64_t id = 1; id <= NS; id++) {
        struct reading *r;
        size_t n = readings_of(&d, id, &r), reload = 0, good = 0;

        for (size_t i = 0; i < n; i++) {
            if (i > 0 && r[i].ts_us <= r[i - 1].ts_us)
                fail_msg("reading %zu at %lld after one at %lld", i,
                         (long long)r[i].ts_us, (long long)r[i - 1].ts_us);
            if (r[i].quality == QUALITY_GOOD) {
                good++;
                continue;
            }
            if (r[i].quality != QUALITY_MISSED)
                continue;
            assert_int_equal(r[i].ts_us % iv_us, 0);
            if (strcmp(r[i].error, POLLER_WHY_RELOAD) == 0) {
                /* the reload's slots come first, one per slot */
                assert_int_equal(i, reload);
                if (i > 0)
                    assert_int_equal(r[i].ts_us - r[i - 1].ts_us, iv_us);
                reload++;
            }
        }
        /* the slot under way when the poller started is served if that
         * was before the new grid's first */
        if ((int64_t)reload != want && (int64_t)reload != want - 1)
            fail_msg("%zu slots of the gap missed, want %lld (or one less)",
                     reload, (long long)want);
        assert_true(good >= 3);
        free(r);
    }
    free(d.items);
    queue_free(q);
    server_stop(&sv);
}

/* A poller that waits for room in the queue misses slots for the daemon's
 * sake, and its missed readings say so. */
static void test_missed_queue_wait(void **state)
{
    enum { NS = 3, IV_MS = 50 };
    struct server sv;
    struct live lv;
    struct queue *q = queue_new(2 * NS);
    struct drained d = {NULL, 0, 0};
    struct poller *pl;
    struct poller_stats st;
    struct timespec hold = {0, 500 * NS_PER_MS};
    struct reading *r;
    size_t n, queue_wait = 0;
    (void)state;

    server_start(&sv);
    live_init_with(&lv, sv.port, NS, IV_MS, LIVE_TIMEOUT_MS);
    pl = poller_start(&lv.config, &lv.plan, 0, q, 0, NULL);
    assert_non_null(pl);
    wait_count(&sv.requests, 3);
    /* the main thread is busy for this long: a duration */
    nanosleep(&hold, NULL);
    n = atomic_load(&sv.requests);
    while (atomic_load(&sv.requests) < (int)n + 3)
        drain(q, &d);
    poller_stats(pl, &st);
    assert_true(st.missed >= 5);
    stop_draining(pl, q, &d);
    n = readings_of(&d, 1, &r);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && r[i].ts_us <= r[i - 1].ts_us)
            fail_msg("reading %zu at %lld after one at %lld", i,
                     (long long)r[i].ts_us, (long long)r[i - 1].ts_us);
        if (r[i].quality == QUALITY_MISSED &&
            strcmp(r[i].error, POLLER_WHY_QUEUE) == 0)
            queue_wait++;
    }
    print_message("%zu slots missed waiting for the queue\n", queue_wait);
    assert_true(queue_wait >= 5);
    free(r);
    free(d.items);
    queue_free(q);
    server_stop(&sv);
}

/* A bus to the test server and sensors on it, built as config_load() and
 * plan_build() would build them. */
struct kinds {
    struct bus_conf bus;
    struct sensor_conf sensors[8];
    struct config config;
    struct plan plan;
};

/* Adds a sensor of table, address, type, order and (bit >= 0) bit; its
 * db_id is its place, from 1. */
static void kinds_add(struct kinds *k, enum reg_table table, int address,
                      enum reg_type type, enum byte_order order, int bit)
{
    struct sensor_conf *sc = &k->sensors[k->config.nsensors];

    sc->id = (char *)"K";
    sc->kind = KIND_GENERIC;
    sc->unit_id = 1;
    sc->table = table;
    sc->address = address;
    sc->type = type;
    sc->order = order;
    sc->has_bit = bit >= 0;
    sc->bit = bit >= 0 ? bit : 0;
    sc->scale = 1.0;
    sc->interval_ms = LIVE_INTERVAL_MS;
    sc->range_lo = -1e300;
    sc->range_hi = 1e300;
    sc->db_id = (int64_t)++k->config.nsensors;
}

static void kinds_init(struct kinds *k, int port)
{
    memset(k, 0, sizeof(*k));
    k->bus.name = (char *)"kinds";
    k->bus.params = tcp("127.0.0.1", 500, 0);
    k->bus.params.port = port;
    k->bus.params.max_bits = BUS_MAX_BITS;
    k->bus.max_gap = 8;
    k->config.buses = &k->bus;
    k->config.nbuses = 1;
    k->config.sensors = k->sensors;
}

/* Polls the sensors of k until the server has answered twice; returns
 * what the poller pushed. */
static void kinds_poll(struct kinds *k, struct server *sv, struct drained *d)
{
    struct queue *q = queue_new(100000);
    struct poller *pl;

    plan_build(&k->config, &k->plan);
    pl = poller_start(&k->config, &k->plan, 0, q, 0, NULL);
    assert_non_null(pl);
    wait_count(&sv->requests, 2 * (int)k->plan.nrequests);
    stop_draining(pl, q, d);
    plan_release(&k->plan);
    queue_free(q);
}

/* The first reading of sensor db_id must be good, with value and the raw
 * words nraw, words... */
static void kinds_expect(const struct drained *d, int64_t db_id, double value,
                         int nraw, ...)
{
    struct reading *r;
    size_t n = readings_of(d, db_id, &r);
    va_list ap;

    assert_true(n >= 1);
    if (r[0].quality != QUALITY_GOOD || r[0].value != value ||
        r[0].nraw != nraw)
        fail_msg("sensor %lld: %s %.17g with %u words, want good %.17g with "
                 "%d",
                 (long long)db_id, quality_name(r[0].quality), r[0].value,
                 r[0].nraw, value, nraw);
    va_start(ap, nraw);
    for (int i = 0; i < nraw; i++) {
        unsigned want = va_arg(ap, unsigned);

        if (r[0].raw[i] != want)
            fail_msg("sensor %lld: raw word %d is 0x%04X, want 0x%04X",
                     (long long)db_id, i, r[0].raw[i], want);
    }
    va_end(ap);
    free(r);
}

/* poller_fill() on registers: a uint64 beyond 2^53 (the stored value is the
 * nearest double, the raw words keep the exact count), bits of a status
 * word in both 16-bit orders, sharing their register with the whole word
 * in one request. */
static void test_fill_registers(void **state)
{
    struct server sv;
    struct kinds k;
    struct drained d = {NULL, 0, 0};
    (void)state;

    server_start(&sv);
    /* 2^53 + 1 = 0x0020000000000001 in GHEFCDAB: GH EF CD AB */
    sv.words[10] = 0x0001;
    sv.words[11] = 0x0000;
    sv.words[12] = 0x0000;
    sv.words[13] = 0x0020;
    sv.words[14] = 0x0008; /* bit 3 */
    sv.words[15] = 0x0080; /* BA: 0x8000, bit 15 */
    kinds_init(&k, sv.port);
    kinds_add(&k, TABLE_HOLDING, 10, REG_UINT64, BO_GHEFCDAB, -1);
    kinds_add(&k, TABLE_HOLDING, 14, REG_UINT16, BO_AB, 3);
    kinds_add(&k, TABLE_HOLDING, 14, REG_UINT16, BO_AB, 4);
    kinds_add(&k, TABLE_HOLDING, 14, REG_UINT16, BO_AB, -1);
    kinds_add(&k, TABLE_HOLDING, 15, REG_INT16, BO_BA, 15);
    kinds_add(&k, TABLE_HOLDING, 15, REG_INT16, BO_BA, -1);
    kinds_poll(&k, &sv, &d);

    kinds_expect(&d, 1, 9007199254740992.0, 4, 0x0001u, 0x0000u, 0x0000u,
                 0x0020u);
    kinds_expect(&d, 2, 1, 1, 0x0008u);
    kinds_expect(&d, 3, 0, 1, 0x0008u);
    kinds_expect(&d, 4, 8, 1, 0x0008u);
    kinds_expect(&d, 5, 1, 1, 0x0080u);
    kinds_expect(&d, 6, -32768, 1, 0x0080u);
    free(d.items);
    server_stop(&sv);
}

/* poller_fill() on coils and discrete inputs: each sensor's word, 0 or 1,
 * is its value and its one raw word. Needs a bus_read() that reads bits
 * (drivers/bus.c, issue 14 part A): skipped, and says so, until then. */
static void test_fill_bits(void **state)
{
    struct server sv;
    struct kinds k;
    struct drained d = {NULL, 0, 0};
    uint16_t probe[BUS_MAX_BITS];
    struct bus *b;
    int rc, err;
    (void)state;

    server_start(&sv);
    kinds_init(&k, sv.port);
    b = bus_new(&k.bus.params);
    assert_non_null(b);
    assert_int_equal(bus_connect(b), 0);
    rc = bus_read(b, 1, TABLE_COIL, 0, 1, probe);
    err = errno;
    bus_free(b);
    if (rc < 0)
        fail_msg("bus_read() of a coil: %s", bus_strerror(err));

    sv.bits[0] = 1;
    sv.bits[9] = 1;
    sv.bits[17] = 1;
    sv.bits[239] = 1;
    /* one request of 240 coils: more words than a request of registers
     * can have (the poller's buffer holds BUS_MAX_BITS) */
    k.bus.max_gap = BUS_MAX_REGISTERS - 1;
    kinds_add(&k, TABLE_COIL, 0, REG_BOOL, BO_AB, -1);
    kinds_add(&k, TABLE_COIL, 2, REG_BOOL, BO_AB, -1);
    kinds_add(&k, TABLE_COIL, 9, REG_BOOL, BO_AB, -1);
    kinds_add(&k, TABLE_DISCRETE, 17, REG_BOOL, BO_AB, -1);
    kinds_add(&k, TABLE_DISCRETE, 18, REG_BOOL, BO_AB, -1);
    kinds_add(&k, TABLE_COIL, 239, REG_BOOL, BO_AB, -1);
    kinds_poll(&k, &sv, &d);

    kinds_expect(&d, 1, 1, 1, 0x0001u);
    kinds_expect(&d, 2, 0, 1, 0x0000u);
    kinds_expect(&d, 3, 1, 1, 0x0001u);
    kinds_expect(&d, 4, 1, 1, 0x0001u);
    kinds_expect(&d, 5, 0, 1, 0x0000u);
    kinds_expect(&d, 6, 1, 1, 0x0001u);
    free(d.items);
    server_stop(&sv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_allowance),
        cmocka_unit_test(test_allowance_bounds),
        cmocka_unit_test(test_stall_follows_request),
        cmocka_unit_test(test_queue_wait_is_not_stall),
        cmocka_unit_test(test_reconnect_every_slot),
        cmocka_unit_test(test_missed_slow_device),
        cmocka_unit_test(test_missed_long_gap),
        cmocka_unit_test(test_missed_queue_wait),
        cmocka_unit_test(test_fill_registers),
        cmocka_unit_test(test_fill_bits),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
