/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of drivers/bus.c against real peers inside the test: a small
 * libmodbus TCP server thread on 127.0.0.1 (listening socket bound to port
 * 0, so no port is guessed) and an RTU responder on a pseudo-terminal. Both
 * can be told to stay silent, answer late, garble or hang up on the next
 * requests, so that every error class of bus_read() is exercised. Both
 * serve coils and discrete inputs too (functions 1 and 2). Timeouts
 * are 100-300 ms, so the whole binary runs in about two seconds.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
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
#include <modbus.h>

#include "common/util.h"
#include "drivers/bus.h"

/* Registers the test server holds in each table, and bits: enough for
 * the longest read of bits beyond address 0. */
#define SRV_REGS 200
#define SRV_BITS 2100
/* How long the server and responder threads wait before looking at their
 * stop flag again. */
#define POLL_MS 20
/* Most requests the RTU responder records. */
#define RTU_MAX_REQ 64

/* The bits both peers serve: patterns no shift or byte swap preserves. */
static int coil_at(int address)
{
    return address % 3 == 0;
}

static int discrete_at(int address)
{
    return address % 5 < 2;
}

/* Each bit read must be one word, 0 or 1, of the pattern. */
static void check_bits(const uint16_t *w, enum reg_table table, int address,
                       int count)
{
    for (int i = 0; i < count; i++) {
        int want = table == TABLE_COIL ? coil_at(address + i)
                                       : discrete_at(address + i);

        if (w[i] != want)
            fail_msg("%s %d: %u, want %d", reg_table_name(table), address + i,
                     w[i], want);
    }
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int64_t ms_since(int64_t t0)
{
    return (time_mono_ns() - t0) / NS_PER_MS;
}

/* ---- a Modbus TCP server thread ---------------------------------------- */

struct srv {
    int listen_fd;
    int port;
    pthread_t thread;
    atomic_int stop;
    /* Faults for the next requests, taken in this order of precedence. */
    atomic_int drop; /* close the connection instead of answering */
    atomic_int mute; /* do not answer */
    atomic_int late; /* answer after late_ms */
    atomic_int late_ms;
    /* What the server saw. */
    atomic_int requests;
    atomic_int accepts;
    modbus_mapping_t *map;
};

static void *srv_main(void *arg)
{
    struct srv *s = arg;
    uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
    modbus_t *ctx = modbus_new_tcp("127.0.0.1", s->port);
    int client = -1;

    while (!atomic_load(&s->stop)) {
        struct pollfd p = {client >= 0 ? client : s->listen_fd, POLLIN, 0};
        int rc;

        if (poll(&p, 1, POLL_MS) <= 0)
            continue;
        if (client < 0) {
            if ((client = accept(s->listen_fd, NULL, NULL)) >= 0) {
                atomic_fetch_add(&s->accepts, 1);
                modbus_set_socket(ctx, client);
            }
            continue;
        }
        rc = modbus_receive(ctx, q);
        if (rc < 0) {
            close(client);
            client = -1;
            continue;
        }
        if (rc == 0)
            continue;
        atomic_fetch_add(&s->requests, 1);
        if (atomic_load(&s->drop) > 0) {
            atomic_fetch_sub(&s->drop, 1);
            close(client);
            client = -1;
            continue;
        }
        if (atomic_load(&s->mute) > 0) {
            atomic_fetch_sub(&s->mute, 1);
            continue;
        }
        if (atomic_load(&s->late) > 0) {
            atomic_fetch_sub(&s->late, 1);
            sleep_ms(atomic_load(&s->late_ms));
        }
        modbus_reply(ctx, q, rc, s->map);
    }
    if (client >= 0)
        close(client);
    modbus_free(ctx);
    return NULL;
}

/* Binds a TCP socket to a free port of 127.0.0.1; listens if asked. */
static int bind_any_port(int do_listen, int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    if (do_listen)
        assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static int srv_setup(void **state)
{
    struct srv *s = xcalloc(1, sizeof(*s));

    s->listen_fd = bind_any_port(1, &s->port);
    s->map = modbus_mapping_new(SRV_BITS, SRV_BITS, SRV_REGS, SRV_REGS);
    assert_non_null(s->map);
    /* Distinct contents per table show which function was used. */
    for (int i = 0; i < SRV_REGS; i++) {
        s->map->tab_registers[i] = (uint16_t)(0x1000 + i);
        s->map->tab_input_registers[i] = (uint16_t)(0x4000 + i);
    }
    for (int i = 0; i < SRV_BITS; i++) {
        s->map->tab_bits[i] = (uint8_t)coil_at(i);
        s->map->tab_input_bits[i] = (uint8_t)discrete_at(i);
    }
    assert_int_equal(pthread_create(&s->thread, NULL, srv_main, s), 0);
    *state = s;
    return 0;
}

static int srv_teardown(void **state)
{
    struct srv *s = *state;

    atomic_store(&s->stop, 1);
    pthread_join(s->thread, NULL);
    close(s->listen_fd);
    modbus_mapping_free(s->map);
    free(s);
    return 0;
}

static struct bus_params tcp_params(int port, int timeout_ms, int retries)
{
    struct bus_params p;

    memset(&p, 0, sizeof(p));
    p.type = BUS_TCP;
    snprintf(p.host, sizeof(p.host), "127.0.0.1");
    p.port = port;
    p.timeout_ms = timeout_ms;
    p.retries = retries;
    p.max_registers = BUS_MAX_REGISTERS;
    p.max_bits = BUS_MAX_BITS;
    return p;
}

static struct bus *tcp_bus(const struct srv *s, int timeout_ms, int retries)
{
    struct bus_params p = tcp_params(s->port, timeout_ms, retries);
    struct bus *b = bus_new(&p);

    assert_non_null(b);
    assert_int_equal(bus_connect(b), 0);
    assert_true(bus_is_connected(b));
    return b;
}

static void check_holding(const uint16_t *w, int address, int count)
{
    for (int i = 0; i < count; i++)
        assert_int_equal(w[i], 0x1000 + address + i);
}

/* ---- tests without a peer ---------------------------------------------- */

static void test_bus_new_rejects(void **state)
{
    struct bus_params ok = tcp_params(502, 100, 1), p;
    struct bus_params rtu;

    (void)state;
    memset(&rtu, 0, sizeof(rtu));
    rtu.type = BUS_RTU;
    snprintf(rtu.device, sizeof(rtu.device), "/dev/ttyUSB0");
    rtu.baud = 9600;
    rtu.parity = 'N';
    rtu.data_bits = 8;
    rtu.stop_bits = 1;
    rtu.timeout_ms = 300;
    rtu.delay_ms = 5;
    rtu.max_registers = 125;

#define REJECT(base, stmt)                                                     \
    do {                                                                       \
        p = (base);                                                            \
        stmt;                                                                  \
        errno = 0;                                                             \
        assert_null(bus_new(&p));                                              \
        assert_int_equal(errno, EINVAL);                                       \
    } while (0)

    REJECT(ok, p.port = 0);
    REJECT(ok, p.port = 65536);
    REJECT(ok, p.host[0] = '\0');
    REJECT(ok, memset(p.host, 'a', sizeof(p.host)));
    REJECT(ok, p.timeout_ms = 0);
    REJECT(ok, p.retries = -1);
    REJECT(ok, p.delay_ms = -1);
    REJECT(ok, p.max_registers = 0);
    REJECT(ok, p.max_registers = 126);
    REJECT(ok, p.max_bits = -1);
    REJECT(ok, p.max_bits = 2001);
    REJECT(ok, p.type = (enum bus_type)7);
    REJECT(rtu, p.device[0] = '\0');
    REJECT(rtu, p.baud = 0);
    REJECT(rtu, p.baud = 12345);
    REJECT(rtu, p.parity = 'X');
    REJECT(rtu, p.parity = 'n');
    REJECT(rtu, p.data_bits = 9);
    REJECT(rtu, p.data_bits = 4);
    REJECT(rtu, p.stop_bits = 0);
    REJECT(rtu, p.stop_bits = 3);
#undef REJECT

    /* Valid parameters make a bus that is not yet connected. */
    struct bus *b = bus_new(&ok);
    assert_non_null(b);
    assert_false(bus_is_connected(b));
    bus_free(b);
    p = rtu;
    p.parity = 'E';
    p.baud = 19200;
    p.stop_bits = 2;
    b = bus_new(&p);
    assert_non_null(b);
    assert_false(bus_is_connected(b));
    bus_free(b);
    bus_free(NULL);
}

/* The one table of serial rates: ascending, what bus_new() takes, and
 * none that libmodbus would quietly run at 9600 or that is too slow for
 * the byte timeout. */
static void test_bus_rtu_bauds(void **state)
{
    static const struct {
        int baud;
        int ok;
    } cases[] = {
        {1200, 1},   {2400, 1},   {4800, 1},    {9600, 1},    {19200, 1},
        {38400, 1},  {57600, 1},  {115200, 1},  {230400, 1},  {0, 0},
        {-9600, 0},  {110, 0},    {300, 0},     {600, 0},     {14400, 0},
        {460800, 0}, {921600, 0}, {2000000, 0}, {4000000, 0},
    };
    struct bus_params p;
    size_t n;
    const int *rates = bus_rtu_bauds(&n);

    (void)state;
    assert_int_equal(n, 9);
    for (size_t i = 1; i < n; i++)
        assert_true(rates[i - 1] < rates[i]);
    memset(&p, 0, sizeof(p));
    p.type = BUS_RTU;
    snprintf(p.device, sizeof(p.device), "/dev/ttyUSB0");
    p.parity = 'N';
    p.data_bits = 8;
    p.stop_bits = 1;
    p.timeout_ms = 300;
    p.max_registers = 125;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bus *b;

        if (bus_rtu_baud_is_valid(cases[i].baud) != cases[i].ok)
            fail_msg("baud %d: valid is not %d", cases[i].baud, cases[i].ok);
        p.baud = cases[i].baud;
        b = bus_new(&p);
        if ((b != NULL) != cases[i].ok)
            fail_msg("baud %d: bus_new() does not agree", cases[i].baud);
        bus_free(b);
    }
}

static void test_bus_read_rejects(void **state)
{
    struct bus_params p = tcp_params(502, 100, 0);
    uint16_t w[BUS_MAX_BITS];
    struct bus *b;
    static const struct {
        int unit, table, address, count;
    } bad[] = {
        {1, TABLE_HOLDING, 0, 0},     {1, TABLE_HOLDING, 0, 11},
        {1, TABLE_HOLDING, -1, 1},    {1, TABLE_HOLDING, 65535, 2},
        {1, TABLE_HOLDING, 65536, 1}, {-1, TABLE_HOLDING, 0, 1},
        {256, TABLE_HOLDING, 0, 1},   {1, 7, 0, 1},
        {1, TABLE_COIL, 0, 0},        {1, TABLE_COIL, 0, 21},
        {1, TABLE_DISCRETE, 0, 21},   {1, TABLE_DISCRETE, 65516, 21},
        {1, TABLE_COIL, 65530, 7},    {1, TABLE_COIL, -1, 1},
    };

    (void)state;
    p.max_registers = 10;
    p.max_bits = 20;
    b = bus_new(&p);
    assert_non_null(b);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        errno = 0;
        assert_int_equal(bus_read(b, bad[i].unit, (enum reg_table)bad[i].table,
                                  bad[i].address, bad[i].count, w),
                         -1);
        assert_int_equal(errno, EINVAL);
    }
    errno = 0;
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 0, 1, NULL), -1);
    assert_int_equal(errno, EINVAL);
    /* Valid arguments, but nobody connected the bus. */
    errno = 0;
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 65526, 10, w), -1);
    assert_int_equal(errno, ENOTCONN);
    errno = 0;
    assert_int_equal(bus_read(b, 1, TABLE_COIL, 65516, 20, w), -1);
    assert_int_equal(errno, ENOTCONN);
    bus_free(b);
}

static void test_bus_strerror(void **state)
{
    static const struct {
        int errnum;
        const char *text;
    } c[] = {
        {ETIMEDOUT, "Connection timed out"},
        {ECONNREFUSED, "Connection refused"},
        {ECONNRESET, "Connection reset by peer"},
        {ENOENT, "No such file or directory"},
        {EMBXILFUN, "Illegal function"},
        {EMBXILADD, "Illegal data address"},
        {EMBXILVAL, "Illegal data value"},
        {EMBXSBUSY, "Slave device or server is busy"},
        {EMBXGTAR, "Target device failed to respond"},
        {MODBUS_ENOBASE + 9, "Undefined exception"},
        {EMBBADCRC, "Invalid CRC"},
        {EMBBADDATA, "Invalid data"},
        {EMBUNKEXC, "Unknown exception"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        assert_string_equal(bus_strerror(c[i].errnum), c[i].text);
    assert_non_null(bus_strerror(987654));
    assert_true(bus_strerror(987654)[0] != '\0');
}

static void test_bus_error_classes(void **state)
{
    (void)state;
    for (int e = EMBXILFUN; e <= EMBXGTAR; e++)
        assert_true(bus_error_is_exception(e));
    assert_false(bus_error_is_exception(MODBUS_ENOBASE));
    assert_false(bus_error_is_exception(EMBBADCRC));
    assert_false(bus_error_is_exception(EMBBADDATA));
    assert_false(bus_error_is_exception(ETIMEDOUT));
    assert_false(bus_error_is_exception(ECONNRESET));
    assert_false(bus_error_is_exception(0));
}

/* Two threads, each with its own system error: each must always see its
 * own text, which a shared static buffer would not guarantee. */
static void *strerror_worker(void *arg)
{
    int errnum = *(int *)arg;
    char want[128];
    long bad = 0;

    snprintf(want, sizeof(want), "%s", bus_strerror(errnum));
    for (int i = 0; i < 20000; i++) {
        const char *t = bus_strerror(errnum);

        if (strcmp(t, want) != 0 || strcmp(t, bus_strerror(errnum)) != 0)
            bad++;
    }
    return (void *)bad;
}

static void test_bus_strerror_threads(void **state)
{
    int errs[2] = {ECONNRESET, ETIMEDOUT};
    pthread_t t[2];
    void *bad;

    (void)state;
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, strerror_worker, &errs[i]),
                         0);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], &bad);
        assert_true(bad == NULL);
    }
}

static void test_bus_refused(void **state)
{
    int port;
    /* Bound but not listening: a connection is refused, and no other
     * program can take the port meanwhile. */
    int fd = bind_any_port(0, &port);
    struct bus_params p = tcp_params(port, 200, 1);
    struct bus *b = bus_new(&p);

    (void)state;
    assert_non_null(b);
    errno = 0;
    assert_int_equal(bus_connect(b), -1);
    assert_int_equal(errno, ECONNREFUSED);
    assert_string_equal(bus_strerror(errno), "Connection refused");
    assert_false(bus_is_connected(b));
    bus_free(b);
    close(fd);
}

static void test_bus_unknown_host(void **state)
{
    struct bus_params p = tcp_params(502, 200, 0);
    struct bus *b;

    (void)state;
    /* RFC 6761: names under .invalid never resolve. */
    snprintf(p.host, sizeof(p.host), "no-such-host.invalid");
    b = bus_new(&p);
    assert_non_null(b);
    errno = 0;
    assert_int_equal(bus_connect(b), -1);
    assert_string_equal(bus_strerror(errno), "Host name not found");
    assert_false(bus_is_connected(b));
    bus_free(b);
}

static void test_bus_rtu_missing_device(void **state)
{
    struct bus_params p;
    struct bus *b;

    (void)state;
    memset(&p, 0, sizeof(p));
    p.type = BUS_RTU;
    snprintf(p.device, sizeof(p.device), "/nonexistent/ttyTBDAQ0");
    p.baud = 9600;
    p.parity = 'N';
    p.data_bits = 8;
    p.stop_bits = 1;
    p.timeout_ms = 100;
    p.max_registers = 125;
    b = bus_new(&p);
    assert_non_null(b);
    errno = 0;
    assert_int_equal(bus_connect(b), -1);
    assert_int_equal(errno, ENOENT);
    assert_string_equal(bus_strerror(errno), "No such file or directory");
    assert_false(bus_is_connected(b));
    bus_free(b);
}

/* ---- TCP against the server -------------------------------------------- */

static void test_bus_tcp_read(void **state)
{
    struct srv *s = *state;
    struct bus *b = tcp_bus(s, 200, 0);
    uint16_t w[BUS_MAX_REGISTERS];

    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 0, 10, w), 0);
    check_holding(w, 0, 10);
    assert_int_equal(bus_read(b, 1, TABLE_INPUT, 5, 3, w), 0);
    assert_int_equal(w[0], 0x4005);
    assert_int_equal(w[1], 0x4006);
    assert_int_equal(w[2], 0x4007);
    /* The longest read the protocol allows, and TCP's "any unit" id. */
    assert_int_equal(bus_read(b, 255, TABLE_HOLDING, 75, 125, w), 0);
    check_holding(w, 75, 125);
    assert_int_equal(atomic_load(&s->requests), 3);
    assert_int_equal(atomic_load(&s->accepts), 1);
    /* Connecting a connected bus changes nothing. */
    assert_int_equal(bus_connect(b), 0);
    bus_free(b);
}

/* Coils and discrete inputs, one word per bit; the longest read; a bus
 * that leaves max_bits 0 gets the protocol's limit. */
static void test_bus_tcp_bits(void **state)
{
    struct srv *s = *state;
    struct bus *b = tcp_bus(s, 200, 0);
    struct bus_params p = tcp_params(s->port, 200, 0);
    uint16_t w[BUS_MAX_BITS];

    assert_int_equal(bus_read(b, 1, TABLE_COIL, 0, 10, w), 0);
    check_bits(w, TABLE_COIL, 0, 10);
    assert_int_equal(bus_read(b, 1, TABLE_DISCRETE, 5, 17, w), 0);
    check_bits(w, TABLE_DISCRETE, 5, 17);
    assert_int_equal(bus_read(b, 1, TABLE_COIL, 100, BUS_MAX_BITS, w), 0);
    check_bits(w, TABLE_COIL, 100, BUS_MAX_BITS);
    assert_int_equal(bus_read(b, 1, TABLE_DISCRETE, SRV_BITS - 1, 1, w), 0);
    check_bits(w, TABLE_DISCRETE, SRV_BITS - 1, 1);
    /* Beyond the map: an exception, as for registers. */
    errno = 0;
    assert_int_equal(bus_read(b, 1, TABLE_COIL, SRV_BITS - 1, 2, w), -1);
    assert_int_equal(errno, EMBXILADD);
    assert_true(bus_is_connected(b));
    assert_int_equal(atomic_load(&s->requests), 5);
    bus_free(b);

    p.max_bits = 0;
    b = bus_new(&p);
    assert_non_null(b);
    assert_int_equal(bus_connect(b), 0);
    assert_int_equal(bus_read(b, 1, TABLE_DISCRETE, 0, BUS_MAX_BITS, w), 0);
    check_bits(w, TABLE_DISCRETE, 0, BUS_MAX_BITS);
    bus_free(b);
}

static void test_bus_tcp_exception(void **state)
{
    struct srv *s = *state;
    struct bus *b = tcp_bus(s, 200, 2);
    uint16_t w[4];

    /* Beyond the server's map: exception 2, answered once, not retried,
     * and the connection stays. */
    errno = 0;
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, SRV_REGS, 2, w), -1);
    assert_int_equal(errno, EMBXILADD);
    assert_true(bus_error_is_exception(errno));
    assert_string_equal(bus_strerror(errno), "Illegal data address");
    assert_true(bus_is_connected(b));
    assert_int_equal(atomic_load(&s->requests), 1);
    /* The same connection serves the next request. */
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, SRV_REGS - 2, 2, w), 0);
    check_holding(w, SRV_REGS - 2, 2);
    assert_int_equal(atomic_load(&s->accepts), 1);
    bus_free(b);
}

static void test_bus_tcp_timeout(void **state)
{
    struct srv *s = *state;
    struct bus *b = tcp_bus(s, 100, 1);
    uint16_t w[4];
    int64_t t0;

    /* One lost answer is covered by the retry. */
    atomic_store(&s->mute, 1);
    t0 = time_mono_ns();
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 10, 4, w), 0);
    check_holding(w, 10, 4);
    assert_true(ms_since(t0) >= 100);
    assert_int_equal(atomic_load(&s->requests), 2);

    /* Two exhaust the attempts: a timeout, but the connection stays. */
    atomic_store(&s->mute, 2);
    t0 = time_mono_ns();
    errno = 0;
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 10, 4, w), -1);
    assert_int_equal(errno, ETIMEDOUT);
    assert_false(bus_error_is_exception(errno));
    assert_true(ms_since(t0) >= 200);
    assert_true(ms_since(t0) < 1000);
    assert_true(bus_is_connected(b));
    assert_int_equal(atomic_load(&s->requests), 4);

    /* And it recovers. */
    assert_int_equal(bus_read(b, 1, TABLE_INPUT, 0, 2, w), 0);
    assert_int_equal(w[0], 0x4000);
    assert_int_equal(w[1], 0x4001);
    assert_int_equal(atomic_load(&s->accepts), 1);
    bus_free(b);
}

/* An answer that arrives after its timeout must not be taken for the
 * answer to the retry: libmodbus sees the wrong transaction id, and the
 * bus resynchronises by reconnecting. */
static void test_bus_tcp_late_answer(void **state)
{
    struct srv *s = *state;
    struct bus *b = tcp_bus(s, 200, 2);
    uint16_t w[4];

    atomic_store(&s->late_ms, 300);
    atomic_store(&s->late, 1);
    /* Attempt 1 times out at 200 ms; attempt 2 receives attempt 1's answer
     * at 300 ms; attempt 3 goes over a new connection. */
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 20, 4, w), 0);
    check_holding(w, 20, 4);
    assert_true(bus_is_connected(b));
    assert_int_equal(atomic_load(&s->accepts), 2);
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 30, 4, w), 0);
    check_holding(w, 30, 4);
    bus_free(b);
}

static void test_bus_tcp_dropped(void **state)
{
    struct srv *s = *state;
    struct bus *b = tcp_bus(s, 200, 1);
    uint16_t w[4];

    /* The server hangs up: reconnected within the attempts. */
    atomic_store(&s->drop, 1);
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 0, 4, w), 0);
    check_holding(w, 0, 4);
    assert_true(bus_is_connected(b));
    assert_int_equal(atomic_load(&s->accepts), 2);
    assert_int_equal(atomic_load(&s->requests), 2);
    bus_free(b);

    /* Without retries the bus is left closed for the caller to see. */
    b = tcp_bus(s, 200, 0);
    atomic_store(&s->drop, 1);
    errno = 0;
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 0, 4, w), -1);
    assert_int_equal(errno, ECONNRESET);
    assert_false(bus_error_is_exception(errno));
    assert_false(bus_is_connected(b));
    errno = 0;
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 0, 4, w), -1);
    assert_int_equal(errno, ENOTCONN);
    assert_int_equal(bus_connect(b), 0);
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 4, 4, w), 0);
    check_holding(w, 4, 4);
    bus_free(b);

    /* A connection that breaks again is reopened only once per read, however
     * many attempts are left: the caller's backoff takes over from there. */
    atomic_store(&s->accepts, 0);
    atomic_store(&s->requests, 0);
    b = tcp_bus(s, 200, 3);
    atomic_store(&s->drop, 3);
    errno = 0;
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 0, 4, w), -1);
    assert_int_equal(errno, ECONNRESET);
    assert_false(bus_is_connected(b));
    assert_int_equal(atomic_load(&s->requests), 2);
    assert_int_equal(atomic_load(&s->accepts), 2);
    atomic_store(&s->drop, 0);
    bus_free(b);
}

/* The server goes away for good: the one reconnection is refused, and the
 * bus is left closed with that error. */
static void test_bus_tcp_server_gone(void **state)
{
    struct srv *s = *state;
    struct bus *b = tcp_bus(s, 200, 3);
    uint16_t w[4];

    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 0, 4, w), 0);
    srv_teardown(state);
    errno = 0;
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 0, 4, w), -1);
    assert_int_equal(errno, ECONNREFUSED);
    assert_false(bus_is_connected(b));
    bus_free(b);
    srv_setup(state);
}

/* ---- RTU over a pseudo-terminal ---------------------------------------- */

struct rtu {
    int master;
    char path[64];
    pthread_t thread;
    atomic_int stop;
    atomic_int garble; /* answer the next ones with a bad CRC */
    atomic_int mute;   /* do not answer the next ones */
    atomic_int nreq;
    int64_t req_ns[RTU_MAX_REQ];  /* first byte of each request seen */
    int64_t resp_ns[RTU_MAX_REQ]; /* each answer written */
};

static uint16_t crc16(const uint8_t *p, size_t n)
{
    uint16_t crc = 0xFFFF;

    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0xA001)
                            : (uint16_t)(crc >> 1);
    }
    return crc;
}

/* The data of an answer to function 1 or 2: the pattern's bits packed
 * eight to a byte, the first in the least significant bit. */
static int rtu_bits(uint8_t *a, int function, int address, int count)
{
    int n = (count + 7) / 8;

    memset(a, 0, (size_t)n);
    for (int k = 0; k < count; k++)
        if (function == 1 ? coil_at(address + k) : discrete_at(address + k))
            a[k / 8] |= (uint8_t)(1 << (k % 8));
    return n;
}

/* Answers requests (8 bytes each) for functions 1 and 2 with the bit
 * patterns, 3 and 4 with registers 0x1000 + address (holding) or
 * 0x4000 + address (input). */
static void rtu_answer(struct rtu *r, const uint8_t *q)
{
    uint8_t a[5 + BUS_MAX_BITS / 8];
    int address = q[2] << 8 | q[3], count = q[4] << 8 | q[5];
    int base = q[1] == 4 ? 0x4000 : 0x1000;
    int n = 0, i = atomic_load(&r->nreq);
    int bits = q[1] == 1 || q[1] == 2;
    uint16_t crc;

    if (crc16(q, 6) != (uint16_t)(q[6] | q[7] << 8) || count < 1 ||
        count > (bits ? BUS_MAX_BITS : BUS_MAX_REGISTERS))
        return;
    a[n++] = q[0];
    a[n++] = q[1];
    if (bits) {
        a[n] = (uint8_t)rtu_bits(a + n + 1, q[1], address, count);
        n += 1 + a[n];
    } else {
        a[n++] = (uint8_t)(2 * count);
        for (int k = 0; k < count; k++) {
            a[n++] = (uint8_t)((base + address + k) >> 8);
            a[n++] = (uint8_t)((base + address + k) & 0xff);
        }
    }
    crc = crc16(a, (size_t)n);
    if (atomic_load(&r->garble) > 0) {
        atomic_fetch_sub(&r->garble, 1);
        crc ^= 0x5555;
    }
    a[n++] = (uint8_t)(crc & 0xff);
    a[n++] = (uint8_t)(crc >> 8);
    /* Stamped and counted before the write: the master cannot have the
     * answer sooner, so the gap measured is never shorter than the one
     * on the line, and the count is there when its read returns (after
     * the write, a preemption on a busy machine would make a correct gap
     * look short, or the test read a count one short). */
    if (i < RTU_MAX_REQ)
        r->resp_ns[i] = time_mono_ns();
    atomic_store(&r->nreq, i + 1);
    /* No cmocka assertions here: they may only fail in the test's own
     * thread. A short write shows as a failed read there. */
    if (atomic_load(&r->mute) > 0)
        atomic_fetch_sub(&r->mute, 1);
    else if (write(r->master, a, (size_t)n) != n)
        return;
}

static void *rtu_main(void *arg)
{
    struct rtu *r = arg;
    uint8_t q[8];
    size_t n = 0;

    while (!atomic_load(&r->stop)) {
        struct pollfd p = {r->master, POLLIN, 0};
        ssize_t k;

        if (poll(&p, 1, POLL_MS) <= 0)
            continue;
        /* Until the bus opens the other side, the master reports a hang
         * up at once; do not spin on it. */
        if (!(p.revents & POLLIN)) {
            sleep_ms(1);
            continue;
        }
        if ((k = read(r->master, q + n, sizeof(q) - n)) <= 0)
            continue;
        if (n == 0 && atomic_load(&r->nreq) < RTU_MAX_REQ)
            r->req_ns[atomic_load(&r->nreq)] = time_mono_ns();
        n += (size_t)k;
        if (n == sizeof(q)) {
            rtu_answer(r, q);
            n = 0;
        }
    }
    return NULL;
}

static int rtu_setup(void **state)
{
    struct rtu *r = xcalloc(1, sizeof(*r));

    r->master = posix_openpt(O_RDWR | O_NOCTTY);
    assert_true(r->master >= 0);
    assert_int_equal(grantpt(r->master), 0);
    assert_int_equal(unlockpt(r->master), 0);
    snprintf(r->path, sizeof(r->path), "%s", ptsname(r->master));
    assert_int_equal(pthread_create(&r->thread, NULL, rtu_main, r), 0);
    *state = r;
    return 0;
}

static int rtu_teardown(void **state)
{
    struct rtu *r = *state;

    atomic_store(&r->stop, 1);
    pthread_join(r->thread, NULL);
    close(r->master);
    free(r);
    return 0;
}

static struct bus *rtu_bus(const struct rtu *r, int delay_ms, int retries)
{
    struct bus_params p;
    struct bus *b;

    memset(&p, 0, sizeof(p));
    p.type = BUS_RTU;
    snprintf(p.device, sizeof(p.device), "%s", r->path);
    p.baud = 19200;
    p.parity = 'E';
    p.data_bits = 8;
    p.stop_bits = 1;
    p.timeout_ms = 200;
    p.retries = retries;
    p.delay_ms = delay_ms;
    p.max_registers = BUS_MAX_REGISTERS;
    p.max_bits = BUS_MAX_BITS;
    b = bus_new(&p);
    assert_non_null(b);
    assert_int_equal(bus_connect(b), 0);
    return b;
}

/* Reads, and the quiet gap on the line between an answer and the next
 * request, as the responder saw it. */
static void test_bus_rtu_delay(void **state)
{
    struct rtu *r = *state;
    struct bus *b = rtu_bus(r, 30, 0);
    uint16_t w[BUS_MAX_REGISTERS];
    int n;

    for (int i = 0; i < 4; i++) {
        assert_int_equal(
            bus_read(b, 3, i % 2 ? TABLE_INPUT : TABLE_HOLDING, 10 * i, 5, w),
            0);
        for (int k = 0; k < 5; k++)
            assert_int_equal(w[k], (i % 2 ? 0x4000 : 0x1000) + 10 * i + k);
    }
    n = atomic_load(&r->nreq);
    assert_int_equal(n, 4);
    for (int i = 1; i < n; i++)
        if (r->req_ns[i] - r->resp_ns[i - 1] < 30 * NS_PER_MS)
            fail_msg("gap before request %d: %.3f ms", i,
                     (double)(r->req_ns[i] - r->resp_ns[i - 1]) / 1e6);
    /* Unit 0 is broadcast on a serial line, which never answers a read. */
    errno = 0;
    assert_int_equal(bus_read(b, 0, TABLE_HOLDING, 0, 1, w), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(bus_read(b, 248, TABLE_HOLDING, 0, 1, w), -1);
    bus_free(b);
}

/* A garbled or missing answer on a serial line is retried on the open
 * line, and an exhausted retry leaves it open. */
static void test_bus_rtu_errors(void **state)
{
    struct rtu *r = *state;
    struct bus *b = rtu_bus(r, 0, 1);
    uint16_t w[4];

    atomic_store(&r->garble, 1);
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 7, 2, w), 0);
    assert_int_equal(w[0], 0x1007);
    assert_int_equal(w[1], 0x1008);
    assert_int_equal(atomic_load(&r->nreq), 2);

    atomic_store(&r->garble, 2);
    errno = 0;
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 7, 2, w), -1);
    assert_int_equal(errno, EMBBADCRC);
    assert_true(bus_is_connected(b));

    atomic_store(&r->mute, 2);
    errno = 0;
    assert_int_equal(bus_read(b, 1, TABLE_INPUT, 7, 2, w), -1);
    assert_int_equal(errno, ETIMEDOUT);
    assert_true(bus_is_connected(b));

    assert_int_equal(bus_read(b, 1, TABLE_INPUT, 7, 2, w), 0);
    assert_int_equal(w[0], 0x4007);
    assert_int_equal(atomic_load(&r->nreq), 7);
    bus_free(b);
}

/* Coils and discrete inputs on a serial line, a garbled one retried. */
static void test_bus_rtu_bits(void **state)
{
    struct rtu *r = *state;
    struct bus *b = rtu_bus(r, 0, 1);
    uint16_t w[BUS_MAX_BITS];

    assert_int_equal(bus_read(b, 2, TABLE_COIL, 0, 37, w), 0);
    check_bits(w, TABLE_COIL, 0, 37);
    assert_int_equal(bus_read(b, 2, TABLE_DISCRETE, 3, 8, w), 0);
    check_bits(w, TABLE_DISCRETE, 3, 8);
    atomic_store(&r->garble, 1);
    assert_int_equal(bus_read(b, 2, TABLE_DISCRETE, 1000, 1, w), 0);
    check_bits(w, TABLE_DISCRETE, 1000, 1);
    assert_int_equal(bus_read(b, 2, TABLE_COIL, 7, BUS_MAX_BITS, w), 0);
    check_bits(w, TABLE_COIL, 7, BUS_MAX_BITS);
    assert_int_equal(atomic_load(&r->nreq), 5);
    bus_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bus_new_rejects),
        cmocka_unit_test(test_bus_rtu_bauds),
        cmocka_unit_test(test_bus_read_rejects),
        cmocka_unit_test(test_bus_strerror),
        cmocka_unit_test(test_bus_error_classes),
        cmocka_unit_test(test_bus_strerror_threads),
        cmocka_unit_test(test_bus_refused),
        cmocka_unit_test(test_bus_unknown_host),
        cmocka_unit_test(test_bus_rtu_missing_device),
        cmocka_unit_test_setup_teardown(test_bus_tcp_read, srv_setup,
                                        srv_teardown),
        cmocka_unit_test_setup_teardown(test_bus_tcp_bits, srv_setup,
                                        srv_teardown),
        cmocka_unit_test_setup_teardown(test_bus_tcp_exception, srv_setup,
                                        srv_teardown),
        cmocka_unit_test_setup_teardown(test_bus_tcp_timeout, srv_setup,
                                        srv_teardown),
        cmocka_unit_test_setup_teardown(test_bus_tcp_late_answer, srv_setup,
                                        srv_teardown),
        cmocka_unit_test_setup_teardown(test_bus_tcp_dropped, srv_setup,
                                        srv_teardown),
        cmocka_unit_test_setup_teardown(test_bus_tcp_server_gone, srv_setup,
                                        srv_teardown),
        cmocka_unit_test_setup_teardown(test_bus_rtu_delay, rtu_setup,
                                        rtu_teardown),
        cmocka_unit_test_setup_teardown(test_bus_rtu_errors, rtu_setup,
                                        rtu_teardown),
        cmocka_unit_test_setup_teardown(test_bus_rtu_bits, rtu_setup,
                                        rtu_teardown),
    };

    /* A peer that hangs up must show as an error, not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
