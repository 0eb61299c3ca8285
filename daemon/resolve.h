/* SPDX-License-Identifier: MIT */
/*
 * Host names looked up without blocking the caller. getaddrinfo() waits as
 * long as the system's resolver takes (one that never answers: its whole
 * timeout, times its attempts), and the daemon's main thread, which
 * commits readings, must never wait that long (issue 10). So a name is
 * looked up on a detached helper thread of its own, one per lookup; the
 * caller polls a descriptor that becomes readable once the answer is in,
 * and may give up on a lookup at any time without waiting for it. A
 * numeric address is parsed on the spot, on the caller's thread. The
 * answer is a list of numeric addresses, ready to be handed to a library
 * that would otherwise resolve the name itself (libmosquitto does, on the
 * thread that calls it). Also here: whether an address is on loopback.
 *
 * Threads: a struct resolve belongs to the thread that started it (its
 * owner), and only the owner calls the functions that take one; its helper
 * thread shares it, and the two synchronise inside this module. Separate
 * lookups are independent. resolve_numeric(), resolve_is_loopback() and
 * resolve_pending() may be called from any thread. Helper threads block
 * every signal: signals stay with the threads the daemon chose for them.
 */
#ifndef TBDAQ_RESOLVE_H
#define TBDAQ_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>

/* Addresses kept per name at most (a connection tries them in order), and
 * the longest numeric form of one: IPv6 with a scope, fe80::1%eth0. */
#define RESOLVE_ADDRS_MAX 8
#define RESOLVE_ADDR_LEN 64

/* What a lookup found: rc 0 and n >= 0 numeric IPv4 or IPv6 addresses, in
 * getaddrinfo()'s order, without duplicates; or rc, getaddrinfo()'s error
 * (resolve_strerror() says it in words). */
struct resolve_result {
    int rc;
    int errnum; /* errno, when rc is EAI_SYSTEM */
    size_t n;
    char addrs[RESOLVE_ADDRS_MAX][RESOLVE_ADDR_LEN];
};

/*
 * If host is a numeric IPv4 or IPv6 address, returns 0 with res holding
 * it as its one address, in canonical form; otherwise -1, with res->rc set
 * (EAI_NONAME for a name). On the calling thread, never asking a resolver.
 */
int resolve_numeric(const char *host, struct resolve_result *res);

/* getaddrinfo()'s error of res as text: gai_strerror(), or strerror() for
 * EAI_SYSTEM; not to be freed. */
const char *resolve_strerror(const struct resolve_result *res);

struct resolve;

/*
 * Starts looking up name (copied) on a detached helper thread and returns
 * at once. Returns NULL after writing why into why (len bytes, the name
 * quoted) if the lookup cannot even start (no descriptor, no thread). The
 * caller is the lookup's owner and gives it back with resolve_free().
 */
struct resolve *resolve_start(const char *name, char *why, size_t len);

/* A descriptor that becomes readable (POLLIN) once the lookup is over,
 * and stays so; owned by the lookup (do not read or close it), valid until
 * resolve_free(). */
int resolve_fd(const struct resolve *r);

/* NULL while the lookup runs; once it is over, its result, valid until
 * resolve_free(). */
const struct resolve_result *resolve_done(const struct resolve *r);

/*
 * The owner lets go of r, finished or not, and must not use it again;
 * never blocks. A lookup still running is not cancelled (getaddrinfo()
 * cannot be): its helper thread runs on until the resolver answers or
 * gives up, and then frees everything the lookup held, itself. Nothing
 * waits for it: if the process ends first, the helper ends with it.
 * NULL is allowed.
 */
void resolve_free(struct resolve *r);

/* Lookups whose memory is not freed yet: running, or over and not yet
 * given back by their owner. One given back while running counts until
 * its helper thread is done with it. */
size_t resolve_pending(void);

/*
 * True if addr, a numeric IPv4 or IPv6 address, is on loopback
 * (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104); false for anything else,
 * names included: a name is on loopback if the address it resolved to is.
 */
bool resolve_is_loopback(const char *addr);

#endif
