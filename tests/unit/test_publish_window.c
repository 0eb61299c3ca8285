// SPDX-License-Identifier: MIT
/*
 * How many messages the publisher lets out on the wire at once (issue 15):
 * a whole window of readings handed over goes out at once, unless the build
 * sets PUBLISH_INFLIGHT below the window (make bench's knee search), and
 * then never more than that is unacknowledged; the rest follows as the
 * broker acknowledges, in seq order, and the acknowledged seq reaches the
 * last. The broker is the test's own: a listening socket in
 * this thread that answers CONNECT with CONNACK, counts PUBLISH packets
 * and acknowledges them only when told, so that what is on the wire is
 * known exactly. Everything runs in one poll loop against deadlines.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "daemon/publish.h"

/* Longest wait for anything the publisher should do. */
#define WAIT_MS 5000
#define POLL_MS 10
/* How long nothing more may arrive while nothing is acknowledged. */
#define SETTLE_MS 300
/* Readings handed over: a whole window. */
#define READINGS PUBLISH_WINDOW
/* QoS 1 messages the publisher sends besides readings at connect: the
 * online status and the run topic. */
#define EXTRA_MESSAGES 2
/* What may be on the wire before any PUBACK. */
#define ON_WIRE                                                                \
    (PUBLISH_INFLIGHT < READINGS + EXTRA_MESSAGES ? PUBLISH_INFLIGHT           \
                                                  : READINGS + EXTRA_MESSAGES)
#define BUF_MAX 65536

struct fake {
    int lfd, fd;
    unsigned char buf[BUF_MAX];
    size_t len;
    bool connected;
    int publishes;           /* PUBLISH packets received */
    int mids[READINGS + 16]; /* their packet ids, in order */
    int64_t last_seq;        /* the newest reading's seq seen */
    bool out_of_order;
    int acked; /* PUBACKs sent */
};

static void fake_listen(struct fake *f, int *port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);

    memset(f, 0, sizeof(*f));
    f->fd = -1;
    f->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    assert_true(f->lfd >= 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(f->lfd, 1), 0);
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
}

static void fake_send(struct fake *f, const unsigned char *b, size_t n)
{
    assert_int_equal(write(f->fd, b, n), (ssize_t)n);
}

/* One whole packet at the buffer's start: its type's nibble, where its
 * variable part starts and its length; false if not all there yet. */
static bool fake_packet(const struct fake *f, int *type, size_t *off,
                        size_t *len)
{
    size_t n = 0, i = 1;
    unsigned shift = 0;

    if (f->len < 2)
        return false;
    do {
        if (i >= f->len)
            return false;
        n |= (size_t)(f->buf[i] & 0x7f) << shift;
        shift += 7;
    } while (f->buf[i++] & 0x80);
    if (f->len < i + n)
        return false;
    *type = f->buf[0] >> 4;
    *off = i;
    *len = n;
    return true;
}

/* A PUBLISH: its packet id, and the reading's seq if it is one. */
static void fake_publish(struct fake *f, const unsigned char *p, size_t n)
{
    size_t tlen = (size_t)p[0] << 8 | p[1];
    const char *seq;
    char payload[1024];
    size_t plen;

    assert_true(n >= 2 + tlen + 2);
    assert_true(f->publishes < (int)(sizeof(f->mids) / sizeof(f->mids[0])));
    f->mids[f->publishes++] = p[2 + tlen] << 8 | p[3 + tlen];
    plen = n - 4 - tlen;
    if (plen >= sizeof(payload))
        plen = sizeof(payload) - 1;
    memcpy(payload, p + 4 + tlen, plen);
    payload[plen] = '\0';
    if ((seq = strstr(payload, "\"seq\":"))) {
        int64_t s = strtoll(seq + 6, NULL, 10);

        if (s != f->last_seq + 1)
            f->out_of_order = true;
        f->last_seq = s;
    }
}

/* Takes the whole packets at the buffer's start apart. */
static void fake_parse(struct fake *f)
{
    int type;
    size_t off, len;

    while (fake_packet(f, &type, &off, &len)) {
        static const unsigned char connack[] = {0x20, 0x02, 0x00, 0x00};

        if (type == 1) { /* CONNECT */
            fake_send(f, connack, sizeof(connack));
            f->connected = true;
        } else if (type == 3) {
            fake_publish(f, f->buf + off, len);
        }
        memmove(f->buf, f->buf + off + len, f->len - off - len);
        f->len -= off + len;
    }
}

/* Reads all the publisher sent so far, packet by packet. */
static void fake_read(struct fake *f)
{
    for (;;) {
        ssize_t r = read(f->fd, f->buf + f->len, sizeof(f->buf) - f->len);

        if (r <= 0) {
            assert_true(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
            return;
        }
        f->len += (size_t)r;
        fake_parse(f);
        /* A packet is far shorter than the buffer. */
        assert_true(f->len < sizeof(f->buf));
    }
}

/* Acknowledges every PUBLISH received so far. */
static void fake_ack_all(struct fake *f)
{
    for (; f->acked < f->publishes; f->acked++) {
        unsigned char puback[] = {0x40, 0x02, 0, 0};

        puback[2] = (unsigned char)(f->mids[f->acked] >> 8);
        puback[3] = (unsigned char)f->mids[f->acked];
        fake_send(f, puback, sizeof(puback));
    }
}

/* One turn: poll the publisher's and the broker's sockets, service both. */
static void turn(struct publisher *p, struct fake *f)
{
    struct pollfd fds[2] = {
        {.fd = publisher_fd(p),
         .events = POLLIN | (publisher_wants_write(p) ? POLLOUT : 0)},
        {.fd = f->fd >= 0 ? f->fd : f->lfd, .events = POLLIN}};
    int ms = publisher_timeout_ms(p);

    assert_true(poll(fds, 2, ms < POLL_MS ? ms : POLL_MS) >= 0);
    publisher_service(p, fds[0].revents & (POLLIN | POLLERR | POLLHUP),
                      fds[0].revents & POLLOUT);
    if (f->fd < 0 && (fds[1].revents & POLLIN)) {
        f->fd = accept(f->lfd, NULL, NULL);
        assert_true(f->fd >= 0);
        assert_int_equal(fcntl(f->fd, F_SETFL, O_NONBLOCK), 0);
    } else if (f->fd >= 0 && (fds[1].revents & POLLIN)) {
        fake_read(f);
    }
}

static void reading(struct reading_row *r, int64_t seq)
{
    *r = (struct reading_row){.seq = seq,
                              .ts_us = INT64_C(1795568523000000) + seq,
                              .sensor = "FT-101",
                              .kind = "flow",
                              .unit = "m3/h",
                              .has_value = true,
                              .value = 1.5,
                              .quality = "good"};
}

/*
 * A window of readings handed over at once: all are taken, ON_WIRE
 * messages reach the wire before the broker acknowledges any (with a
 * send maximum below the window, exactly that many: an earlier build
 * that ignored it put all of them there), then every reading arrives, in
 * seq order, never more than PUBLISH_INFLIGHT unacknowledged, and the
 * acknowledged seq reaches the last.
 */
static void test_inflight_bounded(void **state)
{
    static char site[] = "s1", host[] = "127.0.0.1", client[] = "tw-1",
                prefix[] = "tbdaq";
    struct config c = {0};
    struct publisher *p;
    struct fake f;
    int port;
    int64_t deadline;

    (void)state;
    fake_listen(&f, &port);
    c.site = site;
    c.mqtt.enabled = true;
    c.mqtt.host = host;
    c.mqtt.port = port;
    c.mqtt.client_id = client;
    c.mqtt.topic_prefix = prefix;
    c.mqtt.qos = 1;
    c.mqtt.keepalive_s = 5;
    p = publisher_new(&c, "1.0", INT64_C(1795568523000000));
    assert_non_null(p);
    deadline = time_mono_ns() + WAIT_MS * NS_PER_MS;
    while (!publisher_connected(p) && time_mono_ns() < deadline)
        turn(p, &f);
    assert_true(publisher_connected(p));
    assert_true(publisher_room(p) >= READINGS);

    for (int64_t seq = 1; seq <= READINGS; seq++) {
        struct reading_row r;

        reading(&r, seq);
        assert_int_equal(publisher_send(p, &r), 0);
    }
    /* Nagle's algorithm may hold a write until the broker's kernel
     * acknowledges the one before: wait for the first PUBLISH_INFLIGHT,
     * then give more the time to come (none may). */
    deadline = time_mono_ns() + WAIT_MS * NS_PER_MS;
    while (f.publishes < ON_WIRE && time_mono_ns() < deadline)
        turn(p, &f);
    deadline = time_mono_ns() + SETTLE_MS * NS_PER_MS;
    while (time_mono_ns() < deadline)
        turn(p, &f);
    print_message("  on the wire before any PUBACK: %d of %d\n", f.publishes,
                  READINGS + EXTRA_MESSAGES);
    assert_int_equal(f.publishes, ON_WIRE);

    deadline = time_mono_ns() + WAIT_MS * NS_PER_MS;
    while (publisher_acked(p) < READINGS && time_mono_ns() < deadline) {
        fake_ack_all(&f);
        turn(p, &f);
        assert_true(f.publishes - f.acked <= PUBLISH_INFLIGHT);
    }
    assert_int_equal(publisher_acked(p), READINGS);
    assert_int_equal(f.publishes, READINGS + EXTRA_MESSAGES);
    assert_int_equal(f.last_seq, READINGS);
    assert_false(f.out_of_order);
    publisher_close(p, 0);
    close(f.fd);
    close(f.lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inflight_bounded),
    };

    log_init("test_publish_window", LOG_LEVEL_INFO, LOG_PLAIN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
