// SPDX-License-Identifier: MIT
/*
 * The control channel: request parsing (a table), request formatting and
 * its bound, the peer credential decision as a function of uid, gid and
 * groups, and the daemon's side against real sockets and a real SQLite
 * file: a request in pieces, an oversized one, a silent client dropped at
 * its deadline, too many clients, and run start / mark / stop.
 */
#define _GNU_SOURCE /* struct ucred */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/util.h"
#include "daemon/channel.h"
#include "lib/store.h"

#define PATH_LEN 256

/* ---- Parsing ----------------------------------------------------------- */

struct parse_case {
    const char *line;
    int rc;
    enum control_cmd cmd;
    const char *name, *operator_name, *note, *text;
    const char *err; /* a part of the error, when rc is -1 */
};

static const struct parse_case parse_cases[] = {
    {"status", 0, CONTROL_STATUS, NULL, NULL, NULL, NULL, NULL},
    {"status\tx", -1, 0, NULL, NULL, NULL, NULL, "no arguments"},
    {"", -1, 0, NULL, NULL, NULL, NULL, "unknown request"},
    {"Status", -1, 0, NULL, NULL, NULL, NULL, "unknown request"},
    {"run start R1", -1, 0, NULL, NULL, NULL, NULL, "unknown request"},
    {"run-start\tR1", 0, CONTROL_RUN_START, "R1", NULL, NULL, NULL, NULL},
    {"run-start\tR-1.a_b\toperator=Kim\tnote=pump B, 25 °C", 0,
     CONTROL_RUN_START, "R-1.a_b", "Kim", "pump B, 25 °C", NULL, NULL},
    {"run-start\tR1\tnote=n\toperator=김지수 (QA)", 0, CONTROL_RUN_START, "R1",
     "김지수 (QA)", "n", NULL, NULL},
    {"run-start\tR1\toperator=", 0, CONTROL_RUN_START, "R1", "", NULL, NULL,
     NULL},
    {"run-start", -1, 0, NULL, NULL, NULL, NULL, "needs a run name"},
    {"run-start\t", -1, 0, NULL, NULL, NULL, NULL, "empty"},
    {"run-start\ta b", -1, 0, NULL, NULL, NULL, NULL, "outside"},
    {"run-start\tx/../y", -1, 0, NULL, NULL, NULL, NULL, "outside"},
    {"run-"
     "start\tRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRRR",
     -1, 0, NULL, NULL, NULL, NULL, "longer than 64"},
    {"run-start\tR1\toperator=a\toperator=b", -1, 0, NULL, NULL, NULL, NULL,
     "once each"},
    {"run-start\tR1\twho=a", -1, 0, NULL, NULL, NULL, NULL, "once each"},
    {"run-start\tR1\toperator=bad \xff", -1, 0, NULL, NULL, NULL, NULL,
     "operator is not UTF-8"},
    {"run-start\tR1\tnote=a\rb", -1, 0, NULL, NULL, NULL, NULL,
     "note is not UTF-8"},
    {"run-start\tR1\toperator=a\tnote=b\tx", -1, 0, NULL, NULL, NULL, NULL,
     "too many fields"},
    {"run-mark\tvalve V-3 opened", 0, CONTROL_RUN_MARK, NULL, NULL, NULL,
     "valve V-3 opened", NULL},
    {"run-mark", -1, 0, NULL, NULL, NULL, NULL, "one text"},
    {"run-mark\t", -1, 0, NULL, NULL, NULL, NULL, "empty"},
    {"run-mark\ta\tb", -1, 0, NULL, NULL, NULL, NULL, "one text"},
    {"run-mark\t\x1b[31m", -1, 0, NULL, NULL, NULL, NULL, "not UTF-8"},
    {"run-stop", 0, CONTROL_RUN_STOP, NULL, NULL, NULL, NULL, NULL},
    {"run-stop\tR1", 0, CONTROL_RUN_STOP, "R1", NULL, NULL, NULL, NULL},
    {"run-stop\tR 1", -1, 0, NULL, NULL, NULL, NULL, "outside"},
    {"run-stop\tR1\tR2", -1, 0, NULL, NULL, NULL, NULL, "at most one"},
};

static void check_str(const char *want, const char *got)
{
    if (!want)
        assert_null(got);
    else
        assert_string_equal(want, got);
}

static void test_parse_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *pc = &parse_cases[i];
        struct control_request req;
        char line[512], err[160] = "";
        int rc;

        snprintf(line, sizeof(line), "%s", pc->line);
        rc = control_parse(line, &req, err, sizeof(err));
        if (rc != pc->rc)
            fail_msg("'%s': %d, want %d (%s)", pc->line, rc, pc->rc, err);
        if (rc < 0) {
            if (!strstr(err, pc->err))
                fail_msg("'%s': error '%s' lacks '%s'", pc->line, err, pc->err);
            continue;
        }
        assert_int_equal(req.cmd, pc->cmd);
        check_str(pc->name, req.name);
        check_str(pc->operator_name, req.operator_name);
        check_str(pc->note, req.note);
        check_str(pc->text, req.text);
    }
}

/* What control_format writes, control_parse reads back. */
static void test_format_round_trip(void **state)
{
    struct control_request in = {.cmd = CONTROL_RUN_START,
                                 .name = "R-2",
                                 .operator_name = "김지수 (QA)",
                                 .note = "pump B; \"quoted\", back\\slash"},
                           out;
    char buf[CONTROL_REQUEST_MAX + 1], err[160];
    int n;

    (void)state;
    n = control_format(&in, buf, sizeof(buf));
    assert_true(n > 0);
    assert_int_equal(buf[n - 1], '\n');
    buf[n - 1] = '\0';
    assert_int_equal(control_parse(buf, &out, err, sizeof(err)), 0);
    assert_int_equal(out.cmd, CONTROL_RUN_START);
    assert_string_equal(out.name, "R-2");
    assert_string_equal(out.operator_name, in.operator_name);
    assert_string_equal(out.note, in.note);
}

/* A request longer than the daemon takes, or holding a TAB or newline in
 * a field, is not formatted. */
static void test_format_bounds(void **state)
{
    char big[CONTROL_REQUEST_MAX + 1], buf[2 * CONTROL_REQUEST_MAX];
    struct control_request req = {.cmd = CONTROL_RUN_MARK, .text = big};

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(control_format(&req, buf, sizeof(buf)), -1);
    big[CONTROL_REQUEST_MAX - 11] = '\0'; /* "run-mark\t" + text + "\n" */
    assert_int_equal(control_format(&req, buf, sizeof(buf)),
                     CONTROL_REQUEST_MAX - 1);
    req.text = "a\tb";
    assert_int_equal(control_format(&req, buf, sizeof(buf)), -1);
    req.text = "a\nstatus";
    assert_int_equal(control_format(&req, buf, sizeof(buf)), -1);
    req.text = "ok";
    assert_int_equal(control_format(&req, buf, 5), -1);
}

/* ---- Peer credentials -------------------------------------------------- */

static void test_peer_allowed(void **state)
{
    static const gid_t none[1] = {0};
    static const gid_t other[] = {10, 20, 30};
    static const gid_t member[] = {10, 998, 30};
    static const struct {
        uid_t uid;
        gid_t gid;
        const gid_t *groups;
        size_t ngroups;
        bool allowed;
    } cases[] = {
        /* the daemon runs as uid 999, gid 998 (tbdaq:tbdaq) */
        {0, 0, none, 0, true},          /* root */
        {0, 5000, other, 3, true},      /* root with other groups */
        {999, 5000, none, 0, true},     /* the daemon's user */
        {1000, 998, none, 0, true},     /* primary group tbdaq */
        {1000, 1000, member, 3, true},  /* supplementary group tbdaq */
        {1000, 1000, other, 3, false},  /* other groups only */
        {1000, 1000, none, 0, false},   /* no groups at all */
        {64123, 64123, none, 0, false}, /* a stranger */
        {998, 999, none, 0, false},     /* uid and gid swapped */
        {1000, 1000, member, 1, false}, /* only the groups given count */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (control_peer_allowed(cases[i].uid, cases[i].gid, cases[i].groups,
                                 cases[i].ngroups, 999,
                                 998) != cases[i].allowed)
            fail_msg("case %zu: uid %u gid %u: want %s", i,
                     (unsigned)cases[i].uid, (unsigned)cases[i].gid,
                     cases[i].allowed ? "allowed" : "refused");
    /* A daemon running as root serves its group 0 too. */
    assert_true(control_peer_allowed(1000, 1000, none, 1, 0, 0));
}

/* ---- The daemon's side ------------------------------------------------- */

struct world {
    char dir[PATH_LEN], db[PATH_LEN + 16];
    struct store *s;
    struct channel *c;
    struct control_addr a;
    int runs_changed;
    int flushes;      /* calls of the flush hook */
    int64_t flushed;  /* the last seq it says it gave */
    bool flush_fails; /* it says the database cannot be written */
};

static void on_runs(void *arg)
{
    ((struct world *)arg)->runs_changed++;
}

static int on_flush(void *arg, int64_t *last_seq)
{
    struct world *w = arg;

    w->flushes++;
    *last_seq = w->flushed;
    return w->flush_fails ? -1 : 0;
}

static void on_status(void *arg, struct channel_status *st)
{
    (void)arg;
    *st = (struct channel_status){.started_us = 1, .recorded = 42};
}

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    char err[STORE_ERR_MAX];
    struct channel_hooks h;

    if (!w)
        return -1;
    snprintf(w->dir, sizeof(w->dir), "/tmp/test_control.XXXXXX");
    if (!mkdtemp(w->dir))
        return -1;
    snprintf(w->db, sizeof(w->db), "%s/t.db", w->dir);
    if (!(w->s = store_open(w->db, STORE_READ_WRITE, err)))
        return -1;
    if (control_address(NULL, w->db, &w->a, err, sizeof(err)) < 0)
        return -1;
    h = (struct channel_hooks){.store = w->s,
                               .arg = w,
                               .runs_changed = on_runs,
                               .flush = on_flush,
                               .status = on_status};
    if (!(w->c = channel_open(&w->a, &h)))
        return -1;
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    char path[PATH_LEN + 32];

    channel_close(w->c);
    store_close(w->s);
    for (const char *const *sfx =
             (const char *const[]){"", "-wal", "-shm", NULL};
         *sfx; sfx++) {
        snprintf(path, sizeof(path), "%s%s", w->db, *sfx);
        unlink(path);
    }
    rmdir(w->dir);
    free(w);
    return 0;
}

/* A connected client socket (blocking: the channel is served between). */
static int client(struct world *w)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&w->a.sun, w->a.len), 0);
    return fd;
}

/* One turn of the daemon's loop for the channel: poll, then service. */
static void turn(struct world *w, int ms)
{
    struct pollfd fds[CHANNEL_FDS_MAX];
    size_t n = channel_pollfds(w->c, fds);
    int t = channel_timeout_ms(w->c);

    poll(fds, n, t < ms ? t : ms);
    channel_service(w->c, fds, n);
}

/* Serves the channel until fd's reply is complete (the daemon closed) or
 * within_ms passed; returns the reply, "" if none. */
static const char *reply_of(struct world *w, int fd, int within_ms, char *buf,
                            size_t len)
{
    int64_t until = time_mono_ns() + (int64_t)within_ms * NS_PER_MS;
    size_t got = 0;

    while (time_mono_ns() < until) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        ssize_t n;

        turn(w, 20);
        if (poll(&p, 1, 0) <= 0)
            continue;
        n = recv(fd, buf + got, len - 1 - got, MSG_DONTWAIT);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            break;
    }
    buf[got] = '\0';
    return buf;
}

static const char *ask_n(struct world *w, const char *request, size_t n,
                         char *buf, size_t len)
{
    int fd = client(w);

    assert_int_equal(send(fd, request, n, MSG_NOSIGNAL), (ssize_t)n);
    reply_of(w, fd, 3000, buf, len);
    close(fd);
    return buf;
}

static const char *ask(struct world *w, const char *request, char *buf,
                       size_t len)
{
    return ask_n(w, request, strlen(request), buf, len);
}

/* A request arriving in pieces is answered once its line is complete. */
static void test_partial_lines(void **state)
{
    struct world *w = *state;
    char buf[CONTROL_REPLY_MAX];
    int fd = client(w);

    assert_int_equal(send(fd, "sta", 3, 0), 3);
    for (int i = 0; i < 5; i++)
        turn(w, 10);
    /* Nothing yet: the line is not complete. */
    assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
    assert_int_equal(send(fd, "tus", 3, 0), 3);
    turn(w, 10);
    assert_int_equal(send(fd, "\n", 1, 0), 1);
    reply_of(w, fd, 3000, buf, sizeof(buf));
    close(fd);
    if (strncmp(buf, "ok tbdaqd ", 10) != 0 || !strstr(buf, "\nrecorded 42\n"))
        fail_msg("status answered '%s'", buf);
}

/* A line longer than CONTROL_REQUEST_MAX gets an error, not a wait. */
static void test_oversize(void **state)
{
    struct world *w = *state;
    char buf[CONTROL_REPLY_MAX], big[CONTROL_REQUEST_MAX + 100];
    int fd = client(w);

    memset(big, 's', sizeof(big));
    assert_int_equal(send(fd, big, sizeof(big), MSG_NOSIGNAL),
                     (ssize_t)sizeof(big));
    reply_of(w, fd, 3000, buf, sizeof(buf));
    close(fd);
    assert_string_equal(buf, "error request longer than 4096 bytes\n");
    /* Exactly the longest line the daemon takes is still read whole. */
    memset(big, 'x', CONTROL_REQUEST_MAX - 1);
    big[CONTROL_REQUEST_MAX - 1] = '\n';
    big[CONTROL_REQUEST_MAX] = '\0';
    assert_string_equal(ask(w, big, buf, sizeof(buf)),
                        "error unknown request\n");
    assert_string_equal(ask_n(w, "status\0x\n", 9, buf, sizeof(buf)),
                        "error unknown request\n");
}

/* A silent client is dropped at its deadline; others are served meanwhile;
 * more than CHANNEL_CLIENTS_MAX at once are told "busy". */
static void test_silent_and_busy(void **state)
{
    struct world *w = *state;
    char buf[CONTROL_REPLY_MAX];
    int silent[CHANNEL_CLIENTS_MAX], extra;
    int64_t t0 = time_mono_ns(), took;

    for (int i = 0; i < CHANNEL_CLIENTS_MAX - 1; i++) {
        silent[i] = client(w);
        turn(w, 0);
    }
    ask(w, "status\n", buf, sizeof(buf));
    assert_true(strncmp(buf, "ok tbdaqd ", 10) == 0);
    silent[CHANNEL_CLIENTS_MAX - 1] = client(w);
    turn(w, 0);
    extra = client(w);
    reply_of(w, extra, 1000, buf, sizeof(buf));
    close(extra);
    assert_string_equal(buf, "error busy: too many clients\n");
    reply_of(w, silent[0], CHANNEL_CLIENT_MS + 1000, buf, sizeof(buf));
    took = (time_mono_ns() - t0) / NS_PER_MS;
    assert_string_equal(buf, "");
    if (took < CHANNEL_CLIENT_MS - 100 || took > CHANNEL_CLIENT_MS + 900)
        fail_msg("the silent client was dropped after %lld ms",
                 (long long)took);
    for (int i = 0; i < CHANNEL_CLIENTS_MAX; i++)
        close(silent[i]);
    ask(w, "status\n", buf, sizeof(buf));
    assert_true(strncmp(buf, "ok tbdaqd ", 10) == 0);
}

static void test_runs(void **state)
{
    struct world *w = *state;
    char buf[CONTROL_REPLY_MAX];

    ask(w, "run-mark\tearly\n", buf, sizeof(buf));
    assert_string_equal(buf, "error no run is open\n");
    ask(w, "run-start\tU1\toperator=Kim\n", buf, sizeof(buf));
    assert_true(strncmp(buf, "ok run 'U1' started at ", 23) == 0);
    assert_int_equal(w->runs_changed, 1);
    ask(w, "run-start\tU2\n", buf, sizeof(buf));
    assert_true(strstr(buf, "error run 'U1' is still open") == buf);
    ask(w, "status\n", buf, sizeof(buf));
    assert_non_null(strstr(buf, "\nrun U1 "));
    ask(w, "run-mark\tvalve opened\n", buf, sizeof(buf));
    assert_true(strncmp(buf, "ok marked run 'U1' at ", 22) == 0);
    ask(w, "run-stop\tU2\n", buf, sizeof(buf));
    assert_true(strncmp(buf, "error ", 6) == 0);
    assert_int_equal(w->runs_changed, 1);
    ask(w, "run-stop\n", buf, sizeof(buf));
    assert_true(strncmp(buf, "ok run 'U1' stopped at ", 23) == 0);
    assert_int_equal(w->runs_changed, 2);
    ask(w, "run-stop\n", buf, sizeof(buf));
    assert_string_equal(buf, "error no run is open\n");
    ask(w, "status\n", buf, sizeof(buf));
    assert_non_null(strstr(buf, "\nrun -\n"));
}

/* What test_run_flush reads of a run. */
static int run_seqs_of(const struct store_run *r, void *arg)
{
    ((int64_t *)arg)[0] = r->first_seq;
    ((int64_t *)arg)[1] = r->ended ? r->last_seq : -1;
    return 0;
}

/* A run's line is drawn in the daemon's stream: the flush hook commits
 * what was taken, and the run starts at the seq after the last it gave;
 * its last seq is not drawn at the stop but later, once the pollers
 * have pushed everything taken before it (store_runs_settle(), the
 * daemon's). A database that cannot be written makes the run command
 * fail and records no run. */
static void test_run_flush(void **state)
{
    struct world *w = *state;
    char buf[CONTROL_REPLY_MAX];
    int64_t seqs[2] = {0, 0};

    w->flushed = 41;
    ask(w, "run-start\tF1\n", buf, sizeof(buf));
    assert_true(strncmp(buf, "ok run 'F1' started at ", 23) == 0);
    assert_int_equal(w->flushes, 1);
    assert_int_equal(store_run_get(w->s, "F1", run_seqs_of, seqs), 0);
    assert_int_equal(seqs[0], 42);
    assert_int_equal(seqs[1], -1);
    w->flushed = 57;
    ask(w, "run-stop\n", buf, sizeof(buf));
    assert_true(strncmp(buf, "ok run 'F1' stopped at ", 23) == 0);
    assert_int_equal(w->flushes, 2);
    assert_int_equal(store_run_get(w->s, "F1", run_seqs_of, seqs), 0);
    assert_int_equal(seqs[0], 42);
    assert_int_equal(seqs[1], INT64_MAX);
    assert_int_equal(store_runs_settle(w->s, 57), 1);
    assert_int_equal(store_run_get(w->s, "F1", run_seqs_of, seqs), 0);
    assert_int_equal(seqs[1], 57);

    w->flush_fails = true;
    ask(w, "run-start\tF2\n", buf, sizeof(buf));
    assert_true(strncmp(buf, "error database not writable", 27) == 0);
    assert_int_equal(store_run_get(w->s, "F2", run_seqs_of, seqs), 1);
    assert_int_equal(w->runs_changed, 2);
}

/* The channel of a database is one per realpath, whatever its length. */
static void test_address(void **state)
{
    struct world *w = *state;
    struct control_addr a, b;
    char err[1024], other[PATH_LEN + 64], longp[PATH_LEN + 300];

    (void)state;
    assert_int_equal(control_address(NULL, w->db, &a, err, sizeof(err)), 0);
    snprintf(other, sizeof(other), "%s/./../%s/t.db", w->dir,
             strrchr(w->dir, '/') + 1);
    assert_int_equal(control_address(NULL, other, &b, err, sizeof(err)), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(&a.sun, &b.sun, a.len);
    assert_int_equal(a.sun.sun_path[0], '\0');
    assert_true(strncmp(a.shown, "@tbdaq-", 7) == 0 && strlen(a.shown) == 71);
    snprintf(longp, sizeof(longp), "%s/%0200d.db", w->dir, 7);
    assert_int_equal(control_address(NULL, longp, &b, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "No such file"));
    assert_int_equal(
        control_address("/run/tbdaq/control", w->db, &b, err, sizeof(err)), 0);
    assert_string_equal(b.sun.sun_path, "/run/tbdaq/control");
    assert_string_equal(b.shown, "/run/tbdaq/control");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_table),
        cmocka_unit_test(test_format_round_trip),
        cmocka_unit_test(test_format_bounds),
        cmocka_unit_test(test_peer_allowed),
        cmocka_unit_test_setup_teardown(test_partial_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversize, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_and_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_runs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_flush, setup, teardown),
        cmocka_unit_test_setup_teardown(test_address, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
