// SPDX-License-Identifier: MIT
/*
 * `tbdaq export`: the readings of a run or a time window as CSV or JSON,
 * with the manifest an auditor needs (SPEC "Export").
 *
 * It streams: rows go from the store's cursor through 1 MiB buffers that
 * a writer thread hashes and writes while the next fills, so memory stays
 * constant however many rows there are. Formatting avoids printf
 * (common/fmt.h).
 *
 * What is exported is fixed when the export starts: every read it makes
 * (the run, the sensors, each pass over the rows, the manifest's clock
 * and events) runs inside one read snapshot of the store
 * (store_snapshot_begin()), so none of them sees what the daemon commits
 * meanwhile (into a window that reaches into the last commit interval, or
 * an open run), and the manifest's counts are those of the rows exported:
 * CSV tallies them as they stream and writes the manifest after; JSON,
 * whose manifest comes first, takes the database's counts, read in the
 * same snapshot (see export_json).
 *
 * With -o FILE nothing is ever left half-written: the data (and the
 * manifest) go to temporary files beside FILE, are synced, and are renamed
 * into place only when complete; any error removes them.
 *
 * This file is the command: its options, and the job that drives the
 * parts (listed in cli/export.h) for either format.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/export.h"
#include "common/fmt.h"
#include "common/log.h"
#include "common/util.h"

/* The suffix of the manifest file written beside -o FILE. */
#define EXPORT_MANIFEST_SUFFIX ".manifest.json"

static void export_on_signal(int sig)
{
    (void)sig;
    export_interrupted = 1;
}

/* --- what the database says --------------------------------------------- */

static int export_run_fn(const struct store_run *r, void *arg)
{
    struct export_run *run = arg;

    run->name = xstrdup(r->name);
    run->operator_name = export_dup(r->operator_name);
    run->note = export_dup(r->note);
    run->config_sha256 = export_dup(r->config_sha256);
    run->chain_head = export_dup(r->chain_head);
    run->started_us = r->started_us;
    run->ended = r->ended;
    run->ended_us = r->ended_us;
    store_run_scope(r, &run->scope);
    return 0;
}

static void export_release(struct export_job *e)
{
    export_sensors_release(e);
    free(e->tags);
    free(e->site);
    free(e->run.name);
    free(e->run.operator_name);
    free(e->run.note);
    free(e->run.config_sha256);
    free(e->run.chain_head);
}

/* --- the two formats ----------------------------------------------------- */

/* Every read is done: ends the snapshot before the files are put in
 * place, so that one a database error ended early fails the export with
 * nothing left behind (the reads were not all of one state of the file). */
static int export_reads_done(struct store *s)
{
    if (store_snapshot_end(s) == 0)
        return 0;
    log_err("internal error: %s", store_errmsg(s));
    return -1;
}

/* Logs that the window holds no rows. */
static void export_log_empty(const struct export_job *e)
{
    char from[TIME_ISO_LEN], to[TIME_ISO_LEN];
    const char *which = e->ntags ? " of the given sensors" : "";

    if (e->has_run) {
        log_err("no readings%s in run '%s'", which, e->run_name);
        return;
    }
    fmt_time_iso(e->from_us, from);
    fmt_time_iso(e->to_us, to);
    log_err("no readings%s from %s to %s", which, from, to);
}

static int export_csv(struct export_job *e, struct store *s)
{
    struct outfile data = {.fd = -1}, man = {.fd = -1};
    struct sink k = {.fd = -1}, mk = {.fd = -1};
    char sha[SHA256_HEX_LEN], *man_path = NULL;
    const char *base;
    int rc = -1;

    if (e->out_path && outfile_open(&data, e->out_path) < 0)
        return -1;
    sink_init(&k, e->out_path ? data.fd : STDOUT_FILENO,
              e->out_path ? e->out_path : "stdout", e->out_path != NULL);
    e->sink = &k;
    if (export_pass(e, s, export_write_row) < 0)
        goto fail;
    if (e->rows == 0) {
        export_log_empty(e);
        goto fail;
    }
    if (sink_finish(&k) < 0)
        goto fail;
    if (!e->out_path) {
        rc = 0;
        goto fail;
    }
    sha256_finish_hex(k.hash, sha);
    k.hash = NULL;
    if (outfile_close(&data) < 0)
        goto fail;

    /* The manifest: the sensors the rows showed, described (cheaply: an
     * empty window), and counted from the rows. */
    if (!e->ntags && export_describe(e, s, false) < 0)
        goto fail;
    export_take_tally(e);
    export_drop_unseen(e);
    man_path = xmalloc(strlen(e->out_path) + sizeof(EXPORT_MANIFEST_SUFFIX));
    strcpy(man_path, e->out_path);
    strcat(man_path, EXPORT_MANIFEST_SUFFIX);
    if (outfile_open(&man, man_path) < 0)
        goto fail;
    sink_init(&mk, man.fd, man_path, false);
    base = strrchr(e->out_path, '/');
    if (manifest_write(e, s, &mk, base ? base + 1 : e->out_path, sha) < 0)
        goto fail;
    sink_puts(&mk, "\n");
    if (sink_finish(&mk) < 0 || export_reads_done(s) < 0)
        goto fail;
    if (outfile_close(&man) < 0 || outfile_commit(&data) < 0)
        goto fail;
    if (outfile_commit(&man) < 0) {
        /* never a data file without its manifest */
        unlink(e->out_path);
        goto fail;
    }
    outfile_sync_dir(e->out_path);
    rc = 0;
fail:
    sink_release(&k);
    if (mk.buf)
        sink_release(&mk);
    outfile_release(&data);
    if (man.path)
        outfile_release(&man);
    free(man_path);
    return rc;
}

/*
 * JSON puts the manifest, with its counts, before the rows. The counts
 * are the database's per-sensor counts (cheap), read in the snapshot that
 * the rows are read in, so they count exactly the rows that follow. The
 * rows are tallied as they stream all the same: should the two ever
 * differ (a bug in a query), that is an internal error, and the export
 * fails rather than leave a manifest that does not describe its rows.
 */
static int export_json(struct export_job *e, struct store *s)
{
    struct outfile data = {.fd = -1};
    struct sink k = {.fd = -1};
    int rc = -1;

    export_drop_unseen(e);
    if (export_counted(e) == 0) {
        export_log_empty(e);
        return -1;
    }
    if (e->out_path && outfile_open(&data, e->out_path) < 0)
        return -1;
    sink_init(&k, e->out_path ? data.fd : STDOUT_FILENO,
              e->out_path ? e->out_path : "stdout", false);
    e->sink = &k;
    e->rows = export_counted(e);
    sink_puts(&k, "{\"manifest\":");
    if (manifest_write(e, s, &k, NULL, NULL) < 0)
        goto fail;
    sink_puts(&k, ",\n\"readings\":[\n");
    if (export_pass(e, s, export_write_row) < 0)
        goto fail;
    if (!export_tally_matches(e)) {
        log_err("internal error: the manifest counts %lld readings, but "
                "%lld were exported%s",
                (long long)export_counted(e), (long long)e->rows,
                e->out_path ? "" : " (the output is not valid)");
        goto fail;
    }
    sink_puts(&k, "\n]}\n");
    if (sink_finish(&k) < 0 || export_reads_done(s) < 0)
        goto fail;
    if (e->out_path) {
        if (outfile_close(&data) < 0 || outfile_commit(&data) < 0)
            goto fail;
        outfile_sync_dir(e->out_path);
    }
    rc = 0;
fail:
    sink_release(&k);
    outfile_release(&data);
    return rc;
}

/* --- the command ---------------------------------------------------------- */

/* Parses a --from/--to time; logs and returns -1 if it is not one. */
static int export_time(const char *opt, const char *text, int64_t *us)
{
    if (time_parse_iso(text, us) == 0)
        return 0;
    log_err("%s '%s' is not an ISO 8601 time with a zone (e.g. "
            "2026-11-25T09:00:00Z or 2026-11-25T18:00:00+09:00)",
            opt, text);
    return -1;
}

/* Parses the options into e. Returns 0, -1 after printing the help, or
 * CLI_USAGE / CLI_FAIL after logging why. */
static int export_parse(struct export_job *e, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"run", required_argument, NULL, 'r'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"sensor", required_argument, NULL, 's'},
        {"format", required_argument, NULL, 'F'},
        {"output", required_argument, NULL, 'o'},
        CLI_OPTION_HELP,
        {NULL, 0, NULL, 0},
    };
    size_t cap = 0;
    int opt;

    optind = 0;
    while ((opt = cli_getopt(argc, argv, ":o:h", longopts, "export")) != -1) {
        switch (opt) {
        case 'h':
            return -1;
        case 'r':
            e->run_name = optarg;
            break;
        case 'f':
            e->from_text = optarg;
            break;
        case 't':
            e->to_text = optarg;
            break;
        case 's': {
            bool dup = false;

            for (size_t i = 0; i < e->ntags; i++)
                dup |= strcmp(e->tags[i], optarg) == 0;
            if (!dup) {
                xgrow(&e->tags, &cap, e->ntags + 1, sizeof(*e->tags));
                e->tags[e->ntags++] = optarg;
            }
            break;
        }
        case 'F':
            if (strcmp(optarg, "csv") != 0 && strcmp(optarg, "json") != 0) {
                log_err("unknown format '%s' (csv or json)", optarg);
                return CLI_USAGE;
            }
            e->json = strcmp(optarg, "json") == 0;
            break;
        case 'o':
            e->out_path = strcmp(optarg, "-") == 0 ? NULL : optarg;
            break;
        default:
            return CLI_USAGE;
        }
    }
    if (optind < argc) {
        log_err("unexpected argument '%s' (see tbdaq export --help)",
                argv[optind]);
        return CLI_USAGE;
    }
    if (e->run_name && (e->from_text || e->to_text)) {
        log_err("--run and --from/--to exclude each other");
        return CLI_USAGE;
    }
    if (!e->run_name && !e->from_text && !e->to_text) {
        log_err("export needs --run NAME or --from TIME --to TIME");
        return CLI_USAGE;
    }
    if (!e->run_name && (!e->from_text || !e->to_text)) {
        log_err(e->from_text ? "--from needs --to" : "--to needs --from");
        return CLI_USAGE;
    }
    if (e->run_name)
        return 0;
    if (export_time("--from", e->from_text, &e->from_us) < 0 ||
        export_time("--to", e->to_text, &e->to_us) < 0)
        return CLI_USAGE;
    if (e->from_us >= e->to_us) {
        log_err("--from %s is not before --to %s", e->from_text, e->to_text);
        return CLI_FAIL;
    }
    return 0;
}

int export_main(struct cli *cli, int argc, char **argv)
{
    struct export_job e = {0};
    struct sigaction sa;
    struct store *s = NULL;
    const char *site;
    int rc, got;

    if ((rc = export_parse(&e, argc, argv)) != 0) {
        rc = rc < 0 ? CLI_OK : rc;
        goto done;
    }
    rc = CLI_FAIL;
    if (!(s = cli_store(cli, STORE_READ_SNAPSHOT)))
        goto done;
    /* Everything below reads one snapshot: see the top of this file. */
    if (store_snapshot_begin(s) < 0) {
        log_err("%s", store_errmsg(s));
        goto done;
    }
    if (e.run_name) {
        got = store_run_get(s, e.run_name, export_run_fn, &e.run);
        if (got == 1) {
            log_err("unknown run '%s'", e.run_name);
            goto done;
        }
        if (got != 0) {
            log_err("%s", store_errmsg(s));
            goto done;
        }
        e.has_run = true;
        e.from_us = e.run.started_us;
        e.to_us = e.run.ended ? e.run.ended_us : time_real_us();
        e.scope = e.run.scope;
    } else {
        store_window_scope(e.from_us, e.to_us, &e.scope);
    }
    /* --sensor tags are checked before anything is written; JSON's
     * manifest needs the counts before the rows, CSV's only after. */
    if ((e.ntags || e.json) && export_describe(&e, s, e.json) < 0)
        goto done;
    if ((site = store_site(s)))
        e.site = xstrdup(site);
    else if (cli->config_given && cli_config(cli))
        e.site = xstrdup(cli->config->site);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = export_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    if ((e.json ? export_json(&e, s) : export_csv(&e, s)) == 0)
        rc = CLI_OK;
    /* A snapshot that a database error ended early: the reads were not
     * all of one state of the file. */
    if (store_snapshot_end(s) < 0) {
        log_err("internal error: %s", store_errmsg(s));
        rc = CLI_FAIL;
    }
done:
    if (s)
        store_close(s);
    export_release(&e);
    return rc;
}
