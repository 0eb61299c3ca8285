// SPDX-License-Identifier: MIT
/*
 * `tbdaq run start|mark|stop|list`: test runs, which scope the record for
 * an audit. Start, mark and stop are carried out by the running daemon,
 * asked over its control channel (lib/control.h), so that a run's
 * boundaries are points in the daemon's own stream of readings and the
 * daemon stays its database's only writer; with no daemon they fail. The
 * daemon publishes the change, and seals a stopped run with the chain
 * head once its last readings are committed. `run list` reads the
 * database.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/table.h"
#include "common/log.h"
#include "common/text.h"
#include "common/util.h"

/* Limits of what a run records (bytes; names are ASCII). */
#define RUN_NAME_MAX CONTROL_NAME_MAX
#define RUN_OPERATOR_MAX CONTROL_OPERATOR_MAX
#define RUN_NOTE_MAX CONTROL_TEXT_MAX
/* Hex digits of a chain head shown by `run list`: enough to tell heads
 * apart at a glance; `verify --run` and the export show all 64. */
#define RUN_HEAD_SHOWN 16

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

/* Asks the daemon req; prints the first line of its answer. */
static int run_ask(struct cli *cli, const struct control_request *req)
{
    char reply[CONTROL_REPLY_MAX], err[CONTROL_REPLY_MAX + 256];

    if (cli_ask(cli, req, reply, sizeof(reply), err, sizeof(err)) != 0) {
        log_err("%s", err);
        return CLI_FAIL;
    }
    printf("%.*s\n", (int)strcspn(reply, "\n"), reply);
    return CLI_OK;
}

static int run_start(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"operator", required_argument, NULL, 'O'},
        {"note", required_argument, NULL, 'n'},
        CLI_OPTION_HELP,
        {NULL, 0, NULL, 0},
    };
    struct control_request req = {.cmd = CONTROL_RUN_START};
    int opt;

    optind = 0;
    while ((opt = cli_getopt(argc, argv, ":h", longopts, "run")) != -1) {
        switch (opt) {
        case 'h':
            return CLI_OK;
        case 'O':
            req.operator_name = optarg;
            break;
        case 'n':
            req.note = optarg;
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
    req.name = argv[optind];
    if (run_check_name(req.name) < 0 ||
        (req.operator_name && run_check_text("--operator", req.operator_name,
                                             RUN_OPERATOR_MAX) < 0) ||
        (req.note && run_check_text("--note", req.note, RUN_NOTE_MAX) < 0))
        return CLI_USAGE;
    return run_ask(cli, &req);
}

static int run_mark(struct cli *cli, int argc, char **argv)
{
    struct control_request req = {.cmd = CONTROL_RUN_MARK};
    int rc;

    if ((rc = cli_operands(argc, argv, "run")) >= 0)
        return rc;
    argc -= optind - 1;
    argv += optind - 1;
    if (argc != 2) {
        log_err(argc < 2 ? "run mark needs a text"
                         : "run mark takes one text "
                           "(quote it)");
        return CLI_USAGE;
    }
    if (argv[1][0] == '\0') {
        log_err("run mark's text is empty");
        return CLI_USAGE;
    }
    if (run_check_text("the mark's text", argv[1], RUN_NOTE_MAX) < 0)
        return CLI_USAGE;
    req.text = argv[1];
    return run_ask(cli, &req);
}

static int run_stop(struct cli *cli, int argc, char **argv)
{
    struct control_request req = {.cmd = CONTROL_RUN_STOP};
    int rc;

    if ((rc = cli_operands(argc, argv, "run")) >= 0)
        return rc;
    argc -= optind - 1;
    argv += optind - 1;
    if (argc > 2) {
        log_err("run stop takes at most one run name");
        return CLI_USAGE;
    }
    if (argc == 2) {
        if (run_check_name(argv[1]) < 0)
            return CLI_USAGE;
        req.name = argv[1];
    }
    return run_ask(cli, &req);
}

static int run_list_fn(const struct store_run *r, void *arg)
{
    char started[TIME_ISO_LEN], ended[TIME_ISO_LEN] = "open";
    char head[RUN_HEAD_SHOWN + 1] = "-";
    struct table *t = arg;

    time_format_iso(r->started_us, started);
    if (r->ended)
        time_format_iso(r->ended_us, ended);
    if (r->chain_head)
        snprintf(head, sizeof(head), "%s", r->chain_head);
    else if (r->ended)
        snprintf(head, sizeof(head), "(unsealed)");
    table_cell(t, "%s", r->name);
    table_cell(t, "%s", started);
    table_cell(t, "%s", ended);
    table_cell(t, "%s", r->operator_name ? r->operator_name : "-");
    table_cell(t, "%lld", (long long)r->readings);
    table_cell(t, "%s", head);
    return 0;
}

static int run_list(struct cli *cli, int argc, char **argv)
{
    static const char *const head[] = {
        "NAME", "STARTED", "ENDED", "OPERATOR", ">READINGS", "CHAIN HEAD", NULL,
    };
    struct table t;
    struct store *s;
    int rc;

    if ((rc = cli_operands(argc, argv, "run")) >= 0)
        return rc;
    if (optind < argc) {
        log_err("run list takes no arguments (see tbdaq run --help)");
        return CLI_USAGE;
    }
    if (!(s = cli_store(cli, STORE_READ_SNAPSHOT)))
        return CLI_FAIL;
    table_init(&t, head);
    rc = store_runs(s, run_list_fn, &t);
    if (rc != 0)
        log_err("%s", store_errmsg(s));
    else if (t.ncells == t.ncols)
        printf("(no runs)\n");
    else
        table_print(&t, stdout);
    table_release(&t);
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
        {"mark", run_mark},
        {"stop", run_stop},
        {"list", run_list},
    };

    if (argc < 2) {
        log_err("run needs 'start', 'mark', 'stop' or 'list' (see tbdaq run "
                "--help)");
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return cli_help("run");
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (strcmp(argv[1], subs[i].name) == 0)
            return subs[i].fn(cli, argc - 1, argv + 1);
    log_err("run: unknown %s '%s' (see tbdaq run --help)",
            argv[1][0] == '-' ? "option" : "command", argv[1]);
    return CLI_USAGE;
}
