// SPDX-License-Identifier: MIT
/*
 * tbdaq: the command-line tool for operators and auditors. It reads the
 * configuration and the database the daemon writes, and works whether or
 * not the daemon is running.
 */
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"
#include "common/util.h"
#include "daemon/config.h"
#include "daemon/plan.h"
#include "daemon/store.h"

/* `tbdaq status` counts bus errors over this recent window too. */
#define CLI_STATUS_RECENT_S 3600

static void usage(FILE *out)
{
    fprintf(out,
            "usage: tbdaq [-c FILE] [-d DATABASE] COMMAND [ARGS]\n"
            "\n"
            "Operator and auditor tool for the tbdaq daemon.\n"
            "\n"
            "  -c FILE      configuration file (default %s)\n"
            "  -d DATABASE  database file (default: the configuration's "
            "'database')\n"
            "  -h           print this help and exit\n"
            "\n"
            "Commands:\n"
            "  check        validate the configuration; print buses, "
            "sensors and the\n"
            "               coalesced request plan\n"
            "  status       last reading and quality per sensor, per-bus "
            "error and\n"
            "               missed-slot counts, MQTT backlog\n"
            "  run start NAME [--operator WHO] [--note TEXT]\n"
            "               open a test run now; fails if one is open. "
            "NAME: 1..64 of\n"
            "               [A-Za-z0-9_.-]; WHO (128 bytes) and TEXT (1024): "
            "UTF-8\n"
            "               without control characters\n"
            "  run stop [NAME]\n"
            "               close the open run now (NAME: it must be the "
            "open one)\n"
            "  run list     runs with start, end, operator, readings and "
            "sealed chain head\n"
            "  export (--run NAME | --from TIME --to TIME) [--sensor ID]...\n"
            "         [--format csv|json] [-o FILE]\n"
            "               the readings of a run or of the window "
            "[from, to), by time\n"
            "               then sensor; CSV (default) or JSON, to stdout "
            "or FILE; with\n"
            "               -o and CSV also FILE.manifest.json. TIME is ISO "
            "8601 with a\n"
            "               zone: 2026-11-25T09:00:00Z, "
            "2026-11-25T18:00:00+09:00\n"
            "  verify [--run NAME]\n"
            "               recompute the hash chain of the database (or of "
            "one run's\n"
            "               readings and its sealed chain head); exit 1 on "
            "any mismatch\n"
            "\n"
            "Exit status: 0 success, 1 failure, 2 usage error.\n",
            CONFIG_DEFAULT_PATH);
}

static int cmd_check(struct cli *cli, int argc, char **argv)
{
    struct config *c;
    struct plan p;

    (void)argv;
    if (argc > 1) {
        log_err("check takes no arguments");
        return 2;
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

static int cmd_status(struct cli *cli, int argc, char **argv)
{
    struct store *s;
    int64_t now = time_real_us();
    int rc;

    (void)argv;
    if (argc > 1) {
        log_err("status takes no arguments");
        return 2;
    }
    if (!(s = cli_store(cli, STORE_READ_SNAPSHOT)))
        return 1;
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
    {"export", export_main}, {"verify", verify_main},
};

int main(int argc, char **argv)
{
    struct cli cli = {.config_path = CONFIG_DEFAULT_PATH};
    int opt, rc = 2;

    log_init("tbdaq", LOG_LEVEL_INFO);
    /* '+': stop at the command; its own options are its business. */
    while ((opt = getopt(argc, argv, "+c:d:h")) != -1) {
        switch (opt) {
        case 'c':
            cli.config_path = optarg;
            cli.config_given = true;
            break;
        case 'd':
            cli.database = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        log_err("no command given");
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(argv[optind], commands[i].name) == 0) {
            rc = commands[i].fn(&cli, argc - optind, argv + optind);
            config_free(cli.config);
            return rc;
        }
    }
    log_err("unknown command '%s' (see tbdaq -h)", argv[optind]);
    return 2;
}
