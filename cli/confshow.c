// SPDX-License-Identifier: MIT
/*
 * `tbdaq config show [--run NAME | --at TIME] [--list | --file PATH]`:
 * writes back, byte for byte, a configuration the daemon applied (SPEC
 * "Evidence", Configuration kept): by default the newest; with --run the
 * one in force when the run started; with --at the one in force at TIME.
 * --list prints every file of it with its SHA-256 instead ("SHA256  NAME",
 * as sha256sum does, the main file first); --file PATH writes the file
 * named PATH (the main file's path as the daemon was given it, or an
 * included file's name as its @include gives it). Read-only.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/fmt.h"
#include "common/log.h"
#include "common/util.h"

struct confshow {
    bool list;
    const char *file; /* --file, or NULL: the main file */
    bool found;
    bool failed; /* a write failed */
};

static int confshow_fn(const struct store_config_file *f, void *arg)
{
    struct confshow *c = arg;

    if (c->list) {
        c->found = true;
        if (printf("%s  %s\n", f->sha256, f->name) < 0)
            c->failed = true;
        return 0;
    }
    if (c->file ? strcmp(c->file, f->name) != 0 : f->idx != 0)
        return 0;
    c->found = true;
    if (f->len && fwrite(f->bytes, 1, f->len, stdout) != f->len)
        c->failed = true;
    return 1; /* one file: done */
}

/* The run's start, for --run. */
static int confshow_run_fn(const struct store_run *r, void *arg)
{
    *(int64_t *)arg = r->started_us;
    return 0;
}

int confshow_main(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"run", required_argument, NULL, 'r'},
        {"at", required_argument, NULL, 'a'},
        {"list", no_argument, NULL, 'l'},
        {"file", required_argument, NULL, 'f'},
        CLI_OPTION_HELP,
        {NULL, 0, NULL, 0},
    };
    struct confshow c = {false, NULL, false, false};
    const char *run = NULL, *at = NULL;
    int64_t at_us = INT64_MAX, id = 0;
    struct store *s;
    int opt, rc = CLI_FAIL, got;

    /* argv[0] is "config": the subcommand comes next */
    if (argc >= 2 &&
        (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return cli_help("config");
    if (argc < 2 || strcmp(argv[1], "show") != 0) {
        if (argc < 2)
            log_err("config needs 'show' (see tbdaq config --help)");
        else
            log_err("config: unknown %s '%s' (see tbdaq config --help)",
                    argv[1][0] == '-' ? "option" : "command", argv[1]);
        return CLI_USAGE;
    }
    argc--;
    argv++;
    optind = 0;
    while ((opt = cli_getopt(argc, argv, ":h", longopts, "config")) != -1) {
        switch (opt) {
        case 'h':
            return CLI_OK;
        case 'r':
            run = optarg;
            break;
        case 'a':
            at = optarg;
            break;
        case 'l':
            c.list = true;
            break;
        case 'f':
            c.file = optarg;
            break;
        default:
            return CLI_USAGE;
        }
    }
    if (optind < argc) {
        log_err("config show takes no arguments besides its options");
        return CLI_USAGE;
    }
    if (run && at) {
        log_err("config show takes --run or --at, not both");
        return CLI_USAGE;
    }
    if (c.list && c.file) {
        log_err("config show takes --list or --file, not both");
        return CLI_USAGE;
    }
    if (at && time_parse_iso(at, &at_us) < 0) {
        log_err("--at '%s' is not an ISO 8601 time", at);
        return CLI_USAGE;
    }
    if (!(s = cli_store(cli, STORE_READ_SNAPSHOT)))
        return CLI_FAIL;
    if (run) {
        got = store_run_get(s, run, confshow_run_fn, &at_us);
        if (got == 1) {
            log_err("unknown run '%s'", run);
            goto done;
        }
        if (got != 0) {
            log_err("%s", store_errmsg(s));
            goto done;
        }
    }
    got = store_config_at(s, at_us, &id);
    if (got == 1) {
        if (run)
            log_err("no configuration was recorded before run '%s' started",
                    run);
        else if (at)
            log_err("no configuration was recorded at or before %s", at);
        else
            log_err("no configuration was recorded in this database");
        goto done;
    }
    if (got < 0 || store_config_files(s, id, confshow_fn, &c) < 0) {
        log_err("%s", store_errmsg(s));
        goto done;
    }
    if (!c.found) {
        log_err("configuration %lld has no file '%s' (see config show --list)",
                (long long)id, c.file ? c.file : "");
        goto done;
    }
    if (c.failed || fflush(stdout) != 0) {
        log_err("cannot write to standard output");
        goto done;
    }
    rc = CLI_OK;
done:
    store_close(s);
    return rc;
}
