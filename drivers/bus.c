/* SPDX-License-Identifier: MIT */
/*
 * Modbus buses over libmodbus. What differs between TCP and RTU sits in a
 * const table of operations per transport, as in libmodbus's own backends;
 * what is common (timeouts, retries, error classes) is written once here.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <modbus.h>

#include "common/log.h"
#include "common/util.h"
#include "drivers/bus.h"

/* Lowest and highest register address a read may touch. */
#define BUS_ADDR_LAST 65535
/* Unit ids: TCP carries any byte; on a serial line 0 is broadcast (which
 * never answers a read) and 248..255 are reserved. */
#define BUS_TCP_UNIT_MAX 255
#define BUS_RTU_UNIT_MIN 1
#define BUS_RTU_UNIT_MAX 247
/* Longest silence allowed inside one serial response once it has begun:
 * covers USB adapters' latency timers (16 ms on FTDI chips) and a few
 * character times down to 1200 baud (9 ms per character). */
#define BUS_RTU_BYTE_TIMEOUT_MS 50
/* Room for any strerror_r() text. */
#define BUS_ERRBUF_LEN 128
/* Our own errno for a TCP host name that does not resolve: libmodbus
 * reports that as ECONNREFUSED, which sends an operator the wrong way.
 * Far above libmodbus's own codes, so it cannot collide with them. */
#define BUS_ENOHOST (MODBUS_ENOBASE + 1000)

enum bus_fault {
    BUS_FAULT_EXCEPTION, /* the device answered with an exception */
    BUS_FAULT_TRANSIENT, /* no answer or a garbled one: flush, ask again */
    BUS_FAULT_LINK,      /* the connection is broken: reopen it */
};

struct bus;

struct bus_ops {
    const char *name;
    int unit_min, unit_max;
    /* Checks the transport's parameters; 0 or -1 (EINVAL). */
    int (*check)(const struct bus_params *p);
    /* Makes the libmodbus context with the transport's timeouts. */
    modbus_t *(*ctx_new)(const struct bus_params *p);
    int (*connect)(struct bus *b);
    /* Around each request on the wire. */
    void (*before_request)(struct bus *b);
    void (*after_request)(struct bus *b);
    enum bus_fault (*classify)(int errnum);
};

struct bus {
    const struct bus_ops *ops;
    struct bus_params params;
    modbus_t *ctx;
    int connected;
    int64_t last_end_ns; /* when the last transaction ended; RTU only */
    int have_last;
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

static int bus_tcp_check(const struct bus_params *p)
{
    if (p->host[0] == '\0' || memchr(p->host, '\0', BUS_ADDR_MAX) == NULL ||
        p->port < 1 || p->port > 65535)
        return -1;
    return 0;
}

static modbus_t *bus_tcp_ctx_new(const struct bus_params *p)
{
    char port[16];
    modbus_t *ctx;

    snprintf(port, sizeof(port), "%d", p->port);
    /* The protocol-independent constructor resolves host names. */
    if (!(ctx = modbus_new_tcp_pi(p->host, port)))
        return NULL;
    /* Bytes of one TCP response are delayed only by the network, which
     * the response timeout already allows for. */
    modbus_set_byte_timeout(ctx, (uint32_t)(p->timeout_ms / 1000),
                            (uint32_t)(p->timeout_ms % 1000) * 1000);
    return ctx;
}

static int bus_tcp_connect(struct bus *b)
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

static void bus_tcp_nop(struct bus *b)
{
    (void)b;
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

static modbus_t *bus_rtu_ctx_new(const struct bus_params *p)
{
    modbus_t *ctx;
    int ms = p->timeout_ms < BUS_RTU_BYTE_TIMEOUT_MS ? p->timeout_ms
                                                     : BUS_RTU_BYTE_TIMEOUT_MS;

    /* The serial mode stays libmodbus's default, RS-232: RS-485 adapters
     * switch direction themselves, and the RS-485 ioctl fails on most of
     * them (USB converters, plain UARTs). */
    if (!(ctx = modbus_new_rtu(p->device, p->baud, p->parity, p->data_bits,
                               p->stop_bits)))
        return NULL;
    modbus_set_byte_timeout(ctx, 0, (uint32_t)ms * 1000);
    return ctx;
}

static int bus_rtu_connect(struct bus *b)
{
    if (modbus_connect(b->ctx) < 0)
        return -1;
    /* Whatever the line carried before we listened is not ours. */
    modbus_flush(b->ctx);
    return 0;
}

/* Keeps the line quiet for delay_ms after the previous transaction, so
 * that slow units see the end of one frame before the next begins. */
static void bus_rtu_before_request(struct bus *b)
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

static void bus_rtu_after_request(struct bus *b)
{
    b->last_end_ns = time_mono_ns();
    b->have_last = 1;
}

static const struct bus_ops bus_tcp_ops = {
    .name = "tcp",
    .unit_min = 0,
    .unit_max = BUS_TCP_UNIT_MAX,
    .check = bus_tcp_check,
    .ctx_new = bus_tcp_ctx_new,
    .connect = bus_tcp_connect,
    .before_request = bus_tcp_nop,
    .after_request = bus_tcp_nop,
    .classify = bus_tcp_classify,
};

static const struct bus_ops bus_rtu_ops = {
    .name = "rtu",
    .unit_min = BUS_RTU_UNIT_MIN,
    .unit_max = BUS_RTU_UNIT_MAX,
    .check = bus_rtu_check,
    .ctx_new = bus_rtu_ctx_new,
    .connect = bus_rtu_connect,
    .before_request = bus_rtu_before_request,
    .after_request = bus_rtu_after_request,
    .classify = bus_rtu_classify,
};

struct bus *bus_new(const struct bus_params *p)
{
    const struct bus_ops *ops;
    struct bus *b;

    if (p == NULL)
        goto invalid;
    switch (p->type) {
    case BUS_TCP:
        ops = &bus_tcp_ops;
        break;
    case BUS_RTU:
        ops = &bus_rtu_ops;
        break;
    default:
        goto invalid;
    }
    if (ops->check(p) < 0 || p->timeout_ms < 1 || p->retries < 0 ||
        p->delay_ms < 0 || p->max_registers < 1 ||
        p->max_registers > BUS_MAX_REGISTERS)
        goto invalid;

    b = xcalloc(1, sizeof(*b));
    b->ops = ops;
    b->params = *p;
    if (!(b->ctx = ops->ctx_new(p))) {
        int err = errno;

        free(b);
        errno = err;
        return NULL;
    }
    /* No debug output on stdout/stderr, and no sleeping or reconnecting
     * inside libmodbus: bus_read() decides what a failure means. */
    modbus_set_debug(b->ctx, 0);
    modbus_set_error_recovery(b->ctx, MODBUS_ERROR_RECOVERY_NONE);
    modbus_set_response_timeout(b->ctx, (uint32_t)(p->timeout_ms / 1000),
                                (uint32_t)(p->timeout_ms % 1000) * 1000);
    return b;

invalid:
    errno = EINVAL;
    return NULL;
}

void bus_free(struct bus *b)
{
    if (b == NULL)
        return;
    bus_close(b);
    modbus_free(b->ctx);
    free(b);
}

int bus_connect(struct bus *b)
{
    if (b->connected)
        return 0;
    if (b->ops->connect(b) < 0)
        return -1;
    b->connected = 1;
    return 0;
}

void bus_close(struct bus *b)
{
    int err = errno;

    if (b->connected)
        modbus_close(b->ctx);
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
    return b->params.type == BUS_TCP ? b->params.host : b->params.device;
}

int bus_read(struct bus *b, int unit, enum reg_table table, int address,
             int count, uint16_t *dest)
{
    enum bus_fault fault = BUS_FAULT_LINK;
    int left = 1 + b->params.retries;
    int reconnected = 0;
    int err = 0;

    if (dest == NULL || unit < b->ops->unit_min || unit > b->ops->unit_max ||
        (table != TABLE_HOLDING && table != TABLE_INPUT) || count < 1 ||
        count > b->params.max_registers || address < 0 ||
        address > BUS_ADDR_LAST + 1 - count) {
        errno = EINVAL;
        return -1;
    }
    if (!b->connected) {
        errno = ENOTCONN;
        return -1;
    }
    if (modbus_set_slave(b->ctx, unit) < 0)
        return -1;

    for (;;) {
        int rc;

        b->ops->before_request(b);
        if (table == TABLE_INPUT)
            rc = modbus_read_input_registers(b->ctx, address, count, dest);
        else
            rc = modbus_read_registers(b->ctx, address, count, dest);
        err = errno;
        b->ops->after_request(b);
        if (rc == count)
            return 0;
        if (rc >= 0)
            err = EMBBADDATA;

        fault = b->ops->classify(err);
        if (fault == BUS_FAULT_EXCEPTION || --left == 0)
            break;
        if (fault == BUS_FAULT_TRANSIENT) {
            /* A late answer must not pass for the next request's. */
            modbus_flush(b->ctx);
            continue;
        }
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
    else if (fault == BUS_FAULT_TRANSIENT)
        modbus_flush(b->ctx);
    errno = err;
    return -1;
}

const char *bus_strerror(int errnum)
{
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
    if (strerror_r(errnum, bus_errbuf, sizeof(bus_errbuf)) != 0)
        snprintf(bus_errbuf, sizeof(bus_errbuf), "Unknown error %d", errnum);
    return bus_errbuf;
}
