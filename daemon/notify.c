// SPDX-License-Identifier: MIT
/*
 * The service manager's notification protocol, written here rather than
 * linked from libsystemd: sd_notify(3) documents it as a stable interface
 * to be reimplemented, and libsystemd brought six libraries with it
 * (libgcrypt, libzstd, liblzma, liblz4, libcap, libgpg-error: about 1 MiB
 * of the daemon's 10 MiB resident memory) for two functions. A
 * notification is one datagram of "KEY=VALUE" lines sent to the AF_UNIX
 * socket named by NOTIFY_SOCKET: a path, or an abstract name written with
 * a leading '@'. tests/unit/test_notify.c holds this to libsystemd's own
 * sd_notify() and sd_watchdog_enabled(), byte for byte.
 *
 * Failures to notify are not errors for tbdaq: the service manager, if
 * any, acts on their absence (a missed READY or WATCHDOG), which is the
 * right consequence.
 */
#include "daemon/notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Sends text as one datagram to NOTIFY_SOCKET; nothing without it, or
 * with an address that is not a path or an abstract name. */
static void notify_send(const char *text)
{
    const char *where = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len;
    socklen_t salen;
    int fd;

    if (!where || (where[0] != '/' && where[0] != '@'))
        return;
    /* At most 107 bytes either way, as libsystemd: a path keeps its
     * terminating NUL (sa is zeroed); an abstract name (its '@' made a
     * NUL) ends where the address's length says. */
    len = strlen(where);
    if (len < 2 || len >= sizeof(sa.sun_path))
        return;
    memcpy(sa.sun_path, where, len);
    if (where[0] == '@')
        sa.sun_path[0] = '\0';
    salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                        (where[0] == '/'));
    if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
        return;
    if (sendto(fd, text, strlen(text), MSG_NOSIGNAL, (struct sockaddr *)&sa,
               salen) < 0) {
        /* the manager acts on the notification's absence */
    }
    close(fd);
}

void notify_ready(void)
{
    notify_send("READY=1");
}

void notify_stopping(void)
{
    notify_send("STOPPING=1");
}

void notify_reloading(void)
{
    notify_send("RELOADING=1");
}

void notify_status(const char *fmt, ...)
{
    char buf[1024]; /* the counters and a database error of up to 511 */
    va_list ap;
    int n = snprintf(buf, sizeof(buf), "STATUS=");

    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
    va_end(ap);
    notify_send(buf);
}

/* A whole decimal number in text, at most max; -1 if it is not one. */
static long long notify_number(const char *text, long long max)
{
    char *end;
    long long v;

    if (!text || *text < '0' || *text > '9')
        return -1;
    errno = 0;
    v = strtoll(text, &end, 10);
    return errno || *end || v > max ? -1 : v;
}

uint64_t notify_watchdog_usec(void)
{
    long long usec = notify_number(getenv("WATCHDOG_USEC"), INT64_MAX - 1);
    const char *pid = getenv("WATCHDOG_PID");

    /* WATCHDOG_PID, when set, names the process the manager watches: a
     * child that inherited the variables is not it. */
    if (usec <= 0 || (pid && notify_number(pid, INT32_MAX) != getpid()))
        return 0;
    return (uint64_t)usec;
}

void notify_watchdog(void)
{
    notify_send("WATCHDOG=1");
}
