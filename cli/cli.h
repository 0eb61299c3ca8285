/* SPDX-License-Identifier: MIT */
/*
 * What the commands of `tbdaq` share: the global options, the config and
 * database they name, and each command's entry point. A command returns
 * the exit status: 0 success, 1 failure, 2 usage error (SPEC); what
 * failed is logged.
 *
 * Threads: tbdaq is one thread (but the export's writer, cli/export.h);
 * nothing here is thread-safe, and the option parsing uses getopt's
 * globals. Ownership: struct cli owns the configuration it loads (main
 * frees it); a store from cli_store() is the caller's to store_close().
 */
#ifndef TBDAQ_CLI_H
#define TBDAQ_CLI_H

#include <stdbool.h>

#include "lib/config.h"
#include "lib/control.h"
#include "lib/store.h"

/* Exit statuses of every command (SPEC). */
#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

struct cli {
    const char *config_path;
    bool config_given; /* -c was given */
    const char *database;
    struct config *config; /* loaded on first use; freed by main */
    bool config_failed;    /* and it could not be */
};

/* The configuration, loaded once (errors logged once, with a hint at -c
 * and -d when the default one cannot be read), or NULL. */
struct config *cli_config(struct cli *cli);

/*
 * Opens the database named by -d, or else by the configuration, in mode
 * (never STORE_READ_WRITE: the CLI does not create databases). Returns
 * the store, or NULL with the error logged.
 */
struct store *cli_store(struct cli *cli, enum store_mode mode);

/*
 * Asks the running daemon (SPEC Control) over the channel of the
 * configuration's control_socket, or else of the database (-d alone names
 * the database's own channel; the configuration is read only when -d is
 * not given or -c is). On success reply holds the daemon's answer with its
 * leading "ok " taken off. Returns 0; 1 if no daemon runs (err says so:
 * "tbdaqd is not running: no control channel at X", or no database for
 * it); -1 with err set (the daemon's "error" answer, or why it could not
 * be asked). Logs nothing itself, but a configuration's errors when it
 * loads one (cli_config()). Each ask waits up to CONTROL_ASK_MS; a
 * daemon busy with other clients is asked again for up to as long.
 */
int cli_ask(struct cli *cli, const struct control_request *req, char *reply,
            size_t len, char *err, size_t errlen);

/*
 * getopt_long() for the options of command ("run", "export", ...; argv[0]
 * is the command's or subcommand's name; set optind = 0 before the first
 * call, to start over after main's options). shortopts must start with
 * ':' and hold 'h', longopts CLI_OPTION_HELP. Returns the option, -1 at
 * the end, 'h' after printing the command's help on stdout, or '?' after
 * logging what is wrong ("unknown option '--x' (see tbdaq export
 * --help)", "option '--run' needs a value (see ...)").
 */
struct option;
int cli_getopt(int argc, char **argv, const char *shortopts,
               const struct option *longopts, const char *command);

/* The --help entry of every command's option table (shortopts "h"). */
#define CLI_OPTION_HELP                                                        \
    {                                                                          \
        "help", no_argument, NULL, 'h'                                         \
    }

/* Prints the help of command ("run", "export", ...) on stdout; returns
 * CLI_OK. In cli/tbdaq.c, beside the help of all commands. */
int cli_help(const char *command);

/*
 * For a command without options of its own: parses argv (argv[0] the
 * command's name) up to its first operand, which is then argv[optind] ("--"
 * ends the options, for an operand starting with '-'). Returns -1 to go
 * on, or the exit status to return: CLI_OK after --help (the help of
 * command printed), CLI_USAGE after an unknown option.
 */
int cli_operands(int argc, char **argv, const char *command);

/* The commands of cli/run.c, cli/export.c and cli/verify.c: argv[0] is
 * the command's name. */
int run_main(struct cli *cli, int argc, char **argv);
int status_main(struct cli *cli, int argc, char **argv);
int export_main(struct cli *cli, int argc, char **argv);
int verify_main(struct cli *cli, int argc, char **argv);
/* cli/report.c: `report --run NAME ...`, the verification report. */
int report_main(struct cli *cli, int argc, char **argv);
/* cli/probe.c: `probe ...`, which needs neither configuration nor
 * database. */
int probe_main(struct cli *cli, int argc, char **argv);
/* cli/read.c: `read SENSOR...`, configured sensors read once. */
int read_main(struct cli *cli, int argc, char **argv);
/* cli/confshow.c: `config show ...` (argv[0] "config", argv[1] "show"). */
int confshow_main(struct cli *cli, int argc, char **argv);

/*
 * cli/witness.c, for `verify --witness FILE`: checks every witness in
 * path against the chain of s (SPEC "Evidence", Witnessed), logging each
 * failure as "FILE:LINE: seq N: ..." and each malformed line as
 * "FILE:LINE: ..."; prints "witnesses ok: ..." on stdout when every one
 * matches. Returns CLI_OK, or CLI_FAIL (also for an unreadable file or
 * one without any witness).
 */
int witness_check(struct store *s, const char *path);

#endif
