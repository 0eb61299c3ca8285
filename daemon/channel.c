// SPDX-License-Identifier: MIT
/*
 * The daemon's end of the control channel: see channel.h, and
 * lib/control.h for the protocol and its limits.
 */
#define _GNU_SOURCE /* struct ucred, SO_PEERCRED, accept4(): Linux only */
#include "daemon/channel.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "common/hash.h"
#include "common/log.h"
#include "common/text.h"
#include "common/util.h"
#include "version.h"

/* Supplementary groups read at once; more are read in a second call. */
#define CHANNEL_GROUPS_FIRST 64
/* Mode of a control_socket file: the daemon's user and group. */
#define CHANNEL_SOCKET_MODE 0660
/* Connections accepted per channel_service(), so that a flood of them
 * cannot keep the main loop accepting. */
#define CHANNEL_ACCEPT_MAX (2 * CHANNEL_CLIENTS_MAX)
/* Complaints about clients (refused, dropped, bad requests) are logged
 * at most this often; the ones left out are counted in the next. */
#define CHANNEL_COMPLAIN_MS 1000

struct channel_client {
    int fd;
    pid_t pid;
    uid_t uid;
    int64_t deadline_ns; /* CLOCK_MONOTONIC */
    bool replying;       /* the reply is being written */
    size_t nin;
    char in[CONTROL_REQUEST_MAX];
    size_t nout, sent;
    char out[CONTROL_REPLY_MAX];
};

struct channel {
    int fd;
    bool unlink_path; /* a socket file of ours */
    struct control_addr addr;
    struct channel_hooks h;
    struct channel_client *clients[CHANNEL_CLIENTS_MAX];
    int64_t complain_at; /* next complaint logged, CLOCK_MONOTONIC */
    uint64_t suppressed; /* complaints not logged since the last one */
};

/* Logs a complaint about a client, rate-limited (see CHANNEL_COMPLAIN_MS). */
static void channel_complain(struct channel *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void channel_complain(struct channel *c, const char *fmt, ...)
{
    int64_t now = time_mono_ns();
    char msg[512];
    va_list ap;

    if (now < c->complain_at) {
        c->suppressed++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->suppressed)
        log_warnx("control: %s (and %llu more complaints about clients since "
                  "the last)",
                  msg, (unsigned long long)c->suppressed);
    else
        log_warnx("control: %s", msg);
    c->suppressed = 0;
    c->complain_at = now + CHANNEL_COMPLAIN_MS * NS_PER_MS;
}

/* ---- The daemon's side ------------------------------------------------- */

/* The peer's supplementary groups (SO_PEERGROUPS, else /proc/PID/status)
 * into *groups (to free). Returns how many, or -1. */
static ssize_t channel_peer_groups(int fd, pid_t pid, gid_t **groups)
{
    socklen_t len = CHANNEL_GROUPS_FIRST * sizeof(gid_t);
    char path[64], line[4096];
    size_t n = 0, cap = 0;
    FILE *f;

    *groups = xmalloc(len);
#ifdef SO_PEERGROUPS
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, *groups, &len) == 0)
        return (ssize_t)(len / sizeof(gid_t));
    if (errno == ERANGE) {
        *groups = xrealloc(*groups, len);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, *groups, &len) == 0)
            return (ssize_t)(len / sizeof(gid_t));
    }
#else
    (void)fd;
#endif
    free(*groups);
    *groups = NULL;
    snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
    if (!(f = fopen(path, "re")))
        return -1;
    while (fgets(line, sizeof(line), f)) {
        char *p = line + 7, *end;

        if (strncmp(line, "Groups:", 7) != 0)
            continue;
        for (;;) {
            unsigned long g = strtoul(p, &end, 10);

            if (end == p)
                break;
            xgrow(groups, &cap, n + 1, sizeof(gid_t));
            (*groups)[n++] = (gid_t)g;
            p = end;
        }
        break;
    }
    fclose(f);
    return (ssize_t)n;
}

/* Sets the reply (a line, and for status more) and starts writing it. */
static void channel_reply(struct channel_client *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void channel_reply(struct channel_client *cl, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(cl->out, sizeof(cl->out), fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    cl->nout = (size_t)n < sizeof(cl->out) ? (size_t)n : sizeof(cl->out) - 1;
    cl->sent = 0;
    cl->replying = true;
}

/* Copies the open run's name and start for use after the store call. */
struct channel_run {
    char name[CONTROL_NAME_MAX + 1];
    int64_t started_us;
};

static int channel_run_fn(const struct store_run *r, void *arg)
{
    struct channel_run *cr = arg;

    snprintf(cr->name, sizeof(cr->name), "%s", r->name);
    cr->started_us = r->started_us;
    return 0;
}

/*
 * Draws a run's line in the daemon's stream: commits what was taken so
 * far (the flush hook) and gives the last seq given, or 0 without the
 * hook (the run is then held by time). Replies and returns -1 if the
 * database cannot be written.
 */
static int channel_flush(struct channel *c, struct channel_client *cl,
                         int64_t *last_seq)
{
    *last_seq = 0;
    if (!c->h.flush)
        return 0;
    if (c->h.flush(c->h.arg, last_seq) < 0) {
        channel_reply(cl,
                      "error database not writable: %s; the run's boundary "
                      "cannot be recorded\n",
                      store_errmsg(c->h.store));
        return -1;
    }
    return 0;
}

static void channel_run_start(struct channel *c, struct channel_client *cl,
                              const struct control_request *req)
{
    int64_t now, last_seq;
    char ts[TIME_ISO_LEN];

    /* The time first: what the flush commits was taken before it, what
     * comes after the flush is taken after it, so that the run's times
     * and seqs agree but for a reading a poller holds at this moment. */
    now = time_real_us();
    if (channel_flush(c, cl, &last_seq) < 0)
        return;
    if (store_run_start(c->h.store, req->name, req->operator_name, req->note,
                        now, c->h.flush ? last_seq + 1 : 0) < 0) {
        channel_reply(cl, "error %s\n", store_errmsg(c->h.store));
        return;
    }
    c->h.runs_changed(c->h.arg);
    time_format_iso(now, ts);
    log_info("run '%s' started at the request of uid %lu (pid %ld)", req->name,
             (unsigned long)cl->uid, (long)cl->pid);
    channel_reply(cl, "ok run '%s' started at %s\n", req->name, ts);
}

static void channel_run_stop(struct channel *c, struct channel_client *cl,
                             const struct control_request *req)
{
    struct channel_run open = {.started_us = 0};
    int64_t now, last_seq;
    char ts[TIME_ISO_LEN];
    int found = store_run_open(c->h.store, channel_run_fn, &open);

    if (found < 0) {
        channel_reply(cl, "error %s\n", store_errmsg(c->h.store));
        return;
    }
    if (found == 1) {
        if (req->name)
            channel_reply(cl, "error run '%s' is not open (no run is open)\n",
                          req->name);
        else
            channel_reply(cl, "error no run is open\n");
        return;
    }
    now = time_real_us(); /* before the flush: see channel_run_start() */
    if (channel_flush(c, cl, &last_seq) < 0)
        return;
    /* With the open run's name, the stop refuses should another run have
     * replaced it meanwhile. */
    if (store_run_stop(c->h.store, req->name ? req->name : open.name, now,
                       last_seq) < 0) {
        channel_reply(cl, "error %s\n", store_errmsg(c->h.store));
        return;
    }
    c->h.runs_changed(c->h.arg);
    time_format_iso(now > open.started_us ? now : open.started_us, ts);
    log_info("run '%s' stopped at the request of uid %lu (pid %ld)", open.name,
             (unsigned long)cl->uid, (long)cl->pid);
    channel_reply(cl,
                  "ok run '%s' stopped at %s; it is sealed once its last "
                  "readings are committed\n",
                  open.name, ts);
}

static void channel_run_mark(struct channel *c, struct channel_client *cl,
                             const struct control_request *req)
{
    struct channel_run open = {.started_us = 0};
    char ts[TIME_ISO_LEN];
    int found = store_run_open(c->h.store, channel_run_fn, &open);

    if (found < 0 || (found == 0 &&
                      store_add_event(c->h.store, "run_mark", req->text) < 0)) {
        channel_reply(cl, "error %s\n", store_errmsg(c->h.store));
        return;
    }
    if (found == 1) {
        channel_reply(cl, "error no run is open\n");
        return;
    }
    time_format_iso(time_real_us(), ts);
    channel_reply(cl, "ok marked run '%s' at %s\n", open.name, ts);
}

static void channel_status(struct channel *c, struct channel_client *cl)
{
    struct channel_status st = {0};
    struct channel_run open = {.started_us = 0};
    char run[CONTROL_NAME_MAX + 64] = "-", clk[96];
    int found;

    c->h.status(c->h.arg, &st);
    found = store_run_open(c->h.store, channel_run_fn, &open);
    if (found == 0)
        snprintf(run, sizeof(run), "%s %lld", open.name,
                 (long long)open.started_us);
    else if (found < 0)
        snprintf(run, sizeof(run), "?");
    switch (st.clock.sync) {
    case CLOCK_SYNCHRONIZED:
        snprintf(clk, sizeof(clk), "synchronized %lld %lld",
                 (long long)st.clock.est_error_us,
                 (long long)st.clock.max_error_us);
        break;
    case CLOCK_UNSYNCHRONIZED:
        snprintf(clk, sizeof(clk), "unsynchronized");
        break;
    default:
        snprintf(clk, sizeof(clk), "unknown");
        break;
    }
    channel_reply(
        cl,
        "ok tbdaqd %s\n"
        "pid %ld\n"
        "started_us %lld\n"
        "recorded %llu\n"
        "failed_polls %llu\n"
        "missed_slots %llu\n"
        "buses_down %llu\n"
        "mqtt %s\n"
        "backlog %lld\n"
        "sparkplug %s\n"
        "sparkplug_backlog %lld\n"
        "database %s%s\n"
        "last_seq %lld\n"
        "run %s\n"
        "clock %s\n"
        "clock_steps %llu %lld\n",
        TBDAQ_VERSION, (long)getpid(), (long long)st.started_us,
        (unsigned long long)st.recorded, (unsigned long long)st.failed_polls,
        (unsigned long long)st.missed_slots, (unsigned long long)st.buses_down,
        st.mqtt ? st.mqtt : "off", (long long)st.backlog,
        st.sparkplug ? st.sparkplug : "off", (long long)st.sparkplug_backlog,
        st.db_down ? "down: " : "writable", st.db_down ? st.db_down : "",
        (long long)st.last_seq, run, clk, (unsigned long long)st.clock.steps,
        (long long)st.clock.last_step_us);
}

/* A complete request line (without its newline) from cl: answer it. */
static void channel_handle(struct channel *c, struct channel_client *cl,
                           char *line)
{
    struct control_request req;
    char err[160];

    if (control_parse(line, &req, err, sizeof(err)) < 0) {
        channel_complain(c, "bad request from uid %lu (pid %ld): %s",
                         (unsigned long)cl->uid, (long)cl->pid, err);
        channel_reply(cl, "error %s\n", err);
        return;
    }
    switch (req.cmd) {
    case CONTROL_STATUS:
        channel_status(c, cl);
        break;
    case CONTROL_RUN_START:
        channel_run_start(c, cl, &req);
        break;
    case CONTROL_RUN_STOP:
        channel_run_stop(c, cl, &req);
        break;
    case CONTROL_RUN_MARK:
        channel_run_mark(c, cl, &req);
        break;
    }
}

static void channel_drop(struct channel *c, size_t i)
{
    close(c->clients[i]->fd);
    free(c->clients[i]);
    c->clients[i] = NULL;
}

static void channel_accept(struct channel *c)
{
    for (int k = 0; k < CHANNEL_ACCEPT_MAX; k++) {
        struct channel_client *cl;
        struct ucred cred;
        socklen_t len = sizeof(cred);
        gid_t *groups = NULL;
        ssize_t ng;
        size_t slot;
        int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                errno != ECONNABORTED)
                log_warn("control: accept");
            return;
        }
        for (slot = 0; slot < CHANNEL_CLIENTS_MAX; slot++)
            if (!c->clients[slot])
                break;
        if (slot == CHANNEL_CLIENTS_MAX) {
            static const char busy[] = "error busy: too many clients\n";

            channel_complain(c,
                             "more than %d clients at once; turned "
                             "one away",
                             CHANNEL_CLIENTS_MAX);
            (void)!write(fd, busy, sizeof(busy) - 1);
            close(fd);
            continue;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
            log_warn("control: cannot read the peer's credentials");
            close(fd);
            continue;
        }
        cl = xcalloc(1, sizeof(*cl));
        cl->fd = fd;
        cl->pid = cred.pid;
        cl->uid = cred.uid;
        cl->deadline_ns = time_mono_ns() + CHANNEL_CLIENT_MS * NS_PER_MS;
        c->clients[slot] = cl;
        ng = channel_peer_groups(fd, cred.pid, &groups);
        if (!control_peer_allowed(cred.uid, cred.gid, groups,
                                  ng > 0 ? (size_t)ng : 0, geteuid(),
                                  getegid())) {
            channel_complain(c,
                             "permission denied to uid %lu gid %lu (pid %ld): "
                             "not tbdaqd's user, root or a member of group %lu",
                             (unsigned long)cred.uid, (unsigned long)cred.gid,
                             (long)cred.pid, (unsigned long)getegid());
            channel_reply(
                cl,
                "error permission denied: only tbdaqd's user, root and "
                "members of its group (gid %lu) may use the "
                "control channel\n",
                (unsigned long)getegid());
        }
        free(groups);
    }
}

/* Reads what cl sent; answers a complete line. Returns -1 to drop cl. */
static int channel_read(struct channel *c, struct channel_client *cl)
{
    for (;;) {
        ssize_t n = read(cl->fd, cl->in + cl->nin, sizeof(cl->in) - cl->nin);
        char *nl;

        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
                       ? 0
                       : -1;
        if (n == 0)
            return -1; /* gone before its request was complete */
        if ((nl = memchr(cl->in + cl->nin, '\n', (size_t)n))) {
            *nl = '\0';
            if (memchr(cl->in, '\0', (size_t)(nl - cl->in))) {
                channel_reply(cl, "error unknown request\n");
                return 0;
            }
            channel_handle(c, cl, cl->in);
            return 0;
        }
        cl->nin += (size_t)n;
        if (cl->nin == sizeof(cl->in)) {
            channel_complain(c,
                             "request of uid %lu (pid %ld) longer than %d "
                             "bytes; refused",
                             (unsigned long)cl->uid, (long)cl->pid,
                             CONTROL_REQUEST_MAX);
            channel_reply(cl, "error request longer than %d bytes\n",
                          CONTROL_REQUEST_MAX);
            return 0;
        }
    }
}

/* Writes what is left of the reply; returns 1 when done, -1 on error. */
static int channel_write(struct channel_client *cl)
{
    while (cl->sent < cl->nout) {
        ssize_t n =
            send(cl->fd, cl->out + cl->sent, cl->nout - cl->sent, MSG_NOSIGNAL);

        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
                       ? 0
                       : -1;
        cl->sent += (size_t)n;
    }
    return 1;
}

struct channel *channel_open(const struct control_addr *a,
                             const struct channel_hooks *hooks)
{
    struct channel *c = xcalloc(1, sizeof(*c));
    bool file = a->sun.sun_path[0] != '\0';

    c->addr = *a;
    c->h = *hooks;
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        log_warn("control: socket");
        goto fail;
    }
    if (file) {
        struct stat st;

        /* A socket file left by a daemon that is gone is replaced; one
         * that answers belongs to a running daemon. */
        if (lstat(a->sun.sun_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
            int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

            if (probe >= 0 &&
                connect(probe, (const struct sockaddr *)&a->sun, a->len) == 0) {
                close(probe);
                log_err("control socket %s: another tbdaqd listens there",
                        a->shown);
                goto fail;
            }
            if (probe >= 0)
                close(probe);
            unlink(a->sun.sun_path);
        }
    }
    if (bind(c->fd, (const struct sockaddr *)&a->sun, a->len) < 0) {
        if (errno == EADDRINUSE)
            log_err("control channel %s is in use: another tbdaqd records "
                    "this database",
                    a->shown);
        else
            log_err("control channel %s: bind: %s", a->shown, strerror(errno));
        goto fail;
    }
    if (file) {
        c->unlink_path = true;
        if (chmod(a->sun.sun_path, CHANNEL_SOCKET_MODE) < 0) {
            log_err("control socket %s: chmod: %s", a->shown, strerror(errno));
            goto fail;
        }
    }
    if (listen(c->fd, CHANNEL_CLIENTS_MAX) < 0) {
        log_err("control channel %s: listen: %s", a->shown, strerror(errno));
        goto fail;
    }
    log_info("control channel %s", a->shown);
    return c;
fail:
    channel_close(c);
    return NULL;
}

void channel_close(struct channel *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < CHANNEL_CLIENTS_MAX; i++)
        if (c->clients[i])
            channel_drop(c, i);
    if (c->fd >= 0)
        close(c->fd);
    if (c->unlink_path)
        unlink(c->addr.sun.sun_path);
    free(c);
}

size_t channel_pollfds(const struct channel *c, struct pollfd *fds)
{
    size_t n = 0;

    if (!c)
        return 0;
    fds[n++] = (struct pollfd){.fd = c->fd, .events = POLLIN};
    for (size_t i = 0; i < CHANNEL_CLIENTS_MAX; i++) {
        const struct channel_client *cl = c->clients[i];

        if (cl)
            fds[n++] = (struct pollfd){
                .fd = cl->fd, .events = cl->replying ? POLLOUT : POLLIN};
    }
    return n;
}

int channel_timeout_ms(const struct channel *c)
{
    int64_t now = time_mono_ns(), first = INT64_MAX;

    if (!c)
        return INT_MAX;
    for (size_t i = 0; i < CHANNEL_CLIENTS_MAX; i++)
        if (c->clients[i] && c->clients[i]->deadline_ns < first)
            first = c->clients[i]->deadline_ns;
    if (first == INT64_MAX)
        return INT_MAX;
    if (first <= now)
        return 0;
    return (int)((first - now + NS_PER_MS - 1) / NS_PER_MS);
}

void channel_service(struct channel *c, const struct pollfd *fds, size_t n)
{
    int64_t now;

    if (!c)
        return;
    /* Clients first (their fds are the ones polled), then new ones. */
    for (size_t i = 0; i < CHANNEL_CLIENTS_MAX; i++) {
        struct channel_client *cl = c->clients[i];
        short rev = 0;
        int rc = 0;

        if (!cl)
            continue;
        for (size_t j = 1; j < n; j++)
            if (fds[j].fd == cl->fd)
                rev = fds[j].revents;
        if (!cl->replying && (rev & (POLLIN | POLLHUP | POLLERR)))
            rc = channel_read(c, cl);
        if (rc == 0 && cl->replying)
            rc = channel_write(cl); /* at once: it mostly fits */
        if (rc != 0) {
            channel_drop(c, i);
            continue;
        }
    }
    if (n > 0 && (fds[0].revents & POLLIN))
        channel_accept(c);
    /* A client accepted just now may be refused: its reply goes out. */
    now = time_mono_ns();
    for (size_t i = 0; i < CHANNEL_CLIENTS_MAX; i++) {
        struct channel_client *cl = c->clients[i];

        if (!cl)
            continue;
        if (cl->replying && channel_write(cl) != 0) {
            channel_drop(c, i);
        } else if (now >= cl->deadline_ns) {
            channel_complain(c, "dropped uid %lu (pid %ld): %s within %d ms",
                             (unsigned long)cl->uid, (long)cl->pid,
                             cl->replying ? "reply not taken" : "no request",
                             CHANNEL_CLIENT_MS);
            channel_drop(c, i);
        }
    }
}
