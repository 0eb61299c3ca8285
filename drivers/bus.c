/* SPDX-License-Identifier: MIT */
/*
 * Modbus buses. What differs between transports sits in a const table of
 * operations per transport, as in libmodbus's own backends: TCP and RTU
 * through libmodbus, RTU over TCP through rtutcp.c (libmodbus has no such
 * backend). What is common (arguments, retries, pacing, error classes) is
 * written once here.
 *
 * A failed request is one of three things, and each wants its own cure:
 * an exception (the device answered: the link is fine, retrying is
 * pointless), a lost or garbled answer (discard what may still arrive and
 * ask again), or a broken connection (reopen it, once, then ask again).
 * libmodbus's own recovery modes sleep and reconnect behind our back, so
 * they are off and this module decides.
 */
#include <errno.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <modbus.h>

#include "common/log.h"
#include "common/util.h"
#include "drivers/bus.h"
#include "drivers/rtuframe.h"
#include "drivers/rtutcp.h"

/* Lowest and highest register address a read may touch. */
#define BUS_ADDR_LAST 65535
/* Unit ids: TCP carries any byte; on a serial line 0 is broadcast (which
 * never answers a read) and 248..255 are reserved. */
#define BUS_TCP_UNIT_MAX 255
#define BUS_RTU_UNIT_MIN RTUFRAME_UNIT_MIN
#define BUS_RTU_UNIT_MAX RTUFRAME_UNIT_MAX
/* Longest silence allowed inside one serial response once it has begun:
 * covers USB adapters' latency timers (16 ms on FTDI chips) and a few
 * character times down to 1200 baud (9 ms per character). */
#define BUS_RTU_BYTE_TIMEOUT_MS 50
/* Room for any strerror_r() text. */
#define BUS_ERRBUF_LEN 128
/* Our own errno for a host name that does not resolve: libmodbus reports
 * that as ECONNREFUSED, which sends an operator the wrong way. Far above
 * libmodbus's own codes and below rtuframe.h's, so it collides with
 * neither. */
#define BUS_ENOHOST (MODBUS_ENOBASE + 1000)

enum bus_fault {
    BUS_FAULT_EXCEPTION, /* the device answered with an exception */
    BUS_FAULT_TRANSIENT, /* no answer or a garbled one: flush, ask again */
    BUS_FAULT_LINK,      /* the connection is broken: reopen it */
};

struct bus;

/* A transport. Every operation but check gets a bus whose params and
 * ops are set; each returns 0 or -1 with errno. */
struct bus_ops {
    const char *name;
    int unit_min, unit_max;
    /* Requests keep delay_ms of quiet time between them (a serial line). */
    bool paced;
    /* Checks the transport's parameters; 0 or -1 (EINVAL). */
    int (*check)(const struct bus_params *p);
    /* Makes the transport's state, closed; release() frees it. */
    int (*init)(struct bus *b);
    void (*release)(struct bus *b);
    int (*open)(struct bus *b);
    void (*close)(struct bus *b);
    /* One attempt at one request: count words into dest, one per register
     * or bit (drivers/bus.h). Arguments are checked. */
    int (*read)(struct bus *b, int unit, enum reg_table table, int address,
                int count, uint16_t *dest);
    /* After a lost or garbled answer: discards what may still arrive;
     * -1 if the link broke meanwhile. */
    int (*flush)(struct bus *b);
    enum bus_fault (*classify)(int errnum);
};

struct bus {
    const struct bus_ops *ops;
    struct bus_params params;
    modbus_t *ctx;     /* tcp, rtu: libmodbus's context */
    struct rtutcp *rt; /* rtu-over-tcp */
    int connected;
    int64_t last_end_ns; /* when the last transaction ended; paced only */
    int have_last;
    /* libmodbus gives bits as one byte each; the caller wants words. */
    uint8_t bits[BUS_MAX_BITS];
};

static _Thread_local char bus_errbuf[BUS_ERRBUF_LEN];

int bus_error_is_exception(int errnum)
{
    return errnum >= EMBXILFUN && errnum <= EMBXGTAR;
}

/* Timeouts and exceptions are the same on every transport; anything else
 * is taken for a broken link, since reopening it is always safe. */
static enum bus_fault bus_classify_common(int errnum)
{
    if (bus_error_is_exception(errnum))
        return BUS_FAULT_EXCEPTION;
    if (errnum == ETIMEDOUT)
        return BUS_FAULT_TRANSIENT;
    return BUS_FAULT_LINK;
}

/* On TCP a malformed or mismatched answer (EMBBADDATA: wrong transaction
 * id, usually a late answer to an earlier request) means the stream is out
 * of step: only a new connection resynchronises it. */
static enum bus_fault bus_tcp_classify(int errnum)
{
    return bus_classify_common(errnum);
}

/* On a serial line a garbled frame is noise or another unit's late answer;
 * the line itself is fine, and reopening the device would not help. */
static enum bus_fault bus_rtu_classify(int errnum)
{
    if (errnum >= EMBBADCRC && errnum <= EMBBADSLAVE)
        return BUS_FAULT_TRANSIENT;
    return bus_classify_common(errnum);
}

/* RTU over TCP is a serial line behind the socket: a wrong answer is the
 * line's noise, as on RTU, and its rest is drained; only the socket
 * itself failing is a broken link, as on TCP. */
static enum bus_fault bus_rtutcp_classify(int errnum)
{
    if (rtuframe_is_error(errnum) || errnum == EMBBADEXC)
        return BUS_FAULT_TRANSIENT;
    return bus_classify_common(errnum);
}

/* ---- through libmodbus: tcp and rtu ------------------------------------ */

/* No debug output on stdout/stderr, and no sleeping or reconnecting inside
 * libmodbus: bus_read() decides what a failure means. */
static int bus_modbus_setup(struct bus *b, modbus_t *ctx)
{
    if (ctx == NULL)
        return -1;
    modbus_set_debug(ctx, 0);
    modbus_set_error_recovery(ctx, MODBUS_ERROR_RECOVERY_NONE);
    modbus_set_response_timeout(ctx, (uint32_t)(b->params.timeout_ms / 1000),
                                (uint32_t)(b->params.timeout_ms % 1000) * 1000);
    b->ctx = ctx;
    return 0;
}

static void bus_modbus_release(struct bus *b)
{
    modbus_free(b->ctx);
    b->ctx = NULL;
}

static void bus_modbus_close(struct bus *b)
{
    modbus_close(b->ctx);
}

static int bus_modbus_read(struct bus *b, int unit, enum reg_table table,
                           int address, int count, uint16_t *dest)
{
    int rc;

    if (modbus_set_slave(b->ctx, unit) < 0)
        return -1;
    switch (table) {
    case TABLE_COIL:
        rc = modbus_read_bits(b->ctx, address, count, b->bits);
        break;
    case TABLE_DISCRETE:
        rc = modbus_read_input_bits(b->ctx, address, count, b->bits);
        break;
    case TABLE_INPUT:
        rc = modbus_read_input_registers(b->ctx, address, count, dest);
        break;
    default:
        rc = modbus_read_registers(b->ctx, address, count, dest);
        break;
    }
    if (rc < 0)
        return -1;
    if (rc != count) {
        errno = EMBBADDATA;
        return -1;
    }
    if (reg_table_bits(table))
        for (int i = 0; i < count; i++)
            dest[i] = b->bits[i] ? 1 : 0;
    return 0;
}

/* A late answer must not pass for the next request's. */
static int bus_modbus_flush(struct bus *b)
{
    modbus_flush(b->ctx);
    return 0;
}

/* Host and port: tcp and rtu-over-tcp. */
static int bus_tcp_check(const struct bus_params *p)
{
    if (p->host[0] == '\0' || memchr(p->host, '\0', BUS_ADDR_MAX) == NULL ||
        p->port < 1 || p->port > 65535)
        return -1;
    return 0;
}

static int bus_tcp_init(struct bus *b)
{
    const struct bus_params *p = &b->params;
    char port[16];
    modbus_t *ctx;

    snprintf(port, sizeof(port), "%d", p->port);
    /* The protocol-independent constructor resolves host names. */
    if (bus_modbus_setup(b, (ctx = modbus_new_tcp_pi(p->host, port))) < 0)
        return -1;
    /* Bytes of one TCP response are delayed only by the network, which
     * the response timeout already allows for. */
    modbus_set_byte_timeout(ctx, (uint32_t)(p->timeout_ms / 1000),
                            (uint32_t)(p->timeout_ms % 1000) * 1000);
    return 0;
}

static int bus_tcp_open(struct bus *b)
{
    struct addrinfo hints, *ai = NULL;
    char port[16];
    int err;

    if (modbus_connect(b->ctx) == 0)
        return 0;
    err = errno;
    /* libmodbus says ECONNREFUSED when the name does not resolve, too;
     * look again to tell the two apart, on failure only. */
    if (err == ECONNREFUSED) {
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        snprintf(port, sizeof(port), "%d", b->params.port);
        if (getaddrinfo(b->params.host, port, &hints, &ai) != 0)
            err = BUS_ENOHOST;
        else
            freeaddrinfo(ai);
    }
    errno = err;
    return -1;
}

/*
 * The rates an RTU bus runs at: the configuration accepts these and no
 * others, and tbdaq.conf(5) lists them. Each is one termios can set and
 * libmodbus maps to its B constant; libmodbus quietly runs any rate it
 * does not know at 9600 (2000000, for one, has a B constant but no case
 * in libmodbus's _get_termios_speed()). Nothing below 1200:
 * BUS_RTU_BYTE_TIMEOUT_MS allows for a few characters at 1200 baud, and
 * at 300 one character takes 37 ms of its 50. Nothing above 230400, the
 * fastest rate common Modbus devices and every Linux serial driver offer.
 */
static const int bus_rtu_baud_table[] = {1200,  2400,  4800,   9600,  19200,
                                         38400, 57600, 115200, 230400};

const int *bus_rtu_bauds(size_t *n)
{
    *n = sizeof(bus_rtu_baud_table) / sizeof(bus_rtu_baud_table[0]);
    return bus_rtu_baud_table;
}

int bus_rtu_baud_is_valid(int baud)
{
    size_t n;
    const int *rates = bus_rtu_bauds(&n);

    for (size_t i = 0; i < n; i++)
        if (rates[i] == baud)
            return 1;
    return 0;
}

static int bus_rtu_check(const struct bus_params *p)
{
    if (p->device[0] == '\0' || memchr(p->device, '\0', BUS_ADDR_MAX) == NULL)
        return -1;
    if (!bus_rtu_baud_is_valid(p->baud))
        return -1;
    if (p->parity != 'N' && p->parity != 'E' && p->parity != 'O')
        return -1;
    if (p->data_bits < 5 || p->data_bits > 8 || p->stop_bits < 1 ||
        p->stop_bits > 2)
        return -1;
    return 0;
}

static int bus_rtu_init(struct bus *b)
{
    const struct bus_params *p = &b->params;
    int ms = p->timeout_ms < BUS_RTU_BYTE_TIMEOUT_MS ? p->timeout_ms
                                                     : BUS_RTU_BYTE_TIMEOUT_MS;

    /* The serial mode stays libmodbus's default, RS-232: RS-485 adapters
     * switch direction themselves, and the RS-485 ioctl fails on most of
     * them (USB converters, plain UARTs). */
    if (bus_modbus_setup(b, modbus_new_rtu(p->device, p->baud, p->parity,
                                           p->data_bits, p->stop_bits)) < 0)
        return -1;
    modbus_set_byte_timeout(b->ctx, 0, (uint32_t)ms * 1000);
    return 0;
}

static int bus_rtu_open(struct bus *b)
{
    if (modbus_connect(b->ctx) < 0)
        return -1;
    /* Whatever the line carried before we listened is not ours. */
    modbus_flush(b->ctx);
    return 0;
}

/* ---- RTU over TCP, through rtutcp.c ------------------------------------ */

static int bus_rtutcp_init(struct bus *b)
{
    b->rt = rtutcp_new(b->params.host, b->params.port, b->params.timeout_ms);
    return 0;
}

static void bus_rtutcp_release(struct bus *b)
{
    rtutcp_free(b->rt);
    b->rt = NULL;
}

static int bus_rtutcp_open(struct bus *b)
{
    if (rtutcp_open(b->rt) == 0)
        return 0;
    if (errno == RTUTCP_ENOHOST)
        errno = BUS_ENOHOST;
    return -1;
}

static void bus_rtutcp_close(struct bus *b)
{
    rtutcp_close(b->rt);
}

/* An exception reads and classifies as libmodbus's do on the other
 * transports (an undefined code as libmodbus takes it: a bad answer). */
static int bus_rtutcp_read(struct bus *b, int unit, enum reg_table table,
                           int address, int count, uint16_t *dest)
{
    const struct rtuframe_read r = {unit, reg_table_function(table), address,
                                    count};
    int code;

    if (rtutcp_read(b->rt, &r, dest) == 0)
        return 0;
    if (errno >= RTUFRAME_EXCEPTION && errno <= RTUFRAME_ELAST) {
        code = errno - RTUFRAME_EXCEPTION;
        errno = code >= 1 && code < MODBUS_EXCEPTION_MAX ? MODBUS_ENOBASE + code
                                                         : EMBBADEXC;
    }
    return -1;
}

static int bus_rtutcp_flush(struct bus *b)
{
    return rtutcp_drain(b->rt);
}

/* ---- the transports ---------------------------------------------------- */

static const struct bus_ops bus_tcp_ops = {
    .name = "tcp",
    .unit_min = 0,
    .unit_max = BUS_TCP_UNIT_MAX,
    .paced = false,
    .check = bus_tcp_check,
    .init = bus_tcp_init,
    .release = bus_modbus_release,
    .open = bus_tcp_open,
    .close = bus_modbus_close,
    .read = bus_modbus_read,
    .flush = bus_modbus_flush,
    .classify = bus_tcp_classify,
};

static const struct bus_ops bus_rtu_ops = {
    .name = "rtu",
    .unit_min = BUS_RTU_UNIT_MIN,
    .unit_max = BUS_RTU_UNIT_MAX,
    .paced = true,
    .check = bus_rtu_check,
    .init = bus_rtu_init,
    .release = bus_modbus_release,
    .open = bus_rtu_open,
    .close = bus_modbus_close,
    .read = bus_modbus_read,
    .flush = bus_modbus_flush,
    .classify = bus_rtu_classify,
};

static const struct bus_ops bus_rtutcp_ops = {
    .name = "rtu-over-tcp",
    .unit_min = BUS_RTU_UNIT_MIN,
    .unit_max = BUS_RTU_UNIT_MAX,
    .paced = true,
    .check = bus_tcp_check,
    .init = bus_rtutcp_init,
    .release = bus_rtutcp_release,
    .open = bus_rtutcp_open,
    .close = bus_rtutcp_close,
    .read = bus_rtutcp_read,
    .flush = bus_rtutcp_flush,
    .classify = bus_rtutcp_classify,
};

static const struct bus_ops *bus_ops_of(enum bus_type type)
{
    switch (type) {
    case BUS_TCP:
        return &bus_tcp_ops;
    case BUS_RTU:
        return &bus_rtu_ops;
    case BUS_RTU_OVER_TCP:
        return &bus_rtutcp_ops;
    default:
        return NULL;
    }
}

struct bus *bus_new(const struct bus_params *p)
{
    const struct bus_ops *ops;
    struct bus *b;

    if (p == NULL || !(ops = bus_ops_of(p->type)) || ops->check(p) < 0 ||
        p->timeout_ms < 1 || p->retries < 0 || p->delay_ms < 0 ||
        p->max_registers < 1 || p->max_registers > BUS_MAX_REGISTERS ||
        p->max_bits < 0 || p->max_bits > BUS_MAX_BITS) {
        errno = EINVAL;
        return NULL;
    }
    b = xcalloc(1, sizeof(*b));
    b->ops = ops;
    b->params = *p;
    if (b->params.max_bits == 0)
        b->params.max_bits = BUS_MAX_BITS;
    if (ops->init(b) < 0) {
        int err = errno;

        free(b);
        errno = err;
        return NULL;
    }
    return b;
}

void bus_free(struct bus *b)
{
    if (b == NULL)
        return;
    bus_close(b);
    b->ops->release(b);
    free(b);
}

int bus_connect(struct bus *b)
{
    if (b->connected)
        return 0;
    if (b->ops->open(b) < 0)
        return -1;
    b->connected = 1;
    return 0;
}

void bus_close(struct bus *b)
{
    int err = errno;

    if (b->connected)
        b->ops->close(b);
    b->connected = 0;
    errno = err;
}

int bus_is_connected(const struct bus *b)
{
    return b->connected;
}

/* Where a bus goes, for debug lines. */
static const char *bus_where(const struct bus *b)
{
    return b->params.type == BUS_RTU ? b->params.device : b->params.host;
}

/* Keeps the line quiet for delay_ms after the previous transaction, so
 * that slow units see the end of one frame before the next begins. */
static void bus_pace(struct bus *b)
{
    struct timespec ts;
    int64_t until;

    if (!b->have_last || b->params.delay_ms <= 0)
        return;
    until = b->last_end_ns + b->params.delay_ms * NS_PER_MS;
    if (until <= time_mono_ns())
        return;
    ts.tv_sec = (time_t)(until / NS_PER_S);
    ts.tv_nsec = (long)(until % NS_PER_S);
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* One attempt on the wire, paced on a serial line. */
static int bus_attempt(struct bus *b, int unit, enum reg_table table,
                       int address, int count, uint16_t *dest)
{
    int rc, err;

    if (b->ops->paced)
        bus_pace(b);
    rc = b->ops->read(b, unit, table, address, count, dest);
    err = errno;
    if (b->ops->paced) {
        b->last_end_ns = time_mono_ns();
        b->have_last = 1;
    }
    errno = err;
    return rc;
}

static bool bus_args_ok(const struct bus *b, int unit, enum reg_table table,
                        int address, int count, const uint16_t *dest)
{
    int max;

    if (dest == NULL || unit < b->ops->unit_min || unit > b->ops->unit_max)
        return false;
    switch (table) {
    case TABLE_HOLDING:
    case TABLE_INPUT:
        max = b->params.max_registers;
        break;
    case TABLE_COIL:
    case TABLE_DISCRETE:
        max = b->params.max_bits;
        break;
    default:
        return false;
    }
    return count >= 1 && count <= max && address >= 0 &&
           address <= BUS_ADDR_LAST + 1 - count;
}

int bus_read(struct bus *b, int unit, enum reg_table table, int address,
             int count, uint16_t *dest)
{
    enum bus_fault fault = BUS_FAULT_LINK;
    int left = 1 + b->params.retries;
    int reconnected = 0;
    int err = 0;

    if (!bus_args_ok(b, unit, table, address, count, dest)) {
        errno = EINVAL;
        return -1;
    }
    if (!b->connected) {
        errno = ENOTCONN;
        return -1;
    }
    for (;;) {
        if (bus_attempt(b, unit, table, address, count, dest) == 0)
            return 0;
        err = errno;
        fault = b->ops->classify(err);
        /* What may still arrive must not pass for the next answer; a link
         * that broke meanwhile is reopened like any other. */
        if (fault == BUS_FAULT_TRANSIENT && b->ops->flush(b) < 0) {
            int lost = errno;

            log_debug("bus %s '%s': lost while discarding after: %s",
                      b->ops->name, bus_where(b), bus_strerror(err));
            err = lost;
            fault = BUS_FAULT_LINK;
        }
        if (fault == BUS_FAULT_EXCEPTION || --left == 0)
            break;
        if (fault == BUS_FAULT_TRANSIENT)
            continue;
        if (reconnected)
            break;
        reconnected = 1;
        log_debug("bus %s '%s': reconnecting after: %s", b->ops->name,
                  bus_where(b), bus_strerror(err));
        bus_close(b);
        if (bus_connect(b) < 0)
            return -1;
    }
    if (fault == BUS_FAULT_LINK)
        bus_close(b);
    errno = err;
    return -1;
}

const char *bus_strerror(int errnum)
{
    const char *text;

    if (errnum == BUS_ENOHOST)
        return "Host name not found";
    /* Codes libmodbus defines but has no text for. */
    if (errnum == MODBUS_ENOBASE + MODBUS_EXCEPTION_NOT_DEFINED)
        return "Undefined exception";
    if (errnum == EMBUNKEXC)
        return "Unknown exception";
    /* Static strings for libmodbus's codes; for others it would call
     * strerror(), which need not be thread-safe. */
    if (errnum >= EMBXILFUN && errnum <= EMBBADSLAVE)
        return modbus_strerror(errnum);
    if ((text = rtuframe_strerror(errnum)) != NULL)
        return text;
    if (strerror_r(errnum, bus_errbuf, sizeof(bus_errbuf)) != 0)
        snprintf(bus_errbuf, sizeof(bus_errbuf), "Unknown error %d", errnum);
    return bus_errbuf;
}
