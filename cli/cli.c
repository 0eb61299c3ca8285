// SPDX-License-Identifier: MIT
/*
 * The pieces every `tbdaq` command uses: the config and the database named
 * on the command line, and uniform option errors.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <string.h>

#include "common/log.h"

struct config *cli_config(struct cli *cli)
{
    if (!cli->config)
        cli->config = config_load_logged(cli->config_path);
    return cli->config;
}

struct store *cli_store(struct cli *cli, enum store_mode mode)
{
    char err[STORE_ERR_MAX];
    struct store *s;
    const char *path = cli->database;

    if (!path) {
        struct config *c = cli_config(cli);

        if (!c)
            return NULL;
        path = c->database;
    }
    if (!(s = store_open(path, mode, err)))
        log_err("%s", err);
    return s;
}

int cli_getopt(int argc, char **argv, const char *shortopts,
               const struct option *longopts)
{
    int opt;

    opterr = 0;
    opt = getopt_long(argc, argv, shortopts, longopts, NULL);
    if (opt == ':') {
        log_err("option '%s' needs a value", argv[optind - 1]);
        return '?';
    }
    if (opt == '?') {
        if (optopt)
            log_err("unknown option '-%c' (see tbdaq -h)", optopt);
        else
            log_err("unknown option '%s' (see tbdaq -h)", argv[optind - 1]);
    }
    return opt;
}
