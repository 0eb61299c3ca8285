// SPDX-License-Identifier: MIT
/*
 * tbdaq: the command-line tool for operators and auditors. It reads the
 * configuration and the database the daemon writes, and works whether or
 * not the daemon is running, except for `run start|mark|stop`, which ask
 * the running daemon over its control channel.
 */
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"
#include "common/opt.h"
#include "common/util.h"
#include "lib/config.h"
#include "lib/plan.h"
#include "lib/store.h"
#include "version.h"

/* The help of each command: `tbdaq -h` shows them all, `tbdaq COMMAND
 * --help` its own. */
static const struct {
    const char *command;
    const char *text;
} cli_helps[] = {
    {"check", "  check        validate the configuration; print buses, sensors "
              "and the\n"
              "               coalesced request plan; warn (on stderr, exit "
              "0) of likely\n"
              "               commissioning mistakes\n"},
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
    {"report",
     "  report --run NAME [--compare DUT=REF]... [--format html|json]\n"
     "         [-o, --output FILE]\n"
     "               the verification report of a run: per sensor its "
     "identity,\n"
     "               calibration, a plot, and statistics over the run and "
     "each\n"
     "               segment (cut by run mark); each DUT against REF per "
     "segment;\n"
     "               the chain head and its verification, the clock, the "
     "events.\n"
     "               One self-contained HTML document (default) or JSON, "
     "to stdout\n"
     "               or FILE\n"},
    {"config", "  config show [--run NAME | --at TIME] [--list | --file PATH]\n"
               "               the configuration in force then (default: the "
               "newest), byte\n"
               "               for byte; --list: its files with their "
               "SHA-256\n"},
    {"probe",
     "  probe (--tcp HOST[:PORT] | --rtu-over-tcp HOST[:PORT] |\n"
     "         --rtu DEVICE [--baud N] [--parity none|even|odd]\n"
     "         [--stop-bits 1|2]) [--unit N]\n"
     "         [--table holding|input|coil|discrete] ADDRESS [COUNT]\n"
     "               read COUNT registers (default 4) or bits (default 16) "
     "of one\n"
     "               device once and print the raw words and every type x "
     "byte\n"
     "               order reading of them: for finding a device's layout. "
     "Port\n"
     "               502, unit 1, holding, 9600 baud, no parity, 1 stop bit "
     "and a\n"
     "               1000 ms timeout unless given; no configuration "
     "needed\n"},
    {"read", "  read SENSOR...\n"
             "               read configured sensors once over their buses' "
             "settings, bus\n"
             "               by bus, and print value, unit, quality and raw "
             "words as the\n"
             "               daemon would record them; writes nothing. Exit "
             "1 if one\n"
             "               could not be read. Stop tbdaqd first for an rtu "
             "or\n"
             "               rtu-over-tcp bus: two masters on one serial line "
             "garble\n"
             "               (or, without transaction ids, swap) each "
             "other's answers\n"},
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
    printf("usage: tbdaq [-c FILE] [-d DATABASE] %s ...\n\n", command);
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
        log_err("check takes no arguments (see tbdaq check --help)");
        return CLI_USAGE;
    }
    if (!(c = cli_config(cli)))
        return 1;
    /* Mistakes that parse: on stderr, and the config is still valid. */
    config_warnings_log(c);
    plan_build(c, &p);
    plan_print(c, &p, stdout);
    plan_release(&p);
    printf("configuration %s is valid\n", cli->config_path);
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(struct cli *, int, char **);
} commands[] = {
    {"check", cmd_check},      {"status", status_main}, {"run", run_main},
    {"export", export_main},   {"verify", verify_main}, {"report", report_main},
    {"config", confshow_main}, {"probe", probe_main},   {"read", read_main},
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
    /* Text in the record is UTF-8 whatever the user's locale: tables
     * measure it so (common/table.h). Numbers stay in the C locale. */
    setlocale(LC_CTYPE, "C.UTF-8");
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
