// SPDX-License-Identifier: MIT
/*
 * The pieces every `tbdaq` command uses: the config and the database named
 * on the command line, and uniform option errors.
 */
#include "cli/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/opt.h"
#include "common/util.h"

/* How long to wait before asking a daemon busy with clients again. */
#define CLI_BUSY_PAUSE_MS 100

struct config *cli_config(struct cli *cli)
{
    if (cli->config || cli->config_failed)
        return cli->config;
    cli->config = config_load_logged(cli->config_path);
    cli->config_failed = !cli->config;
    if (cli->config_failed && !cli->config_given && !cli->database &&
        access(cli->config_path, R_OK) < 0)
        log_err("name the configuration with -c FILE, or the database "
                "alone with -d FILE (see tbdaq --help)");
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

int cli_ask(struct cli *cli, const struct control_request *req, char *reply,
            size_t len, char *err, size_t errlen)
{
    const char *db = cli->database, *sock = NULL;
    char line[CONTROL_REQUEST_MAX + 1];
    struct control_addr a;
    struct timespec pause = {0, CLI_BUSY_PAUSE_MS * 1000 * 1000};
    struct stat st;
    int64_t give_up;
    int rc;

    if (!db || cli->config_given) {
        struct config *c = cli_config(cli);

        if (!c) {
            snprintf(err, errlen, "cannot read the configuration %s",
                     cli->config_path);
            return -1;
        }
        sock = c->control_socket;
        if (!db)
            db = c->database;
    }
    if (stat(db, &st) < 0) {
        snprintf(err, errlen,
                 "tbdaqd is not running: no database '%s' (%s) for it to "
                 "record",
                 db, strerror(errno));
        return errno == ENOENT ? 1 : -1;
    }
    if (control_address(sock, db, &a, err, errlen) < 0)
        return -1;
    if (control_format(req, line, sizeof(line)) < 0) {
        snprintf(err, errlen, "request too long for the control channel");
        return -1;
    }
    /* Believe a daemon running as root or as the database's owner only.
     * A daemon busy with other clients drops silent ones soon: ask again
     * until CONTROL_ASK_MS have passed. */
    give_up = time_mono_ns() + CONTROL_ASK_MS * NS_PER_MS;
    while ((rc = control_ask(&a, line, st.st_uid, reply, len, err, errlen)) ==
               0 &&
           strncmp(reply, "error busy", 10) == 0 && time_mono_ns() < give_up)
        nanosleep(&pause, NULL);
    if (rc != 0)
        return rc;
    if (strncmp(reply, "ok", 2) == 0 &&
        (reply[2] == ' ' || reply[2] == '\n' || reply[2] == '\0')) {
        size_t skip = reply[2] == ' ' ? 3 : 2;

        memmove(reply, reply + skip, strlen(reply + skip) + 1);
        return 0;
    }
    if (strncmp(reply, "error ", 6) == 0) {
        snprintf(err, errlen, "%.*s", (int)strcspn(reply + 6, "\n"), reply + 6);
        return -1;
    }
    snprintf(err, errlen, "control channel %s: unexpected answer", a.shown);
    return -1;
}

int cli_getopt(int argc, char **argv, const char *shortopts,
               const struct option *longopts, const char *command)
{
    char hint[64];
    int opt;

    snprintf(hint, sizeof(hint), "tbdaq %s --help", command);
    opt = opt_next(argc, argv, shortopts, longopts, hint);
    if (opt == 'h')
        cli_help(command);
    return opt;
}

int cli_operands(int argc, char **argv, const char *command)
{
    static const struct option longopts[] = {
        CLI_OPTION_HELP,
        {NULL, 0, NULL, 0},
    };
    int opt;

    optind = 0;
    /* '+': the first operand ends the options (run mark's text may hold
     * anything after it). */
    if ((opt = cli_getopt(argc, argv, "+:h", longopts, command)) != -1)
        return opt == 'h' ? CLI_OK : CLI_USAGE;
    return -1;
}
