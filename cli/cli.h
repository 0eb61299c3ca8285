/* SPDX-License-Identifier: MIT */
/*
 * What the commands of `tbdaq` share: the global options, the config and
 * database they name, and each command's entry point. A command returns
 * the exit status: 0 success, 1 failure, 2 usage error (SPEC).
 */
#ifndef TBDAQ_CLI_H
#define TBDAQ_CLI_H

#include <stdbool.h>

#include "daemon/config.h"
#include "daemon/store.h"

/* Exit statuses of every command (SPEC). */
#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

struct cli {
    const char *config_path;
    bool config_given; /* -c was given */
    const char *database;
    struct config *config; /* loaded on first use; freed by main */
};

/* The configuration, loaded once (errors logged), or NULL. */
struct config *cli_config(struct cli *cli);

/*
 * Opens the database named by -d, or else by the configuration, in mode
 * (never STORE_READ_WRITE: the CLI does not create databases). Returns
 * the store, or NULL with the error logged.
 */
struct store *cli_store(struct cli *cli, enum store_mode mode);

/*
 * getopt_long() for a command's options (argv[0] is the command's name;
 * set optind = 0 before the first call, to start over after main's
 * options). shortopts must start with ':'. Returns the option, -1 at the
 * end, or '?' after logging what is wrong ("unknown option '--x' (see
 * tbdaq -h)", "option '--run' needs a value").
 */
struct option;
int cli_getopt(int argc, char **argv, const char *shortopts,
               const struct option *longopts);

/* The commands of cli/run.c, cli/export.c and cli/verify.c: argv[0] is
 * the command's name. */
int run_main(struct cli *cli, int argc, char **argv);
int export_main(struct cli *cli, int argc, char **argv);
int verify_main(struct cli *cli, int argc, char **argv);

#endif
