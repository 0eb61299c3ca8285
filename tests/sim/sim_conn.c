// SPDX-License-Identifier: MIT
/*
 * Serving requests on one connection (a TCP client, or the RTU line):
 * input and output buffers, replies owed for later (a unit's delay) kept
 * in arrival order, and a dripping unit's reply sent a byte at a time
 * from a staging buffer, so that a slow unit or a slow reader holds up
 * nobody else. Replies are built when they are sent, so values are those
 * of the moment the reply leaves.
 */
#define _GNU_SOURCE /* struct msghdr's control data: SCM_TIMESTAMPNS */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "tests/sim/sim.h"

struct sim_conn *sim_conn_new(int fd, int rtu)
{
    struct sim_conn *c = xcalloc(1, sizeof(*c));

    c->fd = fd;
    c->rtu = rtu;
    return c;
}

/* Forgets everything in flight on c: input, replies owed and unsent. */
void sim_conn_reset(struct sim_conn *c)
{
    c->in_len = 0;
    c->out_off = 0;
    c->out_len = 0;
    c->npending = 0;
    c->drip_off = 0;
    c->drip_len = 0;
}

void sim_conn_free(struct sim_conn *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    free(c->out);
    free(c->pending);
    free(c->drip);
    free(c);
}

static void sim_conn_queue(struct sim_conn *c, const unsigned char *p, size_t n)
{
    /* Compact once sent bytes outweigh unsent ones: amortised O(1). */
    if (c->out_off > 0 && c->out_off >= c->out_len - c->out_off) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    xgrow(&c->out, &c->out_cap, c->out_len + n, 1);
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
}

/* Writes what the peer takes now. Returns 0, or -1 if the peer is gone. */
int sim_conn_flush(struct sim_conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        c->out_off += (size_t)n;
    }
    c->out_off = 0;
    c->out_len = 0;
    return 0;
}

static int sim_dripping(const struct sim_conn *c)
{
    return c->drip_off < c->drip_len;
}

/* Stages a reply of unit to go out one byte every ms, the first now. */
static void sim_drip_start(struct sim_conn *c, unsigned unit, long ms,
                           const unsigned char *p, size_t n)
{
    xgrow(&c->drip, &c->drip_cap, n, 1);
    memcpy(c->drip, p, n);
    c->drip_off = 0;
    c->drip_len = n;
    c->drip_unit = unit;
    c->drip_ms = ms;
    c->drip_next_ns = time_mono_ns();
}

/* Queues the bytes of the staged reply that are due by now (all of them
 * if all); returns when the next one is due, or INT64_MAX once done. */
static int64_t sim_drip_pump(struct sim_conn *c, int64_t now, int all)
{
    while (sim_dripping(c) && (all || c->drip_next_ns <= now)) {
        sim_conn_queue(c, c->drip + c->drip_off++, 1);
        c->drip_next_ns += c->drip_ms * NS_PER_MS;
    }
    return sim_dripping(c) ? c->drip_next_ns : INT64_MAX;
}

/* Reads what req asks of its unit, at real time now, into words (one word
 * per register, or per bit). */
static void sim_read(const struct sim *s, const struct frame_request *req,
                     const struct timespec *now, uint16_t *words)
{
    const struct sim_unit *su = &s->unit[req->unit];
    struct regmap_unit u = {.id = req->unit,
                            .served = (uint16_t)su->served,
                            .serial = su->serial,
                            .firmware = su->firmware};

    if (req->function == FRAME_READ_COILS)
        regmap_read_bits(&u, REGMAP_COILS, now, req->address, req->count,
                         words);
    else if (req->function == FRAME_READ_DISCRETE)
        regmap_read_bits(&u, REGMAP_DISCRETE, now, req->address, req->count,
                         words);
    else
        regmap_read(&u, now, req->address, req->count, words);
}

/* Builds the reply owed in p, with values of this moment, and queues it
 * (or stages it, if its unit drips). */
static void sim_reply(struct sim *s, struct sim_conn *c,
                      const struct sim_pending *p)
{
    uint16_t words[REGMAP_MAX_BITS];
    unsigned char frame[FRAME_MANGLED_MAX];
    struct timespec now;
    unsigned unit = p->req.unit;
    size_t n;

    /* No exception means a valid unit and range: see sim_request(). */
    if (!p->exception) {
        clock_gettime(CLOCK_REALTIME, &now);
        sim_read(s, &p->req, &now, words);
    }
    if (c->rtu)
        n = frame_rtu_reply(&p->req, p->exception, words, frame);
    else
        n = frame_tcp_reply(&p->req, p->exception, words, frame);
    /* Units outside 1..N (TCP gateway exceptions) have no fault state. */
    if (unit >= 1 && unit <= s->opt->units && s->unit[unit].malformed)
        n = frame_mangle(frame, n, c->rtu, s->unit[unit].malformed, &s->rng);
    if (unit >= 1 && unit <= s->opt->units && s->unit[unit].drip_ms) {
        sim_drip_start(c, unit, s->unit[unit].drip_ms, frame, n);
        return;
    }
    sim_conn_queue(c, frame, n);
}

/* The exception a well-behaved unit answers req with, or 0: as a device
 * does, 1 for a function it lacks, 3 for a count beyond the function's
 * limit, 2 for addresses it does not have. */
static uint8_t sim_check(const struct frame_request *req)
{
    unsigned max, size;

    if (frame_function_bits(req->function)) {
        max = REGMAP_MAX_BITS;
        size = REGMAP_BITS_SIZE;
    } else if (req->function == FRAME_READ_HOLDING ||
               req->function == FRAME_READ_INPUT) {
        max = REGMAP_MAX_COUNT;
        size = REGMAP_SIZE;
    } else {
        return FRAME_EXC_ILLEGAL_FUNCTION;
    }
    if (!req->well_formed || req->count < 1 || req->count > max)
        return FRAME_EXC_ILLEGAL_VALUE;
    if ((unsigned)req->address + req->count > size)
        return FRAME_EXC_ILLEGAL_ADDRESS;
    return 0;
}

/*
 * Serves one request received on c at rx_ns (CLOCK_REALTIME): decides
 * whether and how to answer, logs it, and replies now or queues the reply
 * for its unit's delay.
 */
void sim_request(struct sim *s, struct sim_conn *c,
                 const struct frame_request *req, int64_t rx_ns)
{
    struct sim_pending p = {.req = *req};
    struct sim_unit *u;

    if (sim_dropping(s))
        return;
    if (req->unit < 1 || req->unit > s->opt->units) {
        if (c->rtu)
            return; /* on a shared line, another device's business */
        p.exception = FRAME_EXC_GATEWAY_TARGET;
    } else {
        u = &s->unit[req->unit];
        if (u->muted)
            return;
        u->served++;
        p.exception = u->exception ? u->exception : sim_check(req);
        p.due_ns = u->delay_ms ? time_mono_ns() + u->delay_ms * NS_PER_MS : 0;
    }
    if (s->log)
        fprintf(s->log, "%lld %u %u %u %u\n", (long long)rx_ns, req->unit,
                req->function, req->address, req->count);
    if (!p.due_ns && !sim_dripping(c)) {
        sim_reply(s, c, &p);
        sim_drip_pump(c, time_mono_ns(), 0);
        return;
    }
    /* Behind a reply still dripping: due now, sent once it is out. */
    if (!p.due_ns)
        p.due_ns = time_mono_ns();
    xgrow(&c->pending, &c->pending_cap, c->npending + 1, sizeof(p));
    c->pending[c->npending++] = p;
}

/*
 * Sends every reply on c due by now, keeping the rest in order. Returns
 * the earliest due time left, or INT64_MAX.
 */
int64_t sim_conn_due(struct sim *s, struct sim_conn *c, int64_t now)
{
    int64_t next = INT64_MAX;
    size_t kept = 0;

    sim_drip_pump(c, now, 0);
    for (size_t i = 0; i < c->npending; i++) {
        /* Nothing overtakes a reply that is dripping; what is due goes
         * when its last byte has, and its due time, past, is no wake-up. */
        if (c->pending[i].due_ns <= now && !sim_dripping(c)) {
            sim_reply(s, c, &c->pending[i]);
            sim_drip_pump(c, now, 0);
            continue;
        }
        if (c->pending[i].due_ns > now && c->pending[i].due_ns < next)
            next = c->pending[i].due_ns;
        c->pending[kept++] = c->pending[i];
    }
    c->npending = kept;
    if (sim_dripping(c))
        next = sim_min(next, c->drip_next_ns);
    if (c->out_len > c->out_off && sim_conn_flush(c) < 0)
        c->dead = 1;
    return next;
}

void sim_tcp_read(struct sim *s, struct sim_conn *c)
{
    struct frame_request req;
    size_t off = 0, used = 0;
    ssize_t n;
    int64_t rx_ns;
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(struct timespec))];
    } control;
    struct iovec iov = {c->in + c->in_len, SIM_IN_CAP - c->in_len};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof(control.buf)};

    n = recvmsg(c->fd, &msg, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        c->dead = 1;
        return;
    }
    /*
     * The arrival time logged is the kernel's receive timestamp of the
     * data, not when this loop got round to reading it: the simulator
     * stands for many devices that would each answer at once, and serving
     * them one after another must not show up as the client's lateness.
     */
    rx_ns = sim_real_ns();
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm;
         cm = CMSG_NXTHDR(&msg, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;

            memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
            rx_ns = (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
        }
    c->in_len += (size_t)n;
    if (c->rtu) {
        sim_rtu_frames(s, c, rx_ns);
        if (sim_conn_flush(c) < 0)
            c->dead = 1;
        return;
    }
    for (;;) {
        enum frame_status st =
            frame_tcp_parse(c->in + off, c->in_len - off, &req, &used);

        if (st == FRAME_NEED_MORE)
            break;
        if (st == FRAME_BROKEN) {
            log_debug("closing a client that sent a bad MBAP length");
            c->dead = 1;
            return;
        }
        if (st == FRAME_OK)
            sim_request(s, c, &req, rx_ns);
        off += used;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    if (sim_conn_flush(c) < 0)
        c->dead = 1;
}

/* Ends the drips of unit's replies in progress: the rest of each goes at
 * once (sent by the next loop turn), so the client gets a whole reply. */
void sim_drip_finish(struct sim *s, unsigned unit)
{
    for (size_t i = 0; i < s->nconn; i++)
        if (sim_dripping(s->conn[i]) && s->conn[i]->drip_unit == unit)
            sim_drip_pump(s->conn[i], 0, 1);
    if (s->rtu && sim_dripping(s->rtu) && s->rtu->drip_unit == unit)
        sim_drip_pump(s->rtu, 0, 1);
}
