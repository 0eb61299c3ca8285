/* SPDX-License-Identifier: MIT */
/*
 * A Modbus bus: one TCP connection, one serial line, or one serial line
 * behind a device server (RTU frames over TCP). Each transport is a const
 * table of operations behind the opaque struct bus (the shape of
 * libmodbus's own backends): TCP and RTU through libmodbus, RTU over TCP
 * through drivers/rtutcp.c; callers never see either.
 *
 * A struct bus belongs to one thread at a time: it is not thread-safe.
 * Errors are returned as -1 with errno set; bus_strerror() turns errno
 * (including libmodbus's and rtuframe.h's own codes) into text. Nothing is
 * logged but a debug line when bus_read() reconnects. bus_connect() and
 * bus_read() block on the network or the line (each response, or each
 * part of one on RTU over TCP, up to timeout_ms; a host name also waits
 * for the resolver).
 */
#ifndef TBDAQ_BUS_H
#define TBDAQ_BUS_H

#include <stddef.h>
#include <stdint.h>

#include "drivers/decode.h"

enum bus_type {
    BUS_TCP,
    BUS_RTU,
    BUS_RTU_OVER_TCP, /* RTU frames (with CRC) over a TCP connection */
};

/* Longest host name or device path accepted. */
#define BUS_ADDR_MAX 256
/* Longest Modbus read (function 3/4) the protocol allows. */
#define BUS_MAX_REGISTERS 125
/* Longest read of bits (function 1/2) the protocol allows. */
#define BUS_MAX_BITS 2000

struct bus_params {
    enum bus_type type;
    char host[BUS_ADDR_MAX]; /* TCP, RTU over TCP */
    int port;
    char device[BUS_ADDR_MAX]; /* RTU */
    int baud;
    char parity; /* 'N', 'E' or 'O' */
    int data_bits;
    int stop_bits;
    int timeout_ms;    /* per response */
    int retries;       /* extra attempts after a failed request */
    int delay_ms;      /* RTU, RTU over TCP: quiet time between requests */
    int max_registers; /* per request, 1..125 */
    int max_bits;      /* per request of bits, 1..2000; 0: 2000 */
};

struct bus;

/* Makes a bus for the parameters (copied; a max_bits of 0 is taken for
 * BUS_MAX_BITS); does not connect. Returns NULL with errno set: EINVAL
 * for parameters out of range, or libmodbus's reason if it refuses them.
 * Aborts if out of memory. The caller owns the bus: bus_free() closes it
 * and frees it (NULL is fine). */
struct bus *bus_new(const struct bus_params *p);
void bus_free(struct bus *b);

/* Opens the connection or the serial device (0 at once if open). Returns
 * 0 or -1 (errno; a host name that does not resolve has a code of its
 * own: "Host name not found"). bus_close() keeps errno; closing a closed
 * bus is harmless. */
int bus_connect(struct bus *b);
void bus_close(struct bus *b);
int bus_is_connected(const struct bus *b);

/*
 * Reads count registers (1..max_registers; holding or input) or bits
 * (1..max_bits; coil or discrete) from address of table on unit into
 * dest: one word per register, or one word per bit, 0 or 1 (dest holds
 * count words; BUS_MAX_BITS covers any read). Tries 1 + retries times.
 * Honours the serial line's delay between requests (RTU, RTU over TCP).
 * A Modbus exception is returned at once (the link is fine). A timeout,
 * or on RTU and RTU over TCP a garbled or mismatched answer (CRC, unit,
 * function, byte count, length), is retried after discarding what may
 * still arrive, and leaves the connection open: one silent unit must not
 * take the others on its line down. On TCP a garbled or mismatched answer
 * puts the stream out of step: it counts as a broken connection. A broken
 * connection is reopened once within the attempts; if that fails or the
 * attempts run out on a broken connection, the bus is left closed, so the
 * caller can tell and reconnect. Returns 0, or -1 with errno (EINVAL for
 * bad arguments, ENOTCONN if not connected). Units: 0..255 on TCP,
 * 1..247 on a serial line (0 is broadcast, which never answers).
 */
int bus_read(struct bus *b, int unit, enum reg_table table, int address,
             int count, uint16_t *dest);

/* True if errno from bus_read() was a Modbus exception from the device
 * (the link is fine), false for timeouts and connection errors. */
int bus_error_is_exception(int errnum);

/* The serial rates an RTU bus can run at, ascending: a static array (do
 * not free it) of *n rates. bus_new() refuses any other, and the
 * configuration names these in its error. Thread-safe. */
const int *bus_rtu_bauds(size_t *n);
/* True if baud is one of bus_rtu_bauds(). */
int bus_rtu_baud_is_valid(int baud);

/* Text for an errno from this module: "Connection timed out",
 * "Illegal data address", ... Never NULL; thread-safe (the text may live in
 * a per-thread buffer, valid until this thread's next call). */
const char *bus_strerror(int errnum);

#endif
