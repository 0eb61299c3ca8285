// SPDX-License-Identifier: MIT
/*
 * `tbdaq verify [--run NAME] [--witness FILE]`: recomputes the audit chain
 * (SPEC "Audit chain") of the whole database or of one run, and names the
 * first batch and seq that no longer match; batches pruned by retention are
 * checked by their links and counted. With --witness, first checks the
 * chain against witnesses kept outside the database (cli/witness.c).
 * Read-only: it can run beside the daemon.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/fmt.h"
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

/* What follows a failure's message: where the reading is (SPEC Evidence,
 * "Verify says what and where"), and a missing trigger. */
static void verify_where(const struct store_verify_result *res, char *buf,
                         size_t len)
{
    char ts[TIME_ISO_LEN], value[FMT_DOUBLE_LEN];
    size_t n = 0;

    buf[0] = '\0';
    if (res->tag[0] || res->has_ts) {
        if (res->has_ts)
            fmt_time_iso(res->ts_us, ts);
        n += (size_t)snprintf(buf + n, len - n, " (sensor '%s', taken %s",
                              res->tag[0] ? res->tag : "?",
                              res->has_ts ? ts : "?");
        if (res->has_decoded && n < len) {
            value[fmt_double(res->decoded, value)] = '\0';
            n += (size_t)snprintf(buf + n, len - n,
                                  "; its raw words %s decode to %s", res->raw,
                                  value);
        }
        if (n < len)
            n += (size_t)snprintf(buf + n, len - n, ")");
    }
    if (res->no_trigger && n < len)
        snprintf(buf + n, len - n,
                 "; the database has no trigger 'readings_immutable'");
}

int verify_main(struct cli *cli, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"run", required_argument, NULL, 'r'},
        {"witness", required_argument, NULL, 'w'},
        CLI_OPTION_HELP,
        {NULL, 0, NULL, 0},
    };
    struct store_verify_result res;
    struct verify_run run = {0};
    const char *name = NULL, *witness = NULL;
    struct store *s;
    int opt, rc = CLI_FAIL, got, witnessed = CLI_OK;

    optind = 0;
    while ((opt = cli_getopt(argc, argv, ":h", longopts, "verify")) != -1) {
        if (opt == 'h')
            return CLI_OK;
        if (opt == 'r')
            name = optarg;
        else if (opt == 'w')
            witness = optarg;
        else
            return CLI_USAGE;
    }
    if (optind < argc) {
        log_err("verify takes no arguments besides --run NAME and "
                "--witness FILE");
        return CLI_USAGE;
    }
    if (!(s = cli_store(cli, STORE_READ_SNAPSHOT)))
        return CLI_FAIL;
    /* Checked first, and then the chain itself whatever the witnesses
     * said: an auditor wants both answers. */
    if (witness)
        witnessed = witness_check(s, witness);
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
        char where[512];

        verify_where(&res, where, sizeof(where));
        /* `what` names the batch itself in some messages */
        if (res.bad_batch && strncmp(res.what, "batch ", 6) != 0)
            log_err("verification failed: batch %lld: %s%s",
                    (long long)res.bad_batch, res.what, where);
        else
            log_err("verification failed: %s%s", res.what, where);
        goto fail;
    }
    if (res.no_trigger)
        log_warnx("the database has no trigger 'readings_immutable': its "
                  "readings could be changed (the daemon puts it back at "
                  "its next start)");
    printf("chain ok: %lld batches, %lld readings", (long long)res.batches,
           (long long)res.readings);
    /* Pruned batches are proven by their links only: say how many. */
    if (res.pruned_batches)
        printf("; %lld readings in %lld batches pruned by retention",
               (long long)res.pruned_readings, (long long)res.pruned_batches);
    putchar('\n');
    if (res.descriptions)
        printf("descriptions ok: %lld sensor description versions\n",
               (long long)res.descriptions);
    /* Descriptions recorded before schema 4 were never hashed. */
    if (res.uncovered)
        printf("note: %lld sensor descriptions predate schema version 4 and "
               "are not under the chain (their readings are)\n",
               (long long)res.uncovered);
    if (name && run.chain_head)
        printf("run '%s' is sealed with chain head %s (up to seq %lld)\n", name,
               run.chain_head, (long long)run.chain_seq);
    else if (name)
        printf("run '%s' is %s: no chain head yet\n", name,
               run.ended ? "stopped but not sealed (the daemon seals it once "
                           "its last readings are committed)"
                         : "still open");
    rc = witnessed;
fail:
    free(run.chain_head);
    store_close(s);
    return rc;
}
