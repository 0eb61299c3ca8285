// SPDX-License-Identifier: MIT
/*
 * Host name lookups off the caller's thread (see resolve.h for why). Each
 * lookup is one allocation shared by its owner and its helper thread, with
 * a reference each; the last of the two to let go frees it, so an owner
 * can abandon a lookup stuck in the resolver without waiting and without
 * leaving the helper anything freed to write into. The helper writes the
 * result, then sets `done` (the owner reads the result only after seeing
 * it), then signals an eventfd for the owner's poll(2).
 */
#include "daemon/resolve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"

struct resolve {
    atomic_int refs; /* the owner's and the helper's */
    atomic_bool done;
    int efd; /* eventfd: readable once done */
    char *name;
    struct resolve_result res; /* written by the helper before `done` */
};

/* Lookups allocated and not yet freed (resolve_pending()). */
static atomic_size_t resolve_live;

/* Looks name up (flags as getaddrinfo()'s) into res. */
static void resolve_fill(const char *name, int flags,
                         struct resolve_result *res)
{
    struct addrinfo hints = {
        .ai_flags = flags, .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai, *ai0;

    res->n = 0;
    errno = 0;
    res->rc = getaddrinfo(name, NULL, &hints, &ai0);
    res->errnum = errno;
    if (res->rc != 0)
        return;
    for (ai = ai0; ai && res->n < RESOLVE_ADDRS_MAX; ai = ai->ai_next) {
        char *a = res->addrs[res->n];
        bool dup = false;

        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            getnameinfo(ai->ai_addr, ai->ai_addrlen, a, RESOLVE_ADDR_LEN, NULL,
                        0, NI_NUMERICHOST) != 0)
            continue;
        for (size_t i = 0; i < res->n && !dup; i++)
            dup = strcmp(res->addrs[i], a) == 0;
        if (!dup)
            res->n++;
    }
    freeaddrinfo(ai0);
}

int resolve_numeric(const char *host, struct resolve_result *res)
{
    resolve_fill(host, AI_NUMERICHOST, res);
    return res->rc == 0 ? 0 : -1;
}

const char *resolve_strerror(const struct resolve_result *res)
{
    return res->rc == EAI_SYSTEM ? strerror(res->errnum)
                                 : gai_strerror(res->rc);
}

/* Drops one reference: the last one frees. */
static void resolve_unref(struct resolve *r)
{
    if (atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    if (r->efd >= 0)
        close(r->efd);
    free(r->name);
    free(r);
    atomic_fetch_sub(&resolve_live, 1);
}

/* The helper thread: as long as the resolver takes, then gone. */
static void *resolve_main(void *arg)
{
    struct resolve *r = arg;
    uint64_t one = 1;
    ssize_t w;

    resolve_fill(r->name, 0, &r->res);
    atomic_store(&r->done, true);
    /* Only a full counter could refuse; `done` is what counts anyway. */
    w = write(r->efd, &one, sizeof(one));
    (void)w;
    resolve_unref(r);
    return NULL;
}

struct resolve *resolve_start(const char *name, char *why, size_t len)
{
    struct resolve *r = xcalloc(1, sizeof(*r));
    pthread_attr_t attr;
    sigset_t all, old;
    pthread_t t;
    int rc;

    atomic_fetch_add(&resolve_live, 1);
    atomic_init(&r->refs, 2);
    atomic_init(&r->done, false);
    r->name = xstrdup(name);
    r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->efd < 0) {
        snprintf(why, len, "cannot resolve '%s': eventfd: %s", name,
                 strerror(errno));
        goto fail;
    }
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* The helper inherits this mask: it takes no signal, ever. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&t, &attr, resolve_main, r);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        snprintf(why, len, "cannot resolve '%s': no thread: %s", name,
                 strerror(rc));
        goto fail;
    }
    return r;

fail:
    /* No helper: ours is the only reference. */
    atomic_store(&r->refs, 1);
    resolve_unref(r);
    return NULL;
}

int resolve_fd(const struct resolve *r)
{
    return r->efd;
}

const struct resolve_result *resolve_done(const struct resolve *r)
{
    return atomic_load(&r->done) ? &r->res : NULL;
}

void resolve_free(struct resolve *r)
{
    if (r)
        resolve_unref(r);
}

size_t resolve_pending(void)
{
    return atomic_load(&resolve_live);
}

bool resolve_is_loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) != 1)
        return false;
    if (IN6_IS_ADDR_LOOPBACK(&a6))
        return true;
    return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}
