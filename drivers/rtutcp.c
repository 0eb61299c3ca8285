/* SPDX-License-Identifier: MIT */
/*
 * RTU frames over a TCP connection. There is no transaction id as in
 * Modbus TCP: an answer is known only by its unit, its function and its
 * byte count, so the stream is kept clean instead. Whatever arrives
 * between answers is discarded before the next request; a wrong answer
 * is abandoned at its first wrong byte and the caller drains the rest for
 * a moment; an answer is read exactly to its CRC, and a byte already
 * waiting after it marks it as too long. Each part of an answer (unit and
 * function, then byte count or exception code, then data and CRC) must
 * arrive within the timeout, as a serial line's silence would end it.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/util.h"
#include "drivers/rtutcp.h"

/* How long a connection must be quiet before what was left of a wrong or
 * late answer counts as gone: a few packets of a device server that
 * forwards its serial line in chunks (their packing timers are 0 to a few
 * tens of ms), and a 255-byte frame's tail at 9600 baud arrives with
 * gaps of about a millisecond. */
#define RTUTCP_DRAIN_QUIET_MS 50
/* Room for "65535". */
#define RTUTCP_PORT_LEN 8

struct rtutcp {
    char *host;
    char port[RTUTCP_PORT_LEN];
    int timeout_ms;
    int fd; /* -1 when closed */
};

struct rtutcp *rtutcp_new(const char *host, int port, int timeout_ms)
{
    struct rtutcp *t = xcalloc(1, sizeof(*t));

    t->host = xstrdup(host);
    snprintf(t->port, sizeof(t->port), "%d", port);
    t->timeout_ms = timeout_ms;
    t->fd = -1;
    return t;
}

void rtutcp_free(struct rtutcp *t)
{
    if (t == NULL)
        return;
    rtutcp_close(t);
    free(t->host);
    free(t);
}

bool rtutcp_is_open(const struct rtutcp *t)
{
    return t->fd >= 0;
}

void rtutcp_close(struct rtutcp *t)
{
    int err = errno;

    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
    errno = err;
}

/* Milliseconds left until deadline (monotonic ns), 0 if past. */
static int rtutcp_left_ms(int64_t deadline)
{
    int64_t left = deadline - time_mono_ns();

    if (left <= 0)
        return 0;
    return (int)((left + NS_PER_MS - 1) / NS_PER_MS);
}

/* Waits until fd is ready for events or deadline passes. Returns 1 if
 * ready (or in error: the next call on it tells), 0 at the deadline. */
static int rtutcp_wait(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd p = {fd, events, 0};
        int rc = poll(&p, 1, rtutcp_left_ms(deadline));

        if (rc > 0)
            return 1;
        if (rc == 0 && time_mono_ns() >= deadline)
            return 0;
        /* EINTR, or poll()'s rounding woke it a little early. */
    }
}

/* One address: a nonblocking connect, bounded by the timeout. Returns the
 * socket, or -1 with errno. */
static int rtutcp_connect_one(const struct addrinfo *ai, int timeout_ms)
{
    int one = 1, err = 0;
    socklen_t len = sizeof(err);
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);

    if (fd < 0)
        return -1;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        if (errno != EINPROGRESS)
            goto fail;
        if (!rtutcp_wait(fd, POLLOUT,
                         time_mono_ns() + timeout_ms * NS_PER_MS)) {
            errno = ETIMEDOUT;
            goto fail;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            goto fail;
        if (err != 0) {
            errno = err;
            goto fail;
        }
    }
    /* Requests are single small frames: send each at once. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;

fail:
    err = errno;
    close(fd);
    errno = err;
    return -1;
}

int rtutcp_open(struct rtutcp *t)
{
    struct addrinfo hints, *list = NULL;
    int err = ECONNREFUSED;

    if (t->fd >= 0)
        return 0;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    switch (getaddrinfo(t->host, t->port, &hints, &list)) {
    case 0:
        break;
    case EAI_SYSTEM:
        return -1;
    case EAI_MEMORY:
        errno = ENOMEM;
        return -1;
    default:
        errno = RTUTCP_ENOHOST;
        return -1;
    }
    for (const struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        if ((t->fd = rtutcp_connect_one(ai, t->timeout_ms)) >= 0)
            break;
        err = errno;
    }
    freeaddrinfo(list);
    if (t->fd < 0) {
        errno = err;
        return -1;
    }
    return 0;
}

/* Reads what is waiting without waiting for more. Returns 0 once nothing
 * is left, -1 with errno if the connection broke (ECONNRESET: closed). */
static int rtutcp_discard_waiting(int fd)
{
    uint8_t junk[RTUFRAME_MAX_LEN];

    for (;;) {
        ssize_t k = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);

        if (k > 0)
            continue;
        if (k == 0) {
            errno = ECONNRESET;
            return -1;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

int rtutcp_drain(struct rtutcp *t)
{
    int64_t end = time_mono_ns() + t->timeout_ms * NS_PER_MS;

    if (t->fd < 0)
        return 0;
    for (;;) {
        int64_t quiet = time_mono_ns() + RTUTCP_DRAIN_QUIET_MS * NS_PER_MS;

        if (rtutcp_discard_waiting(t->fd) < 0)
            return -1;
        if (!rtutcp_wait(t->fd, POLLIN, quiet < end ? quiet : end))
            return 0;
    }
}

static int rtutcp_send(int fd, const uint8_t *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (k > 0) {
            p += k;
            n -= (size_t)k;
        } else if (k < 0 && errno == EINTR) {
            continue;
        } else if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            return -1;
        } else if (!rtutcp_wait(fd, POLLOUT, deadline)) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
    return 0;
}

/* Reads a[*n..want): never a byte beyond want, so that what follows an
 * answer stays on the socket to be seen; each wait up to gap_ns from the
 * last byte (or the call), and none beyond end. Returns 0, or -1 with
 * errno: ETIMEDOUT if nothing came, RTUFRAME_ESHORT if the answer stopped
 * partway, ECONNRESET if the server closed. */
static int rtutcp_recv(int fd, uint8_t *a, size_t *n, size_t want,
                       int64_t gap_ns, int64_t end)
{
    int64_t deadline = time_mono_ns() + gap_ns;

    while (*n < want) {
        ssize_t k;

        if (!rtutcp_wait(fd, POLLIN, deadline < end ? deadline : end)) {
            errno = *n == 0 ? ETIMEDOUT : RTUFRAME_ESHORT;
            return -1;
        }
        k = recv(fd, a + *n, want - *n, MSG_DONTWAIT);
        if (k > 0) {
            *n += (size_t)k;
            deadline = time_mono_ns() + gap_ns;
        } else if (k == 0) {
            errno = ECONNRESET;
            return -1;
        } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
            return -1;
        }
    }
    return 0;
}

/* True if a byte is already waiting behind the answer just read. */
static bool rtutcp_more_waiting(int fd)
{
    uint8_t b;

    return recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

int rtutcp_read(struct rtutcp *t, const struct rtuframe_read *r, uint16_t *dest)
{
    uint8_t q[RTUFRAME_REQUEST_LEN], a[RTUFRAME_MAX_LEN];
    size_t n = 0, want = 0, len = 0;
    int64_t timeout = t->timeout_ms * NS_PER_MS, end;
    int rc;

    if (!rtuframe_read_is_valid(r)) {
        errno = EINVAL;
        return -1;
    }
    if (t->fd < 0) {
        errno = ENOTCONN;
        return -1;
    }
    if (rtutcp_discard_waiting(t->fd) < 0 ||
        rtutcp_send(t->fd, q, rtuframe_request(r, q),
                    time_mono_ns() + timeout) < 0)
        return -1;
    /* The answer must begin within the timeout and go on without a
     * silence longer than it, up to the timeout and the slack in all. */
    end = time_mono_ns() + timeout + RTUTCP_ANSWER_SLACK_MS * NS_PER_MS;
    for (;;) {
        if ((rc = rtuframe_answer_head(r, a, n, &len)) != 0) {
            errno = rc;
            return -1;
        }
        if (len == want)
            break;
        want = len;
        if (rtutcp_recv(t->fd, a, &n, want, timeout, end) < 0)
            return -1;
    }
    if (rtutcp_more_waiting(t->fd)) {
        errno = RTUFRAME_ELONG;
        return -1;
    }
    if ((rc = rtuframe_answer_decode(r, a, n, dest)) != 0) {
        errno = rc;
        return -1;
    }
    return 0;
}
