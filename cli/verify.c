// SPDX-License-Identifier: MIT
/*
 * `tbdaq verify [--run NAME]`: recomputes the audit chain (SPEC "Audit
 * chain") of the whole database or of one run, and names the first batch
 * and seq that no longer match; batches pruned by retention are checked by
 * their links and counted. Read-only: it can run beside the daemon.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/log.h"
#include "common/util.h"

/* The run as recorded, for the report after the check. */
struct verify_run {
    char *chain_head; /* NULL if not sealed */
    int64_t chain_seq;
    bool ended;
};

static int verify_run_fn(const struct store_run *r, void *arg)
{
    struct verify_run *v = arg;

    v->chain_head = r->chain_head ? xstrdup(r->chain_head) : NULL;
    v->chain_seq = r->chain_seq;
    v->ended = r->ended;
    return 0;
}

int verify_main(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"run", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    struct store_verify_result res;
    struct verify_run run = {0};
    const char *name = NULL;
    struct store *s;
    int opt, rc = CLI_FAIL, got;

    optind = 0;
    while ((opt = cli_getopt(argc, argv, ":", longopts)) != -1) {
        if (opt != 'r')
            return CLI_USAGE;
        name = optarg;
    }
    if (optind < argc) {
        log_err("verify takes no arguments besides --run NAME");
        return CLI_USAGE;
    }
    if (!(s = cli_store(cli, STORE_READ_SNAPSHOT)))
        return CLI_FAIL;
    memset(&res, 0, sizeof(res));
    got = name ? store_verify_run(s, name, &res)
               : store_verify(s, 0, INT64_MAX, &res);
    if (got == 1) {
        log_err("unknown run '%s'", name);
        goto fail;
    }
    if (got < 0 || (name && store_run_get(s, name, verify_run_fn, &run) != 0)) {
        log_err("%s", store_errmsg(s));
        goto fail;
    }
    if (!res.ok) {
        /* `what` names the batch itself in some messages */
        if (res.bad_batch && strncmp(res.what, "batch ", 6) != 0)
            log_err("verification failed: batch %lld: %s",
                    (long long)res.bad_batch, res.what);
        else
            log_err("verification failed: %s", res.what);
        goto fail;
    }
    printf("chain ok: %lld batches, %lld readings", (long long)res.batches,
           (long long)res.readings);
    /* Pruned batches are proven by their links only: say how many. */
    if (res.pruned_batches)
        printf("; %lld readings in %lld batches pruned by retention",
               (long long)res.pruned_readings, (long long)res.pruned_batches);
    putchar('\n');
    if (name && run.chain_head)
        printf("run '%s' is sealed with chain head %s (up to seq %lld)\n", name,
               run.chain_head, (long long)run.chain_seq);
    else if (name)
        printf("run '%s' is %s: no chain head yet\n", name,
               run.ended ? "stopped but not sealed (the daemon seals it once "
                           "its last readings are committed)"
                         : "still open");
    rc = CLI_OK;
fail:
    free(run.chain_head);
    store_close(s);
    return rc;
}
