// SPDX-License-Identifier: MIT
/*
 * Blame: after verify finds a batch whose hash differs, names what
 * changed: the reading, description or configuration whose digest (kept
 * in batches.digests) no longer matches, and where the failure is (the
 * sensor, the time and the value decoded from the stored register words).
 */
#include "lib/store_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fmt.h"
#include "common/util.h"

/* As store_blame_descs() for the configurations batch b covers, whose
 * digests start at index first. */
static int store_blame_configs(struct store *s, const struct store_batch *b,
                               const uint8_t *digests, size_t ndigests,
                               size_t first, struct store_verify_result *out)
{
    sqlite3_stmt *st = s->stmt[STMT_CONFIG_BATCH];
    int64_t *ids = NULL, *ts = NULL;
    size_t n = 0, c1 = 0, c2 = 0;
    int rc, ret = 1;

    sqlite3_bind_int64(st, 1, b->first_seq);
    sqlite3_bind_int64(st, 2, b->last_seq);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        xgrow(&ids, &c1, n + 1, sizeof(*ids));
        xgrow(&ts, &c2, n + 1, sizeof(*ts));
        ids[n] = sqlite3_column_int64(st, 0);
        ts[n++] = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read configurations");
    for (size_t j = 0; ret == 1 && j < n; j++) {
        uint8_t d[DIGEST_LEN];
        char when[TIME_ISO_LEN];

        s->canon_len = 0;
        fmt_time_iso(ts[j], when);
        if (store_canon_config(s, ids[j], d) < 0)
            ret = -1;
        else if (first + j >= ndigests ||
                 memcmp(digests + (first + j) * DIGEST_LEN, d, DIGEST_LEN))
            ret = store_verify_fail(out, b->id, 0,
                                    "configuration %lld (applied %s) was "
                                    "changed",
                                    (long long)ids[j], when);
    }
    free(ids);
    free(ts);
    return ret;
}

/*
 * Names the description of batch b that changed or was added, by the
 * digests kept after its readings' (ndigests in all). Returns 0
 * with out filled in, 1 if every description matches, -1 on error.
 */
static int store_blame_descs(struct store *s, const struct store_batch *b,
                             const uint8_t *digests, size_t ndigests,
                             struct store_verify_result *out)
{
    sqlite3_stmt *st = s->stmt[STMT_SENSOR_BATCH];
    size_t nr = (size_t)(b->last_seq - b->first_seq + 1), j = 0;
    int64_t *ids = NULL, *vers = NULL, *seqs = NULL;
    size_t n = 0, c1 = 0, c2 = 0, c3 = 0;
    int rc, ret = 1;

    sqlite3_bind_int64(st, 1, b->first_seq);
    sqlite3_bind_int64(st, 2, b->last_seq);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        xgrow(&ids, &c1, n + 1, sizeof(*ids));
        xgrow(&vers, &c2, n + 1, sizeof(*vers));
        xgrow(&seqs, &c3, n + 1, sizeof(*seqs));
        ids[n] = sqlite3_column_int64(st, 0);
        vers[n] = sqlite3_column_int64(st, 2);
        seqs[n++] = sqlite3_column_int64(st, 3);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read sensors");
    for (j = 0; ret == 1 && j < n; j++) {
        uint8_t d[DIGEST_LEN];
        const char *tag = NULL;

        s->canon_len = 0;
        if (store_canon_desc(s, ids[j], d) < 0 ||
            store_tag(s, ids[j], &tag) < 0)
            ret = -1;
        else if (nr + j >= ndigests)
            ret = store_verify_fail(out, b->id, seqs[j],
                                    "sensor '%s' version %lld was added to "
                                    "batch %lld's descriptions",
                                    tag ? tag : "?", (long long)vers[j],
                                    (long long)b->id);
        else if (memcmp(digests + (nr + j) * DIGEST_LEN, d, DIGEST_LEN))
            ret = store_verify_fail(out, b->id, seqs[j],
                                    "sensor '%s' version %lld's description "
                                    "was changed",
                                    tag ? tag : "?", (long long)vers[j]);
    }
    /* then the configurations, after the descriptions' digests */
    if (ret == 1)
        ret = store_blame_configs(s, b, digests, ndigests, nr + n, out);
    /* One fewer: a removed description leaves its readings under no
     * version (store_vers_check() names them); else the batch's range
     * or hash changed. */
    free(ids);
    free(vers);
    free(seqs);
    return ret;
}

/*
 * Names what is wrong in batch b, whose hash did not come out right:
 * walks its seqs again with the digests, and reports the first seq that
 * is missing or whose digest differs, else the hash itself. Returns 0 or
 * -1 on a database error.
 */
int store_verify_blame(struct store *s, const struct store_batch *b,
                       struct store_verify_result *out)
{
    sqlite3_stmt *dg = s->stmt[STMT_BATCH_DIGESTS], *st = NULL;
    const uint8_t *digests;
    size_t ndigests;
    int64_t expect = b->first_seq;
    int rc, ret = -1;

    sqlite3_bind_int64(dg, 1, b->id);
    if (sqlite3_step(dg) != SQLITE_ROW) {
        store_fail(s, "cannot read batch %lld", (long long)b->id);
        goto done;
    }
    digests = sqlite3_column_blob(dg, 0);
    ndigests = (size_t)sqlite3_column_bytes(dg, 0) / DIGEST_LEN;
    if (sqlite3_prepare_v2(s->db, STORE_VERIFY_SQL, -1, &st, NULL) !=
        SQLITE_OK) {
        store_fail(s, "cannot verify batch %lld", (long long)b->id);
        goto done;
    }
    sqlite3_bind_int64(st, 1, b->first_seq);
    sqlite3_bind_int64(st, 2, b->last_seq);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(st, 0), start;
        uint64_t i = (uint64_t)(seq - b->first_seq);
        uint8_t d[DIGEST_LEN];

        if (seq != expect) {
            ret = store_verify_fail(out, b->id, expect, "seq %lld was deleted",
                                    (long long)expect);
            goto done;
        }
        expect = seq + 1;
        s->canon_len = 0;
        if ((start = store_canon_row(s, st)) < 0)
            goto done;
        store_digest(s, s->canon, s->canon_len, d);
        if (i >= ndigests || memcmp(digests + i * DIGEST_LEN, d, DIGEST_LEN)) {
            ret = store_verify_fail(out, b->id, seq, "seq %lld was changed",
                                    (long long)seq);
            goto done;
        }
    }
    if (rc != SQLITE_DONE) {
        store_fail(s, "cannot verify batch %lld", (long long)b->id);
        goto done;
    }
    if (expect <= b->last_seq)
        ret = store_verify_fail(out, b->id, expect, "seq %lld was deleted",
                                (long long)expect);
    else if ((ret = store_blame_descs(s, b, digests, ndigests, out)) == 1)
        ret = store_verify_fail(out, b->id, 0, "batch %lld's hash was altered",
                                (long long)b->id);
done:
    sqlite3_finalize(st);
    sqlite3_reset(dg);
    sqlite3_clear_bindings(dg);
    return ret;
}

/* Decodes the stored hex words raw ("41c8 0000") as type and order name
 * it, and for a bit sensor (bit >= 0) takes its bit; false if they do not
 * fit. */
static bool store_decode_words(const char *raw, const char *type_name,
                               const char *order_name, int bit, double scale,
                               double offset, double *value)
{
    uint16_t w[REG_MAX_WORDS];
    enum reg_type type;
    enum byte_order order;
    unsigned n = 0;
    const char *p = raw;

    if (!raw || !type_name || !order_name ||
        reg_type_parse(type_name, &type) < 0 ||
        byte_order_parse(order_name, type, &order) < 0)
        return false;
    while (*p) {
        char *end;
        unsigned long v = strtoul(p, &end, 16);

        if (end == p || v > 0xffff || n == REG_MAX_WORDS)
            return false;
        w[n++] = (uint16_t)v;
        p = end;
        while (*p == ' ')
            p++;
    }
    if (n != reg_type_words(type))
        return false;
    if (bit >= 0)
        *value = decode_bit(type, order, w, bit);
    else
        *value = decode_value(type, decode_raw(type, order, w), scale, offset);
    return true;
}

/* Fills in where out's failure is: the sensor, time and decoded value of
 * the reading at out->bad_seq, if it is still there. Inside the caller's
 * read transaction; a failure to read leaves them out. */
void store_verify_where(struct store *s, struct store_verify_result *out)
{
    sqlite3_stmt *st = NULL;
    const char *what = out->what;
    size_t wl = strlen(what);

    out->no_trigger = s->no_trigger;
    if (out->ok || out->bad_seq <= 0 ||
        sqlite3_prepare_v2(
            s->db,
            s->version >= 5
                ? "SELECT s.tag, r.ts_us, r.raw, s.type, s.byte_order,"
                  " s.scale, s.\"offset\", s.bit FROM readings AS r"
                  " LEFT JOIN sensors AS s ON s.id = r.sensor_id"
                  " WHERE r.seq = ?1"
                : "SELECT s.tag, r.ts_us, r.raw, s.type, s.byte_order,"
                  " s.scale, s.\"offset\", NULL FROM readings AS r"
                  " LEFT JOIN sensors AS s ON s.id = r.sensor_id"
                  " WHERE r.seq = ?1",
            -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return;
    }
    sqlite3_bind_int64(st, 1, out->bad_seq);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *tag = store_column_text(st, 0);
        const char *raw = store_column_text(st, 2);

        snprintf(out->tag, sizeof(out->tag), "%s", tag ? tag : "");
        out->has_ts = sqlite3_column_type(st, 1) == SQLITE_INTEGER;
        out->ts_us = sqlite3_column_int64(st, 1);
        snprintf(out->raw, sizeof(out->raw), "%s",
                 raw && strlen(raw) < sizeof(out->raw) ? raw : "");
        if (wl > 12 && strcmp(what + wl - 12, " was changed") == 0 &&
            strncmp(what, "seq ", 4) == 0)
            out->has_decoded = store_decode_words(
                raw, store_column_text(st, 3), store_column_text(st, 4),
                sqlite3_column_type(st, 7) == SQLITE_NULL
                    ? -1
                    : sqlite3_column_int(st, 7),
                sqlite3_column_double(st, 5), sqlite3_column_double(st, 6),
                &out->decoded);
    }
    sqlite3_finalize(st);
}
