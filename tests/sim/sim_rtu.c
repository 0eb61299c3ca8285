// SPDX-License-Identifier: MIT
/*
 * RTU framing on a connection, and the RTU line. Requests are recognised
 * by their length and CRC as they arrive, or at a silence, both on the
 * line (a tty or pty opened raw, every unit on it) and on the TCP clients
 * of --rtu-over-tcp (a serial device server in transparent mode: the
 * line's bytes, carried over TCP). A line that goes away is reopened
 * until it is back.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "common/log.h"
#include "tests/sim/sim.h"

/* Opens the line in raw mode. quiet: the caller expects failures and
 * retries, so they are not logged. Returns 0, or -1. */
int sim_rtu_open(struct sim *s, int quiet)
{
    const char *path = s->opt->rtu_path;
    struct termios tio;
    int fd;

    fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        if (!quiet)
            log_err("cannot open rtu device '%s': %s", path, strerror(errno));
        return -1;
    }
    if (tcgetattr(fd, &tio) < 0) {
        if (!quiet)
            log_err("rtu device '%s' is not a tty: %s", path, strerror(errno));
        goto fail;
    }
    cfmakeraw(&tio);
    tio.c_cflag &= ~(tcflag_t)(CSTOPB | PARENB | CRTSCTS);
    tio.c_cflag |= CS8 | CLOCAL | CREAD;
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;
    if (cfsetispeed(&tio, B9600) < 0 || cfsetospeed(&tio, B9600) < 0 ||
        tcsetattr(fd, TCSANOW, &tio) < 0) {
        if (!quiet)
            log_err("cannot set up rtu device '%s': %s", path, strerror(errno));
        goto fail;
    }
    /* Bytes left over from before are no request of ours to answer. */
    tcflush(fd, TCIOFLUSH);
    s->rtu->fd = fd;
    return 0;
fail:
    close(fd);
    return -1;
}

/* The line went away (a pty's other side closed): retry until it is back. */
void sim_rtu_lost(struct sim *s, const char *why)
{
    log_warnx("rtu device '%s': %s; reopening", s->opt->rtu_path, why);
    close(s->rtu->fd);
    s->rtu->fd = -1;
    sim_conn_reset(s->rtu);
    s->rtu_reopen_ns = time_mono_ns() + SIM_RTU_REOPEN_NS;
}

void sim_rtu_reopen(struct sim *s)
{
    if (sim_rtu_open(s, 1) < 0) {
        s->rtu_reopen_ns = time_mono_ns() + SIM_RTU_REOPEN_NS;
        return;
    }
    log_info("rtu device '%s' reopened", s->opt->rtu_path);
}

int sim_rtu_framing(const struct sim_options *opt)
{
    return opt->rtu_path != NULL || opt->rtu_over_tcp;
}

void sim_rtu_frames(struct sim *s, struct sim_conn *c, int64_t rx_ns)
{
    struct frame_request req;
    size_t off = 0, used = 0;

    c->last_rx_ns = time_mono_ns();
    while (frame_rtu_parse(c->in + off, c->in_len - off, &req, &used) ==
           FRAME_OK) {
        sim_request(s, c, &req, rx_ns);
        off += used;
    }
    memmove(c->in, c->in + off, c->in_len - off);
    c->in_len -= off;
    /* A full buffer without one valid frame in it is noise. */
    if (c->in_len == SIM_IN_CAP)
        c->in_len = 0;
}

int64_t sim_rtu_silence(struct sim *s, struct sim_conn *c, int64_t now)
{
    struct frame_request req;

    if (c->in_len == 0)
        return INT64_MAX;
    if (now - c->last_rx_ns < SIM_RTU_GAP_NS)
        return c->last_rx_ns + SIM_RTU_GAP_NS;
    if (frame_rtu_parse_whole(c->in, c->in_len, &req) == FRAME_OK)
        sim_request(s, c, &req, sim_real_ns());
    c->in_len = 0;
    if (sim_conn_flush(c) < 0)
        c->dead = 1;
    return INT64_MAX;
}

void sim_rtu_read(struct sim *s)
{
    struct sim_conn *c = s->rtu;
    ssize_t n;

    n = read(c->fd, c->in + c->in_len, SIM_IN_CAP - c->in_len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        sim_rtu_lost(s, n == 0 ? "hung up" : strerror(errno));
        return;
    }
    c->in_len += (size_t)n;
    sim_rtu_frames(s, c, sim_real_ns());
    if (sim_conn_flush(c) < 0)
        sim_rtu_lost(s, strerror(errno));
}
