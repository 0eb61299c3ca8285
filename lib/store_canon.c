// SPDX-License-Identifier: MIT
/*
 * The canonical form: the one place commit and verify must agree. A
 * reading, a description version and a configuration each become one
 * canonical text (README, "Audit chain"); commit builds it from what it
 * binds (store_canon_reading()), verify from what the file holds
 * (store_canon_row(), store_canon_desc(), store_canon_config()), and a
 * batch's hash is the SHA-256 of its lines. Not one byte of it may change:
 * an old database would no longer verify. Also the cache of sensor tags
 * both sides hash with.
 */
#include "lib/store_private.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fmt.h"
#include "common/hash.h"
#include "common/util.h"

/* The hash before the first batch: 64 zeros. */
const char store_zero_hash[SHA256_HEX_LEN] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* Forgets every cached tag. */
static void store_tags_clear(struct store *s)
{
    for (size_t i = 0; i < s->ntags; i++) {
        free(s->tags[i]);
        s->tags[i] = NULL;
    }
}

/* Caches the tag of sensor id (ids beyond the cache are not kept). */
void store_tag_put(struct store *s, int64_t id, const char *tag)
{
    size_t old = s->ntags;

    if (id < 0 || id >= TAG_CACHE_MAX)
        return;
    if ((size_t)id >= s->ntags) {
        xgrow(&s->tags, &s->ntags, (size_t)id + 1, sizeof(*s->tags));
        memset(s->tags + old, 0, (s->ntags - old) * sizeof(*s->tags));
    }
    free(s->tags[id]);
    s->tags[id] = xstrdup(tag);
}

/* Sets *tag to the tag of sensor id, from the cache or the sensors
 * table, or to NULL if there is no such sensor; valid until the next
 * call. Returns 0, or -1 on a database error. */
int store_tag(struct store *s, int64_t id, const char **tag)
{
    sqlite3_stmt *st = s->stmt[STMT_SENSOR_TAG];
    int rc;

    *tag = NULL;
    if (id >= 0 && (size_t)id < s->ntags && s->tags[id]) {
        *tag = s->tags[id];
        return 0;
    }
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT) {
        const char *t = (const char *)sqlite3_column_text(st, 0);

        if (id >= 0 && id < TAG_CACHE_MAX) {
            store_tag_put(s, id, t);
            *tag = s->tags[id];
        } else {
            free(s->tag_scratch);
            *tag = s->tag_scratch = xstrdup(t);
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(s, "cannot read sensor %lld", (long long)id);
    return 0;
}

/* Replaces the cache with the sensors table as it is now (verify must
 * hash what the file says, not what this process remembers). */
int store_tags_load(struct store *s)
{
    sqlite3_stmt *st = s->stmt[STMT_SENSOR_TAGS];
    int rc;

    store_tags_clear(s);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (sqlite3_column_type(st, 1) == SQLITE_TEXT)
            store_tag_put(s, sqlite3_column_int64(st, 0),
                          (const char *)sqlite3_column_text(st, 1));
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_fail(s, "cannot read sensors");
    return 0;
}

/* The canonical text of a stored value: printf's %.17g, which
 * round-trips every double, written by fmt_g17 (the same bytes, without
 * printf's cost on every reading committed or verified). Zero is written
 * "0": SQLite stores -0.0 as the integer 0, so a -0 could not be read
 * back. buf holds 32 bytes (FMT_DOUBLE_LEN). */
static size_t store_fmt_value(char *buf, double v)
{
    if (v == 0.0)
        v = 0.0;
    return fmt_g17(v, buf);
}

/* A field of a canonical line: bytes and their count. */
struct store_field {
    const char *p;
    size_t n;
};

enum {
    CANON_SEQ,
    CANON_TAG,
    CANON_TS,
    CANON_VALUE,
    CANON_QUALITY,
    CANON_ERROR,
    CANON_RAW,
    CANON_FIELDS
};

/*
 * Appends one canonical line to s->canon: the fields separated by TAB
 * and ended by LF (see README, "Audit chain"). Returns where it starts.
 */
static size_t store_canon_addn(struct store *s, const struct store_field *f,
                               int n)
{
    size_t need = (size_t)n, start = s->canon_len;
    char *p;

    for (int i = 0; i < n; i++)
        need += f[i].n;
    xgrow(&s->canon, &s->canon_cap, s->canon_len + need, 1);
    p = s->canon + s->canon_len;
    for (int i = 0; i < n; i++) {
        memcpy(p, f[i].p, f[i].n);
        p += f[i].n;
        *p++ = i + 1 < n ? '\t' : '\n';
    }
    s->canon_len += need;
    return start;
}

static size_t store_canon_add(struct store *s,
                              const struct store_field f[CANON_FIELDS])
{
    return store_canon_addn(s, f, CANON_FIELDS);
}

/* The first DIGEST_LEN bytes of the SHA-256 of len bytes at p, with the
 * store's reusable context (a fresh one per reading costs more than the
 * hashing). */
void store_digest(struct store *s, const char *p, size_t len,
                  uint8_t out[DIGEST_LEN])
{
    unsigned char md[SHA256_LEN];

    sha256_reset(s->digest);
    sha256_update(s->digest, p, len);
    sha256_digest(s->digest, md);
    memcpy(out, md, DIGEST_LEN);
}

/* Whether a reading keeps its error text: comm_error says which error,
 * missed why the slot was not served (SPEC "Readings"). Otherwise error
 * is NULL, in the database and the canonical form alike. */
bool store_keeps_error(const struct reading *r)
{
    return r->quality == QUALITY_COMM_ERROR || r->quality == QUALITY_MISSED;
}

/* Appends the canonical line of a reading just inserted, and its digest
 * to s->digests at index i. It is built from what was bound, which is
 * what verify will read back. */
int store_canon_reading(struct store *s, const struct reading *r,
                        const char *raw, size_t i)
{
    char seq[24], ts[24], value[32];
    bool has_value = reading_has_value(r);
    const char *q = quality_name(r->quality), *tag;
    struct store_field f[CANON_FIELDS];
    size_t start;

    if (store_tag(s, r->sensor_id, &tag) < 0)
        return -1;
    if (!tag)
        return store_errorf(s, "no sensor with id %lld",
                            (long long)r->sensor_id);
    f[CANON_SEQ] = (struct store_field){seq, fmt_int64(r->seq, seq)};
    f[CANON_TAG] = (struct store_field){tag, strlen(tag)};
    f[CANON_TS] = (struct store_field){ts, fmt_int64(r->ts_us, ts)};
    f[CANON_VALUE] = (struct store_field){
        value, has_value ? store_fmt_value(value, r->value) : 0};
    f[CANON_QUALITY] = (struct store_field){q, strlen(q)};
    f[CANON_ERROR] = (struct store_field){
        r->error,
        store_keeps_error(r) ? strnlen(r->error, sizeof(r->error)) : 0};
    f[CANON_RAW] = (struct store_field){raw, strlen(raw)};
    start = store_canon_add(s, f);
    xgrow(&s->digests, &s->digests_cap, (i + 1) * DIGEST_LEN, 1);
    store_digest(s, s->canon + start, s->canon_len - start,
                 s->digests + i * DIGEST_LEN);
    return 0;
}

/* Text that %.17g or a decimal integer never starts with: marks a column
 * of the wrong type, so that it can never hash like the original. */
#define CANON_ALIEN '?'

/*
 * A column of a reading as canonical text: an integer (want
 * SQLITE_INTEGER), a double (SQLITE_FLOAT) or text (SQLITE_TEXT); empty
 * if NULL. Numbers are formatted into buf (32 bytes). A column of
 * another type (only a hand-made change can do that) becomes
 * CANON_ALIEN and its text, in *alien, which the caller frees.
 */
static struct store_field store_canon_column(sqlite3_stmt *st, int i, int want,
                                             char *buf, char **alien)
{
    int type = sqlite3_column_type(st, i);
    struct store_field f = {"", 0};
    const char *text;
    size_t n;

    if (type == SQLITE_NULL)
        return f;
    if (type == SQLITE_INTEGER && want == SQLITE_INTEGER)
        return (struct store_field){
            buf, fmt_int64(sqlite3_column_int64(st, i), buf)};
    if (type == SQLITE_FLOAT && want == SQLITE_FLOAT)
        return (struct store_field){
            buf, store_fmt_value(buf, sqlite3_column_double(st, i))};
    text = (const char *)sqlite3_column_text(st, i);
    n = (size_t)sqlite3_column_bytes(st, i);
    if (type == SQLITE_TEXT && want == SQLITE_TEXT)
        return (struct store_field){text ? text : "", text ? n : 0};
    *alien = xmalloc(n + 2);
    (*alien)[0] = CANON_ALIEN;
    if (n)
        memcpy(*alien + 1, text, n);
    return (struct store_field){*alien, n + 1};
}

/* Appends the canonical line of the reading at st's current row (columns
 * as in STORE_VERIFY_SQL); returns where it starts, or -1 if its sensor
 * cannot be read (a sensor that does not exist hashes with its id). */
int64_t store_canon_row(struct store *s, sqlite3_stmt *st)
{
    char seq[32], ts[32], value[32], id[32];
    char *alien[CANON_FIELDS] = {NULL};
    struct store_field f[CANON_FIELDS];
    int64_t sensor = sqlite3_column_int64(st, 1);
    const char *tag = NULL;
    size_t start;

    if (sqlite3_column_type(st, 1) == SQLITE_INTEGER &&
        store_tag(s, sensor, &tag) < 0)
        return -1;
    f[CANON_SEQ] = store_canon_column(st, 0, SQLITE_INTEGER, seq, &alien[0]);
    if (tag) {
        f[CANON_TAG] = (struct store_field){tag, strlen(tag)};
    } else {
        /* No such sensor: its readings cannot hash as they did. */
        id[0] = CANON_ALIEN;
        f[CANON_TAG] = (struct store_field){id, 1 + fmt_int64(sensor, id + 1)};
    }
    f[CANON_TS] = store_canon_column(st, 2, SQLITE_INTEGER, ts, &alien[2]);
    f[CANON_VALUE] = store_canon_column(st, 3, SQLITE_FLOAT, value, &alien[3]);
    f[CANON_QUALITY] = store_canon_column(st, 4, SQLITE_TEXT, NULL, &alien[4]);
    f[CANON_ERROR] = store_canon_column(st, 5, SQLITE_TEXT, NULL, &alien[5]);
    f[CANON_RAW] = store_canon_column(st, 6, SQLITE_TEXT, NULL, &alien[6]);
    start = store_canon_add(s, f);
    for (int i = 0; i < CANON_FIELDS; i++)
        free(alien[i]);
    return (int64_t)start;
}

/*
 * The canonical line of a description version (README, "Description
 * versions"): "sensor", then the columns of STMT_SENSOR_DESC (id, tag,
 * version, chain_seq and the description), each as a reading's fields
 * are written (integers in decimal, reals as %.17g, NULL empty, a
 * column of the wrong type marked), TAB-separated, LF-ended; a bit
 * sensor's bit (schema 5) follows as one more field, so that the lines of
 * every other description are what they were before there were bits.
 * Appends it to s->canon and, if digest is not NULL, its digest there.
 * Returns 0, 1 if there is no such row (nothing appended), or -1.
 */
#define CANON_DESC_COLS 20
int store_canon_desc(struct store *s, int64_t id, uint8_t *digest)
{
    static const int types[CANON_DESC_COLS] = {
        SQLITE_INTEGER, SQLITE_TEXT,    SQLITE_INTEGER, SQLITE_INTEGER,
        SQLITE_TEXT,    SQLITE_TEXT,    SQLITE_TEXT,    SQLITE_INTEGER,
        SQLITE_TEXT,    SQLITE_INTEGER, SQLITE_TEXT,    SQLITE_TEXT,
        SQLITE_FLOAT,   SQLITE_FLOAT,   SQLITE_INTEGER, SQLITE_FLOAT,
        SQLITE_FLOAT,   SQLITE_TEXT,    SQLITE_TEXT,    SQLITE_TEXT};
    sqlite3_stmt *st = s->stmt[STMT_SENSOR_DESC];
    struct store_field f[CANON_DESC_COLS + 2];
    char buf[CANON_DESC_COLS + 1][32];
    char *alien[CANON_DESC_COLS + 1] = {NULL};
    size_t start, n = CANON_DESC_COLS + 1;
    int rc;

    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE
                   ? 1
                   : store_fail(s, "cannot read sensor %lld", (long long)id);
    }
    f[0] = (struct store_field){"sensor", 6};
    for (int i = 0; i < CANON_DESC_COLS; i++)
        f[i + 1] = store_canon_column(st, i, types[i], buf[i], &alien[i]);
    if (sqlite3_column_type(st, CANON_DESC_COLS) != SQLITE_NULL)
        f[n++] =
            store_canon_column(st, CANON_DESC_COLS, SQLITE_INTEGER,
                               buf[CANON_DESC_COLS], &alien[CANON_DESC_COLS]);
    start = store_canon_addn(s, f, n);
    sqlite3_reset(st);
    for (int i = 0; i <= CANON_DESC_COLS; i++)
        free(alien[i]);
    if (digest)
        store_digest(s, s->canon + start, s->canon_len - start, digest);
    return 0;
}

/*
 * The canonical text of a configuration (README, "Configuration kept"):
 * a line "config TAB id TAB chain_seq TAB ts_us TAB sha256" (the main
 * file's, as the config event carries it), then per file, in order, "file
 * TAB idx TAB name TAB the SHA-256 of its stored bytes", computed here:
 * the bytes themselves are what is under the chain. Appends it, and its
 * digest if digest is not NULL. Returns 0, 1 if there is no such
 * configuration, or -1.
 */
int store_canon_config(struct store *s, int64_t id, uint8_t *digest)
{
    static const int types[4] = {SQLITE_INTEGER, SQLITE_INTEGER, SQLITE_INTEGER,
                                 SQLITE_TEXT};
    sqlite3_stmt *st = s->stmt[STMT_CONFIG_ROW];
    struct store_field f[5];
    char buf[4][32], sha[SHA256_HEX_LEN];
    char *alien[4] = {NULL};
    size_t start = s->canon_len;
    int rc;

    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? 1
                                 : store_fail(s, "cannot read configuration");
    }
    f[0] = (struct store_field){"config", 6};
    for (int i = 0; i < 4; i++)
        f[i + 1] = store_canon_column(st, i, types[i], buf[i], &alien[i]);
    store_canon_addn(s, f, 5);
    sqlite3_reset(st);
    for (int i = 0; i < 4; i++)
        free(alien[i]);
    st = s->stmt[STMT_CONFIG_FILES];
    sqlite3_bind_int64(st, 1, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char *idx_alien = NULL, *name_alien = NULL;
        const void *bytes = sqlite3_column_blob(st, 2);

        sha256_hex(bytes ? bytes : "", (size_t)sqlite3_column_bytes(st, 2),
                   sha);
        f[0] = (struct store_field){"file", 4};
        f[1] = store_canon_column(st, 0, SQLITE_INTEGER, buf[0], &idx_alien);
        f[2] = store_canon_column(st, 1, SQLITE_TEXT, NULL, &name_alien);
        f[3] = (struct store_field){sha, SHA256_HEX_LEN - 1};
        store_canon_addn(s, f, 4);
        free(idx_alien);
        free(name_alien);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_fail(s, "cannot read configuration files");
    if (digest)
        store_digest(s, s->canon + start, s->canon_len - start, digest);
    return 0;
}
