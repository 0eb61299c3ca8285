// SPDX-License-Identifier: MIT
/*
 * tbdaq: the command-line tool for operators and auditors. It reads the
 * configuration and the database the daemon writes, and works whether or
 * not the daemon is running, except for `run start|mark|stop`, which ask
 * the running daemon over its control channel.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/util.h"
#include "daemon/config.h"
#include "daemon/plan.h"
#include "daemon/store.h"
#include "version.h"

/* `tbdaq status` counts bus errors over this recent window too. */
#define CLI_STATUS_RECENT_S 3600

/* The help of each command: `tbdaq -h` shows them all, `tbdaq COMMAND
 * --help` its own. */
static const struct {
    const char *command;
    const char *text;
} cli_helps[] = {
    {"check", "  check        validate the configuration; print buses, sensors "
              "and the\n"
              "               coalesced request plan\n"},
    {"status",
     "  status       whether tbdaqd runs (since when) and its live counters, "
     "the\n"
     "               open run; last reading and quality per sensor; per-bus "
     "error\n"
     "               and missed-slot counts; MQTT backlog\n"},
    {"run", "  run start NAME [--operator WHO] [--note TEXT]\n"
            "               have tbdaqd open a test run now; fails if one is "
            "open or\n"
            "               tbdaqd is not running. NAME: 1..64 of "
            "[A-Za-z0-9_.-]; WHO\n"
            "               (128 bytes) and TEXT (1024): UTF-8 without "
            "control characters\n"
            "  run mark [--] TEXT\n"
            "               have tbdaqd record a mark (event run_mark) in "
            "the open run\n"
            "  run stop [NAME]\n"
            "               have tbdaqd close the open run now (NAME: it "
            "must be the open\n"
            "               one)\n"
            "  run list     runs with start, end, operator, readings and "
            "sealed chain head\n"},
    {"export",
     "  export (--run NAME | --from TIME --to TIME) [--sensor ID]...\n"
     "         [--format csv|json] [-o, --output FILE]\n"
     "               the readings of a run or of the window [from, to), by "
     "time\n"
     "               then sensor; CSV (default) or JSON, to stdout or FILE; "
     "with\n"
     "               -o and CSV also FILE.manifest.json. TIME is ISO 8601 "
     "with a\n"
     "               zone: 2026-11-25T09:00:00Z, 2026-11-25T18:00:00+09:00\n"},
    {"verify", "  verify [--run NAME] [--witness FILE]\n"
               "               recompute the hash chain of the database (or "
               "of one run's\n"
               "               readings and its sealed chain head), and check "
               "it against\n"
               "               the chain witnesses recorded in FILE; exit 1 "
               "on any mismatch\n"},
    {"config", "  config show [--run NAME | --at TIME] [--list | --file PATH]\n"
               "               the configuration in force then (default: the "
               "newest), byte\n"
               "               for byte; --list: its files with their "
               "SHA-256\n"},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tbdaq [-c FILE] [-d DATABASE] COMMAND [ARGS]\n"
            "\n"
            "Operator and auditor tool for the tbdaq daemon.\n"
            "\n"
            "  -c, --config FILE      configuration file (default %s)\n"
            "  -d, --database FILE    database file (default: the "
            "configuration's\n"
            "                         'database')\n"
            "  -V, --version          print the version and exit\n"
            "  -h, --help             print this help and exit\n"
            "\n"
            "Commands (each also takes --help):\n",
            CONFIG_DEFAULT_PATH);
    for (size_t i = 0; i < sizeof(cli_helps) / sizeof(cli_helps[0]); i++)
        fputs(cli_helps[i].text, out);
    fputs("\nExit status: 0 success, 1 failure, 2 usage error.\n"
          "See tbdaq(1) and tbdaq.conf(5).\n",
          out);
}

int cli_help(const char *command)
{
    printf("usage: tbdaq [-c FILE] [-d DATABASE] COMMAND [ARGS]\n\n");
    for (size_t i = 0; i < sizeof(cli_helps) / sizeof(cli_helps[0]); i++)
        if (strcmp(cli_helps[i].command, command) == 0)
            fputs(cli_helps[i].text, stdout);
    printf("\nSee tbdaq --help for the global options, tbdaq(1) for "
           "more.\n");
    return CLI_OK;
}

static int cmd_check(struct cli *cli, int argc, char **argv)
{
    struct config *c;
    struct plan p;
    int rc;

    if ((rc = cli_operands(argc, argv, "check")) >= 0)
        return rc;
    if (optind < argc) {
        log_err("check takes no arguments");
        return CLI_USAGE;
    }
    if (!(c = cli_config(cli)))
        return 1;
    plan_build(c, &p);
    plan_print(c, &p, stdout);
    plan_release(&p);
    printf("configuration %s is valid\n", cli->config_path);
    return 0;
}

static int status_sensor(const struct store_sensor_status *st, void *arg)
{
    int64_t now = *(const int64_t *)arg;
    char ts[TIME_ISO_LEN];

    if (!st->has_reading) {
        printf("%-16s %-10s %-10s %-14s %-12s %s\n", st->tag, st->kind, st->bus,
               "-", "-",
               st->pruned ? "newest reading pruned by retention"
                          : "no readings yet");
        return 0;
    }
    time_format_iso(st->ts_us, ts);
    if (st->has_value)
        printf("%-16s %-10s %-10s %14.6g %-12s %s %s (%.1f s ago)", st->tag,
               st->kind, st->bus, st->value, st->quality, st->unit, ts,
               (double)(now - st->ts_us) / US_PER_S);
    else
        printf("%-16s %-10s %-10s %14s %-12s %s %s (%.1f s ago)", st->tag,
               st->kind, st->bus, "null", st->quality, st->unit, ts,
               (double)(now - st->ts_us) / US_PER_S);
    if (st->error)
        printf(": %s", st->error);
    putchar('\n');
    return 0;
}

static int status_bus(const struct store_bus_status *st, void *arg)
{
    (void)arg;
    printf("%-16s %12lld %14lld %12lld %14lld %12lld\n", st->bus,
           (long long)st->readings_total, (long long)st->errors_recent,
           (long long)st->errors_total, (long long)st->missed_recent,
           (long long)st->missed_total);
    return 0;
}

/* The value of "key value" line key in a status answer, or "". */
static const char *status_value(const char *reply, const char *key, char *buf,
                                size_t len)
{
    size_t k = strlen(key);

    for (const char *p = reply; *p; p += strcspn(p, "\n"), p += *p == '\n') {
        if (strncmp(p, key, k) == 0 && p[k] == ' ') {
            snprintf(buf, len, "%.*s", (int)strcspn(p + k + 1, "\n"),
                     p + k + 1);
            return buf;
        }
    }
    buf[0] = '\0';
    return buf;
}

/* The daemon's part of status: whether it runs, since when, its live
 * counters, from cli_ask()'s rc, reply and err. A daemon not running is a
 * state, not a failure. */
static void status_daemon(int rc, const char *reply, const char *err)
{
    char v[CONTROL_REPLY_MAX], ts[TIME_ISO_LEN], name[CONTROL_NAME_MAX + 1];
    long long n1, n2;

    if (rc == 1) {
        static const char prefix[] = "tbdaqd is not running: ";

        if (strncmp(err, prefix, sizeof(prefix) - 1) == 0)
            err += sizeof(prefix) - 1;
        printf("tbdaqd: not running (%s)\n\n", err);
        return;
    }
    if (rc < 0) {
        printf("tbdaqd: cannot ask it: %s\n\n", err);
        return;
    }
    time_format_iso(
        strtoll(status_value(reply, "started_us", v, sizeof(v)), NULL, 10), ts);
    printf("tbdaqd: running since %s (pid %s, %.*s)\n", ts,
           status_value(reply, "pid", v, sizeof(v)), (int)strcspn(reply, "\n"),
           reply);
    printf("  recorded:  %s readings",
           status_value(reply, "recorded", v, sizeof(v)));
    printf(" (last seq %s), ", status_value(reply, "last_seq", v, sizeof(v)));
    printf("%s failed polls, ",
           status_value(reply, "failed_polls", v, sizeof(v)));
    printf("%s missed slots, ",
           status_value(reply, "missed_slots", v, sizeof(v)));
    printf("%s buses down\n", status_value(reply, "buses_down", v, sizeof(v)));
    printf("  MQTT:      %s", status_value(reply, "mqtt", v, sizeof(v)));
    if (strcmp(v, "off") != 0)
        printf(", backlog %s readings",
               status_value(reply, "backlog", v, sizeof(v)));
    printf("\n  database:  %s\n",
           status_value(reply, "database", v, sizeof(v)));
    status_value(reply, "run", v, sizeof(v));
    if (sscanf(v, "%64s %lld", name, &n1) == 2) {
        time_format_iso(n1, ts);
        printf("  run:       '%s' open since %s\n", name, ts);
    } else {
        printf("  run:       none open\n");
    }
    status_value(reply, "clock", v, sizeof(v));
    if (sscanf(v, "synchronized %lld %lld", &n1, &n2) == 2)
        printf("  clock:     synchronized, estimated error %lld us "
               "(maximum %lld us)",
               n1, n2);
    else
        printf("  clock:     %s", v);
    status_value(reply, "clock_steps", v, sizeof(v));
    if (sscanf(v, "%lld %lld", &n1, &n2) == 2 && n1 > 0) {
        time_format_iso(n2, ts);
        printf("; %lld steps since start, the last at %s\n", n1, ts);
    } else {
        printf("; no step since start\n");
    }
    putchar('\n');
}

static int cmd_status(struct cli *cli, int argc, char **argv)
{
    struct control_request req = {.cmd = CONTROL_STATUS};
    char reply[CONTROL_REPLY_MAX], err[CONTROL_REPLY_MAX + 256];
    struct store *s;
    int64_t now = time_real_us();
    int rc, asked;

    if ((rc = cli_operands(argc, argv, "status")) >= 0)
        return rc;
    if (optind < argc) {
        log_err("status takes no arguments");
        return CLI_USAGE;
    }
    /* The daemon is asked first, but shown only once the database could
     * be opened: a database that cannot be read gets one error, no more. */
    asked = cli_ask(cli, &req, reply, sizeof(reply), err, sizeof(err));
    if (!(s = cli_store(cli, STORE_READ_SNAPSHOT)))
        return 1;
    status_daemon(asked, reply, err);
    printf("%-16s %-10s %-10s %14s %-12s %s\n", "SENSOR", "KIND", "BUS",
           "VALUE", "QUALITY", "UNIT TIME");
    /* The bus table's header goes out once the sensors are done: the store
     * calls bus_fn only after the last sensor. */
    rc = store_status(s, now - CLI_STATUS_RECENT_S * US_PER_S, status_sensor,
                      NULL, &now);
    if (rc == 0) {
        printf("\n%-16s %12s %14s %12s %14s %12s\n", "BUS", "READINGS",
               "ERRORS(1h)", "ERRORS", "MISSED(1h)", "MISSED");
        rc = store_status(s, now - CLI_STATUS_RECENT_S * US_PER_S, NULL,
                          status_bus, &now);
    }
    if (rc == 0) {
        int64_t acked = 0, last = 0;
        int absent = store_get_state(s, STORE_STATE_MQTT_ACKED, &acked);

        rc = absent < 0 || store_last_seq(s, &last) < 0;
        if (rc == 0 && absent)
            printf("\nMQTT: nothing published from this database\n");
        else if (rc == 0)
            printf("\nMQTT backlog: %lld readings not acknowledged by the "
                   "broker (acknowledged up to seq %lld of %lld)\n",
                   (long long)(last - acked), (long long)acked,
                   (long long)last);
    }
    if (rc != 0)
        log_err("%s", store_errmsg(s));
    store_close(s);
    return rc ? 1 : 0;
}

static const struct {
    const char *name;
    int (*fn)(struct cli *, int, char **);
} commands[] = {
    {"check", cmd_check},    {"status", cmd_status},  {"run", run_main},
    {"export", export_main}, {"verify", verify_main}, {"config", confshow_main},
};

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"database", required_argument, NULL, 'd'},
        {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct cli cli = {.config_path = CONFIG_DEFAULT_PATH};
    int opt, rc = CLI_USAGE;

    log_init("tbdaq", LOG_LEVEL_INFO, LOG_PLAIN);
    /* '+': stop at the command; its own options are its business. */
    while ((opt = opt_next(argc, argv, "+:c:d:Vh", longopts, "tbdaq --help")) !=
           -1) {
        switch (opt) {
        case 'c':
            cli.config_path = optarg;
            cli.config_given = true;
            break;
        case 'd':
            cli.database = optarg;
            break;
        case 'V':
            printf("tbdaq %s\n", TBDAQ_VERSION);
            return CLI_OK;
        case 'h':
            usage(stdout);
            return CLI_OK;
        default:
            return CLI_USAGE;
        }
    }
    if (optind >= argc) {
        log_err("no command given (see tbdaq --help)");
        return CLI_USAGE;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[optind], commands[i].name) == 0) {
            rc = commands[i].fn(&cli, argc - optind, argv + optind);
            config_free(cli.config);
            return rc;
        }
    }
    log_err("unknown command '%s' (see tbdaq --help)", argv[optind]);
    return CLI_USAGE;
}
