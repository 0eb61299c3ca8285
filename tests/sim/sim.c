// SPDX-License-Identifier: MIT
/*
 * tbdaq-sim: a Modbus sensor simulator for the demo, the tests and the
 * benchmarks. It serves the map of regmap.c and regmap_bits.c for unit
 * ids 1..N over Modbus TCP on 127.0.0.1 (any number of clients), Modbus RTU
 * on one tty, or RTU frames over TCP on 127.0.0.1 (--rtu-over-tcp), and
 * takes fault-injection commands (mute, exception, malformed replies,
 * delay, drip, drop) and identity swaps from a FIFO while it runs.
 *
 * This file is the command line and the loop: one thread, one ppoll()
 * over the listening socket (or the RTU line), the control FIFO and every
 * client, with the next deadline (a delayed reply, a byte of a drip, the
 * end of an RTU frame) as its timeout. Serving a connection is
 * sim_conn.c's.
 */
#define _GNU_SOURCE /* ppoll() and accept4(): Linux is the only target */

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/opt.h"
#include "common/util.h"
#include "tests/sim/sim.h"
#include "version.h"

#define SIM_EXIT_OK 0
#define SIM_EXIT_FAIL 1
#define SIM_EXIT_USAGE 2

#define SIM_MAX_PORT 65535
#define SIM_LISTEN_BACKLOG 128
/* Connections accepted per loop turn, so a connect storm cannot starve
 * the clients already served. */
#define SIM_ACCEPT_BATCH 64
/* After running out of descriptors, wait this long before accepting again
 * rather than spin on a listening socket that stays readable. */
#define SIM_ACCEPT_PAUSE_NS (100 * NS_PER_MS)

static volatile sig_atomic_t sim_stop;

static void sim_on_signal(int sig)
{
    (void)sig;
    sim_stop = 1;
}

int64_t sim_real_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* Parses a whole decimal string within [min, max]. Returns 0, or -1. */
int sim_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int sim_dropping(const struct sim *s)
{
    return s->drop_until_ns > time_mono_ns();
}

int64_t sim_min(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int sim_listen(struct sim *s)
{
    struct sockaddr_in addr;
    socklen_t len = sizeof(addr);
    int one = 1;

    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)s->opt->port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->listen_fd =
        socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->listen_fd < 0 ||
        setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) <
            0 ||
        bind(s->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(s->listen_fd, SIM_LISTEN_BACKLOG) < 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&addr, &len) < 0) {
        log_err("cannot listen on 127.0.0.1:%ld: %s", s->opt->port,
                strerror(errno));
        return -1;
    }
    s->port = ntohs(addr.sin_port);
    return 0;
}

static void sim_accept(struct sim *s)
{
    int one = 1;

    for (int i = 0; i < SIM_ACCEPT_BATCH; i++) {
        int fd =
            accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                log_warn("cannot accept on 127.0.0.1:%u", s->port);
                s->accept_pause_ns = time_mono_ns() + SIM_ACCEPT_PAUSE_NS;
            }
            return;
        }
        if (sim_dropping(s)) {
            close(fd);
            continue;
        }
        /* Replies are small and clients wait for them: no Nagle delay. */
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        /* The kernel stamps each request's arrival (see sim_tcp_read). */
        setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
        xgrow(&s->conn, &s->conn_cap, s->nconn + 1, sizeof(*s->conn));
        s->conn[s->nconn++] = sim_conn_new(fd, s->opt->rtu_over_tcp);
    }
}

/* Closes the connections marked dead, keeping the others' order. */
static void sim_sweep(struct sim *s)
{
    size_t kept = 0;

    for (size_t i = 0; i < s->nconn; i++) {
        if (s->conn[i]->dead)
            sim_conn_free(s->conn[i]);
        else
            s->conn[kept++] = s->conn[i];
    }
    s->nconn = kept;
}

static short sim_conn_events(const struct sim_conn *c)
{
    short ev = 0;

    if (c->out_len - c->out_off < SIM_OUT_HIGH)
        ev |= POLLIN;
    if (c->out_len > c->out_off)
        ev |= POLLOUT;
    return ev;
}

/* Sends due replies and timed work; returns the next deadline or
 * INT64_MAX. */
static int64_t sim_timers(struct sim *s)
{
    int64_t now = time_mono_ns(), next = INT64_MAX;
    struct sim_conn *rtu = s->rtu;

    for (size_t i = 0; i < s->nconn; i++) {
        next = sim_min(next, sim_conn_due(s, s->conn[i], now));
        if (s->conn[i]->rtu && !s->conn[i]->dead)
            next = sim_min(next, sim_rtu_silence(s, s->conn[i], now));
    }
    if (!rtu) {
        if (s->accept_pause_ns > now)
            next = sim_min(next, s->accept_pause_ns);
        return next;
    }
    if (rtu->fd < 0 && now >= s->rtu_reopen_ns)
        sim_rtu_reopen(s);
    if (rtu->fd < 0)
        return sim_min(next, s->rtu_reopen_ns);
    next = sim_min(next, sim_rtu_silence(s, rtu, now));
    next = sim_min(next, sim_conn_due(s, rtu, now));
    if (rtu->dead) {
        rtu->dead = 0;
        sim_rtu_lost(s, "write failed");
        return sim_min(next, s->rtu_reopen_ns);
    }
    return next;
}

/* One turn of the loop: wait for I/O or the next deadline, then serve. */
static int sim_turn(struct sim *s, const sigset_t *waitmask)
{
    int64_t next = sim_timers(s), now;
    struct timespec ts, *tsp = NULL;
    size_t n = 0, first_conn;
    int ready;

    xgrow(&s->pfd, &s->pfd_cap, s->nconn + 2, sizeof(*s->pfd));
    if (s->rtu) {
        s->pfd[n].fd = s->rtu->fd;
        s->pfd[n++].events = sim_conn_events(s->rtu);
    } else {
        s->pfd[n].fd = s->accept_pause_ns > time_mono_ns() ? -1 : s->listen_fd;
        s->pfd[n++].events = POLLIN;
    }
    s->pfd[n].fd = s->control_fd;
    s->pfd[n++].events = POLLIN;
    first_conn = n;
    for (size_t i = 0; i < s->nconn; i++) {
        s->pfd[n].fd = s->conn[i]->fd;
        s->pfd[n++].events = sim_conn_events(s->conn[i]);
    }
    if (next != INT64_MAX) {
        now = time_mono_ns();
        next = next > now ? next - now : 0;
        ts.tv_sec = (time_t)(next / NS_PER_S);
        ts.tv_nsec = (long)(next % NS_PER_S);
        tsp = &ts;
    }
    ready = ppoll(s->pfd, n, tsp, waitmask);
    if (ready < 0) {
        if (errno == EINTR)
            return 0;
        log_err("poll: %s", strerror(errno));
        return -1;
    }
    for (size_t i = first_conn; i < n; i++) {
        struct sim_conn *c = s->conn[i - first_conn];

        if (c->dead)
            continue;
        if ((s->pfd[i].revents & POLLOUT) && sim_conn_flush(c) < 0)
            c->dead = 1;
        if (!c->dead && (s->pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
            sim_tcp_read(s, c);
    }
    if (s->rtu && s->rtu->fd >= 0) {
        short rev = s->pfd[0].revents;

        if ((rev & POLLOUT) && sim_conn_flush(s->rtu) < 0)
            sim_rtu_lost(s, strerror(errno));
        else if (rev & POLLIN)
            sim_rtu_read(s);
        else if (rev & (POLLHUP | POLLERR | POLLNVAL))
            sim_rtu_lost(s, "hung up");
    } else if (!s->rtu && (s->pfd[0].revents & POLLIN)) {
        sim_accept(s);
    }
    if (s->pfd[1].revents & POLLIN)
        sim_control_read(s);
    sim_sweep(s);
    return 0;
}

static void sim_release(struct sim *s)
{
    for (size_t i = 0; i < s->nconn; i++)
        sim_conn_free(s->conn[i]);
    free(s->conn);
    sim_conn_free(s->rtu);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->control_fd >= 0)
        close(s->control_fd);
    if (s->control_created)
        unlink(s->opt->control_path);
    if (s->log)
        fclose(s->log);
    free(s->unit);
    free(s->pfd);
}

static int sim_run(const struct sim_options *opt)
{
    struct sim s;
    struct sigaction sa;
    sigset_t block, waitmask;
    int rc = SIM_EXIT_FAIL;

    memset(&s, 0, sizeof(s));
    s.opt = opt;
    s.listen_fd = -1;
    s.control_fd = -1;
    s.unit = xcalloc(opt->units + 1, sizeof(*s.unit));
    for (unsigned u = 1; u <= opt->units; u++)
        regmap_identity_default(u, s.unit[u].serial, s.unit[u].firmware);
    s.rng = SIM_RNG_SEED;

    /* The handlers only set a flag; TERM and INT stay blocked except
     * inside ppoll(), so a signal can never slip in just before it. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = sim_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigprocmask(SIG_BLOCK, &block, &waitmask);
    sigdelset(&waitmask, SIGTERM);
    sigdelset(&waitmask, SIGINT);

    if (opt->log_path) {
        s.log = fopen(opt->log_path, "a");
        if (!s.log) {
            log_err("cannot open log '%s': %s", opt->log_path, strerror(errno));
            goto fail;
        }
        /* Whole lines, at once: tests read the log while the sim runs. */
        setvbuf(s.log, NULL, _IOLBF, 0);
    }
    if (opt->control_path && sim_control_open(&s) < 0)
        goto fail;
    for (size_t i = 0; i < opt->nstart; i++)
        sim_apply(&s, &opt->start[i], "option");
    if (opt->rtu_path) {
        s.rtu = sim_conn_new(-1, 1);
        if (sim_rtu_open(&s, 0) < 0)
            goto fail;
        printf("tbdaq-sim: serving rtu on %s\n", opt->rtu_path);
    } else {
        if (sim_listen(&s) < 0)
            goto fail;
        printf("tbdaq-sim: listening on 127.0.0.1:%u%s\n", s.port,
               opt->rtu_over_tcp ? " (rtu over tcp)" : "");
    }
    fflush(stdout);

    while (!sim_stop)
        if (sim_turn(&s, &waitmask) < 0)
            goto fail;
    log_info("stopping on signal");
    rc = SIM_EXIT_OK;
fail:
    sim_release(&s);
    return rc;
}

static void sim_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* One line: what is wrong, and where to read how it is done. */
static void sim_usage_error(const char *fmt, ...)
{
    char msg[SIM_CONTROL_LINE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_err("%s (see tbdaq-sim --help)", msg);
}

static int sim_add_start(struct sim_options *opt, enum sim_cmd_kind kind,
                         const char *arg)
{
    struct sim_cmd cmd = {0};
    char *colon = NULL;
    char unit[16];
    long v;

    cmd.index = sim_cmd_index(kind);
    if (kind == SIM_CMD_MALFORMED) {
        colon = strchr(arg, ':');
        if (!colon || (size_t)(colon - arg) >= sizeof(unit)) {
            sim_usage_error("bad --malformed '%s': expected UNIT:MODE", arg);
            return -1;
        }
        memcpy(unit, arg, (size_t)(colon - arg));
        unit[colon - arg] = '\0';
        /* The mode is checked once the transport is known. */
        cmd.mode = colon + 1;
    } else if (kind == SIM_CMD_EXCEPTION) {
        colon = strchr(arg, ':');
        if (!colon || (size_t)(colon - arg) >= sizeof(unit) ||
            sim_parse_long(colon + 1, 1, SIM_EXCEPTION_MAX, &cmd.arg) < 0) {
            sim_usage_error("bad --exception '%s': expected UNIT:CODE, "
                            "CODE 1..255",
                            arg);
            return -1;
        }
        memcpy(unit, arg, (size_t)(colon - arg));
        unit[colon - arg] = '\0';
    } else {
        snprintf(unit, sizeof(unit), "%s", arg);
    }
    /* The bound on units is checked once --units is known. */
    if (sim_parse_long(unit, 1, SIM_MAX_UNITS, &v) < 0) {
        sim_usage_error("bad unit in '%s': expected 1..247", arg);
        return -1;
    }
    cmd.unit = (unsigned)v;
    xgrow(&opt->start, &opt->start_cap, opt->nstart + 1, sizeof(cmd));
    opt->start[opt->nstart++] = cmd;
    return 0;
}

/* Parses the command line. Returns 0, 1 after --help, -1 on misuse. */
static int sim_options_parse(struct sim_options *opt, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"rtu", required_argument, NULL, 'r'},
        {"rtu-over-tcp", required_argument, NULL, 'R'},
        {"units", required_argument, NULL, 'u'},
        {"log", required_argument, NULL, 'l'},
        {"control", required_argument, NULL, 'c'},
        {"mute", required_argument, NULL, 'm'},
        {"exception", required_argument, NULL, 'e'},
        {"malformed", required_argument, NULL, 'M'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int have_port = 0, ch;
    const char *modes[3];
    size_t nmodes = 0;
    long v;

    opt->port = SIM_DEFAULT_PORT;
    opt->units = SIM_DEFAULT_UNITS;
    while ((ch = opt_next(argc, argv, ":hV", longopts, "tbdaq-sim --help")) !=
           -1) {
        switch (ch) {
        case 'p':
            if (sim_parse_long(optarg, 0, SIM_MAX_PORT, &opt->port) < 0) {
                sim_usage_error("bad --port '%s': expected 0..65535", optarg);
                return -1;
            }
            have_port = 1;
            break;
        case 'R':
            if (sim_parse_long(optarg, 0, SIM_MAX_PORT, &opt->port) < 0) {
                sim_usage_error("bad --rtu-over-tcp '%s': expected 0..65535",
                                optarg);
                return -1;
            }
            opt->rtu_over_tcp = 1;
            break;
        case 'r':
            opt->rtu_path = optarg;
            break;
        case 'u':
            if (sim_parse_long(optarg, 1, SIM_MAX_UNITS, &v) < 0) {
                sim_usage_error("bad --units '%s': expected 1..247", optarg);
                return -1;
            }
            opt->units = (unsigned)v;
            break;
        case 'l':
            opt->log_path = optarg;
            break;
        case 'c':
            opt->control_path = optarg;
            break;
        case 'm':
            if (sim_add_start(opt, SIM_CMD_MUTE, optarg) < 0)
                return -1;
            break;
        case 'e':
            if (sim_add_start(opt, SIM_CMD_EXCEPTION, optarg) < 0)
                return -1;
            break;
        case 'M':
            if (sim_add_start(opt, SIM_CMD_MALFORMED, optarg) < 0)
                return -1;
            break;
        case 'h':
            sim_help_print();
            return 1;
        case 'V':
            printf("tbdaq-sim %s\n", TBDAQ_VERSION);
            return 1;
        default:
            return -1;
        }
    }
    if (optind < argc) {
        sim_usage_error("unexpected argument '%s'", argv[optind]);
        return -1;
    }
    /* One transport: name two of those given, in a fixed order. */
    if (have_port)
        modes[nmodes++] = "--port";
    if (opt->rtu_path)
        modes[nmodes++] = "--rtu";
    if (opt->rtu_over_tcp)
        modes[nmodes++] = "--rtu-over-tcp";
    if (nmodes > 1) {
        sim_usage_error("%s and %s cannot be combined", modes[0], modes[1]);
        return -1;
    }
    for (size_t i = 0; i < opt->nstart; i++) {
        if (opt->start[i].unit > opt->units) {
            sim_usage_error("unit %u of --%s is not in 1..%u",
                            opt->start[i].unit,
                            sim_cmd_name(opt->start[i].index), opt->units);
            return -1;
        }
        if (opt->start[i].mode) {
            opt->start[i].arg = sim_mode_parse(
                opt->start[i].mode, sim_rtu_framing(opt), "--malformed");
            if (opt->start[i].arg < 0) {
                log_err("bad --malformed mode '%s' (see tbdaq-sim --help)",
                        opt->start[i].mode);
                return -1;
            }
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct sim_options opt;
    int rc;

    log_init("tbdaq-sim", LOG_LEVEL_INFO, LOG_PLAIN);
    memset(&opt, 0, sizeof(opt));
    rc = sim_options_parse(&opt, argc, argv);
    if (rc == 0) {
        log_init("tbdaq-sim", LOG_LEVEL_INFO, LOG_STAMP);
        rc = sim_run(&opt);
    } else
        rc = rc > 0 ? SIM_EXIT_OK : SIM_EXIT_USAGE;
    free(opt.start);
    return rc;
}
