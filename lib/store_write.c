// SPDX-License-Identifier: MIT
/*
 * Writing: the sensors' descriptions and the configuration at start and
 * reload, a batch of readings in one transaction with its link in the
 * audit chain (store_commit_batch()), events, and the daemon's state
 * values. Only the daemon's main thread writes, through one store.
 */
#include "lib/store_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hash.h"
#include "common/util.h"

/* Binds a sensor's tag and description to ?1..?18 of st. */
static int store_bind_desc(sqlite3_stmt *st, const struct config *c,
                           const struct sensor_conf *sc)
{
    int rc = 0;

    rc |= store_bind_text(st, 1, sc->id);
    rc |= store_bind_text(st, 2, kind_name(sc->kind));
    rc |= store_bind_text(st, 3, sc->unit);
    rc |= store_bind_text(st, 4, c->buses[sc->bus].name);
    rc |= sqlite3_bind_int(st, 5, sc->unit_id);
    rc |= store_bind_text(st, 6, reg_table_name(sc->table));
    rc |= sqlite3_bind_int(st, 7, sc->address);
    rc |= store_bind_text(st, 8, reg_type_name(sc->type));
    rc |= store_bind_text(st, 9, byte_order_name(sc->order));
    rc |= sqlite3_bind_double(st, 10, sc->scale);
    rc |= sqlite3_bind_double(st, 11, sc->offset);
    rc |= sqlite3_bind_int(st, 12, sc->interval_ms);
    rc |= store_bind_finite(st, 13, sc->range_lo);
    rc |= store_bind_finite(st, 14, sc->range_hi);
    rc |= store_bind_text(st, 15, sc->cal.date);
    rc |= store_bind_text(st, 16, sc->cal.due);
    rc |= store_bind_text(st, 17, sc->cal.certificate);
    rc |= sc->has_bit ? sqlite3_bind_int(st, 18, sc->bit)
                      : sqlite3_bind_null(st, 18);
    return rc;
}

/* The row of the sensor's description: its newest version if that
 * describes it as the config does, else a new version. */
static int store_sync_one(struct store *s, const struct config *c,
                          const struct sensor_conf *sc, int64_t *id)
{
    sqlite3_stmt *st = s->stmt[STMT_SENSOR_SAME];
    int rc;

    if (sc->bus >= c->nbuses)
        return store_errorf(s, "sensor '%s' has no bus", sc->id);
    if (store_bind_desc(st, c, sc) != SQLITE_OK) {
        sqlite3_clear_bindings(st);
        return store_fail(s, "cannot store sensor '%s'", sc->id);
    }
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc == SQLITE_ROW)
        return 0;
    if (rc != SQLITE_DONE)
        return store_fail(s, "cannot read sensor '%s'", sc->id);

    st = s->stmt[STMT_INSERT_SENSOR];
    rc = store_bind_desc(st, c, sc);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        store_fail(s, "cannot store sensor '%s'", sc->id);
    else
        *id = sqlite3_last_insert_rowid(s->db);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Records the configuration c was loaded from, with its files, inside the
 * open transaction (nothing if c holds no file: a config built by hand). */
static int store_config_put(struct store *s, const struct config *c)
{
    sqlite3_stmt *st = s->stmt[STMT_CONFIG_INSERT];
    int64_t id;
    int rc = 0;

    if (!c->nfiles)
        return 0;
    rc |= sqlite3_bind_int64(st, 1, time_real_us());
    rc |= sqlite3_bind_text(st, 2, c->sha256, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_DONE)
        return store_fail(s, "cannot store the configuration");
    id = sqlite3_last_insert_rowid(s->db);
    st = s->stmt[STMT_CONFIG_FILE_INSERT];
    for (size_t i = 0; i < c->nfiles; i++) {
        const struct config_file *f = &c->files[i];

        rc = 0;
        rc |= sqlite3_bind_int64(st, 1, id);
        rc |= sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
        rc |= sqlite3_bind_text(st, 3, f->name, -1, SQLITE_STATIC);
        rc |= sqlite3_bind_text(st, 4, f->sha256, -1, SQLITE_STATIC);
        rc |= sqlite3_bind_blob64(st, 5, f->len ? f->bytes : "",
                                  (sqlite3_uint64)f->len, SQLITE_STATIC);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc != SQLITE_DONE)
            return store_fail(s, "cannot store configuration file '%s'",
                              f->name);
    }
    return 0;
}

int store_sync_sensors(struct store *s, struct config *c)
{
    /* The ids are handed to the config only once the transaction has
     * committed, so that a failure changes nothing anywhere. */
    int64_t *ids;

    if (s->version < STORE_SCHEMA_VERSION)
        return store_errorf(s,
                            "cannot update sensors: '%s' has schema version "
                            "%lld (open it read-write to upgrade it)",
                            s->path, (long long)s->version);
    ids = xcalloc(c->nsensors ? c->nsensors : 1, sizeof(*ids));
    if (store_step(s, STMT_BEGIN, "cannot update sensors") < 0)
        goto fail;
    for (size_t i = 0; i < c->nsensors; i++)
        if (store_sync_one(s, c, &c->sensors[i], &ids[i]) < 0)
            goto fail;
    if (store_config_put(s, c) < 0)
        goto fail;
    if (store_step(s, STMT_COMMIT, "cannot update sensors") < 0)
        goto fail;
    if (c->nfiles)
        s->config_state = COVER_DUE;
    for (size_t i = 0; i < c->nsensors; i++) {
        c->sensors[i].db_id = ids[i];
        store_tag_put(s, ids[i], c->sensors[i].id);
    }
    free(ids);
    return 0;
fail:
    store_rollback(s);
    free(ids);
    return -1;
}

/* Binds reading r to parameters base+1..base+6 of st and writes its raw
 * words as hex into raw (empty if none), which st then points into.
 * Returns 0 or -1. */
static int store_bind_reading(struct store *s, sqlite3_stmt *st, int base,
                              const struct reading *r,
                              char raw[STORE_RAW_HEX_MAX])
{
    int rc = 0;

    raw[0] = '\0';
    if (r->nraw > REG_MAX_WORDS)
        return store_errorf(s,
                            "cannot store reading of sensor %lld: %u raw "
                            "words, more than %d",
                            (long long)r->sensor_id, (unsigned)r->nraw,
                            REG_MAX_WORDS);
    rc |= sqlite3_bind_int64(st, base + 1, r->sensor_id);
    rc |= sqlite3_bind_int64(st, base + 2, r->ts_us);
    if (reading_has_value(r))
        rc |= sqlite3_bind_double(st, base + 3, r->value);
    else
        rc |= sqlite3_bind_null(st, base + 3);
    rc |= store_bind_text(st, base + 4, quality_name(r->quality));
    if (store_keeps_error(r))
        rc |= sqlite3_bind_text(st, base + 5, r->error,
                                (int)strnlen(r->error, sizeof(r->error)),
                                SQLITE_STATIC);
    else
        rc |= sqlite3_bind_null(st, base + 5);
    if (r->nraw > 0) {
        hex_words(r->raw, r->nraw, raw);
        rc |= sqlite3_bind_text(st, base + 6, raw, -1, SQLITE_STATIC);
    } else {
        rc |= sqlite3_bind_null(st, base + 6);
    }
    if (rc != SQLITE_OK)
        return store_fail(s, "cannot store reading of sensor %lld",
                          (long long)r->sensor_id);
    return 0;
}

/*
 * Inserts n readings (1, or STORE_INSERT_ROWS in one statement) inside
 * the open transaction and sets their seqs, writing their raw words as
 * hex into raw[0..n-1]. The rows of one statement are inserted in the
 * order of its VALUES, each taking the next seq (AUTOINCREMENT, under
 * the transaction's write lock), so they hold last_insert_rowid() - n + 1
 * up to last_insert_rowid(); the caller checks that seqs follow.
 */
static int store_insert_readings(struct store *s, struct reading *r, size_t n,
                                 char raw[][STORE_RAW_HEX_MAX])
{
    enum store_stmt which = n == 1 ? STMT_INSERT_READING : STMT_INSERT_READINGS;
    sqlite3_stmt *st = s->stmt[which];
    int64_t last;

    for (size_t k = 0; k < n; k++)
        if (store_bind_reading(s, st, 6 * (int)k, &r[k], raw[k]) < 0)
            return -1;
    if (sqlite3_step(st) != SQLITE_DONE) {
        store_fail(s, "cannot store reading of sensor %lld",
                   (long long)r[0].sensor_id);
        sqlite3_reset(st);
        /* A constraint undoes the statement, not the transaction: one by
         * one, the error names the reading that broke it. */
        if (n == 1 || sqlite3_get_autocommit(s->db))
            return -1;
        for (size_t k = 0; k < n; k++)
            if (store_insert_readings(s, &r[k], 1, &raw[k]) < 0)
                return -1;
        return 0;
    }
    sqlite3_reset(st);
    last = sqlite3_last_insert_rowid(s->db);
    for (size_t k = 0; k < n; k++)
        r[k].seq = last - (int64_t)(n - 1 - k);
    return 0;
}

/* Whether a reading of sensor id makes this batch cover its description
 * (the first reading ever stored under it); notes it in s->newdesc with
 * the reading's seq. */
static int store_cover_note(struct store *s, int64_t id, int64_t seq)
{
    sqlite3_stmt *st = s->stmt[STMT_SENSOR_CHAIN];
    uint8_t state = COVER_UNKNOWN;
    int rc;

    if (id >= 0 && (size_t)id < s->ncover)
        state = s->cover[id];
    if (state == COVER_DONE)
        return 0;
    for (size_t i = 0; i < s->nnewdesc; i++)
        if (s->newdesc[i] == id)
            return 0;
    if (state == COVER_UNKNOWN) {
        sqlite3_bind_int64(st, 1, id);
        rc = sqlite3_step(st);
        state = rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_NULL
                    ? COVER_DUE
                    : COVER_DONE;
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return store_fail(s, "cannot read sensor %lld", (long long)id);
        if (id >= 0 && id < TAG_CACHE_MAX) {
            if ((size_t)id >= s->ncover) {
                size_t old = s->ncover;

                xgrow(&s->cover, &s->ncover, (size_t)id + 1, 1);
                memset(s->cover + old, COVER_UNKNOWN, s->ncover - old);
            }
            s->cover[id] = state;
        }
        if (state == COVER_DONE)
            return 0;
    }
    xgrow(&s->newdesc, &s->newdesc_cap, s->nnewdesc + 1, sizeof(int64_t));
    xgrow(&s->newdesc_seq, &s->newdesc_seq_cap, s->nnewdesc + 1,
          sizeof(int64_t));
    s->newdesc[s->nnewdesc] = id;
    s->newdesc_seq[s->nnewdesc++] = seq;
    return 0;
}

/* The configurations no batch covers yet: this one will (first_seq is its
 * first reading's seq); appends their canonical text after the
 * descriptions', a digest each after theirs (nd digests so far). */
static int store_cover_configs(struct store *s, int64_t first_seq, size_t nd)
{
    sqlite3_stmt *st = s->stmt[STMT_CONFIG_DUE];
    int rc;

    s->nnewconf = 0;
    if (s->config_state == COVER_DONE || s->version < 4)
        return 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        xgrow(&s->newconf, &s->newconf_cap, s->nnewconf + 1,
              sizeof(*s->newconf));
        s->newconf[s->nnewconf++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_fail(s, "cannot read configurations");
    st = s->stmt[STMT_CONFIG_COVER];
    for (size_t i = 0; i < s->nnewconf; i++) {
        sqlite3_bind_int64(st, 1, s->newconf[i]);
        sqlite3_bind_int64(st, 2, first_seq);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE || sqlite3_changes(s->db) != 1)
            return store_fail(s, "cannot record configuration %lld",
                              (long long)s->newconf[i]);
        xgrow(&s->digests, &s->digests_cap, (nd + i + 1) * DIGEST_LEN, 1);
        if (store_canon_config(s, s->newconf[i],
                               s->digests + (nd + i) * DIGEST_LEN) != 0)
            return store_fail(s, "cannot read configuration %lld",
                              (long long)s->newconf[i]);
    }
    return 0;
}

/* Records the seq of each description this batch covers and appends its
 * canonical line after the readings', its digest after theirs (nr of
 * them). */
static int store_cover_descs(struct store *s, size_t nr)
{
    sqlite3_stmt *st = s->stmt[STMT_SENSOR_COVER];

    for (size_t i = 0; i < s->nnewdesc; i++) {
        int rc;

        sqlite3_bind_int64(st, 1, s->newdesc[i]);
        sqlite3_bind_int64(st, 2, s->newdesc_seq[i]);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE || sqlite3_changes(s->db) != 1)
            return store_fail(s, "cannot record sensor %lld's description",
                              (long long)s->newdesc[i]);
        xgrow(&s->digests, &s->digests_cap, (nr + i + 1) * DIGEST_LEN, 1);
        if (store_canon_desc(s, s->newdesc[i],
                             s->digests + (nr + i) * DIGEST_LEN) != 0)
            return store_fail(s, "cannot read sensor %lld",
                              (long long)s->newdesc[i]);
    }
    return 0;
}

/* The newest batch's hash and last seq (64 zeros and 0 before any). */
int store_chain_last(struct store *s, char head[SHA256_HEX_LEN],
                     int64_t *last_seq)
{
    sqlite3_stmt *st = s->stmt[STMT_CHAIN_HEAD];
    int rc = sqlite3_step(st);

    memcpy(head, store_zero_hash, SHA256_HEX_LEN);
    *last_seq = 0;
    if (rc == SQLITE_ROW) {
        snprintf(head, SHA256_HEX_LEN, "%s",
                 (const char *)sqlite3_column_text(st, 0));
        *last_seq = sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(s, "cannot read the chain head");
    return 0;
}

/*
 * Writes the batch row of the nr readings whose canonical lines and
 * digests were just built, inside the open transaction. The previous hash
 * is read from the file, not remembered, so that the chain stays whole
 * whoever wrote the batch before.
 */
static int store_chain_append(struct store *s, int64_t first_seq,
                              int64_t last_seq, size_t nr, size_t ndigests)
{
    sqlite3_stmt *st = s->stmt[STMT_INSERT_BATCH];
    char prev[SHA256_HEX_LEN], hash[SHA256_HEX_LEN];
    struct sha256 *h;
    int64_t prev_last;
    int rc = 0;

    if (store_chain_last(s, prev, &prev_last) < 0)
        return -1;
    h = sha256_new();
    sha256_update(h, prev, SHA256_HEX_LEN - 1);
    sha256_update(h, s->canon, s->canon_len);
    sha256_finish_hex(h, hash);
    rc |= sqlite3_bind_int64(st, 1, first_seq);
    rc |= sqlite3_bind_int64(st, 2, last_seq);
    rc |= sqlite3_bind_int64(st, 3, (sqlite3_int64)nr);
    rc |= sqlite3_bind_int64(st, 4, time_real_us());
    rc |= sqlite3_bind_text(st, 5, prev, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_text(st, 6, hash, -1, SQLITE_STATIC);
    rc |= sqlite3_bind_blob(st, 7, s->digests, (int)(ndigests * DIGEST_LEN),
                            SQLITE_STATIC);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        store_fail(s, "cannot chain batch of seq %lld..%lld",
                   (long long)first_seq, (long long)last_seq);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Inserts one event inside the open transaction; an empty or NULL detail
 * is stored as NULL. */
int store_insert_event(struct store *s, int64_t ts_us, const char *kind,
                       int kind_len, const char *detail, int detail_len)
{
    sqlite3_stmt *st = s->stmt[STMT_INSERT_EVENT];
    int rc = 0;

    rc |= sqlite3_bind_int64(st, 1, ts_us);
    rc |= sqlite3_bind_text(st, 2, kind, kind_len, SQLITE_STATIC);
    if (detail && detail_len != 0 && detail[0] != '\0')
        rc |= sqlite3_bind_text(st, 3, detail, detail_len, SQLITE_STATIC);
    else
        rc |= sqlite3_bind_null(st, 3);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        store_fail(s, "cannot store event '%.*s'",
                   kind_len < 0 ? (int)strlen(kind) : kind_len, kind);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

static int store_sensor_last_write(struct store *s, int64_t id, int64_t seq,
                                   int64_t count)
{
    sqlite3_stmt *st = s->stmt[STMT_SENSOR_LAST];

    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, seq);
    sqlite3_bind_int64(st, 3, count);
    return store_step(s, STMT_SENSOR_LAST, "cannot update sensor_last");
}

/* Notes a committed reading for sensor_last; rare large ids directly. */
static int store_sensor_last_note(struct store *s, int64_t id, int64_t seq)
{
    struct store_last *l;

    if (id < 0 || id > STORE_LAST_MAX_ID)
        return store_sensor_last_write(s, id, seq, 1);
    if ((size_t)id >= s->last_cap) {
        size_t old = s->last_cap;

        xgrow(&s->last, &s->last_cap, (size_t)id + 1, sizeof(*s->last));
        memset(s->last + old, 0, (s->last_cap - old) * sizeof(*s->last));
    }
    l = &s->last[id];
    if (l->batch != s->batch) {
        *l = (struct store_last){.batch = s->batch};
        xgrow(&s->touched, &s->touched_cap, s->ntouched + 1,
              sizeof(*s->touched));
        s->touched[s->ntouched++] = id;
    }
    l->seq = seq;
    l->count++;
    return 0;
}

/* Writes sensor_last for every sensor the batch touched: STORE_INSERT_ROWS
 * a statement while so many are left (as the readings), then one by one. */
static int store_sensor_last_flush(struct store *s)
{
    sqlite3_stmt *st = s->stmt[STMT_SENSOR_LASTS];
    size_t i = 0;

    for (; s->ntouched - i >= STORE_INSERT_ROWS; i += STORE_INSERT_ROWS) {
        for (int k = 0; k < STORE_INSERT_ROWS; k++) {
            int64_t id = s->touched[i + (size_t)k];

            sqlite3_bind_int64(st, 3 * k + 1, id);
            sqlite3_bind_int64(st, 3 * k + 2, s->last[id].seq);
            sqlite3_bind_int64(st, 3 * k + 3, s->last[id].count);
        }
        if (store_step(s, STMT_SENSOR_LASTS, "cannot update sensor_last") < 0)
            return -1;
    }
    for (; i < s->ntouched; i++) {
        const struct store_last *l = &s->last[s->touched[i]];

        if (store_sensor_last_write(s, s->touched[i], l->seq, l->count) < 0)
            return -1;
    }
    return 0;
}

/* One state row: in the caller's transaction, or in its own (autocommit). */
static int store_write_state(struct store *s, const char *key, int64_t value)
{
    sqlite3_stmt *st = s->stmt[STMT_SET_STATE];
    int rc;

    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, value);
    rc = store_step(s, STMT_SET_STATE, "cannot write state");
    sqlite3_clear_bindings(st);
    return rc;
}

/* Drops the insert statements' bindings, which point into a batch. */
static void store_commit_clear(struct store *s)
{
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_READING]);
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_READINGS]);
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
}

int store_commit_batch(struct store *s, struct reading *r, size_t nr,
                       const struct event *ev, size_t nev)
{
    char raw[STORE_INSERT_ROWS][STORE_RAW_HEX_MAX];
    size_t n;

    if (store_step(s, STMT_BEGIN, "cannot begin batch") < 0)
        goto fail;
    s->canon_len = 0;
    s->batch++;
    s->ntouched = 0;
    s->nnewdesc = 0;
    for (size_t i = 0; i < nr; i += n) {
        n = nr - i >= STORE_INSERT_ROWS ? STORE_INSERT_ROWS : 1;
        if (store_insert_readings(s, &r[i], n, raw) < 0)
            goto fail;
        for (size_t k = 0; k < n; k++) {
            size_t j = i + k;

            /* One transaction holds the write lock: its seqs follow each
             * other, and verify relies on it. */
            if (j > 0 && r[j].seq != r[j - 1].seq + 1) {
                store_errorf(s, "seq %lld does not follow %lld",
                             (long long)r[j].seq, (long long)r[j - 1].seq);
                goto fail;
            }
            if (store_canon_reading(s, &r[j], raw[k], j) < 0 ||
                store_sensor_last_note(s, r[j].sensor_id, r[j].seq) < 0 ||
                store_cover_note(s, r[j].sensor_id, r[j].seq) < 0)
                goto fail;
        }
    }
    if (store_sensor_last_flush(s) < 0 || store_cover_descs(s, nr) < 0 ||
        (nr > 0 && store_cover_configs(s, r[0].seq, nr + s->nnewdesc) < 0))
        goto fail;
    if (nr > 0 && store_chain_append(s, r[0].seq, r[nr - 1].seq, nr,
                                     nr + s->nnewdesc + s->nnewconf) < 0)
        goto fail;
    for (size_t i = 0; i < nev; i++)
        if (store_insert_event(
                s, ev[i].ts_us, ev[i].kind,
                (int)strnlen(ev[i].kind, sizeof(ev[i].kind)), ev[i].detail,
                (int)strnlen(ev[i].detail, sizeof(ev[i].detail))) < 0)
            goto fail;
    for (size_t i = 0; i < s->nstaged; i++)
        if (store_write_state(s, s->staged[i].key, s->staged[i].value) < 0)
            goto fail;
    if (store_step(s, STMT_COMMIT, "cannot commit batch") < 0)
        goto fail;
    s->nstaged = 0;
    for (size_t i = 0; i < s->nnewdesc; i++)
        if (s->newdesc[i] >= 0 && (size_t)s->newdesc[i] < s->ncover)
            s->cover[s->newdesc[i]] = COVER_DONE;
    s->nnewdesc = 0;
    if (nr > 0)
        s->config_state = COVER_DONE;
    s->nnewconf = 0;
    /* The bindings point into the caller's arrays: drop them. */
    store_commit_clear(s);
    return 0;
fail:
    store_rollback(s);
    s->nnewdesc = 0;
    s->nnewconf = 0;
    store_commit_clear(s);
    for (size_t i = 0; i < nr; i++)
        r[i].seq = 0;
    return -1;
}

int store_add_event(struct store *s, const char *kind, const char *detail)
{
    if (store_step(s, STMT_BEGIN, "cannot begin event") < 0)
        goto fail;
    if (store_insert_event(s, time_real_us(), kind, -1, detail, -1) < 0)
        goto fail;
    if (store_step(s, STMT_COMMIT, "cannot commit event") < 0)
        goto fail;
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
    return 0;
fail:
    store_rollback(s);
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
    return -1;
}

int store_get_state(struct store *s, const char *key, int64_t *value)
{
    sqlite3_stmt *st = s->stmt[STMT_GET_STATE];
    int rc;

    *value = 0;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *value = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(s, "cannot read state '%s'", key);
    return rc == SQLITE_ROW ? 0 : 1;
}

/* The staged entry of key, or s->nstaged if there is none. */
static size_t store_staged_at(const struct store *s, const char *key)
{
    size_t i = 0;

    while (i < s->nstaged && strcmp(s->staged[i].key, key) != 0)
        i++;
    return i;
}

int store_set_state(struct store *s, const char *key, int64_t value)
{
    size_t i;

    if (store_write_state(s, key, value) < 0)
        return -1;
    if ((i = store_staged_at(s, key)) < s->nstaged)
        s->staged[i] = s->staged[--s->nstaged];
    return 0;
}

int store_stage_state(struct store *s, const char *key, int64_t value)
{
    size_t i = store_staged_at(s, key);

    if (i == STORE_STAGED_MAX)
        return store_set_state(s, key, value);
    if (i == s->nstaged)
        s->nstaged++;
    s->staged[i].key = key;
    s->staged[i].value = value;
    return 0;
}

bool store_state_staged(const struct store *s, const char *key)
{
    return store_staged_at(s, key) < s->nstaged;
}
