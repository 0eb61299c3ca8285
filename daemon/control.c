// SPDX-License-Identifier: MIT
/*
 * The control channel: see control.h for the protocol and its limits.
 */
#define _GNU_SOURCE /* struct ucred, SO_PEERCRED, accept4(): Linux only */
#include "daemon/control.h"

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

/* The abstract name's prefix (after its NUL). */
#define CONTROL_ABSTRACT_PREFIX "tbdaq-"
/* Supplementary groups read at once; more are read in a second call. */
#define CONTROL_GROUPS_FIRST 64
/* Mode of a control_socket file: the daemon's user and group. */
#define CONTROL_SOCKET_MODE 0660
/* Connections accepted per control_service(), so that a flood of them
 * cannot keep the main loop accepting. */
#define CONTROL_ACCEPT_MAX (2 * CONTROL_CLIENTS_MAX)
/* Complaints about clients (refused, dropped, bad requests) are logged
 * at most this often; the ones left out are counted in the next. */
#define CONTROL_COMPLAIN_MS 1000

struct control_client {
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

struct control {
    int fd;
    bool unlink_path; /* a socket file of ours */
    struct control_addr addr;
    struct control_hooks h;
    struct control_client *clients[CONTROL_CLIENTS_MAX];
    int64_t complain_at; /* next complaint logged, CLOCK_MONOTONIC */
    uint64_t suppressed; /* complaints not logged since the last one */
};

/* Logs a complaint about a client, rate-limited (see CONTROL_COMPLAIN_MS). */
static void control_complain(struct control *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void control_complain(struct control *c, const char *fmt, ...)
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
    c->complain_at = now + CONTROL_COMPLAIN_MS * NS_PER_MS;
}

int control_address(const char *control_socket, const char *database,
                    struct control_addr *a, char *err, size_t errlen)
{
    char hex[SHA256_HEX_LEN];
    char *real;

    memset(a, 0, sizeof(*a));
    a->sun.sun_family = AF_UNIX;
    if (control_socket) {
        size_t n = strlen(control_socket);

        if (n >= sizeof(a->sun.sun_path) || n >= sizeof(a->shown)) {
            snprintf(err, errlen,
                     "control_socket '%s' is longer than %zu bytes",
                     control_socket, sizeof(a->sun.sun_path) - 1);
            return -1;
        }
        memcpy(a->sun.sun_path, control_socket, n);
        memcpy(a->shown, control_socket, n + 1);
        a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
        return 0;
    }
    if (!(real = realpath(database, NULL))) {
        snprintf(err, errlen, "cannot resolve database '%s': %s", database,
                 strerror(errno));
        return -1;
    }
    sha256_hex(real, strlen(real), hex);
    free(real);
    /* sun_path: a NUL, then the name (not NUL-terminated). */
    a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
                         (size_t)snprintf(a->sun.sun_path + 1,
                                          sizeof(a->sun.sun_path) - 1,
                                          CONTROL_ABSTRACT_PREFIX "%s", hex));
    snprintf(a->shown, sizeof(a->shown), "@" CONTROL_ABSTRACT_PREFIX "%s", hex);
    return 0;
}

/* ---- Requests ---------------------------------------------------------- */

static const char *const control_cmds[] = {
    [CONTROL_STATUS] = "status",
    [CONTROL_RUN_START] = "run-start",
    [CONTROL_RUN_MARK] = "run-mark",
    [CONTROL_RUN_STOP] = "run-stop",
};

/* Why name is not a run name, or NULL if it is. */
static const char *control_bad_name(const char *name)
{
    if (text_is_name(name, CONTROL_NAME_MAX))
        return NULL;
    if (name[0] == '\0')
        return "run name is empty";
    if (strlen(name) > CONTROL_NAME_MAX && text_is_name(name, SIZE_MAX))
        return "run name is longer than 64 characters";
    return "run name has characters outside [A-Za-z0-9_.-]";
}

int control_parse(char *line, struct control_request *req, char *err,
                  size_t errlen)
{
    char *field[4];
    size_t nf = 0;
    const char *why = NULL;
    char *p = line;
    size_t i;

    memset(req, 0, sizeof(*req));
    for (;;) {
        if (nf == sizeof(field) / sizeof(field[0])) {
            why = "too many fields";
            goto fail;
        }
        field[nf++] = p;
        if (!(p = strchr(p, '\t')))
            break;
        *p++ = '\0';
    }
    for (i = 0; i < sizeof(control_cmds) / sizeof(control_cmds[0]); i++)
        if (strcmp(field[0], control_cmds[i]) == 0)
            break;
    if (i == sizeof(control_cmds) / sizeof(control_cmds[0])) {
        why = "unknown request";
        goto fail;
    }
    req->cmd = (enum control_cmd)i;
    switch (req->cmd) {
    case CONTROL_STATUS:
        if (nf != 1)
            why = "status takes no arguments";
        break;
    case CONTROL_RUN_START:
        if (nf < 2) {
            why = "run-start needs a run name";
            break;
        }
        req->name = field[1];
        for (i = 2; i < nf && !why; i++) {
            if (strncmp(field[i], "operator=", 9) == 0 && !req->operator_name)
                req->operator_name = field[i] + 9;
            else if (strncmp(field[i], "note=", 5) == 0 && !req->note)
                req->note = field[i] + 5;
            else
                why = "run-start takes operator= and note= once each";
        }
        if (why)
            break;
        if (!(why = control_bad_name(req->name))) {
            if (req->operator_name &&
                !text_is_clean(req->operator_name, CONTROL_OPERATOR_MAX))
                why = "operator is not UTF-8 text without control characters "
                      "of at most 128 bytes";
            else if (req->note && !text_is_clean(req->note, CONTROL_TEXT_MAX))
                why = "note is not UTF-8 text without control characters of "
                      "at most 1024 bytes";
        }
        break;
    case CONTROL_RUN_MARK:
        if (nf != 2)
            why = "run-mark takes one text";
        else if (field[1][0] == '\0')
            why = "the mark's text is empty";
        else if (!text_is_clean(field[1], CONTROL_TEXT_MAX))
            why = "the mark's text is not UTF-8 text without control "
                  "characters of at most 1024 bytes";
        else
            req->text = field[1];
        break;
    case CONTROL_RUN_STOP:
        if (nf > 2)
            why = "run-stop takes at most one run name";
        else if (nf == 2 && !(why = control_bad_name(field[1])))
            req->name = field[1];
        break;
    }
    if (!why)
        return 0;
fail:
    snprintf(err, errlen, "%s", why);
    return -1;
}

/* Appends "\t" prefix s to buf at *at; -1 if it does not fit or s holds
 * a TAB or newline. */
static int control_put(char *buf, size_t len, size_t *at, const char *prefix,
                       const char *s)
{
    int n;

    if (strpbrk(s, "\t\n"))
        return -1;
    n = snprintf(buf + *at, len - *at, "\t%s%s", prefix, s);
    if (n < 0 || (size_t)n >= len - *at)
        return -1;
    *at += (size_t)n;
    return 0;
}

int control_format(const struct control_request *req, char *buf, size_t len)
{
    size_t at;
    int n = snprintf(buf, len, "%s", control_cmds[req->cmd]);

    if (n < 0 || (size_t)n >= len)
        return -1;
    at = (size_t)n;
    if ((req->name && control_put(buf, len, &at, "", req->name) < 0) ||
        (req->operator_name &&
         control_put(buf, len, &at, "operator=", req->operator_name) < 0) ||
        (req->note && control_put(buf, len, &at, "note=", req->note) < 0) ||
        (req->text && control_put(buf, len, &at, "", req->text) < 0))
        return -1;
    if (at + 2 > len || at + 1 > CONTROL_REQUEST_MAX)
        return -1;
    buf[at++] = '\n';
    buf[at] = '\0';
    return (int)at;
}

bool control_peer_allowed(uid_t uid, gid_t gid, const gid_t *groups,
                          size_t ngroups, uid_t daemon_uid, gid_t daemon_gid)
{
    if (uid == 0 || uid == daemon_uid || gid == daemon_gid)
        return true;
    for (size_t i = 0; i < ngroups; i++)
        if (groups[i] == daemon_gid)
            return true;
    return false;
}

/* ---- The daemon's side ------------------------------------------------- */

/* The peer's supplementary groups (SO_PEERGROUPS, else /proc/PID/status)
 * into *groups (to free). Returns how many, or -1. */
static ssize_t control_peer_groups(int fd, pid_t pid, gid_t **groups)
{
    socklen_t len = CONTROL_GROUPS_FIRST * sizeof(gid_t);
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
static void control_reply(struct control_client *cl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void control_reply(struct control_client *cl, const char *fmt, ...)
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
struct control_run {
    char name[CONTROL_NAME_MAX + 1];
    int64_t started_us;
};

static int control_run_fn(const struct store_run *r, void *arg)
{
    struct control_run *cr = arg;

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
static int control_flush(struct control *c, struct control_client *cl,
                         int64_t *last_seq)
{
    *last_seq = 0;
    if (!c->h.flush)
        return 0;
    if (c->h.flush(c->h.arg, last_seq) < 0) {
        control_reply(cl,
                      "error database not writable: %s; the run's boundary "
                      "cannot be recorded\n",
                      store_errmsg(c->h.store));
        return -1;
    }
    return 0;
}

static void control_run_start(struct control *c, struct control_client *cl,
                              const struct control_request *req)
{
    int64_t now, last_seq;
    char ts[TIME_ISO_LEN];

    /* The time first: what the flush commits was taken before it, what
     * comes after the flush is taken after it, so that the run's times
     * and seqs agree but for a reading a poller holds at this moment. */
    now = time_real_us();
    if (control_flush(c, cl, &last_seq) < 0)
        return;
    if (store_run_start(c->h.store, req->name, req->operator_name, req->note,
                        now, c->h.flush ? last_seq + 1 : 0) < 0) {
        control_reply(cl, "error %s\n", store_errmsg(c->h.store));
        return;
    }
    c->h.runs_changed(c->h.arg);
    time_format_iso(now, ts);
    log_info("run '%s' started at the request of uid %lu (pid %ld)", req->name,
             (unsigned long)cl->uid, (long)cl->pid);
    control_reply(cl, "ok run '%s' started at %s\n", req->name, ts);
}

static void control_run_stop(struct control *c, struct control_client *cl,
                             const struct control_request *req)
{
    struct control_run open = {.started_us = 0};
    int64_t now, last_seq;
    char ts[TIME_ISO_LEN];
    int found = store_run_open(c->h.store, control_run_fn, &open);

    if (found < 0) {
        control_reply(cl, "error %s\n", store_errmsg(c->h.store));
        return;
    }
    if (found == 1) {
        if (req->name)
            control_reply(cl, "error run '%s' is not open (no run is open)\n",
                          req->name);
        else
            control_reply(cl, "error no run is open\n");
        return;
    }
    now = time_real_us(); /* before the flush: see control_run_start() */
    if (control_flush(c, cl, &last_seq) < 0)
        return;
    /* With the open run's name, the stop refuses should another run have
     * replaced it meanwhile. */
    if (store_run_stop(c->h.store, req->name ? req->name : open.name, now,
                       last_seq) < 0) {
        control_reply(cl, "error %s\n", store_errmsg(c->h.store));
        return;
    }
    c->h.runs_changed(c->h.arg);
    time_format_iso(now > open.started_us ? now : open.started_us, ts);
    log_info("run '%s' stopped at the request of uid %lu (pid %ld)", open.name,
             (unsigned long)cl->uid, (long)cl->pid);
    control_reply(cl,
                  "ok run '%s' stopped at %s; it is sealed once its last "
                  "readings are committed\n",
                  open.name, ts);
}

static void control_run_mark(struct control *c, struct control_client *cl,
                             const struct control_request *req)
{
    struct control_run open = {.started_us = 0};
    char ts[TIME_ISO_LEN];
    int found = store_run_open(c->h.store, control_run_fn, &open);

    if (found < 0 || (found == 0 &&
                      store_add_event(c->h.store, "run_mark", req->text) < 0)) {
        control_reply(cl, "error %s\n", store_errmsg(c->h.store));
        return;
    }
    if (found == 1) {
        control_reply(cl, "error no run is open\n");
        return;
    }
    time_format_iso(time_real_us(), ts);
    control_reply(cl, "ok marked run '%s' at %s\n", open.name, ts);
}

static void control_status(struct control *c, struct control_client *cl)
{
    struct control_status st = {0};
    struct control_run open = {.started_us = 0};
    char run[CONTROL_NAME_MAX + 64] = "-", clk[96];
    int found;

    c->h.status(c->h.arg, &st);
    found = store_run_open(c->h.store, control_run_fn, &open);
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
    control_reply(
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
        "database %s%s\n"
        "last_seq %lld\n"
        "run %s\n"
        "clock %s\n"
        "clock_steps %llu %lld\n",
        TBDAQ_VERSION, (long)getpid(), (long long)st.started_us,
        (unsigned long long)st.recorded, (unsigned long long)st.failed_polls,
        (unsigned long long)st.missed_slots, (unsigned long long)st.buses_down,
        st.mqtt ? st.mqtt : "off", (long long)st.backlog,
        st.db_down ? "down: " : "writable", st.db_down ? st.db_down : "",
        (long long)st.last_seq, run, clk, (unsigned long long)st.clock.steps,
        (long long)st.clock.last_step_us);
}

/* A complete request line (without its newline) from cl: answer it. */
static void control_handle(struct control *c, struct control_client *cl,
                           char *line)
{
    struct control_request req;
    char err[160];

    if (control_parse(line, &req, err, sizeof(err)) < 0) {
        control_complain(c, "bad request from uid %lu (pid %ld): %s",
                         (unsigned long)cl->uid, (long)cl->pid, err);
        control_reply(cl, "error %s\n", err);
        return;
    }
    switch (req.cmd) {
    case CONTROL_STATUS:
        control_status(c, cl);
        break;
    case CONTROL_RUN_START:
        control_run_start(c, cl, &req);
        break;
    case CONTROL_RUN_STOP:
        control_run_stop(c, cl, &req);
        break;
    case CONTROL_RUN_MARK:
        control_run_mark(c, cl, &req);
        break;
    }
}

static void control_drop(struct control *c, size_t i)
{
    close(c->clients[i]->fd);
    free(c->clients[i]);
    c->clients[i] = NULL;
}

static void control_accept(struct control *c)
{
    for (int k = 0; k < CONTROL_ACCEPT_MAX; k++) {
        struct control_client *cl;
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
        for (slot = 0; slot < CONTROL_CLIENTS_MAX; slot++)
            if (!c->clients[slot])
                break;
        if (slot == CONTROL_CLIENTS_MAX) {
            static const char busy[] = "error busy: too many clients\n";

            control_complain(c,
                             "more than %d clients at once; turned "
                             "one away",
                             CONTROL_CLIENTS_MAX);
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
        cl->deadline_ns = time_mono_ns() + CONTROL_CLIENT_MS * NS_PER_MS;
        c->clients[slot] = cl;
        ng = control_peer_groups(fd, cred.pid, &groups);
        if (!control_peer_allowed(cred.uid, cred.gid, groups,
                                  ng > 0 ? (size_t)ng : 0, geteuid(),
                                  getegid())) {
            control_complain(c,
                             "permission denied to uid %lu gid %lu (pid %ld): "
                             "not tbdaqd's user, root or a member of group %lu",
                             (unsigned long)cred.uid, (unsigned long)cred.gid,
                             (long)cred.pid, (unsigned long)getegid());
            control_reply(
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
static int control_read(struct control *c, struct control_client *cl)
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
                control_reply(cl, "error unknown request\n");
                return 0;
            }
            control_handle(c, cl, cl->in);
            return 0;
        }
        cl->nin += (size_t)n;
        if (cl->nin == sizeof(cl->in)) {
            control_complain(c,
                             "request of uid %lu (pid %ld) longer than %d "
                             "bytes; refused",
                             (unsigned long)cl->uid, (long)cl->pid,
                             CONTROL_REQUEST_MAX);
            control_reply(cl, "error request longer than %d bytes\n",
                          CONTROL_REQUEST_MAX);
            return 0;
        }
    }
}

/* Writes what is left of the reply; returns 1 when done, -1 on error. */
static int control_write(struct control_client *cl)
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

struct control *control_open(const struct control_addr *a,
                             const struct control_hooks *hooks)
{
    struct control *c = xcalloc(1, sizeof(*c));
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
        if (chmod(a->sun.sun_path, CONTROL_SOCKET_MODE) < 0) {
            log_err("control socket %s: chmod: %s", a->shown, strerror(errno));
            goto fail;
        }
    }
    if (listen(c->fd, CONTROL_CLIENTS_MAX) < 0) {
        log_err("control channel %s: listen: %s", a->shown, strerror(errno));
        goto fail;
    }
    log_info("control channel %s", a->shown);
    return c;
fail:
    control_close(c);
    return NULL;
}

void control_close(struct control *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++)
        if (c->clients[i])
            control_drop(c, i);
    if (c->fd >= 0)
        close(c->fd);
    if (c->unlink_path)
        unlink(c->addr.sun.sun_path);
    free(c);
}

size_t control_pollfds(const struct control *c, struct pollfd *fds)
{
    size_t n = 0;

    if (!c)
        return 0;
    fds[n++] = (struct pollfd){.fd = c->fd, .events = POLLIN};
    for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++) {
        const struct control_client *cl = c->clients[i];

        if (cl)
            fds[n++] = (struct pollfd){
                .fd = cl->fd, .events = cl->replying ? POLLOUT : POLLIN};
    }
    return n;
}

int control_timeout_ms(const struct control *c)
{
    int64_t now = time_mono_ns(), first = INT64_MAX;

    if (!c)
        return INT_MAX;
    for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++)
        if (c->clients[i] && c->clients[i]->deadline_ns < first)
            first = c->clients[i]->deadline_ns;
    if (first == INT64_MAX)
        return INT_MAX;
    if (first <= now)
        return 0;
    return (int)((first - now + NS_PER_MS - 1) / NS_PER_MS);
}

void control_service(struct control *c, const struct pollfd *fds, size_t n)
{
    int64_t now;

    if (!c)
        return;
    /* Clients first (their fds are the ones polled), then new ones. */
    for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++) {
        struct control_client *cl = c->clients[i];
        short rev = 0;
        int rc = 0;

        if (!cl)
            continue;
        for (size_t j = 1; j < n; j++)
            if (fds[j].fd == cl->fd)
                rev = fds[j].revents;
        if (!cl->replying && (rev & (POLLIN | POLLHUP | POLLERR)))
            rc = control_read(c, cl);
        if (rc == 0 && cl->replying)
            rc = control_write(cl); /* at once: it mostly fits */
        if (rc != 0) {
            control_drop(c, i);
            continue;
        }
    }
    if (n > 0 && (fds[0].revents & POLLIN))
        control_accept(c);
    /* A client accepted just now may be refused: its reply goes out. */
    now = time_mono_ns();
    for (size_t i = 0; i < CONTROL_CLIENTS_MAX; i++) {
        struct control_client *cl = c->clients[i];

        if (!cl)
            continue;
        if (cl->replying && control_write(cl) != 0) {
            control_drop(c, i);
        } else if (now >= cl->deadline_ns) {
            control_complain(c, "dropped uid %lu (pid %ld): %s within %d ms",
                             (unsigned long)cl->uid, (long)cl->pid,
                             cl->replying ? "reply not taken" : "no request",
                             CONTROL_CLIENT_MS);
            control_drop(c, i);
        }
    }
}

/* ---- The CLI's side ---------------------------------------------------- */

int control_ask(const struct control_addr *a, const char *request,
                uid_t expect_uid, char *reply, size_t len, char *err,
                size_t errlen)
{
    struct timeval tv = {CONTROL_ASK_MS / 1000, CONTROL_ASK_MS % 1000 * 1000};
    struct ucred cred;
    socklen_t clen = sizeof(cred);
    size_t got = 0, want = strlen(request);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc = -1;

    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (const struct sockaddr *)&a->sun, a->len) < 0) {
        if (errno == ECONNREFUSED || errno == ENOENT) {
            snprintf(err, errlen,
                     "tbdaqd is not running: no control channel at %s",
                     a->shown);
            rc = 1;
        } else {
            snprintf(err, errlen, "control channel %s: %s", a->shown,
                     strerror(errno));
        }
        goto out;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0 ||
        (cred.uid != 0 && expect_uid != (uid_t)-1 && cred.uid != expect_uid)) {
        snprintf(err, errlen,
                 "control channel %s: the process listening there (uid %lu) "
                 "is not tbdaqd: it runs neither as root nor as the "
                 "database's owner",
                 a->shown, (unsigned long)cred.uid);
        goto out;
    }
    for (size_t sent = 0; sent < want;) {
        ssize_t n = send(fd, request + sent, want - sent, MSG_NOSIGNAL);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            break; /* it answered already (a refusal): read that */
        if (n < 0) {
            snprintf(err, errlen, "control channel %s: %s", a->shown,
                     errno == EAGAIN ? "no answer in time" : strerror(errno));
            goto out;
        }
        sent += (size_t)n;
    }
    for (;;) {
        ssize_t n = recv(fd, reply + got, len - 1 - got, 0);

        if (n < 0 && errno == EINTR)
            continue;
        /* The daemon closes on what it did not read (a refused request):
         * its answer came first. */
        if (n < 0 && errno == ECONNRESET && got > 0)
            break;
        if (n < 0) {
            snprintf(err, errlen, "control channel %s: %s", a->shown,
                     errno == EAGAIN ? "no answer in time" : strerror(errno));
            goto out;
        }
        if (n == 0 || (got += (size_t)n) == len - 1)
            break;
    }
    reply[got] = '\0';
    if (got == 0) {
        snprintf(err, errlen, "control channel %s: no answer", a->shown);
        goto out;
    }
    rc = 0;
out:
    close(fd);
    return rc;
}
