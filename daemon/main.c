// SPDX-License-Identifier: MIT
/*
 * tbdaqd: the data-acquisition daemon. One poller thread per bus feeds
 * the main thread through the queue; a signal thread turns SIGTERM,
 * SIGINT and SIGHUP into flags and wakes the main loop. The main loop
 * waits for readings, the publisher, the control channel or the next
 * deadline, then runs the jobs of the table below, each when it is due;
 * daemon.c has the lifecycle it turns between (start, reload, stop).
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/log.h"
#include "common/opt.h"
#include "common/util.h"
#include "daemon/daemon.h"
#include "daemon/notify.h"
#include "version.h"

/* The loop wakes at least this often, whatever else is due. */
#define MAIN_TURN_MAX_MS HEALTH_STATUS_MS

static atomic_bool want_stop;
/* When the stop signal arrived (CLOCK_MONOTONIC; 0 for a stop of the
 * daemon's own): SPEC's 5 s count from there. */
static atomic_int_fast64_t stop_signalled;
static atomic_bool want_reload;
static struct queue *signal_queue; /* set before the signal thread starts */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tbdaqd [-c FILE] [-t] [-v] [-V] [-h]\n"
            "\n"
            "The tbdaq data-acquisition daemon: polls Modbus sensors, records "
            "every\n"
            "reading in SQLite, publishes it over MQTT. Stays in the "
            "foreground and logs\n"
            "to stderr.\n"
            "\n"
            "  -c, --config FILE  configuration file (default %s)\n"
            "  -t, --check        check the configuration, print the poll "
            "plan, exit\n"
            "                     (0 valid, 1 not)\n"
            "  -v, --verbose      log at debug level\n"
            "  -V, --version      print the version and exit\n"
            "  -h, --help         print this help and exit\n"
            "\n"
            "Signals: SIGHUP reloads the configuration (an invalid one is "
            "rejected\n"
            "and the running one kept); SIGTERM or SIGINT stop after "
            "committing\n"
            "every reading taken.\n"
            "Exit status: 0 success, 1 failure, 2 usage error.\n"
            "See tbdaqd(8) and tbdaq.conf(5).\n",
            CONFIG_DEFAULT_PATH);
}

static void *signal_main(void *arg)
{
    sigset_t *set = arg;

    for (;;) {
        int sig = 0;

        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            atomic_store(&want_reload, true);
        } else {
            atomic_store(&stop_signalled, time_mono_ns());
            atomic_store(&want_stop, true);
            queue_wake(signal_queue);
            return NULL;
        }
        queue_wake(signal_queue);
    }
}

/* ---- The jobs of the main loop ----------------------------------------- */

/* Traceable time: a step of the wall clock since the last turn, and the
 * kernel's synchronisation state when it changed, as events. */
static void job_clock(struct daemon *d, int64_t now)
{
    struct event ev[CLOCK_EVENTS_MAX];
    size_t n = clock_watch_poll(&d->clock, ev, CLOCK_EVENTS_MAX);

    (void)now;
    for (size_t i = 0; i < n; i++)
        recorder_event(&d->rec, (struct queue_item){.type = QUEUE_EVENT,
                                                    .u.event = ev[i]});
}

/* The batch, when its oldest reading's commit_interval_ms is up. */
static void job_commit(struct daemon *d, int64_t now)
{
    if (now >= recorder_due_at(&d->rec))
        recorder_commit(&d->rec);
}

static void job_watchdog(struct daemon *d, int64_t now)
{
    health_watchdog(&d->health, d->pollers, d->npollers, now);
}

static void job_runs(struct daemon *d, int64_t now)
{
    (void)now;
    daemon_settle_runs(d);
    runwatch_follow(&d->runs, d->store, d->relay.pub, d->rec.last_ts_us,
                    d->config->commit_interval_ms, false);
}

static void job_witness(struct daemon *d, int64_t now)
{
    (void)now;
    relay_witness(&d->relay, d->rec.last_seq, false);
}

static void job_publish(struct daemon *d, int64_t now)
{
    (void)now;
    relay_pump(&d->relay, d->rec.last_seq, false, recorder_down(&d->rec));
    daemon_spb_pump(d);
}

/* A pruning step when one is due (retention.c). Nothing the broker has
 * not acknowledged yet is pruned. */
static void job_retention(struct daemon *d, int64_t now)
{
    if (d->config->retention_days <= 0 || recorder_down(&d->rec) ||
        now < d->retention.at)
        return;
    retention_step(&d->retention, d->store, d->config->retention_days,
                   relay_prunable(&d->relay, d->config), now);
}

static void job_reload(struct daemon *d, int64_t now)
{
    (void)now;
    if (atomic_exchange(&want_reload, false) && !daemon_stopping(d))
        daemon_reload(d);
}

static void job_status(struct daemon *d, int64_t now)
{
    health_status(&d->health, d->pollers, d->npollers, d->rec.committed,
                  relay_state(&d->relay),
                  relay_backlog(&d->relay, d->rec.last_seq),
                  recorder_down(&d->rec) ? recorder_error(&d->rec) : NULL, now);
}

/*
 * What the loop does after each wait, in this order (as redis'
 * serverCron): period_ms 0 runs at every turn (the job itself knows
 * whether it has anything to do: the recorder's and retention's own
 * deadlines are in main_deadline), otherwise at most that often.
 */
static const struct job {
    const char *name;
    int period_ms;
    void (*run)(struct daemon *d, int64_t now);
} jobs[] = {
    {"clock", 0, job_clock},
    {"commit", 0, job_commit},
    {"watchdog", 0, job_watchdog},
    {"runs", 0, job_runs},
    {"witness", 0, job_witness},
    {"publish", 0, job_publish},
    {"retention", 0, job_retention},
    {"reload", 0, job_reload},
    {"status", HEALTH_STATUS_MS, job_status},
};
#define NJOBS (sizeof(jobs) / sizeof(jobs[0]))

/* When the loop must wake next: the turn's limit, the next commit, the
 * watchdog, a job's period; now while retention has work left. */
static int64_t main_deadline(struct daemon *d, const int64_t *job_at,
                             int64_t now)
{
    int64_t deadline = now + MAIN_TURN_MAX_MS * NS_PER_MS;

    if (recorder_due_at(&d->rec) < deadline)
        deadline = recorder_due_at(&d->rec);
    if (health_due_at(&d->health) < deadline)
        deadline = health_due_at(&d->health);
    for (size_t i = 0; i < NJOBS; i++)
        if (jobs[i].period_ms && job_at[i] < deadline)
            deadline = job_at[i];
    if (retention_busy(&d->retention) && !recorder_down(&d->rec))
        deadline = now;
    return deadline;
}

static void main_loop(struct daemon *d)
{
    int64_t job_at[NJOBS], now = time_mono_ns();

    for (size_t i = 0; i < NJOBS; i++)
        job_at[i] = now + jobs[i].period_ms * NS_PER_MS;
    while (!daemon_stopping(d)) {
        daemon_poll_once(d, main_deadline(d, job_at, time_mono_ns()));
        now = time_mono_ns();
        for (size_t i = 0; i < NJOBS; i++) {
            if (now < job_at[i])
                continue;
            jobs[i].run(d, now);
            if (jobs[i].period_ms)
                job_at[i] = now + jobs[i].period_ms * NS_PER_MS;
        }
    }
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 't'},
        {"verbose", no_argument, NULL, 'v'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct daemon d = {.config_path = CONFIG_DEFAULT_PATH,
                       .want_stop = &want_stop,
                       .stop_signalled = &stop_signalled};
    bool check_only = false;
    sigset_t sigs;
    pthread_t sig_thread;
    int opt, rc = 1;

    /* Mistakes on the command line and -t's findings are for whoever
     * typed it: no time stamp (file:line: stays first, for editors). */
    log_init("tbdaqd", LOG_LEVEL_INFO, LOG_PLAIN);
    while ((opt = opt_next(argc, argv, ":c:tvVh", longopts, "tbdaqd --help")) !=
           -1) {
        switch (opt) {
        case 'c':
            d.config_path = optarg;
            break;
        case 't':
            check_only = true;
            break;
        case 'v':
            d.verbose = true;
            break;
        case 'V':
            printf("tbdaqd %s\n", TBDAQ_VERSION);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            return 2;
        }
    }
    if (optind != argc) {
        log_err("unexpected argument '%s' (see tbdaqd --help)", argv[optind]);
        return 2;
    }

    if (!check_only)
        log_init("tbdaqd", LOG_LEVEL_INFO, LOG_STAMP);
    if (!(d.config = config_load_logged(d.config_path)))
        return 1;
    config_warnings_log(d.config);
    plan_build(d.config, &d.plan);
    if (check_only) {
        plan_print(d.config, &d.plan, stdout);
        printf("configuration %s is valid\n", d.config_path);
        daemon_release(&d);
        return 0;
    }
    log_set_level(d.verbose ? LOG_LEVEL_DEBUG : d.config->log_level);

    /* Signals go to the signal thread only: block them before any thread
     * starts, so every thread inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A file-size limit makes writes fail with EFBIG, reported like a
     * full disk, instead of killing the daemon. */
    signal(SIGXFSZ, SIG_IGN);

    if (daemon_start(&d) < 0) {
        daemon_release(&d);
        return 1;
    }
    signal_queue = d.queue;
    if ((errno = pthread_create(&sig_thread, NULL, signal_main, &sigs))) {
        log_warn("cannot start the signal thread");
        daemon_release(&d);
        return 1;
    }
    if (daemon_start_pollers(&d) < 0) {
        daemon_fail(&d);
    } else {
        notify_ready();
        health_init(&d.health, time_mono_ns());
        rc = 0;
    }
    main_loop(&d);
    if (daemon_stop(&d) < 0 || d.failed)
        rc = 1;
    /* The signal thread ends after its first SIGTERM/SIGINT; if we stop for
     * another reason, send it one. */
    pthread_kill(sig_thread, SIGTERM);
    pthread_join(sig_thread, NULL);
    if (d.abandoned) {
        /* A poller thread still uses the queue, config and plan: leave
         * them to the end of the process, which is now. Everything taken
         * is committed and the database is closed. */
        channel_close(d.channel);
        store_close(d.store);
        _exit(rc);
    }
    daemon_release(&d);
    return rc;
}
