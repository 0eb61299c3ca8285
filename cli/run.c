// SPDX-License-Identifier: MIT
/*
 * `tbdaq run start|stop|list`: test runs, which scope the record for an
 * audit. The CLI writes the runs table while the daemon runs; the store's
 * busy timeout makes it wait for the daemon's commits rather than fail.
 * The daemon notices the change and publishes it, and seals a stopped run
 * with the chain head once its last readings are committed.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"
#include "common/text.h"
#include "common/util.h"

/* Limits of what a run records (bytes; names are ASCII). */
#define RUN_NAME_MAX 64
#define RUN_OPERATOR_MAX 128
#define RUN_NOTE_MAX 1024
/* Hex digits of a chain head shown by `run list`: enough to tell heads
 * apart at a glance; `verify --run` and the export show all 64. */
#define RUN_HEAD_SHOWN 16

/* A copy of what a callback saw, for use after the store call. */
struct run_copy {
    char *name;
    int64_t started_us;
    bool ended;
    int64_t ended_us;
    int64_t readings;
};

static int run_copy_fn(const struct store_run *r, void *arg)
{
    struct run_copy *c = arg;

    c->name = xstrdup(r->name);
    c->started_us = r->started_us;
    c->ended = r->ended;
    c->ended_us = r->ended_us;
    c->readings = r->readings;
    return 0;
}

/* Checks a name; logs why it is refused. */
static int run_check_name(const char *name)
{
    if (text_is_name(name, RUN_NAME_MAX))
        return 0;
    if (name[0] == '\0')
        log_err("run name is empty");
    else if (strlen(name) > RUN_NAME_MAX && text_is_name(name, SIZE_MAX))
        log_err("run name '%s' is longer than %d characters", name,
                RUN_NAME_MAX);
    else
        log_err("run name '%s' has characters outside [A-Za-z0-9_.-]", name);
    return -1;
}

/* Checks --operator or --note; logs why it is refused. The text itself
 * is not echoed: it may hold the control characters refused. */
static int run_check_text(const char *what, const char *s, size_t max)
{
    if (text_is_clean(s, max))
        return 0;
    if (strlen(s) > max)
        log_err("%s is longer than %zu bytes", what, max);
    else
        log_err("%s is not UTF-8 text without control characters", what);
    return -1;
}

static int run_start(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"operator", required_argument, NULL, 'O'},
        {"note", required_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    const char *name, *operator_name = NULL, *note = NULL;
    char ts[TIME_ISO_LEN];
    struct store *s;
    int64_t now;
    int opt;

    optind = 0;
    while ((opt = cli_getopt(argc, argv, ":", longopts)) != -1) {
        switch (opt) {
        case 'O':
            operator_name = optarg;
            break;
        case 'n':
            note = optarg;
            break;
        default:
            return CLI_USAGE;
        }
    }
    if (optind != argc - 1) {
        log_err(optind >= argc ? "run start needs a run name"
                               : "run start takes one run name");
        return CLI_USAGE;
    }
    name = argv[optind];
    if (run_check_name(name) < 0 ||
        (operator_name &&
         run_check_text("--operator", operator_name, RUN_OPERATOR_MAX) < 0) ||
        (note && run_check_text("--note", note, RUN_NOTE_MAX) < 0))
        return CLI_USAGE;
    if (!(s = cli_store(cli, STORE_UPDATE)))
        return CLI_FAIL;
    now = time_real_us();
    if (store_run_start(s, name, operator_name, note, now) < 0) {
        log_err("%s", store_errmsg(s));
        store_close(s);
        return CLI_FAIL;
    }
    store_close(s);
    time_format_iso(now, ts);
    printf("run '%s' started at %s\n", name, ts);
    return CLI_OK;
}

static int run_stop(struct cli *cli, int argc, char **argv)
{
    struct run_copy open = {0}, done = {0};
    char ts[TIME_ISO_LEN];
    struct store *s;
    int rc = CLI_FAIL, found;

    if (argc > 2) {
        log_err("run stop takes at most one run name");
        return CLI_USAGE;
    }
    if (argc == 2 && argv[1][0] == '-') {
        log_err("unknown option '%s' (see tbdaq -h)", argv[1]);
        return CLI_USAGE;
    }
    if (!(s = cli_store(cli, STORE_UPDATE)))
        return CLI_FAIL;
    /* The open run's name, to report it; passing it on makes the stop
     * refuse should another run have replaced it meanwhile. */
    if ((found = store_run_open(s, run_copy_fn, &open)) < 0) {
        log_err("%s", store_errmsg(s));
        goto fail;
    }
    if (found == 1) {
        if (argc == 2)
            log_err("run '%s' is not open (no run is open)", argv[1]);
        else
            log_err("no run is open");
        goto fail;
    }
    if (store_run_stop(s, argc == 2 ? argv[1] : open.name, time_real_us()) <
            0 ||
        store_run_get(s, open.name, run_copy_fn, &done) != 0) {
        log_err("%s", store_errmsg(s));
        goto fail;
    }
    time_format_iso(done.ended_us, ts);
    printf("run '%s' stopped at %s (%lld readings)\n", done.name, ts,
           (long long)done.readings);
    rc = CLI_OK;
fail:
    free(open.name);
    free(done.name);
    store_close(s);
    return rc;
}

static int run_list_fn(const struct store_run *r, void *arg)
{
    char started[TIME_ISO_LEN], ended[TIME_ISO_LEN] = "open";
    char head[RUN_HEAD_SHOWN + 1] = "-";
    int *n = arg;

    time_format_iso(r->started_us, started);
    if (r->ended)
        time_format_iso(r->ended_us, ended);
    if (r->chain_head)
        snprintf(head, sizeof(head), "%s", r->chain_head);
    else if (r->ended)
        snprintf(head, sizeof(head), "(unsealed)");
    printf("%-20s %-27s %-27s %-16s %10lld %s\n", r->name, started, ended,
           r->operator_name ? r->operator_name : "-", (long long)r->readings,
           head);
    (*n)++;
    return 0;
}

static int run_list(struct cli *cli, int argc, char **argv)
{
    struct store *s;
    int n = 0, rc;

    (void)argv;
    if (argc > 1) {
        log_err("run list takes no arguments");
        return CLI_USAGE;
    }
    if (!(s = cli_store(cli, STORE_READ_SNAPSHOT)))
        return CLI_FAIL;
    printf("%-20s %-27s %-27s %-16s %10s %s\n", "NAME", "STARTED", "ENDED",
           "OPERATOR", "READINGS", "CHAIN HEAD");
    rc = store_runs(s, run_list_fn, &n);
    if (rc != 0)
        log_err("%s", store_errmsg(s));
    else if (n == 0)
        printf("(no runs)\n");
    store_close(s);
    return rc ? CLI_FAIL : CLI_OK;
}

int run_main(struct cli *cli, int argc, char **argv)
{
    static const struct {
        const char *name;
        int (*fn)(struct cli *, int, char **);
    } subs[] = {
        {"start", run_start},
        {"stop", run_stop},
        {"list", run_list},
    };

    if (argc < 2) {
        log_err("run needs 'start', 'stop' or 'list'");
        return CLI_USAGE;
    }
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(cli, argc - 1, argv + 1);
    log_err("unknown run command '%s' (start, stop or list)", argv[1]);
    return CLI_USAGE;
}
