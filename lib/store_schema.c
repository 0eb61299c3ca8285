// SPDX-License-Identifier: MIT
/*
 * The schema: every table, index and trigger tbdaq makes, in creation
 * order, for each version still read (1 to 5); the check that a file
 * holds exactly those objects before anything is read from it; and the
 * upgrades a read-write open makes, in one transaction.
 */
#include "lib/store_private.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"

/*
 * The schema, newest version, as a list of its objects in creation order: a
 * new file gets them all in one transaction, an older one the objects of
 * the versions it lacks (and the changes of readings' CHECK, see
 * store_upgrade_check()), and every open compares the file with the list
 * (store_check_objects()), so that a file whose tables, indexes or
 * triggers are not tbdaq's own is refused before anything is read.
 *
 * readings_comm_error and readings_missed (version 3) are partial indexes
 * holding only the comm_error or missed rows (quality included so that
 * they cover the counts), so the counts of `tbdaq status` cost in
 * proportion to those rows, not to the readings.
 *
 * batches is the audit chain: one row per committed batch, covering the
 * contiguous seqs first_seq..last_seq. digests holds DIGEST_LEN bytes per
 * reading (the start of the SHA-256 of its canonical line), so that a
 * broken batch can name the reading that changed; the hash alone is the
 * evidence. batches_last_seq finds the batch holding a given seq (verify
 * --run, and the batch a run's chain head names). events_kind finds the
 * newest config event and events_ts the events of an export's window
 * without scanning the events.
 *
 * pruned (version 2) has one row per batch whose readings retention
 * deleted, written in the same transaction: the earliest and latest time
 * of those readings and how many there were. The batch row stays, so the
 * chain still links end to end, and verify knows the gap is retention's.
 *
 * Each sql is the text SQLite keeps in sqlite_schema: a CREATE statement
 * without its final semicolon.
 */

/*
 * readings' CHECK before version 3, from version 3 on ('missed'), and
 * from version 6 on: the same five names as comparisons. SQLite (3.40)
 * codes an IN list of a CHECK as a temporary b-tree built and freed for
 * every row inserted (OP_OpenEphemeral, which a query would build once):
 * about 40% of the cost of storing a reading. OR of equalities is the
 * same rule, with a NOT NULL column, at the cost of five comparisons.
 */
#define STORE_CHECK_V1                                                         \
    "CHECK (quality IN ('good','out_of_range','invalid','comm_error'))"
#define STORE_CHECK_V3                                                         \
    "CHECK (quality IN ('good','out_of_range','invalid','comm_error',"         \
    "'missed'))"
#define STORE_CHECK_V6                                                         \
    "CHECK (quality = 'good' OR quality = 'out_of_range'"                      \
    " OR quality = 'invalid' OR quality = 'comm_error'"                        \
    " OR quality = 'missed')"
#define STORE_READINGS_SQL(check)                                              \
    "CREATE TABLE readings (seq INTEGER PRIMARY KEY AUTOINCREMENT,"            \
    " sensor_id INTEGER NOT NULL REFERENCES sensors(id),"                      \
    " ts_us INTEGER NOT NULL, value REAL, quality TEXT NOT NULL"               \
    " " check ","                                                              \
    " error TEXT, raw TEXT)"

static const char store_readings_v1[] = STORE_READINGS_SQL(STORE_CHECK_V1);
static const char store_readings_v3[] = STORE_READINGS_SQL(STORE_CHECK_V3);
static const char store_readings_v6[] = STORE_READINGS_SQL(STORE_CHECK_V6);

/*
 * sensors before version 4: one row per tag, updated in place. From
 * version 4 on: one row per version of a tag's description, never
 * changed but for chain_seq, set once by the commit that first stores a
 * reading under it: the seq of that reading, whose batch's hash covers
 * the description (0: a row of an older schema, under no hash).
 */
#define STORE_SENSORS_DESC_SQL                                                 \
    " kind TEXT NOT NULL, unit TEXT NOT NULL,"                                 \
    " bus TEXT NOT NULL, unit_id INTEGER NOT NULL, reg_table TEXT NOT NULL,"   \
    " address INTEGER NOT NULL, type TEXT NOT NULL,"                           \
    " byte_order TEXT NOT NULL, scale REAL NOT NULL,"                          \
    " \"offset\" REAL NOT NULL, interval_ms INTEGER NOT NULL,"                 \
    " range_lo REAL, range_hi REAL,"                                           \
    " cal_date TEXT, cal_due TEXT, cal_certificate TEXT"
#define STORE_SENSORS_DESC_COLS                                                \
    "kind unit bus unit_id reg_table address type byte_order scale"            \
    " offset interval_ms range_lo range_hi cal_date cal_due cal_certificate"
static const char store_sensors_v1[] =
    "CREATE TABLE sensors (id INTEGER PRIMARY KEY,"
    " tag TEXT UNIQUE NOT NULL," STORE_SENSORS_DESC_SQL ")";
static const char store_sensors_v4[] =
    "CREATE TABLE sensors (id INTEGER PRIMARY KEY,"
    " tag TEXT NOT NULL, version INTEGER NOT NULL," STORE_SENSORS_DESC_SQL
    ", chain_seq INTEGER, UNIQUE (tag, version))";
/* Version 5 adds bit (a bit sensor's bit of its register; NULL: the whole
 * value), by ALTER TABLE ADD COLUMN, which SQLite puts after the last
 * column, before the UNIQUE constraint. */
static const char store_sensors_v5[] =
    "CREATE TABLE sensors (id INTEGER PRIMARY KEY,"
    " tag TEXT NOT NULL, version INTEGER NOT NULL," STORE_SENSORS_DESC_SQL
    ", chain_seq INTEGER, bit INTEGER, UNIQUE (tag, version))";
#define STORE_SENSORS_COLS_V1 "id tag " STORE_SENSORS_DESC_COLS
#define STORE_SENSORS_COLS_V4                                                  \
    "id tag version " STORE_SENSORS_DESC_COLS " chain_seq"

/*
 * runs: from version 4 on, first_seq and last_seq (NULL in the runs of
 * older files, which hold their readings by time); from version 5 on,
 * exact (1: the run holds the readings of its seq range taken between
 * its start and end, the times checked only at its edges: struct
 * store_run; NULL in the runs of older files, which hold their seq range
 * whatever the times), start_edge_seq and stop_edge_seq (the edges).
 * Each added by ALTER TABLE ADD COLUMN, whose text is that of a new
 * file's.
 */
#define STORE_RUNS_SQL                                                         \
    "CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"    \
    " started_us INTEGER NOT NULL, ended_us INTEGER, operator TEXT,"           \
    " note TEXT, config_sha256 TEXT, chain_head TEXT, chain_seq INTEGER"
static const char store_runs_v1[] = STORE_RUNS_SQL ")";
static const char store_runs_v4[] =
    STORE_RUNS_SQL ", first_seq INTEGER, last_seq INTEGER)";
static const char store_runs_v5[] =
    STORE_RUNS_SQL ", first_seq INTEGER, last_seq INTEGER, exact INTEGER,"
                   " start_edge_seq INTEGER, stop_edge_seq INTEGER)";
#define STORE_RUNS_COLS_V1                                                     \
    "id name started_us ended_us operator note config_sha256 chain_head"       \
    " chain_seq"

/* The name of the immutability trigger: the one object a file may lack
 * (a forger drops it to change a reading; verify finds the change, and
 * the daemon puts it back). */
#define STORE_TRIGGER "readings_immutable"

struct store_object {
    const char *type; /* as in sqlite_schema */
    const char *name;
    int since;        /* the schema version that added it */
    const char *sql;  /* in the newest version */
    const char *cols; /* a table's columns, space-separated, in order */
};

static const struct store_object store_objects[] = {
    {"table", "sensors", 1, store_sensors_v5, STORE_SENSORS_COLS_V4 " bit"},
    {"table", "readings", 1, store_readings_v6,
     "seq sensor_id ts_us value quality error raw"},
    {"index", "readings_ts", 1, "CREATE INDEX readings_ts ON readings(ts_us)",
     NULL},
    {"table", "sensor_last", 1,
     "CREATE TABLE sensor_last (sensor_id INTEGER PRIMARY KEY"
     " REFERENCES sensors(id), last_seq INTEGER NOT NULL,"
     " count INTEGER NOT NULL)",
     "sensor_id last_seq count"},
    {"index", "readings_comm_error", 1,
     "CREATE INDEX readings_comm_error ON readings(sensor_id, ts_us, quality)"
     " WHERE quality = 'comm_error'",
     NULL},
    {"table", "batches", 1,
     "CREATE TABLE batches (id INTEGER PRIMARY KEY,"
     " first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL,"
     " n INTEGER NOT NULL, ts_us INTEGER NOT NULL, prev_hash TEXT NOT NULL,"
     " hash TEXT NOT NULL, digests BLOB NOT NULL)",
     "id first_seq last_seq n ts_us prev_hash hash digests"},
    {"index", "batches_last_seq", 1,
     "CREATE INDEX batches_last_seq ON batches(last_seq)", NULL},
    {"table", "runs", 1, store_runs_v5,
     STORE_RUNS_COLS_V1 " first_seq last_seq exact start_edge_seq"
                        " stop_edge_seq"},
    {"table", "events", 1,
     "CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
     " ts_us INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT)",
     "seq ts_us kind detail"},
    {"index", "events_kind", 1, "CREATE INDEX events_kind ON events(kind, seq)",
     NULL},
    {"index", "events_ts", 1, "CREATE INDEX events_ts ON events(ts_us)", NULL},
    {"table", "state", 1,
     "CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
     "key value"},
    {"table", "meta", 1, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)",
     "key value"},
    {"trigger", STORE_TRIGGER, 1,
     "CREATE TRIGGER " STORE_TRIGGER " BEFORE UPDATE ON readings"
     " BEGIN SELECT RAISE(ABORT, 'readings are immutable'); END",
     NULL},
    {"table", "pruned", 2,
     "CREATE TABLE pruned (batch_id INTEGER PRIMARY KEY"
     " REFERENCES batches(id), first_ts_us INTEGER NOT NULL,"
     " last_ts_us INTEGER NOT NULL, readings INTEGER NOT NULL,"
     " pruned_us INTEGER NOT NULL)",
     "batch_id first_ts_us last_ts_us readings pruned_us"},
    {"index", "readings_missed", 3,
     "CREATE INDEX readings_missed ON readings(sensor_id, ts_us, quality)"
     " WHERE quality = 'missed'",
     NULL},
    /* The description versions a batch's hash covers, by its seqs. */
    {"index", "sensors_chain_seq", 4,
     "CREATE INDEX sensors_chain_seq ON sensors(chain_seq)", NULL},
    /* Every configuration applied (start, reload), with its files: the
     * main one (idx 0) and those it includes, bytes as read; chain_seq
     * as for a description: the first seq of the batch that hashes it. */
    {"table", "configs", 4,
     "CREATE TABLE configs (id INTEGER PRIMARY KEY, ts_us INTEGER NOT NULL,"
     " sha256 TEXT NOT NULL, chain_seq INTEGER)",
     "id ts_us sha256 chain_seq"},
    {"index", "configs_chain_seq", 4,
     "CREATE INDEX configs_chain_seq ON configs(chain_seq)", NULL},
    {"table", "config_files", 4,
     "CREATE TABLE config_files (config_id INTEGER NOT NULL"
     " REFERENCES configs(id), idx INTEGER NOT NULL, name TEXT NOT NULL,"
     " sha256 TEXT NOT NULL, bytes BLOB NOT NULL,"
     " PRIMARY KEY (config_id, idx))",
     "config_id idx name sha256 bytes"},
};
#define STORE_NOBJECTS (sizeof(store_objects) / sizeof(store_objects[0]))

/* Tables SQLite itself makes in a file (AUTOINCREMENT; ANALYZE, should
 * someone have run it on a copy), with the only definition it gives them. */
static const char *const store_sqlite_tables[][2] = {
    {"sqlite_sequence", "CREATE TABLE sqlite_sequence(name,seq)"},
    {"sqlite_stat1", "CREATE TABLE sqlite_stat1(tbl,idx,stat)"},
    {"sqlite_stat4", "CREATE TABLE sqlite_stat4(tbl,idx,neq,nlt,ndlt,sample)"},
};

/* An object's definition in a file of the given version. */
static const char *store_object_sql(const struct store_object *o, int64_t v)
{
    if (v < 3 && strcmp(o->name, "readings") == 0)
        return store_readings_v1;
    if (v < 6 && strcmp(o->name, "readings") == 0)
        return store_readings_v3;
    if (v < 4 && strcmp(o->name, "sensors") == 0)
        return store_sensors_v1;
    if (v < 5 && strcmp(o->name, "sensors") == 0)
        return store_sensors_v4;
    if (v < 4 && strcmp(o->name, "runs") == 0)
        return store_runs_v1;
    if (v < 5 && strcmp(o->name, "runs") == 0)
        return store_runs_v4;
    return o->sql;
}

/* A table's columns in a file of the given version. */
static const char *store_object_cols(const struct store_object *o, int64_t v)
{
    if (v < 4 && strcmp(o->name, "sensors") == 0)
        return STORE_SENSORS_COLS_V1;
    if (v < 5 && strcmp(o->name, "sensors") == 0)
        return STORE_SENSORS_COLS_V4;
    if (v < 4 && strcmp(o->name, "runs") == 0)
        return STORE_RUNS_COLS_V1;
    if (v < 5 && strcmp(o->name, "runs") == 0)
        return STORE_RUNS_COLS_V1 " first_seq last_seq";
    return o->cols;
}

/* The immutability trigger's definition. */
static const char *store_objects_trigger(void)
{
    for (size_t i = 0; i < STORE_NOBJECTS; i++)
        if (strcmp(store_objects[i].name, STORE_TRIGGER) == 0)
            return store_objects[i].sql;
    return NULL;
}

/* A new schema version needs its objects above, a step in
 * store_upgrade_schema() and a look at store_object_sql(). */
_Static_assert(STORE_SCHEMA_VERSION == 6, "the schema is version 6");

/* Sets the message "'PATH' is not a tbdaq database: WHAT"; returns -1. */
__attribute__((format(printf, 2, 3))) static int
store_foreign(struct store *s, const char *fmt, ...)
{
    char what[STORE_ERR_MAX / 2];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return store_errorf(s, "'%s' is not a tbdaq database: %s", s->path, what);
}

/* Whether word is one of the space-separated words of list. */
static bool store_word_in(const char *word, const char *list)
{
    size_t n = strlen(word);

    for (const char *p = list; *p; p += strcspn(p, " "), p += *p == ' ')
        if (strncmp(p, word, n) == 0 && (p[n] == ' ' || p[n] == '\0'))
            return true;
    return false;
}

/* Longest list of a table's column names store_check_columns() keeps. */
#define STORE_COLUMNS_MAX 1024

/*
 * Compares a table's columns, hidden and generated ones included (PRAGMA
 * table_xinfo), with those tbdaq gives it, so that the message can name
 * the column that differs. Returns 0 (their definitions are compared
 * afterwards), or -1 with the message set.
 */
static int store_check_columns(struct store *s, const struct store_object *o,
                               const char *cols)
{
    char sql[96], have[STORE_COLUMNS_MAX] = "";
    sqlite3_stmt *st = NULL;
    size_t len = 0;
    int rc, ret = 0;

    /* the names are tbdaq's own: nothing to quote */
    snprintf(sql, sizeof(sql), "PRAGMA table_xinfo(%s)", o->name);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, "cannot read the schema of '%s'", s->path);
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);

        if (!name)
            name = "";
        if (sqlite3_column_int(st, 6) != 0)
            ret = store_foreign(s,
                                "table '%s' has a hidden or generated "
                                "column '%s'",
                                o->name, name);
        else if (!store_word_in(name, cols))
            ret = store_foreign(s, "table '%s' has an unexpected column '%s'",
                                o->name, name);
        else if (len + strlen(name) + 2 < sizeof(have))
            len += (size_t)snprintf(have + len, sizeof(have) - len, "%s%s",
                                    len ? " " : "", name);
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read the schema of '%s'", s->path);
    sqlite3_finalize(st);
    for (const char *p = cols; ret == 0 && *p;
         p += strcspn(p, " "), p += *p == ' ') {
        char want[64];

        snprintf(want, sizeof(want), "%.*s", (int)strcspn(p, " "), p);
        if (!store_word_in(want, have))
            ret = store_foreign(s, "table '%s' has no column '%s'", o->name,
                                want);
    }
    return ret;
}

/* Whether an object SQLite makes by itself is as SQLite makes it: the
 * index of a UNIQUE or PRIMARY KEY constraint on a table of ours, or a
 * table of store_sqlite_tables. Returns 1 if so, 0 if name is not one of
 * those, -1 with the message if it is one but differs. */
static int store_sqlite_object(struct store *s, const char *type,
                               const char *name, const char *tbl,
                               const char *sql, int64_t version)
{
    if (strncmp(name, "sqlite_autoindex_", 17) == 0) {
        for (size_t i = 0; i < STORE_NOBJECTS; i++) {
            const struct store_object *o = &store_objects[i];

            if (o->since <= version && strcmp(o->type, "table") == 0 && tbl &&
                strcmp(tbl, o->name) == 0 && !sql && strcmp(type, "index") == 0)
                return 1;
        }
        return store_foreign(s, "unexpected %s '%s'", type, name);
    }
    for (size_t i = 0;
         i < sizeof(store_sqlite_tables) / sizeof(store_sqlite_tables[0]);
         i++) {
        if (strcmp(name, store_sqlite_tables[i][0]) != 0)
            continue;
        if (strcmp(type, "table") == 0 && sql &&
            strcmp(sql, store_sqlite_tables[i][1]) == 0)
            return 1;
        return store_foreign(s, "%s '%s' is not SQLite's own", type, name);
    }
    return 0;
}

/*
 * Compares every object of the file (tables, indexes, triggers, views)
 * with store_objects of the given version: the same type and the same
 * definition, nothing more and nothing missing, but the immutability
 * trigger, whose absence only sets s->no_trigger. A view standing for a
 * table, a trigger or index of someone else's (a partial readings_ts
 * hides readings from an export), a changed CHECK or a generated column
 * are all refused here, before any of them could run or mislead.
 */
static int store_check_objects(struct store *s, int64_t version)
{
    bool seen[STORE_NOBJECTS] = {false};
    sqlite3_stmt *st = NULL;
    int rc, ret = 0;

    s->no_trigger = false;
    if (sqlite3_prepare_v2(s->db,
                           /* views and triggers, code, named first */
                           "SELECT type, name, tbl_name, sql FROM sqlite_master"
                           " ORDER BY CASE type WHEN 'view' THEN 0"
                           " WHEN 'trigger' THEN 1 ELSE 2 END",
                           -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, "cannot open '%s'", s->path);
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        const char *tbl = (const char *)sqlite3_column_text(st, 2);
        const char *sql = (const char *)sqlite3_column_text(st, 3);
        const struct store_object *o = NULL;
        size_t i;

        if (!type || !name) {
            ret = store_foreign(s, "an object without a type or name");
            break;
        }
        if ((ret = store_sqlite_object(s, type, name, tbl, sql, version)) !=
            0) {
            ret = ret > 0 ? 0 : -1;
            continue;
        }
        for (i = 0; i < STORE_NOBJECTS && !o; i++)
            if (store_objects[i].since <= version &&
                strcmp(store_objects[i].name, name) == 0)
                o = &store_objects[i];
        if (!o) {
            ret = store_foreign(s, "unexpected %s '%s'", type, name);
        } else if (strcmp(type, o->type) != 0) {
            ret =
                store_foreign(s, "'%s' is a %s, not a %s", name, type, o->type);
        } else {
            seen[i - 1] = true;
            if (sql && strncmp(sql, "CREATE VIRTUAL TABLE", 20) == 0)
                ret = store_foreign(s, "'%s' is a virtual table", name);
            else if (o->cols && store_check_columns(
                                    s, o, store_object_cols(o, version)) < 0)
                ret = -1;
            else if (!sql || strcmp(sql, store_object_sql(o, version)) != 0)
                ret = store_foreign(s,
                                    "%s '%s' is not defined as tbdaq "
                                    "defines it",
                                    type, name);
        }
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot open '%s'", s->path);
    sqlite3_finalize(st);
    for (size_t i = 0; ret == 0 && i < STORE_NOBJECTS; i++) {
        const struct store_object *o = &store_objects[i];

        if (o->since > version || seen[i])
            continue;
        if (strcmp(o->name, STORE_TRIGGER) == 0)
            s->no_trigger = true;
        else
            ret = store_foreign(s, "no %s '%s'", o->type, o->name);
    }
    return ret;
}

/*
 * Reads the schema version and checks that this is a tbdaq database this
 * code can use, object by object. A file with no tables at all (new, or
 * zero bytes) is accepted with *version 0 only when empty_ok.
 */
int store_check_schema(struct store *s, bool empty_ok, int64_t *version)
{
    int64_t nobjects = 0;

    if (store_query_int(s, "PRAGMA user_version", version) < 0 ||
        store_query_int(s, "SELECT count(*) FROM sqlite_master", &nobjects) < 0)
        return store_fail(s, "cannot open '%s'", s->path);
    if (*version > STORE_SCHEMA_VERSION)
        return store_errorf(s,
                            "database '%s' has schema version %lld, newer "
                            "than this tbdaq (%d)",
                            s->path, (long long)*version, STORE_SCHEMA_VERSION);
    if (*version < 0)
        return store_foreign(s, "schema version %lld", (long long)*version);
    if (*version == 0 && nobjects > 0)
        return store_foreign(s, "no tbdaq schema version (user_version 0)");
    if (*version == 0 && !empty_ok)
        return store_foreign(s, "it is empty");
    return *version > 0 ? store_check_objects(s, *version) : 0;
}

/* Runs each statement of store_objects added after version from (all of
 * them if 0), in order. */
static int store_create_objects(struct store *s, int64_t from)
{
    for (size_t i = 0; i < STORE_NOBJECTS; i++)
        if (store_objects[i].since > from &&
            sqlite3_exec(s->db, store_objects[i].sql, NULL, NULL, NULL) !=
                SQLITE_OK)
            return store_fail(s, "cannot %s schema in '%s'",
                              from ? "upgrade the" : "create", s->path);
    return 0;
}

/*
 * readings' CHECK, in a file older than version 6, becomes version 6's:
 * from version 3 on, the same five names written as comparisons; before
 * 3, also admitting 'missed'. Neither changes a row (the first is the
 * same rule, the second a looser one), so this follows SQLite's ALTER
 * TABLE documentation for such changes ("Making Other Kinds Of Table
 * Schema Changes"): the table's definition is rewritten in sqlite_master
 * with writable_schema and the schema version is bumped, inside the
 * caller's transaction. It takes constant time, where copying the table
 * into a new one took 34 s and 450 MB more disk for 10 million readings.
 * The old definition was checked to be exactly the one of its version
 * (store_check_objects()), and the new one is the text every new file is
 * created with.
 */
static int store_upgrade_check(struct store *s, int64_t version)
{
    static const char update[] =
        "UPDATE sqlite_master SET sql = ?1 WHERE type = 'table'"
        " AND name = 'readings' AND sql = ?2";
    sqlite3_stmt *st = NULL;
    char bump[64];
    int64_t cookie = 0;
    int ret = -1;

    /* DEFENSIVE forbids writable_schema: off for these statements only,
     * on a file already checked to be ours. */
    if (store_query_int(s, "PRAGMA schema_version", &cookie) < 0 ||
        sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 0, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(s->db, "PRAGMA writable_schema = ON", NULL, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(s->db, update, -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, store_readings_v6, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2,
                      version < 3 ? store_readings_v1 : store_readings_v3, -1,
                      SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto fail;
    if (sqlite3_changes(s->db) != 1) {
        store_errorf(s,
                     "cannot upgrade the schema in '%s': readings is not "
                     "as version %lld defines it",
                     s->path, (long long)version);
        goto done;
    }
    snprintf(bump, sizeof(bump), "PRAGMA schema_version = %lld",
             (long long)cookie + 1);
    if (sqlite3_exec(s->db, bump, NULL, NULL, NULL) != SQLITE_OK)
        goto fail;
    ret = 0;
    goto done;
fail:
    store_fail(s, "cannot upgrade the schema in '%s'", s->path);
done:
    sqlite3_finalize(st);
    /* RESET also makes this connection parse the new definition. */
    sqlite3_exec(s->db, "PRAGMA writable_schema = RESET", NULL, NULL, NULL);
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    return ret;
}

/*
 * Version 3 to 4: sensors becomes one row per description version, its
 * tag no longer unique, so the (small) table is copied into a new one:
 * every existing row becomes its tag's version 1, with chain_seq 0 (a
 * description no batch's hash covered). The old table is renamed aside
 * first with legacy_alter_table on, so that readings' and sensor_last's
 * REFERENCES sensors(id) are left as they are and name the new table,
 * whose rows keep their ids. runs gets first_seq and last_seq, NULL in
 * the runs there are (they keep the time rule). Inside the caller's
 * transaction.
 */

static int store_upgrade_v4(struct store *s)
{
    static const char *const steps[] = {
        "PRAGMA legacy_alter_table = ON",
        "ALTER TABLE sensors RENAME TO sensors_v3",
        store_sensors_v4,
        "INSERT INTO sensors (id, tag, version, " STORE_SENSORS_DESC_LIST
        ", chain_seq) SELECT id, tag, 1, " STORE_SENSORS_DESC_LIST
        ", 0 FROM sensors_v3 ORDER BY id",
        "DROP TABLE sensors_v3",
        "ALTER TABLE runs ADD COLUMN first_seq INTEGER",
        "ALTER TABLE runs ADD COLUMN last_seq INTEGER",
    };
    int ret = 0;

    for (size_t i = 0; ret == 0 && i < sizeof(steps) / sizeof(steps[0]); i++)
        if (sqlite3_exec(s->db, steps[i], NULL, NULL, NULL) != SQLITE_OK)
            ret = store_fail(s, "cannot upgrade the schema in '%s'", s->path);
    sqlite3_exec(s->db, "PRAGMA legacy_alter_table = OFF", NULL, NULL, NULL);
    return ret;
}

/*
 * Version 4 to 5: runs gets exact and its edges, NULL in the runs there
 * are (they keep the seq rule, or the time rule); sensors gets bit, NULL
 * in the descriptions there are (none read a bit). Inside the caller's
 * transaction.
 */
static int store_upgrade_v5(struct store *s)
{
    if (sqlite3_exec(s->db,
                     "ALTER TABLE runs ADD COLUMN exact INTEGER;"
                     " ALTER TABLE runs ADD COLUMN start_edge_seq INTEGER;"
                     " ALTER TABLE runs ADD COLUMN stop_edge_seq INTEGER;"
                     " ALTER TABLE sensors ADD COLUMN bit INTEGER",
                     NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(s, "cannot upgrade the schema in '%s'", s->path);
    return 0;
}

/*
 * Creates the schema in a new file, or upgrades an older one, and puts
 * back a missing immutability trigger, in one transaction. The check is
 * repeated under the write lock, in case another process did it since
 * the first look. Sets *version to the version now in the file.
 */
int store_upgrade_schema(struct store *s, int64_t *version)
{
    char sql[64];
    bool trigger;

    /* Off while the version 4 step renames sensors aside (with foreign
     * keys on, SQLite would point readings' REFERENCES at the old
     * table); a pragma that only takes effect outside a transaction. */
    sqlite3_exec(s->db, "PRAGMA foreign_keys = OFF", NULL, NULL, NULL);
    if (sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
        return store_fail(s, "cannot create schema in '%s'", s->path);
    }
    if (store_check_schema(s, true, version) < 0)
        goto fail;
    trigger = s->no_trigger;
    if (*version < STORE_SCHEMA_VERSION) {
        if ((*version > 0 && store_upgrade_check(s, *version) < 0) ||
            (*version > 0 && *version < 4 && store_upgrade_v4(s) < 0) ||
            (*version > 0 && *version < 5 && store_upgrade_v5(s) < 0) ||
            store_create_objects(s, *version) < 0)
            goto fail;
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
                 STORE_SCHEMA_VERSION);
        if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
            store_fail(s, "cannot upgrade the schema in '%s'", s->path);
            goto fail;
        }
    }
    if (trigger && sqlite3_exec(s->db, store_objects_trigger(), NULL, NULL,
                                NULL) != SQLITE_OK) {
        store_fail(s, "cannot restore trigger '%s' in '%s'", STORE_TRIGGER,
                   s->path);
        goto fail;
    }
    if (sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        store_fail(s, "cannot %s schema in '%s'",
                   *version ? "upgrade the" : "create", s->path);
        goto fail;
    }
    sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    if (*version > 0 && *version < STORE_SCHEMA_VERSION)
        log_info("database '%s' upgraded from schema version %lld to %d",
                 s->path, (long long)*version, STORE_SCHEMA_VERSION);
    if (trigger)
        log_warnx("database '%s' had no trigger '%s' (readings could be "
                  "changed): put back",
                  s->path, STORE_TRIGGER);
    *version = STORE_SCHEMA_VERSION;
    s->no_trigger = false;
    return 0;
fail:
    /* The statements are not prepared yet: no store_rollback(). */
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    return -1;
}
