// SPDX-License-Identifier: MIT
/*
 * `tbdaq verify --witness FILE`: the database's chain against witnesses
 * kept outside it (SPEC "Evidence", Witnessed). A witness is the payload
 * of <prefix>/<site>/chain ({"seq":..,"head":..}) or of a sealed run's
 * <prefix>/<site>/runs/<name> ({..,"chain_head":..,"chain_seq":..}), one
 * per line, optionally after its topic and a space as `mosquitto_sub -v`
 * prints it. For each, the stored hash of the batch that ends at the
 * witnessed seq must be the witnessed head; verify's own walk proves the
 * stored hashes are the readings' (both are needed: a database can be cut
 * short or rewritten consistently, and only a witness shows that).
 *
 * JSON is read with jansson; this file is its only user.
 */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/hash.h"
#include "common/log.h"

/* Failures named one by one; the rest are counted in one line. */
#define WITNESS_REPORT_MAX 10
/* The head of a run sealed before any batch existed. */
#define WITNESS_ZERO_HASH                                                      \
    "0000000000000000000000000000000000000000000000000000000000000000"

/* One witness as read from a line. */
struct witness {
    int64_t seq;
    char head[SHA256_HEX_LEN];
    char run[128]; /* the sealed run's name, or "" for a chain witness */
};

/* Where the check stands: what to report, and how often it failed. */
struct witness_check {
    const char *path;
    struct store *store;
    const char *site;  /* the database's site, or NULL */
    int64_t chain_end; /* the last seq the database's chain covers */
    unsigned line;
    unsigned checked, failed;
    int64_t newest;    /* the highest seq witnessed */
    int64_t last_fail; /* the seq of the last failure */
};

static void witness_fail(struct witness_check *c, int64_t seq, const char *fmt,
                         ...) __attribute__((format(printf, 3, 4)));

/* One failure at the current line: named while few, else only counted. */
static void witness_fail(struct witness_check *c, int64_t seq, const char *fmt,
                         ...)
{
    char msg[512];
    va_list ap;

    c->failed++;
    c->last_fail = seq;
    if (c->failed > WITNESS_REPORT_MAX)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_err("%s:%u: %s", c->path, c->line, msg);
}

static bool witness_is_hash(const char *s)
{
    return strlen(s) == SHA256_HEX_LEN - 1 &&
           strspn(s, "0123456789abcdef") == SHA256_HEX_LEN - 1;
}

/* The level of topic that ends just before end (at a '/' or the end),
 * as its start; *len is its length. Returns NULL at the topic's start. */
static const char *witness_level_before(const char *topic, const char *end,
                                        size_t *len)
{
    const char *p = end;

    while (p > topic && p[-1] != '/')
        p--;
    *len = (size_t)(end - p);
    return p > topic ? p : NULL;
}

/*
 * Which witness a topic carries: 'c' for <prefix>/<site>/chain, 'r' for
 * <prefix>/<site>/runs/<name> (run names have no '/'), 0 for neither;
 * *site and *site_len locate the site in it.
 */
static char witness_topic(const char *topic, const char **site,
                          size_t *site_len)
{
    const char *last, *before;
    size_t last_len, before_len;
    char kind;

    if (!(last =
              witness_level_before(topic, topic + strlen(topic), &last_len)) ||
        !(before = witness_level_before(topic, last - 1, &before_len)))
        return 0;
    if (last_len == 5 && strncmp(last, "chain", 5) == 0) {
        kind = 'c';
        *site = before;
        *site_len = before_len;
    } else if (before_len == 4 && strncmp(before, "runs", 4) == 0 &&
               last_len > 0) {
        kind = 'r';
        if (!(*site = witness_level_before(topic, before - 1, site_len)))
            return 0;
    } else {
        return 0;
    }
    return *site_len > 0 ? kind : 0;
}

/* The integer member key of o, >= 0, into *v. Returns 0 or -1. */
static int witness_seq(const json_t *o, const char *key, int64_t *v)
{
    const json_t *j = json_object_get(o, key);

    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return -1;
    *v = (int64_t)json_integer_value(j);
    return 0;
}

/*
 * Parses one line into w. Returns 1 for a blank line, 0 for a witness, -1
 * for a malformed line (reported).
 */
static int witness_parse(struct witness_check *c, char *line, struct witness *w)
{
    const char *topic = NULL, *site = NULL, *head_key, *seq_key;
    char *payload = line + strspn(line, " \t");
    size_t site_len = 0;
    const json_t *head, *name;
    json_error_t err;
    json_t *o;
    char kind = 0;
    int rc = -1;

    if (*payload == '\0')
        return 1;
    /* A topic before the payload, or else the payload alone (for JSON
     * to say what is wrong with it). */
    if (*payload != '{' && strchr(payload, ' ')) {
        char *sp = strchr(payload, ' ');

        topic = payload;
        *sp = '\0';
        payload = sp + 1;
        if (!(kind = witness_topic(topic, &site, &site_len))) {
            witness_fail(c, 0,
                         "topic '%s' is neither <prefix>/<site>/chain nor "
                         "<prefix>/<site>/runs/<name>",
                         topic);
            return -1;
        }
        if (c->site && (strlen(c->site) != site_len ||
                        strncmp(c->site, site, site_len) != 0)) {
            witness_fail(c, 0, "topic '%s' is not of this database's site '%s'",
                         topic, c->site);
            return -1;
        }
    }
    o = json_loads(payload, JSON_REJECT_DUPLICATES, &err);
    if (!o) {
        witness_fail(c, 0, "not JSON: %s (column %d)", err.text, err.column);
        return -1;
    }
    if (!json_is_object(o)) {
        witness_fail(c, 0, "not a witness: not a JSON object");
        goto done;
    }
    if (json_object_get(o, "head")) {
        head_key = "head";
        seq_key = "seq";
        if (kind == 'r') {
            witness_fail(c, 0, "a chain witness on a run's topic '%s'", topic);
            goto done;
        }
    } else if (json_object_get(o, "chain_head")) {
        head_key = "chain_head";
        seq_key = "chain_seq";
        if (kind == 'c') {
            witness_fail(c, 0, "a sealed run on the chain topic '%s'", topic);
            goto done;
        }
    } else {
        witness_fail(c, 0,
                     "not a witness: neither \"head\" (chain) nor "
                     "\"chain_head\" (sealed run)");
        goto done;
    }
    head = json_object_get(o, head_key);
    if (!json_is_string(head) || !witness_is_hash(json_string_value(head))) {
        witness_fail(c, 0, "\"%s\" is not 64 lower-case hex digits", head_key);
        goto done;
    }
    if (witness_seq(o, seq_key, &w->seq) < 0) {
        witness_fail(c, 0, "\"%s\" is not a seq (an integer >= 0)", seq_key);
        goto done;
    }
    snprintf(w->head, sizeof(w->head), "%s", json_string_value(head));
    name = json_object_get(o, "name");
    snprintf(w->run, sizeof(w->run), "%s",
             seq_key[0] == 'c' && json_is_string(name) ? json_string_value(name)
                                                       : "");
    rc = 0;
done:
    json_decref(o);
    return rc;
}

/* Compares one witness with the database's chain. Returns 0, or -1 on a
 * database error (logged). */
static int witness_compare(struct witness_check *c, const struct witness *w)
{
    char what[200], head[SHA256_HEX_LEN];
    int64_t last;
    int rc;

    if (w->run[0])
        snprintf(what, sizeof(what), "seq %lld (run '%s')", (long long)w->seq,
                 w->run);
    else
        snprintf(what, sizeof(what), "seq %lld", (long long)w->seq);
    c->checked++;
    if (w->seq > c->newest)
        c->newest = w->seq;
    if (w->seq == 0) {
        /* A run sealed before anything was recorded. */
        if (strcmp(w->head, WITNESS_ZERO_HASH) != 0)
            witness_fail(c, 0, "%s: a head other than zeros before any batch",
                         what);
        return 0;
    }
    if ((rc = store_chain_at(c->store, w->seq, head, &last)) < 0) {
        log_err("%s", store_errmsg(c->store));
        return -1;
    }
    if (rc == 1)
        witness_fail(c, w->seq,
                     "%s: the database ends at seq %lld, before this witness",
                     what, (long long)c->chain_end);
    else if (last != w->seq)
        witness_fail(c, w->seq,
                     "%s: the database's chain differs from the witness: no "
                     "batch ends there (one runs on to seq %lld)",
                     what, (long long)last);
    else if (strcmp(head, w->head) != 0)
        witness_fail(c, w->seq,
                     "%s: the database's chain differs from the witness "
                     "(database %s, witness %s)",
                     what, head, w->head);
    return 0;
}

int witness_check(struct store *s, const char *path)
{
    struct witness_check c = {.path = path, .store = s};
    char head[SHA256_HEX_LEN];
    char *line = NULL;
    size_t cap = 0;
    int rc = CLI_FAIL;
    FILE *f;

    if (!(f = fopen(path, "re"))) {
        log_err("cannot read '%s': %s", path, strerror(errno));
        return CLI_FAIL;
    }
    if (store_chain_head(s, head, &c.chain_end) < 0) {
        log_err("%s", store_errmsg(s));
        goto done;
    }
    c.site = store_site(s);
    while (getline(&line, &cap, f) >= 0) {
        struct witness w;

        c.line++;
        line[strcspn(line, "\r\n")] = '\0';
        if (witness_parse(&c, line, &w) == 0 && witness_compare(&c, &w) < 0)
            goto done;
    }
    if (ferror(f)) {
        log_err("cannot read '%s': %s", path, strerror(errno));
        goto done;
    }
    if (c.failed > WITNESS_REPORT_MAX)
        log_err("%s: %u more witness lines fail, the last at seq %lld", path,
                c.failed - WITNESS_REPORT_MAX, (long long)c.last_fail);
    if (c.failed > 0)
        goto done;
    if (c.checked == 0) {
        log_err("'%s' holds no witness", path);
        goto done;
    }
    printf("witnesses ok: %u in '%s', the newest at seq %lld\n", c.checked,
           path, (long long)c.newest);
    rc = CLI_OK;
done:
    free(line);
    fclose(f);
    return rc;
}
