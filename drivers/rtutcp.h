/* SPDX-License-Identifier: MIT */
/*
 * Modbus RTU over TCP: RTU frames (rtuframe.h), CRC and all, on a TCP
 * connection, as serial device servers speak in transparent mode. One
 * connection is one serial line behind the server: many units, one
 * request at a time. libmodbus has no such backend, so this is a transport
 * of its own; bus.c puts it behind its table of operations and decides,
 * as for its other transports, what a failure means.
 *
 * Every wait is bounded by the timeout given to rtutcp_new(), through
 * poll() on a nonblocking socket: connecting (per address of the name),
 * sending, the start of an answer, and each silence within it (a slow
 * serial line behind the server delivers a long answer a few bytes at a
 * time: it is read as long as it keeps coming, up to
 * RTUTCP_ANSWER_SLACK_MS beyond the timeout in all). A host name is
 * resolved by
 * rtutcp_open() itself (getaddrinfo(), which may block on the resolver,
 * as libmodbus's TCP connect does).
 *
 * Errors are returned as -1 with errno: a system code, a code of
 * rtuframe.h for an answer that is not the one asked for (or an exception
 * answer), or RTUTCP_ENOHOST. A struct rtutcp belongs to one thread at a
 * time. Nothing is logged.
 */
#ifndef TBDAQ_RTUTCP_H
#define TBDAQ_RTUTCP_H

#include <stdbool.h>
#include <stdint.h>

#include "drivers/rtuframe.h"

/* errno of rtutcp_open() when the host name does not resolve; in
 * rtuframe.h's range of codes, but none of its frame errors. */
#define RTUTCP_ENOHOST (RTUFRAME_EBASE + 128)

/* How much longer than the timeout a whole answer may take while its
 * bytes keep coming: the longest answer (256 bytes) at 1200 baud, 11 bits
 * a character, is 2347 ms. */
#define RTUTCP_ANSWER_SLACK_MS 2500

struct rtutcp;

/* Makes a connection's state for host:port (host copied); does not
 * connect. timeout_ms > 0. Aborts if out of memory. The caller owns it:
 * rtutcp_free() closes and frees it (NULL is fine). */
struct rtutcp *rtutcp_new(const char *host, int port, int timeout_ms);
void rtutcp_free(struct rtutcp *t);

/* Resolves the host and connects to its addresses in turn, each within
 * the timeout. Returns 0 (at once if open), or -1 with errno:
 * RTUTCP_ENOHOST, ETIMEDOUT, ECONNREFUSED, ... rtutcp_close() keeps
 * errno; closing a closed connection is harmless. */
int rtutcp_open(struct rtutcp *t);
void rtutcp_close(struct rtutcp *t);
bool rtutcp_is_open(const struct rtutcp *t);

/*
 * Sends the request for r (rtuframe_read_is_valid()) and reads its answer
 * into dest (r->count words, as rtuframe_answer_decode() gives them).
 * Bytes that arrived since the last answer are discarded first: they
 * answer nothing asked now. Returns 0, or -1 with errno:
 *   ETIMEDOUT                no answer began within the timeout;
 *   RTUFRAME_ESHORT          the answer stopped for longer than the
 *                            timeout, or took longer than the timeout
 *                            and RTUTCP_ANSWER_SLACK_MS, partway;
 *   RTUFRAME_E*              a wrong answer (another unit or function, a
 *                            wrong byte count or CRC, cut short, followed
 *                            by more bytes): it is not read to its end,
 *                            so call rtutcp_drain() before the next one;
 *   RTUFRAME_EXCEPTION + c   the device answered exception c;
 *   ECONNRESET, EPIPE, ...   the connection is broken (ECONNRESET also
 *                            when the server closed it).
 * EINVAL if r is not valid, ENOTCONN if not open.
 */
int rtutcp_read(struct rtutcp *t, const struct rtuframe_read *r,
                uint16_t *dest);

/* Discards what arrives until the connection has been quiet for a
 * moment (RTUTCP_DRAIN_QUIET_MS in rtutcp.c), for at most the timeout:
 * the rest of a wrong answer, or a late one. Returns 0, or -1 with errno
 * if the connection broke meanwhile (ECONNRESET if the server closed
 * it); 0 at once if not open. */
int rtutcp_drain(struct rtutcp *t);

#endif
