// SPDX-License-Identifier: MIT
/*
 * `tbdaq report --run NAME [--compare DUT=REF]... [--format html|json]
 * [-o FILE]`: the verification report of a run (SPEC "Report"), written
 * by lib/report.h to stdout or to FILE (under a temporary name, renamed
 * into place once complete, as the export's files). Read-only: it can
 * run beside the daemon.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/export.h"
#include "common/log.h"
#include "common/util.h"
#include "lib/report.h"

/* What the options ask for; the comparisons point into argv. */
struct report_request {
    struct report_opts o;
    struct report_compare *compare;
    size_t cap;
    const char *out_path; /* NULL: stdout */
};

/* Splits DUT=REF in place (argv is ours to cut). Returns 0, or -1 after
 * logging why. */
static int report_add_compare(struct report_request *q, char *arg)
{
    char *eq = strchr(arg, '=');

    if (!eq || eq == arg || !eq[1] || strchr(eq + 1, '=')) {
        log_err("--compare '%s' is not DUT=REF (two sensor ids)", arg);
        return -1;
    }
    *eq = '\0';
    xgrow(&q->compare, &q->cap, q->o.ncompare + 1, sizeof(*q->compare));
    q->compare[q->o.ncompare++] = (struct report_compare){arg, eq + 1};
    q->o.compare = q->compare;
    return 0;
}

/* Parses the options. Returns 0, -1 after printing the help, or
 * CLI_USAGE after logging why. */
static int report_parse(struct report_request *q, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"run", required_argument, NULL, 'r'},
        {"compare", required_argument, NULL, 'C'},
        {"format", required_argument, NULL, 'F'},
        {"output", required_argument, NULL, 'o'},
        CLI_OPTION_HELP,
        {NULL, 0, NULL, 0},
    };
    int opt;

    optind = 0;
    while ((opt = cli_getopt(argc, argv, ":o:h", longopts, "report")) != -1) {
        switch (opt) {
        case 'h':
            return -1;
        case 'r':
            q->o.run = optarg;
            break;
        case 'C':
            if (report_add_compare(q, optarg) < 0)
                return CLI_USAGE;
            break;
        case 'F':
            if (strcmp(optarg, "html") != 0 && strcmp(optarg, "json") != 0) {
                log_err("unknown format '%s' (html or json)", optarg);
                return CLI_USAGE;
            }
            q->o.format =
                strcmp(optarg, "json") == 0 ? REPORT_JSON : REPORT_HTML;
            break;
        case 'o':
            q->out_path = strcmp(optarg, "-") == 0 ? NULL : optarg;
            break;
        default:
            return CLI_USAGE;
        }
    }
    if (optind < argc) {
        log_err("unexpected argument '%s' (see tbdaq report --help)",
                argv[optind]);
        return CLI_USAGE;
    }
    if (!q->o.run) {
        log_err("report needs --run NAME (see tbdaq report --help)");
        return CLI_USAGE;
    }
    return 0;
}

/* Writes the report to stdout, or to a new file renamed into place. */
static int report_emit(struct report_request *q, struct store *s)
{
    struct outfile of = {.fd = -1};
    char err[512];
    FILE *f = stdout;
    int fd, got, rc = CLI_FAIL;

    if (q->out_path) {
        if (outfile_open(&of, q->out_path) < 0)
            return CLI_FAIL;
        /* the stream gets its own descriptor: outfile_close() syncs and
         * closes the file's own */
        if ((fd = dup(of.fd)) < 0 || !(f = fdopen(fd, "w"))) {
            log_warn("cannot write '%s'", q->out_path);
            if (fd >= 0)
                close(fd);
            goto done;
        }
    }
    got = report_write(s, &q->o, f, err, sizeof(err));
    if (q->out_path && fclose(f) != 0 && got == 0) {
        log_warn("cannot write '%s'", q->out_path);
        got = -1;
    }
    if (got != 0) {
        if (err[0])
            log_err("%s", err);
        goto done;
    }
    if (q->out_path) {
        if (outfile_close(&of) < 0 || outfile_commit(&of) < 0)
            goto done;
        outfile_sync_dir(q->out_path);
    }
    rc = CLI_OK;
done:
    outfile_release(&of);
    return rc;
}

int report_main(struct cli *cli, int argc, char **argv)
{
    struct report_request q = {0};
    struct store *s;
    int rc;

    q.o.format = REPORT_HTML;
    if ((rc = report_parse(&q, argc, argv)) != 0) {
        free(q.compare);
        return rc < 0 ? CLI_OK : rc;
    }
    if (!(s = cli_store(cli, STORE_READ_SNAPSHOT))) {
        free(q.compare);
        return CLI_FAIL;
    }
    rc = report_emit(&q, s);
    store_close(s);
    free(q.compare);
    return rc;
}
