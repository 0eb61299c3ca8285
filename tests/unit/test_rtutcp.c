/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of RTU over TCP: the framing (drivers/rtuframe.c) against
 * frames written out by hand from the Modbus specifications' examples, and
 * every way an answer can be wrong; then the bus type rtu-over-tcp
 * (drivers/rtutcp.c behind bus_read()) against tests/rtutcp_server.py, a
 * server written apart from this C in Python (its own CRC, its own
 * framing), which is told over its stdin to garble, delay or drop its next
 * answers. The server runs once for the whole binary; every wait on it has
 * a deadline, and it is stopped by its PID.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <modbus.h>

#include "common/util.h"
#include "drivers/bus.h"
#include "drivers/rtuframe.h"

/* The server, from the repository root (where make runs the tests). */
#define SERVER_DEFAULT "tests/rtutcp_server.py"
/* How long the server may take to start, and to answer a command. */
#define SERVER_START_MS 10000
#define SERVER_REPLY_MS 5000
/* Units the server answers for; the next one is silent. */
#define SERVER_UNITS 4
#define LINE_MAX_LEN 128

static int64_t ms_since(int64_t t0)
{
    return (time_mono_ns() - t0) / NS_PER_MS;
}

/* Hex text ("11 03 00 6b") to bytes; returns the count. */
static size_t unhex(const char *text, uint8_t *out, size_t max)
{
    size_t n = 0;
    unsigned v;
    int used;

    while (n < max && sscanf(text, " %2x%n", &v, &used) == 1) {
        out[n++] = (uint8_t)v;
        text += used;
    }
    return n;
}

/* ---- framing ----------------------------------------------------------- */

/* CRC-16/MODBUS: the catalogue's check value and, through whole frames,
 * the examples of the specifications (each frame's last two bytes are its
 * CRC, low byte first). */
static void test_crc(void **state)
{
    static const char *const frames[] = {
        "01 03 00 00 00 0a c5 cd",
        "11 03 00 6b 00 03 76 87",
        "11 03 06 ae 41 56 52 43 40 49 ad",
        "11 01 00 13 00 25 0e 84",
        "11 01 05 cd 6b b2 0e 1b 45 e6",
        "11 02 00 c4 00 16 ba a9",
        "11 04 00 08 00 01 b2 98",
        "11 04 02 00 0a f8 f4",
        "0a 81 02 b0 53",
    };
    uint8_t f[RTUFRAME_MAX_LEN];

    (void)state;
    assert_int_equal(rtuframe_crc16((const uint8_t *)"123456789", 9), 0x4B37);
    assert_int_equal(rtuframe_crc16(f, 0), 0xFFFF);
    for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
        size_t n = unhex(frames[i], f, sizeof(f));
        uint16_t crc = rtuframe_crc16(f, n - 2);

        if (f[n - 2] != (crc & 0xFF) || f[n - 1] != crc >> 8)
            fail_msg("%s: CRC %04x", frames[i], crc);
    }
}

static void test_request(void **state)
{
    static const struct {
        struct rtuframe_read r;
        const char *want;
    } cases[] = {
        {{0x11, 3, 0x6B, 3}, "11 03 00 6b 00 03 76 87"},
        {{0x11, 1, 0x13, 0x25}, "11 01 00 13 00 25 0e 84"},
        {{0x11, 2, 0xC4, 0x16}, "11 02 00 c4 00 16 ba a9"},
        {{0x11, 4, 8, 1}, "11 04 00 08 00 01 b2 98"},
        {{1, 3, 0, 10}, "01 03 00 00 00 0a c5 cd"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t got[RTUFRAME_REQUEST_LEN], want[RTUFRAME_REQUEST_LEN];

        assert_int_equal(unhex(cases[i].want, want, sizeof(want)),
                         RTUFRAME_REQUEST_LEN);
        assert_true(rtuframe_read_is_valid(&cases[i].r));
        assert_int_equal(rtuframe_request(&cases[i].r, got),
                         RTUFRAME_REQUEST_LEN);
        assert_memory_equal(got, want, RTUFRAME_REQUEST_LEN);
    }
}

static void test_read_valid(void **state)
{
    static const struct {
        struct rtuframe_read r;
        bool ok;
    } cases[] = {
        {{1, 3, 0, 1}, true},        {{247, 4, 0, 125}, true},
        {{0, 3, 0, 1}, false},       {{248, 3, 0, 1}, false},
        {{1, 0, 0, 1}, false},       {{1, 5, 0, 1}, false},
        {{1, 3, 0, 0}, false},       {{1, 3, 0, 126}, false},
        {{1, 1, 0, 2000}, true},     {{1, 2, 0, 2001}, false},
        {{1, 3, 65535, 1}, true},    {{1, 3, 65535, 2}, false},
        {{1, 1, 63536, 2000}, true}, {{1, 1, 63537, 2000}, false},
        {{1, 3, -1, 1}, false},      {{1, 2, 0, 125}, true},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (rtuframe_read_is_valid(&cases[i].r) != cases[i].ok)
            fail_msg("case %zu: valid is not %d", i, cases[i].ok);
}

/* Answers from the specifications, unpacked. */
static void test_decode(void **state)
{
    static const struct rtuframe_read regs = {0x11, 3, 0x6B, 3};
    static const struct rtuframe_read coils = {0x11, 1, 0x13, 0x25};
    static const struct rtuframe_read inputs = {0x11, 2, 0xC4, 0x16};
    static const struct rtuframe_read input = {0x11, 4, 8, 1};
    /* Coils 20..56 of the example: CD 6B B2 0E 1B, least significant bit
     * first, the last byte's three high bits padding. */
    static const uint8_t coil_bits[] = {
        1, 0, 1, 1, 0, 0, 1, 1, /* CD */ 1, 1, 0, 1, 0, 1, 1, 0, /* 6B */
        0, 1, 0, 0, 1, 1, 0, 1, /* B2 */ 0, 1, 1, 1, 0, 0, 0, 0, /* 0E */
        1, 1, 0, 1, 1,                                           /* 1B */
    };
    /* Inputs 197..218: AC DB 35 (the CRC computed by the Python server's
     * own algorithm). */
    static const uint8_t input_bits[] = {
        0, 0, 1, 1, 0, 1, 0, 1, /* AC */ 1, 1, 0, 1, 1, 0, 1, 1, /* DB */
        1, 0, 1, 0, 1, 1,                                        /* 35 */
    };
    uint8_t a[RTUFRAME_MAX_LEN];
    uint16_t w[BUS_MAX_BITS];
    size_t n;

    (void)state;
    n = unhex("11 03 06 ae 41 56 52 43 40 49 ad", a, sizeof(a));
    assert_int_equal(rtuframe_answer_decode(&regs, a, n, w), 0);
    assert_int_equal(w[0], 0xAE41);
    assert_int_equal(w[1], 0x5652);
    assert_int_equal(w[2], 0x4340);

    n = unhex("11 01 05 cd 6b b2 0e 1b 45 e6", a, sizeof(a));
    assert_int_equal(rtuframe_answer_decode(&coils, a, n, w), 0);
    for (int i = 0; i < 0x25; i++)
        if (w[i] != coil_bits[i])
            fail_msg("coil %d: %u", 20 + i, w[i]);

    n = unhex("11 02 03 ac db 35 20 18", a, sizeof(a));
    assert_int_equal(rtuframe_answer_decode(&inputs, a, n, w), 0);
    for (int i = 0; i < 0x16; i++)
        if (w[i] != input_bits[i])
            fail_msg("input %d: %u", 197 + i, w[i]);

    n = unhex("11 04 02 00 0a f8 f4", a, sizeof(a));
    assert_int_equal(rtuframe_answer_decode(&input, a, n, w), 0);
    assert_int_equal(w[0], 10);
}

/* Every way an answer to "unit 0x11, read 3 holding registers" can be
 * wrong, judged on the whole frame and, where the head already shows it,
 * on the head alone. */
static void test_malformed(void **state)
{
    static const struct rtuframe_read r = {0x11, 3, 0x6B, 3};
    static const struct {
        const char *what, *frame;
        int err;
        size_t head; /* bytes that already show the error; 0: none do */
    } cases[] = {
        {"good", "11 03 06 ae 41 56 52 43 40 49 ad", 0, 0},
        {"another unit", "12 03 06 ae 41 56 52 43 40 49 ad", RTUFRAME_EBADUNIT,
         2},
        {"another function", "11 04 06 ae 41 56 52 43 40 49 ad",
         RTUFRAME_EBADFUNCTION, 2},
        {"another function's exception", "11 84 02 c2 c1",
         RTUFRAME_EBADFUNCTION, 2},
        {"byte count too small", "11 03 04 ae 41 56 52 43 40 49 ad",
         RTUFRAME_EBADCOUNT, 3},
        {"byte count too large", "11 03 08 ae 41 56 52 43 40 49 ad",
         RTUFRAME_EBADCOUNT, 3},
        {"bad CRC", "11 03 06 ae 41 56 52 43 40 49 ac", RTUFRAME_EBADCRC, 0},
        {"bad data", "11 03 06 ae 41 56 52 43 41 49 ad", RTUFRAME_EBADCRC, 0},
        {"cut in the data", "11 03 06 ae 41 56 52", RTUFRAME_ESHORT, 0},
        {"cut before the count", "11 03", RTUFRAME_ESHORT, 0},
        {"one byte", "11", RTUFRAME_ESHORT, 0},
        {"nothing", "", RTUFRAME_ESHORT, 0},
        {"one byte more", "11 03 06 ae 41 56 52 43 40 49 ad 00", RTUFRAME_ELONG,
         0},
        {"exception 2", "11 83 02 c1 34", RTUFRAME_EXCEPTION + 2, 0},
        {"exception 11", "11 83 0b 01 32", RTUFRAME_EXCEPTION + 11, 0},
        {"exception, bad CRC", "11 83 02 c1 35", RTUFRAME_EBADCRC, 0},
        {"exception cut short", "11 83 02 c1", RTUFRAME_ESHORT, 0},
        {"exception one byte more", "11 83 02 c1 34 00", RTUFRAME_ELONG, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t a[RTUFRAME_MAX_LEN];
        uint16_t w[4] = {0};
        size_t n = unhex(cases[i].frame, a, sizeof(a)), len = 0;
        int rc;

        rc = rtuframe_answer_decode(&r, a, n, w);
        if (rc != cases[i].err)
            fail_msg("%s: got %d (%s), want %d", cases[i].what, rc,
                     rc ? rtuframe_strerror(rc) : "ok", cases[i].err);
        if (cases[i].head &&
            rtuframe_answer_head(&r, a, cases[i].head, &len) != cases[i].err)
            fail_msg("%s: the head alone does not tell", cases[i].what);
    }
}

/* How much of an answer the reader asks for, stage by stage. */
static void test_head(void **state)
{
    static const struct rtuframe_read regs = {5, 4, 0, 3};
    static const struct rtuframe_read bits = {5, 2, 0, 17};
    const uint8_t answer[] = {5, 4, 6}, bitsans[] = {5, 2, 3};
    const uint8_t exception[] = {5, 0x84, 2};
    size_t len;

    (void)state;
    assert_int_equal(rtuframe_answer_head(&regs, answer, 0, &len), 0);
    assert_int_equal(len, 2);
    assert_int_equal(rtuframe_answer_head(&regs, answer, 1, &len), 0);
    assert_int_equal(len, 2);
    assert_int_equal(rtuframe_answer_head(&regs, answer, 2, &len), 0);
    assert_int_equal(len, 3);
    assert_int_equal(rtuframe_answer_head(&regs, answer, 3, &len), 0);
    assert_int_equal(len, 3 + 6 + 2);
    assert_int_equal(rtuframe_answer_head(&regs, exception, 2, &len), 0);
    assert_int_equal(len, 5);
    /* 17 bits take 3 bytes. */
    assert_int_equal(rtuframe_data_len(&bits), 3);
    assert_int_equal(rtuframe_data_len(&regs), 6);
    assert_int_equal(rtuframe_answer_head(&bits, bitsans, 3, &len), 0);
    assert_int_equal(len, 3 + 3 + 2);
}

static void test_strerror(void **state)
{
    static const struct {
        int errnum;
        const char *text;
    } c[] = {
        {RTUFRAME_EBADCRC, "Invalid CRC"},
        {RTUFRAME_EBADUNIT, "Answer from another unit"},
        {RTUFRAME_EBADFUNCTION, "Answer to another function"},
        {RTUFRAME_EBADCOUNT, "Answer with a byte count not asked for"},
        {RTUFRAME_ESHORT, "Answer cut short"},
        {RTUFRAME_ELONG, "Answer followed by more bytes"},
        {RTUFRAME_EXCEPTION + 2, "Exception answer"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        assert_true(rtuframe_is_error(c[i].errnum));
        assert_string_equal(rtuframe_strerror(c[i].errnum), c[i].text);
        /* The bus names them the same way. */
        assert_string_equal(bus_strerror(c[i].errnum), c[i].text);
    }
    assert_false(rtuframe_is_error(0));
    assert_false(rtuframe_is_error(ETIMEDOUT));
    assert_false(rtuframe_is_error(RTUFRAME_EBASE));
    assert_false(rtuframe_is_error(RTUFRAME_EXCEPTION + 256));
    assert_null(rtuframe_strerror(ETIMEDOUT));
}

/* ---- the independent server -------------------------------------------- */

struct server {
    pid_t pid;
    int in;  /* its stdin */
    int out; /* its stdout */
    char buf[4096];
    size_t have;
    int port;
};

static struct server srv;

/* One line from the server, within ms; fails the test otherwise. */
static void server_line(char *line, size_t size, int ms)
{
    int64_t end = time_mono_ns() + ms * NS_PER_MS;

    for (;;) {
        char *nl = memchr(srv.buf, '\n', srv.have);
        struct pollfd p = {srv.out, POLLIN, 0};
        int64_t left = (end - time_mono_ns()) / NS_PER_MS;
        ssize_t k;

        if (nl) {
            size_t n = (size_t)(nl - srv.buf);

            snprintf(line, size, "%.*s", (int)n, srv.buf);
            memmove(srv.buf, nl + 1, srv.have - n - 1);
            srv.have -= n + 1;
            return;
        }
        if (left <= 0)
            fail_msg("no line from the server within %d ms", ms);
        if (poll(&p, 1, (int)left) <= 0)
            continue;
        k = read(srv.out, srv.buf + srv.have, sizeof(srv.buf) - srv.have);
        if (k <= 0)
            fail_msg("the server ended (see its stderr above)");
        srv.have += (size_t)k;
    }
}

/* Sends a command and waits for its "ok" (or its one line of answer, into
 * reply). Since the server does one thing at a time, its answer also
 * means that everything it was doing before is done. */
static void server_cmd(const char *cmd, char *reply, size_t size)
{
    char line[LINE_MAX_LEN];
    size_t n = strlen(cmd);

    assert_int_equal(write(srv.in, cmd, n), (ssize_t)n);
    assert_int_equal(write(srv.in, "\n", 1), 1);
    server_line(line, sizeof(line), SERVER_REPLY_MS);
    if (reply)
        snprintf(reply, size, "%s", line);
    else if (strcmp(line, "ok") != 0)
        fail_msg("server: '%s' got '%s'", cmd, line);
}

static void server_stats(int *requests, int *accepts)
{
    char line[LINE_MAX_LEN];

    server_cmd("stats", line, sizeof(line));
    assert_int_equal(sscanf(line, "requests %d accepts %d", requests, accepts),
                     2);
}

static int server_start(void **state)
{
    const char *path = getenv("TBDAQ_RTUTCP_SERVER");
    char line[LINE_MAX_LEN];
    int in[2], out[2];

    (void)state;
    if (!path)
        path = SERVER_DEFAULT;
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "cannot read %s: run from the repository root\n", path);
        return -1;
    }
    if (pipe(in) < 0 || pipe(out) < 0)
        return -1;
    /* Only the child's dup2() copies outlive its exec. */
    for (int i = 0; i < 2; i++) {
        fcntl(in[i], F_SETFD, FD_CLOEXEC);
        fcntl(out[i], F_SETFD, FD_CLOEXEC);
    }
    if ((srv.pid = fork()) < 0)
        return -1;
    if (srv.pid == 0) {
        dup2(in[0], STDIN_FILENO);
        dup2(out[1], STDOUT_FILENO);
        execlp("python3", "python3", path, "--units", "4", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    srv.in = in[1];
    srv.out = out[0];
    server_line(line, sizeof(line), SERVER_START_MS);
    if (sscanf(line, "port %d", &srv.port) != 1)
        return -1;
    return 0;
}

static int server_stop(void **state)
{
    int64_t end = time_mono_ns() + SERVER_REPLY_MS * NS_PER_MS;
    int status;

    (void)state;
    if (srv.pid <= 0)
        return 0;
    close(srv.in); /* end of its stdin: it exits */
    while (waitpid(srv.pid, &status, WNOHANG) == 0) {
        if (time_mono_ns() > end) {
            kill(srv.pid, SIGKILL);
            waitpid(srv.pid, &status, 0);
            break;
        }
        poll(NULL, 0, 10);
    }
    close(srv.out);
    return 0;
}

/* Each test starts with no fault pending. */
static int server_normal(void **state)
{
    (void)state;
    server_cmd("normal", NULL, 0);
    return 0;
}

static struct bus_params gw_params(int port, int timeout_ms, int retries)
{
    struct bus_params p;

    memset(&p, 0, sizeof(p));
    p.type = BUS_RTU_OVER_TCP;
    snprintf(p.host, sizeof(p.host), "127.0.0.1");
    p.port = port;
    p.timeout_ms = timeout_ms;
    p.retries = retries;
    p.max_registers = BUS_MAX_REGISTERS;
    p.max_bits = BUS_MAX_BITS;
    return p;
}

static struct bus *gw_bus(int timeout_ms, int retries)
{
    struct bus_params p = gw_params(srv.port, timeout_ms, retries);
    struct bus *b = bus_new(&p);

    assert_non_null(b);
    assert_int_equal(bus_connect(b), 0);
    assert_true(bus_is_connected(b));
    return b;
}

/* The server's map (see its docstring). */
static uint16_t map_value(int unit, enum reg_table table, int address)
{
    switch (table) {
    case TABLE_COIL:
        return (address + unit) % 3 == 0;
    case TABLE_DISCRETE:
        return (7 * address + unit) % 5 < 2;
    case TABLE_HOLDING:
        return (uint16_t)(unit * 0x1000 + address);
    default:
        return (uint16_t)(0x8000 + unit * 0x100 + address);
    }
}

static void check_map(const uint16_t *w, int unit, enum reg_table table,
                      int address, int count)
{
    for (int i = 0; i < count; i++)
        if (w[i] != map_value(unit, table, address + i))
            fail_msg("unit %d %s %d: %04x, want %04x", unit,
                     reg_table_name(table), address + i, w[i],
                     map_value(unit, table, address + i));
}

/* ---- bus_read() over RTU over TCP -------------------------------------- */

/* Every table, several units on one connection, the longest reads. */
static void test_gw_read(void **state)
{
    static const struct {
        int unit;
        enum reg_table table;
        int address, count;
    } reads[] = {
        {1, TABLE_HOLDING, 0, 10},    {2, TABLE_INPUT, 5, 3},
        {3, TABLE_COIL, 0, 37},       {4, TABLE_DISCRETE, 197, 22},
        {1, TABLE_HOLDING, 75, 125},  {2, TABLE_COIL, 1000, 2000},
        {3, TABLE_DISCRETE, 2999, 1}, {4, TABLE_INPUT, 199, 1},
    };
    uint16_t w[BUS_MAX_BITS];
    int requests0, accepts0, requests, accepts;
    struct bus *b;

    (void)state;
    server_stats(&requests0, &accepts0);
    b = gw_bus(500, 0);
    for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
        if (bus_read(b, reads[i].unit, reads[i].table, reads[i].address,
                     reads[i].count, w) != 0)
            fail_msg("read %zu: %s", i, bus_strerror(errno));
        check_map(w, reads[i].unit, reads[i].table, reads[i].address,
                  reads[i].count);
    }
    server_stats(&requests, &accepts);
    assert_int_equal(requests - requests0, 8);
    assert_int_equal(accepts - accepts0, 1);
    /* Connecting a connected bus changes nothing. */
    assert_int_equal(bus_connect(b), 0);
    bus_free(b);
}

static void test_gw_rejects(void **state)
{
    struct bus_params p = gw_params(502, 100, 0);
    uint16_t w[4];
    struct bus *b;

    (void)state;
    p.port = 0;
    assert_null(bus_new(&p));
    p = gw_params(502, 100, 0);
    p.host[0] = '\0';
    assert_null(bus_new(&p));
    p = gw_params(502, 100, 0);
    p.max_bits = 8;
    b = bus_new(&p);
    assert_non_null(b);
    /* A serial line: 0 is broadcast, 248.. reserved. */
    errno = 0;
    assert_int_equal(bus_read(b, 0, TABLE_HOLDING, 0, 1, w), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(bus_read(b, 248, TABLE_HOLDING, 0, 1, w), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(bus_read(b, 1, TABLE_COIL, 0, 9, w), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(bus_read(b, 1, TABLE_COIL, 0, 8, w), -1);
    assert_int_equal(errno, ENOTCONN);
    bus_free(b);
}

/* An exception is an answer: returned at once, named as on the other
 * transports, not retried, the connection kept. */
static void test_gw_exception(void **state)
{
    struct bus *b = gw_bus(300, 2);
    uint16_t w[BUS_MAX_BITS];
    int r0, a0, r1, a1;

    (void)state;
    server_stats(&r0, &a0);
    errno = 0;
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 199, 2, w), -1);
    assert_int_equal(errno, EMBXILADD);
    assert_true(bus_error_is_exception(errno));
    assert_string_equal(bus_strerror(errno), "Illegal data address");
    assert_int_equal(bus_read(b, 1, TABLE_COIL, 2999, 2, w), -1);
    assert_string_equal(bus_strerror(errno), "Illegal data address");
    server_cmd("exception 4", NULL, 0);
    assert_int_equal(bus_read(b, 2, TABLE_INPUT, 0, 1, w), -1);
    assert_true(bus_error_is_exception(errno));
    assert_string_equal(bus_strerror(errno), "Slave device or server failure");
    server_stats(&r1, &a1);
    assert_int_equal(r1 - r0, 3);
    assert_true(bus_is_connected(b));
    /* An exception code the protocol does not define is a bad answer:
     * retried like one. */
    server_cmd("exception 77", NULL, 0);
    assert_int_equal(bus_read(b, 2, TABLE_INPUT, 0, 1, w), 0);
    check_map(w, 2, TABLE_INPUT, 0, 1);
    server_stats(&r0, &a0);
    assert_int_equal(r0 - r1, 2);
    assert_int_equal(a0, a1);
    bus_free(b);
}

/* Each wrong answer: retried on the open connection (one retry covers
 * one), and named when the attempts run out. */
static void test_gw_wrong_answers(void **state)
{
    static const struct {
        const char *fault, *text;
    } cases[] = {
        {"crc", "Invalid CRC"},
        {"unit", "Answer from another unit"},
        {"function", "Answer to another function"},
        {"count", "Answer with a byte count not asked for"},
        {"short", "Answer cut short"},
        {"long", "Answer followed by more bytes"},
    };
    uint16_t w[BUS_MAX_BITS];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char cmd[32];
        int r0, a0, r1, a1, astart;
        struct bus *b;

        /* Counted before connecting: the server may see the command
         * before the connection. */
        server_stats(&r0, &astart);
        b = gw_bus(150, 1);
        snprintf(cmd, sizeof(cmd), "%s 1", cases[i].fault);
        server_cmd(cmd, NULL, 0);
        if (bus_read(b, 3, TABLE_HOLDING, 10, 4, w) != 0)
            fail_msg("%s, retried: %s", cases[i].fault, bus_strerror(errno));
        check_map(w, 3, TABLE_HOLDING, 10, 4);
        /* Bits too. */
        server_cmd(cmd, NULL, 0);
        if (bus_read(b, 3, TABLE_COIL, 10, 20, w) != 0)
            fail_msg("%s, bits: %s", cases[i].fault, bus_strerror(errno));
        check_map(w, 3, TABLE_COIL, 10, 20);
        server_stats(&r1, &a1);
        assert_int_equal(r1 - r0, 4);

        snprintf(cmd, sizeof(cmd), "%s 2", cases[i].fault);
        server_cmd(cmd, NULL, 0);
        errno = 0;
        assert_int_equal(bus_read(b, 3, TABLE_HOLDING, 10, 4, w), -1);
        if (strcmp(bus_strerror(errno), cases[i].text) != 0)
            fail_msg("%s: '%s'", cases[i].fault, bus_strerror(errno));
        assert_false(bus_error_is_exception(errno));
        assert_true(bus_is_connected(b));
        /* Nothing of it is left to spoil the next answer. */
        assert_int_equal(bus_read(b, 2, TABLE_INPUT, 0, 2, w), 0);
        check_map(w, 2, TABLE_INPUT, 0, 2);
        server_stats(&r0, &a0);
        assert_int_equal(a0, a1);
        assert_int_equal(a0 - astart, 1);
        bus_free(b);
    }
}

/* A wrong answer still arriving when it is known to be wrong: the rest
 * is drained before the retry, not taken for the retry's answer. */
static void test_gw_drain(void **state)
{
    struct bus *b = gw_bus(200, 1);
    uint16_t w[4];

    (void)state;
    server_cmd("slowunit 30", NULL, 0);
    if (bus_read(b, 1, TABLE_HOLDING, 20, 2, w) != 0)
        fail_msg("after a slow wrong answer: %s", bus_strerror(errno));
    check_map(w, 1, TABLE_HOLDING, 20, 2);
    assert_true(bus_is_connected(b));
    bus_free(b);
}

/* No answer: a timeout after timeout_ms, the connection kept; a silent
 * unit does not disturb the others. */
static void test_gw_timeout(void **state)
{
    struct bus *b = gw_bus(100, 1);
    uint16_t w[4];
    int64_t t0;

    (void)state;
    server_cmd("mute 1", NULL, 0);
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 0, 2, w), 0);
    check_map(w, 1, TABLE_HOLDING, 0, 2);

    server_cmd("mute 2", NULL, 0);
    t0 = time_mono_ns();
    errno = 0;
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 0, 2, w), -1);
    assert_int_equal(errno, ETIMEDOUT);
    assert_true(ms_since(t0) >= 200);
    assert_true(bus_is_connected(b));

    errno = 0;
    assert_int_equal(bus_read(b, SERVER_UNITS + 1, TABLE_HOLDING, 0, 2, w), -1);
    assert_int_equal(errno, ETIMEDOUT);
    assert_int_equal(bus_read(b, SERVER_UNITS, TABLE_HOLDING, 0, 2, w), 0);
    check_map(w, SERVER_UNITS, TABLE_HOLDING, 0, 2);
    bus_free(b);
}

/* Each part of an answer has the timeout to itself, as a serial line's
 * silence would end it: an answer in three parts 120 ms apart takes
 * longer than the 200 ms timeout, and is whole. */
static void test_gw_parts(void **state)
{
    struct bus *b = gw_bus(200, 0);
    uint16_t w[4];
    int64_t t0;

    (void)state;
    server_cmd("split 120", NULL, 0);
    t0 = time_mono_ns();
    assert_int_equal(bus_read(b, 2, TABLE_HOLDING, 3, 3, w), 0);
    assert_true(ms_since(t0) >= 240);
    check_map(w, 2, TABLE_HOLDING, 3, 3);
    bus_free(b);
}

/* Waits until bytes the server sent have reached the bus's socket: a
 * write on loopback returns before the peer can read it. The bus's socket
 * is one of the test's sockets connected to the server's port (a test
 * that failed may have left others, which stay quiet). */
static void wait_bus_readable(void)
{
    int64_t end = time_mono_ns() + SERVER_REPLY_MS * NS_PER_MS;
    struct pollfd p[64];
    nfds_t n = 0;

    for (int fd = 3; fd < 1024 && n < 64; fd++) {
        struct sockaddr_in a;
        socklen_t len = sizeof(a);

        if (getpeername(fd, (struct sockaddr *)&a, &len) == 0 &&
            a.sin_family == AF_INET && ntohs(a.sin_port) == srv.port)
            p[n++] = (struct pollfd){fd, POLLIN, 0};
    }
    if (n == 0)
        fail_msg("no socket connected to the server");
    while (poll(p, n, 10) == 0)
        if (time_mono_ns() > end)
            fail_msg("the server's bytes never arrived");
}

/* Bytes that arrive between answers (a late answer, noise) are dropped
 * before the next request, so they never pass for its answer: with no
 * retry to cover it, the next read must still succeed. */
static void test_gw_stale_bytes(void **state)
{
    struct bus *b = gw_bus(100, 0);
    uint16_t w[4];

    (void)state;
    server_cmd("late 250", NULL, 0);
    errno = 0;
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 50, 2, w), -1);
    assert_int_equal(errno, ETIMEDOUT);
    /* The late answer has been sent once the server answers this. */
    server_cmd("normal", NULL, 0);
    wait_bus_readable();
    if (bus_read(b, 1, TABLE_HOLDING, 60, 2, w) != 0)
        fail_msg("after a late answer: %s", bus_strerror(errno));
    check_map(w, 1, TABLE_HOLDING, 60, 2);

    server_cmd("stray", NULL, 0);
    assert_int_equal(bus_read(b, 2, TABLE_INPUT, 7, 1, w), 0);
    server_cmd("normal", NULL, 0);
    wait_bus_readable();
    if (bus_read(b, 2, TABLE_INPUT, 8, 1, w) != 0)
        fail_msg("after noise: %s", bus_strerror(errno));
    check_map(w, 2, TABLE_INPUT, 8, 1);
    bus_free(b);
}

/* A server that hangs up: reconnected once within the attempts, or left
 * closed for the caller when none are left. */
static void test_gw_closed(void **state)
{
    uint16_t w[4];
    int r0, a0, r1, a1;
    struct bus *b;

    (void)state;
    server_stats(&r0, &a0);
    b = gw_bus(200, 1);
    server_cmd("close", NULL, 0);
    assert_int_equal(bus_read(b, 1, TABLE_INPUT, 0, 2, w), 0);
    check_map(w, 1, TABLE_INPUT, 0, 2);
    server_stats(&r1, &a1);
    /* The first connection, and the one reopened. */
    assert_int_equal(a1 - a0, 2);
    assert_int_equal(r1 - r0, 2);
    bus_free(b);

    b = gw_bus(200, 0);
    server_cmd("close", NULL, 0);
    errno = 0;
    assert_int_equal(bus_read(b, 1, TABLE_INPUT, 0, 2, w), -1);
    assert_int_equal(errno, ECONNRESET);
    assert_false(bus_is_connected(b));
    assert_int_equal(bus_connect(b), 0);
    assert_int_equal(bus_read(b, 1, TABLE_INPUT, 0, 2, w), 0);

    /* Hung up twice: reopened only once per read. */
    bus_free(b);
    b = gw_bus(200, 3);
    server_cmd("close 2", NULL, 0);
    errno = 0;
    assert_int_equal(bus_read(b, 1, TABLE_INPUT, 0, 2, w), -1);
    assert_int_equal(errno, ECONNRESET);
    assert_false(bus_is_connected(b));
    bus_free(b);
}

/* The quiet time of a serial line between transactions. */
static void test_gw_delay(void **state)
{
    struct bus_params p = gw_params(srv.port, 300, 0);
    uint16_t w[4];
    struct bus *b;
    int64_t t0;

    (void)state;
    p.delay_ms = 60;
    b = bus_new(&p);
    assert_non_null(b);
    assert_int_equal(bus_connect(b), 0);
    assert_int_equal(bus_read(b, 1, TABLE_HOLDING, 0, 1, w), 0);
    t0 = time_mono_ns();
    for (int i = 0; i < 3; i++)
        assert_int_equal(bus_read(b, 1 + i, TABLE_HOLDING, 0, 1, w), 0);
    assert_true(ms_since(t0) >= 3 * 60);
    bus_free(b);
}

/* ---- connecting -------------------------------------------------------- */

static int bind_any_port(int backlog, int *port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    if (backlog >= 0)
        assert_int_equal(listen(fd, backlog), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void test_gw_connect_errors(void **state)
{
    struct bus_params p;
    struct bus *b;
    int port, fd;

    (void)state;
    /* Bound, not listening: refused at once. */
    fd = bind_any_port(-1, &port);
    p = gw_params(port, 300, 0);
    b = bus_new(&p);
    errno = 0;
    assert_int_equal(bus_connect(b), -1);
    assert_int_equal(errno, ECONNREFUSED);
    assert_false(bus_is_connected(b));
    bus_free(b);
    close(fd);

    /* RFC 6761: names under .invalid never resolve. */
    p = gw_params(4001, 300, 0);
    snprintf(p.host, sizeof(p.host), "no-such-host.invalid");
    b = bus_new(&p);
    errno = 0;
    assert_int_equal(bus_connect(b), -1);
    assert_string_equal(bus_strerror(errno), "Host name not found");
    bus_free(b);

    /* A name that resolves. */
    p = gw_params(srv.port, 300, 0);
    snprintf(p.host, sizeof(p.host), "localhost");
    b = bus_new(&p);
    if (bus_connect(b) == 0)
        bus_close(b);
    else
        assert_int_equal(errno, ECONNREFUSED); /* localhost is ::1 only */
    bus_free(b);
}

/* A listener whose queue is full drops new connections' SYNs: the
 * connect waits, and gives up after timeout_ms. */
static void test_gw_connect_timeout(void **state)
{
    struct sockaddr_in a;
    struct bus_params p;
    struct bus *b;
    int port, fd, filler;
    int64_t t0;

    (void)state;
    fd = bind_any_port(0, &port);
    filler = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    assert_int_equal(connect(filler, (struct sockaddr *)&a, sizeof(a)), 0);
    p = gw_params(port, 150, 0);
    b = bus_new(&p);
    t0 = time_mono_ns();
    errno = 0;
    assert_int_equal(bus_connect(b), -1);
    assert_int_equal(errno, ETIMEDOUT);
    assert_true(ms_since(t0) >= 150);
    assert_true(ms_since(t0) < 1000);
    bus_free(b);
    close(filler);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest framing[] = {
        cmocka_unit_test(test_crc),        cmocka_unit_test(test_request),
        cmocka_unit_test(test_read_valid), cmocka_unit_test(test_decode),
        cmocka_unit_test(test_malformed),  cmocka_unit_test(test_head),
        cmocka_unit_test(test_strerror),
    };
    const struct CMUnitTest transport[] = {
        cmocka_unit_test_setup(test_gw_read, server_normal),
        cmocka_unit_test(test_gw_rejects),
        cmocka_unit_test_setup(test_gw_exception, server_normal),
        cmocka_unit_test_setup(test_gw_wrong_answers, server_normal),
        cmocka_unit_test_setup(test_gw_drain, server_normal),
        cmocka_unit_test_setup(test_gw_timeout, server_normal),
        cmocka_unit_test_setup(test_gw_parts, server_normal),
        cmocka_unit_test_setup(test_gw_stale_bytes, server_normal),
        cmocka_unit_test_setup(test_gw_closed, server_normal),
        cmocka_unit_test_setup(test_gw_delay, server_normal),
        cmocka_unit_test_setup(test_gw_connect_errors, server_normal),
        cmocka_unit_test(test_gw_connect_timeout),
    };
    int failed;

    /* A peer that hangs up must show as an error, not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    failed = cmocka_run_group_tests(framing, NULL, NULL);
    failed += cmocka_run_group_tests(transport, server_start, server_stop);
    return failed;
}
