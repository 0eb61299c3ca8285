// SPDX-License-Identifier: MIT
/*
 * The SQLite store, and the only module that calls SQLite. Every statement
 * is prepared once at open and reset after each use; a batch of readings
 * is one BEGIN IMMEDIATE transaction, so it is all there or not at all.
 * SQLite's errors become text once, here, prefixed with what was being
 * done, in the store's message buffer.
 */
#include "lib/store.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fmt.h"
#include "common/hash.h"
#include "common/log.h"
#include "common/util.h"

/*
 * The schema, version 3, as a list of its objects in creation order: a
 * new file gets them all in one transaction, an older one the objects of
 * the versions it lacks (and the change of readings' CHECK, see
 * store_upgrade_v3()), and every open compares the file with the list
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

/* readings' CHECK before version 3, and from version 3 on ('missed'). */
#define STORE_CHECK_V1                                                         \
    "CHECK (quality IN ('good','out_of_range','invalid','comm_error'))"
#define STORE_CHECK_V3                                                         \
    "CHECK (quality IN ('good','out_of_range','invalid','comm_error',"         \
    "'missed'))"
#define STORE_READINGS_SQL(check)                                              \
    "CREATE TABLE readings (seq INTEGER PRIMARY KEY AUTOINCREMENT,"            \
    " sensor_id INTEGER NOT NULL REFERENCES sensors(id),"                      \
    " ts_us INTEGER NOT NULL, value REAL, quality TEXT NOT NULL"               \
    " " check ","                                                              \
    " error TEXT, raw TEXT)"

static const char store_readings_v1[] = STORE_READINGS_SQL(STORE_CHECK_V1);
static const char store_readings_v3[] = STORE_READINGS_SQL(STORE_CHECK_V3);

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
#define STORE_SENSORS_DESC_LIST                                                \
    "kind, unit, bus, unit_id, reg_table, address, type, byte_order, scale,"   \
    " \"offset\", interval_ms, range_lo, range_hi, cal_date, cal_due,"         \
    " cal_certificate"
#define STORE_SENSORS_COLS_V1 "id tag " STORE_SENSORS_DESC_COLS
#define STORE_SENSORS_COLS_V4                                                  \
    "id tag version " STORE_SENSORS_DESC_COLS " chain_seq"

/*
 * runs: from version 4 on, first_seq and last_seq (NULL in the runs of
 * older files, which hold their readings by time), added by ALTER TABLE
 * ADD COLUMN, whose text is that of a new file's.
 */
#define STORE_RUNS_SQL                                                         \
    "CREATE TABLE runs (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL,"    \
    " started_us INTEGER NOT NULL, ended_us INTEGER, operator TEXT,"           \
    " note TEXT, config_sha256 TEXT, chain_head TEXT, chain_seq INTEGER"
static const char store_runs_v1[] = STORE_RUNS_SQL ")";
static const char store_runs_v4[] =
    STORE_RUNS_SQL ", first_seq INTEGER, last_seq INTEGER)";
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
    {"table", "sensors", 1, store_sensors_v4, STORE_SENSORS_COLS_V4},
    {"table", "readings", 1, store_readings_v3,
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
    {"table", "runs", 1, store_runs_v4,
     STORE_RUNS_COLS_V1 " first_seq last_seq"},
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
    if (v < 4 && strcmp(o->name, "sensors") == 0)
        return store_sensors_v1;
    if (v < 4 && strcmp(o->name, "runs") == 0)
        return store_runs_v1;
    return o->sql;
}

/* A table's columns in a file of the given version. */
static const char *store_object_cols(const struct store_object *o, int64_t v)
{
    if (v < 4 && strcmp(o->name, "sensors") == 0)
        return STORE_SENSORS_COLS_V1;
    if (v < 4 && strcmp(o->name, "runs") == 0)
        return STORE_RUNS_COLS_V1;
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
_Static_assert(STORE_SCHEMA_VERSION == 4, "the schema is version 4");

/* The prepared statements a store keeps, by what they do. */
enum store_stmt {
    STMT_BEGIN,
    STMT_BEGIN_READ,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_INSERT_READING,
    STMT_INSERT_EVENT,
    STMT_SENSOR_SAME,
    STMT_INSERT_SENSOR,
    STMT_SENSOR_CHAIN,
    STMT_SENSOR_COVER,
    STMT_SENSOR_DESC,
    STMT_SENSOR_BATCH,
    STMT_SENSOR_VERSIONS,
    STMT_CONFIG_INSERT,
    STMT_CONFIG_FILE_INSERT,
    STMT_CONFIG_DUE,
    STMT_CONFIG_COVER,
    STMT_CONFIG_ROW,
    STMT_CONFIG_FILES,
    STMT_CONFIG_BATCH,
    STMT_SENSOR_ID,
    STMT_STATUS_SENSORS,
    STMT_STATUS_BUSES,
    STMT_GET_STATE,
    STMT_SET_STATE,
    STMT_READINGS_AFTER,
    STMT_LAST_SEQ,
    STMT_INSERT_BATCH,
    STMT_CHAIN_HEAD,
    STMT_SENSOR_TAG,
    STMT_SENSOR_TAGS,
    STMT_RUNS,
    STMT_RUN_BY_NAME,
    STMT_RUN_BY_ID,
    STMT_RUN_OPEN,
    STMT_RUN_COUNT,
    STMT_RUN_SEQS,
    STMT_RUN_COUNT_SEQ,
    STMT_RUN_SEQS_SEQ,
    STMT_SEQ_QUALITY,
    STMT_RUN_INSERT,
    STMT_RUN_END,
    STMT_RUNS_UNSEALED,
    STMT_RUN_SEAL,
    STMT_CONFIG_SHA,
    STMT_DATA_VERSION,
    STMT_GET_META,
    STMT_SET_META,
    STMT_EVENTS,
    STMT_SENSOR_INFOS,
    STMT_WINDOW_QUALITY,
    STMT_BATCH_BEFORE,
    STMT_BATCH_ENDING,
    STMT_BATCH_DIGESTS,
    STMT_SENSOR_LAST,
    STMT_PRUNE_NEXT,
    STMT_PRUNE_SPAN,
    STMT_PRUNE_READINGS,
    STMT_PRUNE_COUNTS,
    STMT_PRUNE_LAST,
    STMT_PRUNE_DELETE,
    STMT_PRUNE_INSERT, /* needs version 2: see store_open() */
    STMT_COUNT
};

/*
 * Per bus: comm_error readings since ?1 and in all, readings in all, and
 * missed readings since ?1 and in all. The error and missed counts walk
 * only those rows (partial indexes); the reading counts are sensor_last's.
 * The missed counts are parameters: a file of version 1 or 2 read as it
 * is has no readings_missed index (and no missed reading).
 */
#define STORE_COMM_ERROR_COUNT(since)                                          \
    "(SELECT count(*) FROM readings INDEXED BY readings_comm_error"            \
    " WHERE quality = 'comm_error' AND " since " sensor_id IN"                 \
    " (SELECT id FROM sensors WHERE bus = b.bus))"
#define STORE_MISSED_COUNT(since)                                              \
    "(SELECT count(*) FROM readings INDEXED BY readings_missed"                \
    " WHERE quality = 'missed' AND " since " sensor_id IN"                     \
    " (SELECT id FROM sensors WHERE bus = b.bus))"
#define STORE_STATUS_BUSES_SQL(missed_recent, missed_total)                    \
    "SELECT b.bus, " STORE_COMM_ERROR_COUNT(                                   \
        "ts_us >= ?1 AND") ", " STORE_COMM_ERROR_COUNT("") ","                 \
                                                           " (SELECT "         \
                                                           "coalesce(sum(l."   \
                                                           "count), 0) FROM "  \
                                                           "sensor_last AS l"  \
                                                           "  JOIN sensors "   \
                                                           "AS x ON x.id = "   \
                                                           "l.sensor_id "      \
                                                           "WHERE x.bus = "    \
                                                           "b.bus),"           \
                                                           " " missed_recent   \
                                                           ", " missed_total   \
                                                           " FROM (SELECT "    \
                                                           "DISTINCT bus "     \
                                                           "FROM sensors) AS " \
                                                           "b ORDER BY b.bus"

/* The readings walked by verify (and by prune's check), in seq order. */
#define STORE_VERIFY_SQL                                                       \
    "SELECT seq, sensor_id, ts_us, value, quality, error, raw FROM readings"   \
    " WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq"

/* The columns of a run, in the order store_run_rows() reads them
 * (seqs: "first_seq, last_seq", or "NULL, NULL" before version 4). */
#define STORE_RUN_COLUMNS_OF(seqs)                                             \
    "SELECT id, name, started_us, ended_us, operator, note, config_sha256,"    \
    " chain_head, chain_seq, " seqs " FROM runs"
#define STORE_RUN_COLUMNS STORE_RUN_COLUMNS_OF("first_seq, last_seq")
#define STORE_RUN_COLUMNS_V1 STORE_RUN_COLUMNS_OF("NULL, NULL")

/* The run a reading belongs to: by seq for a run with a seq range, else
 * by time (runs are few: the subquery scans them). */
#define STORE_READINGS_AFTER_OF(member)                                        \
    "SELECT r.seq, s.tag, s.kind, s.unit, r.ts_us, r.value, r.quality,"        \
    " r.error, (SELECT name FROM runs WHERE " member                           \
    " ORDER BY started_us DESC LIMIT 1)"                                       \
    " FROM readings AS r JOIN sensors AS s ON s.id = r.sensor_id"              \
    " WHERE r.seq > ?1 ORDER BY r.seq LIMIT ?2"
#define STORE_BY_TIME                                                          \
    "started_us <= r.ts_us AND (ended_us IS NULL OR r.ts_us < ended_us)"

static const char *const store_sql[STMT_COUNT] = {
    /* IMMEDIATE: take the write lock now (waiting up to the busy
     * timeout), not halfway through the batch. */
    [STMT_BEGIN] = "BEGIN IMMEDIATE",
    /* One snapshot for all of a status report, without locking writers
     * out (WAL). */
    [STMT_BEGIN_READ] = "BEGIN",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_INSERT_READING] =
        "INSERT INTO readings (sensor_id, ts_us, value, quality, error, raw)"
        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [STMT_INSERT_EVENT] =
        "INSERT INTO events (ts_us, kind, detail) VALUES (?1, ?2, ?3)",
    /* The newest version of tag ?1 if it describes the sensor as ?2..?17
     * do (IS: NULL equals NULL), and is of schema 4 (chain_seq not 0). */
    [STMT_SENSOR_SAME] =
        "SELECT id FROM sensors WHERE tag = ?1 AND version ="
        " (SELECT max(version) FROM sensors WHERE tag = ?1)"
        " AND kind IS ?2 AND unit IS ?3 AND bus IS ?4 AND unit_id IS ?5"
        " AND reg_table IS ?6 AND address IS ?7 AND type IS ?8"
        " AND byte_order IS ?9 AND scale IS ?10 AND \"offset\" IS ?11"
        " AND interval_ms IS ?12 AND range_lo IS ?13 AND range_hi IS ?14"
        " AND cal_date IS ?15 AND cal_due IS ?16 AND cal_certificate IS ?17"
        " AND chain_seq IS NOT 0",
    [STMT_INSERT_SENSOR] =
        "INSERT INTO sensors (tag, version, " STORE_SENSORS_DESC_LIST ")"
        " VALUES (?1, (SELECT coalesce(max(version), 0) + 1 FROM sensors"
        " WHERE tag = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
        " ?13, ?14, ?15, ?16, ?17)",
    [STMT_SENSOR_CHAIN] = "SELECT chain_seq FROM sensors WHERE id = ?1",
    [STMT_SENSOR_COVER] = "UPDATE sensors SET chain_seq = ?2"
                          " WHERE id = ?1 AND chain_seq IS NULL",
    /* A description's canonical fields, in order (README). */
    [STMT_SENSOR_DESC] =
        "SELECT id, tag, version, chain_seq, " STORE_SENSORS_DESC_LIST
        " FROM sensors WHERE id = ?1",
    /* The descriptions batch ?1..?2's hash covers, in order. */
    [STMT_SENSOR_BATCH] = "SELECT id, tag, version, chain_seq FROM sensors"
                          " WHERE chain_seq BETWEEN ?1 AND ?2"
                          " ORDER BY chain_seq, id",
    /* Every version, for verify: by tag, then the order they came in. */
    [STMT_SENSOR_VERSIONS] = "SELECT id, tag, version, chain_seq FROM sensors"
                             " ORDER BY tag, coalesce(chain_seq, 0), id",
    [STMT_CONFIG_INSERT] =
        "INSERT INTO configs (ts_us, sha256) VALUES (?1, ?2)",
    [STMT_CONFIG_FILE_INSERT] =
        "INSERT INTO config_files (config_id, idx, name, sha256, bytes)"
        " VALUES (?1, ?2, ?3, ?4, ?5)",
    [STMT_CONFIG_DUE] =
        "SELECT id FROM configs WHERE chain_seq IS NULL ORDER BY id",
    [STMT_CONFIG_COVER] = "UPDATE configs SET chain_seq = ?2"
                          " WHERE id = ?1 AND chain_seq IS NULL",
    [STMT_CONFIG_ROW] =
        "SELECT id, chain_seq, ts_us, sha256 FROM configs WHERE id = ?1",
    [STMT_CONFIG_FILES] = "SELECT idx, name, bytes FROM config_files"
                          " WHERE config_id = ?1 ORDER BY idx",
    /* The configurations batch ?1..?2's hash covers, in order. */
    [STMT_CONFIG_BATCH] = "SELECT id, ts_us FROM configs"
                          " WHERE chain_seq BETWEEN ?1 AND ?2 ORDER BY id",
    [STMT_SENSOR_ID] = "SELECT id FROM sensors WHERE tag = ?1 LIMIT 1",
    /* The newest reading per sensor, through sensor_last: no index on
     * readings by sensor is kept, since one dirties a page per sensor at
     * every commit (the main cost of a commit at high rates). */
    /* Per tag, the version holding its newest reading (else its newest
     * version). */
    [STMT_STATUS_SENSORS] =
        "SELECT s.tag, s.kind, s.unit, s.bus, r.seq, r.ts_us, r.value,"
        " r.quality, r.error, l.last_seq FROM sensors AS s"
        " LEFT JOIN sensor_last AS l ON l.sensor_id = s.id"
        " LEFT JOIN readings AS r ON r.seq = l.last_seq"
        " WHERE s.id = (SELECT x.id FROM sensors AS x"
        " LEFT JOIN sensor_last AS y ON y.sensor_id = x.id"
        " WHERE x.tag = s.tag ORDER BY y.last_seq IS NULL,"
        " y.last_seq DESC, x.version DESC LIMIT 1) ORDER BY s.tag",
    [STMT_STATUS_BUSES] = STORE_STATUS_BUSES_SQL(
        STORE_MISSED_COUNT("ts_us >= ?1 AND"), STORE_MISSED_COUNT("")),
    /* Per sensor: its newest reading and how many it has. Kept in the
     * batch's transaction; whatever deletes readings must keep it true. */
    [STMT_SENSOR_LAST] =
        "INSERT INTO sensor_last (sensor_id, last_seq, count)"
        " VALUES (?1, ?2, ?3) ON CONFLICT(sensor_id) DO UPDATE SET"
        " last_seq = excluded.last_seq, count = count + excluded.count",
    [STMT_GET_STATE] = "SELECT value FROM state WHERE key = ?1",
    [STMT_SET_STATE] = "INSERT INTO state (key, value) VALUES (?1, ?2)"
                       " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    /* A page of the record in seq order: a range scan of the primary key
     * joined to the (small) sensors table, with the run open at each
     * reading's time (runs are few: the subquery scans them). */
    [STMT_READINGS_AFTER] = STORE_READINGS_AFTER_OF(
        "CASE WHEN first_seq IS NULL THEN " STORE_BY_TIME
        " ELSE r.seq >= first_seq AND (ended_us IS NULL OR"
        " r.seq <= last_seq) END"),
    [STMT_LAST_SEQ] = "SELECT coalesce(max(seq), 0) FROM readings",
    [STMT_INSERT_BATCH] =
        "INSERT INTO batches (first_seq, last_seq, n, ts_us, prev_hash, hash,"
        " digests) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [STMT_CHAIN_HEAD] =
        "SELECT hash, last_seq FROM batches ORDER BY id DESC LIMIT 1",
    [STMT_SENSOR_TAG] = "SELECT tag FROM sensors WHERE id = ?1",
    [STMT_SENSOR_TAGS] = "SELECT id, tag FROM sensors",
    [STMT_RUNS] = STORE_RUN_COLUMNS " ORDER BY started_us, id",
    [STMT_RUN_BY_NAME] = STORE_RUN_COLUMNS " WHERE name = ?1",
    [STMT_RUN_BY_ID] = STORE_RUN_COLUMNS " WHERE id = ?1",
    [STMT_RUN_OPEN] = STORE_RUN_COLUMNS " WHERE ended_us IS NULL"
                                        " ORDER BY started_us DESC LIMIT 1",
    /* Both walk the run's stretch of readings_ts, which covers seq. */
    [STMT_RUN_COUNT] =
        "SELECT count(*) FROM readings WHERE ts_us >= ?1 AND ts_us < ?2",
    [STMT_RUN_SEQS] = "SELECT min(seq), max(seq) FROM readings"
                      " WHERE ts_us >= ?1 AND ts_us < ?2",
    /* A run with a seq range: a range of the primary key. */
    [STMT_RUN_COUNT_SEQ] =
        "SELECT count(*) FROM readings WHERE seq BETWEEN ?1 AND ?2",
    [STMT_RUN_SEQS_SEQ] = "SELECT min(seq), max(seq) FROM readings"
                          " WHERE seq BETWEEN ?1 AND ?2",
    [STMT_SEQ_QUALITY] = "SELECT sensor_id, quality, ts_us FROM readings"
                         " WHERE seq BETWEEN ?1 AND ?2",
    [STMT_RUN_INSERT] = "INSERT INTO runs (name, started_us, operator, note,"
                        " config_sha256, first_seq)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    /* last_seq only for a run with a first seq; ?3 at least first_seq - 1
     * (an empty run), and NULL (the last seq stored) if 0. */
    [STMT_RUN_END] =
        "UPDATE runs SET ended_us = ?2, last_seq = CASE WHEN first_seq IS"
        " NULL THEN NULL ELSE max(first_seq - 1, coalesce(nullif(?3, 0),"
        " (SELECT coalesce(max(seq), 0) FROM readings))) END WHERE id = ?1",
    [STMT_RUNS_UNSEALED] =
        "SELECT id, first_seq, last_seq FROM runs WHERE ended_us IS NOT NULL"
        " AND chain_head IS NULL ORDER BY started_us, id",
    [STMT_RUN_SEAL] =
        "UPDATE runs SET chain_head = ?2, chain_seq = ?3 WHERE id = ?1",
    [STMT_CONFIG_SHA] = "SELECT detail FROM events WHERE kind = 'config'"
                        " ORDER BY seq DESC LIMIT 1",
    [STMT_DATA_VERSION] = "PRAGMA data_version",
    [STMT_GET_META] = "SELECT value FROM meta WHERE key = ?1",
    [STMT_SET_META] = "INSERT INTO meta (key, value) VALUES (?1, ?2)"
                      " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    [STMT_EVENTS] = "SELECT ts_us, kind, detail FROM events"
                    " WHERE ts_us >= ?1 AND ts_us < ?2 ORDER BY ts_us, seq",
    [STMT_SENSOR_INFOS] =
        "SELECT id, tag, kind, unit, bus, unit_id, reg_table, address, type,"
        " byte_order, scale, \"offset\", interval_ms, cal_date, cal_due,"
        " cal_certificate, version, range_lo, range_hi,"
        " version = (SELECT max(version) FROM sensors AS x"
        " WHERE x.tag = sensors.tag) FROM sensors ORDER BY tag, version",
    /* The window's readings, counted in C per sensor: a GROUP BY would
     * sort the whole window first. */
    [STMT_WINDOW_QUALITY] = "SELECT sensor_id, quality, ts_us FROM readings"
                            " WHERE ts_us >= ?1 AND ts_us < ?2",
    [STMT_BATCH_BEFORE] = "SELECT id, last_seq, hash FROM batches"
                          " WHERE id < ?1 ORDER BY id DESC LIMIT 1",
    /* The first batch that reaches seq ?1. */
    [STMT_BATCH_ENDING] = "SELECT id, first_seq, last_seq, hash FROM batches"
                          " WHERE last_seq >= ?1 ORDER BY last_seq LIMIT 1",
    [STMT_BATCH_DIGESTS] = "SELECT digests FROM batches WHERE id = ?1",
    /* Retention walks the chain from its cursor, one batch at a time. */
    [STMT_PRUNE_NEXT] = "SELECT id, first_seq, last_seq, n, prev_hash, hash"
                        " FROM batches WHERE id > ?1 ORDER BY id LIMIT 1",
    /* A range of the primary key: the batch's readings only. */
    [STMT_PRUNE_SPAN] = "SELECT min(ts_us), max(ts_us), count(*) FROM readings"
                        " WHERE seq BETWEEN ?1 AND ?2",
    [STMT_PRUNE_READINGS] = STORE_VERIFY_SQL,
    [STMT_PRUNE_COUNTS] = "SELECT sensor_id, count(*) FROM readings"
                          " WHERE seq BETWEEN ?1 AND ?2 GROUP BY sensor_id",
    [STMT_PRUNE_LAST] =
        "UPDATE sensor_last SET count = count - ?2 WHERE sensor_id = ?1",
    [STMT_PRUNE_DELETE] = "DELETE FROM readings WHERE seq BETWEEN ?1 AND ?2",
    [STMT_PRUNE_INSERT] =
        "INSERT INTO pruned (batch_id, first_ts_us, last_ts_us, readings,"
        " pruned_us) VALUES (?1, ?2, ?3, ?4, ?5)",
};

/* Bytes of a reading's SHA-256 kept in batches.digests: enough to tell
 * which reading of a broken batch changed, not evidence in themselves. */
#define DIGEST_LEN 8
/* Sensor ids below this have their tag cached in an array; ids are small
 * row ids in practice, so the bound only guards against a strange file. */
#define TAG_CACHE_MAX 65536
/* Canonical text hashed in one piece by verify; bounds its memory. */
#define VERIFY_CHUNK (64 * 1024)
/* Room a canonical line needs besides its strings: two integers, a
 * double, six separators and slack. */
#define CANON_FIXED 96
/* The hash before the first batch: 64 zeros. */
static const char store_zero_hash[SHA256_HEX_LEN] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* A description version as verify checks readings against it: the seqs
 * from which it was in force (chain, 0 before schema 4, -1 if none was
 * recorded) up to the next version's (INT64_MAX if none). */
struct store_vers {
    bool present;
    int64_t version;
    int64_t chain;
    int64_t next;
};

/* What the store knows of a description's place under the chain. */
enum {
    COVER_UNKNOWN, /* not looked up yet */
    COVER_DONE,    /* a batch covers it, or it is older than schema 4 */
    COVER_DUE,     /* the next batch with a reading of it covers it */
};

struct store_last {
    int64_t seq;
    int64_t count;
    uint64_t batch;
};

/* Sensor ids above this are summed one reading at a time (ids are rowids
 * of the small sensors table; this only bounds the array). */
#define STORE_LAST_MAX_ID 100000

struct store {
    sqlite3 *db;
    char *path;
    enum store_mode mode;
    sqlite3_stmt *stmt[STMT_COUNT];
    char err[STORE_ERR_MAX];
    char **tags;       /* by sensor id, or NULL if not yet known */
    size_t ntags;      /* entries in tags */
    char *tag_scratch; /* the tag of an id beyond the cache */
    char *canon;       /* canonical lines being hashed */
    size_t canon_len, canon_cap;
    int64_t version; /* the file's schema version */
    uint8_t *cover;  /* by sensor id: COVER_* (ids below TAG_CACHE_MAX) */
    struct store_vers *vers; /* by sensor id, during a verify */
    size_t nvers;
    size_t ncover;
    int config_state; /* COVER_*: whether a configuration awaits a batch */
    int64_t *newconf; /* configurations this batch covers */
    size_t nnewconf, newconf_cap;
    int64_t *newdesc;     /* ids whose description this batch covers */
    int64_t *newdesc_seq; /* the seq of the first reading of each */
    size_t nnewdesc, newdesc_cap, newdesc_seq_cap;
    uint8_t *digests; /* a batch's digests being built */
    size_t digests_cap;
    char *site;            /* what store_site() returned last */
    struct sha256 *digest; /* reused for every reading's digest */
    /* A batch's newest seq and count per sensor, indexed by sensor id;
     * `batch` says which batch an entry belongs to, so nothing is
     * cleared between batches. */
    struct store_last *last;
    size_t last_cap;
    uint64_t batch;
    int64_t *touched; /* sensor ids with an entry in this batch */
    size_t ntouched, touched_cap;
    bool no_trigger; /* the file lacks the immutability trigger */
    bool busy;       /* the last failure: another connection's lock */
};

/* Sets the message to the formatted text; returns -1. */
__attribute__((format(printf, 2, 3))) static int
store_errorf(struct store *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
    s->busy = false;
    return -1;
}

/* Sets the message to the formatted text, then ": " and SQLite's last
 * error; returns -1. */
__attribute__((format(printf, 2, 3))) static int
store_fail(struct store *s, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
    n = strlen(s->err);
    snprintf(s->err + n, sizeof(s->err) - n, ": %s", sqlite3_errmsg(s->db));
    s->busy = sqlite3_errcode(s->db) == SQLITE_BUSY ||
              sqlite3_errcode(s->db) == SQLITE_LOCKED;
    return -1;
}

/* Runs a statement that returns no rows and resets it. Returns 0, or -1
 * with SQLite's error (prefixed with what) in the message. */
static int store_run(struct store *s, enum store_stmt id, const char *what)
{
    sqlite3_stmt *st = s->stmt[id];
    int rc = sqlite3_step(st);

    if (rc != SQLITE_DONE) {
        store_fail(s, "%s", what);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    return 0;
}

/* Ends a failed transaction, if one is open; keeps the first message. */
static void store_rollback(struct store *s)
{
    if (sqlite3_get_autocommit(s->db))
        return;
    sqlite3_step(s->stmt[STMT_ROLLBACK]);
    sqlite3_reset(s->stmt[STMT_ROLLBACK]);
}

/* Reads one integer from a single-row query; returns 0 or -1. */
static int store_query_int(struct store *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc;

    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

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
static int store_check_schema(struct store *s, bool empty_ok, int64_t *version)
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
 * Version 2 to 3: readings' CHECK admits 'missed'. Loosening a CHECK
 * changes no row, so this follows SQLite's ALTER TABLE documentation for
 * such changes ("Making Other Kinds Of Table Schema Changes"): the
 * table's definition is rewritten in sqlite_master with writable_schema
 * and the schema version is bumped, inside the caller's transaction. It
 * takes constant time, where copying the table into a new one took 34 s
 * and 450 MB more disk for 10 million readings. The old definition was
 * checked to be exactly store_readings_v1 (store_check_objects()), and
 * the new one is the text every new file is created with.
 */
static int store_upgrade_v3(struct store *s)
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
    sqlite3_bind_text(st, 1, store_readings_v3, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, store_readings_v1, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_DONE)
        goto fail;
    if (sqlite3_changes(s->db) != 1) {
        store_errorf(s,
                     "cannot upgrade the schema in '%s': readings is not "
                     "as version 2 defines it",
                     s->path);
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
 * Creates the schema in a new file, or upgrades an older one, and puts
 * back a missing immutability trigger, in one transaction. The check is
 * repeated under the write lock, in case another process did it since
 * the first look. Sets *version to the version now in the file.
 */
static int store_upgrade_schema(struct store *s, int64_t *version)
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
        if ((*version > 0 && *version < 3 && store_upgrade_v3(s) < 0) ||
            (*version > 0 && *version < 4 && store_upgrade_v4(s) < 0) ||
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

/*
 * The writer appends: the pages it touches are the tails of readings, its
 * indexes and batches, and the interior pages above them. 512 KiB holds
 * them at 40,000 readings/s; SQLite's default (2 MiB) was a fifth of the
 * daemon's resident memory at 1,000 readings/s.
 */
#define STORE_WRITER_CACHE "PRAGMA cache_size = -512"

/* The read-write connection's settings, each checked. */
static int store_setup_writer(struct store *s)
{
    sqlite3_stmt *st = NULL;
    const char *mode;
    bool wal;

    if (sqlite3_exec(s->db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(s->db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(s->db, STORE_WRITER_CACHE, NULL, NULL, NULL) != SQLITE_OK)
        return store_fail(s, "cannot configure '%s'", s->path);
    /* journal_mode answers with the mode in force, which stays the old
     * one when WAL is impossible (e.g. some network file systems). */
    if (sqlite3_prepare_v2(s->db, "PRAGMA journal_mode = WAL", -1, &st, NULL) !=
            SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        store_fail(s, "cannot set WAL mode on '%s'", s->path);
        sqlite3_finalize(st);
        return -1;
    }
    mode = (const char *)sqlite3_column_text(st, 0);
    wal = mode && strcmp(mode, "wal") == 0;
    if (!wal)
        store_errorf(s, "cannot set WAL mode on '%s': journal mode is '%s'",
                     s->path, mode ? mode : "?");
    sqlite3_finalize(st);
    if (wal) {
        /* Keep -wal and -shm after the last writer closes: readers in the
         * database's group (not allowed to create files in its directory)
         * can then still open it while the daemon is stopped. */
        int on = 1;

        sqlite3_file_control(s->db, "main", SQLITE_FCNTL_PERSIST_WAL, &on);
    }
    return wal ? 0 : -1;
}

/* Whether the mode only reads. */
static bool store_reader(enum store_mode mode)
{
    return mode == STORE_READ_ONLY || mode == STORE_READ_SNAPSHOT;
}

/*
 * What SQLite's "Defense Against the Dark Arts" advises for database
 * files of uncertain provenance, as the CLI opens whatever file it is
 * given (an auditor's copy, sent by someone): no writes that corrupt the
 * file on purpose (DEFENSIVE), no function with side effects called from
 * the schema (TRUSTED_SCHEMA off), no views (tbdaq has none), no triggers
 * for a reader (the one tbdaq has fires on UPDATE, which a reader never
 * does), no ATTACH, b-tree cells checked as they are read, and no memory
 * mapping. Its other advice, an integrity_check before the first
 * statement, costs a read of the whole file: `tbdaq verify` reads every
 * reading anyway, and `status` must stay cheap, so it is left to the
 * auditor (README).
 */
static int store_harden(struct store *s)
{
    int rc = SQLITE_OK;

    rc |= sqlite3_db_config(s->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    rc |= sqlite3_db_config(s->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    rc |= sqlite3_db_config(s->db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
    if (store_reader(s->mode))
        rc |= sqlite3_db_config(s->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
    sqlite3_limit(s->db, SQLITE_LIMIT_ATTACHED, 0);
    if (rc != SQLITE_OK ||
        sqlite3_exec(s->db, "PRAGMA cell_size_check = ON", NULL, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(s->db, "PRAGMA mmap_size = 0", NULL, NULL, NULL) !=
            SQLITE_OK)
        return store_fail(s, "cannot configure '%s'", s->path);
    return 0;
}

/* The mode of the database's files: not readable by others, whatever the
 * umask (SPEC "Database"); readable by the group of operators. */
#define STORE_FILE_MODE 0640

/*
 * Creates the database file, if absent, with STORE_FILE_MODE less the
 * umask. SQLite would make it 0644 less the umask, and it gives the -wal,
 * -shm and journal files the main file's permission bits, past the umask
 * (it fchmod()s them): so the main file's mode is every file's. A failure
 * is left for sqlite3_open_v2() to report.
 */
static void store_create_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, STORE_FILE_MODE);

    if (fd >= 0)
        close(fd);
}

/*
 * Takes what STORE_FILE_MODE does not allow off the database's files
 * (made by an older tbdaq, or by hand), once they are known to be a tbdaq
 * database: the main file, -wal, -shm and the journal. Logs one warning
 * naming the file and its old mode; a file it cannot change (not ours)
 * is logged and left, since refusing to record would lose more.
 */
static void store_restrict_modes(struct store *s)
{
    const char *db = sqlite3_db_filename(s->db, "main");
    const char *files[4];
    char *shm;
    char done[STORE_ERR_MAX] = "";
    mode_t was = 0;
    size_t len = 0;

    if (!db || !*db)
        return;
    shm = xmalloc(strlen(db) + sizeof("-shm"));
    strcpy(shm, db);
    strcat(shm, "-shm");
    files[0] = db;
    files[1] = sqlite3_filename_wal(db);
    files[2] = shm;
    files[3] = sqlite3_filename_journal(db);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct stat st;
        mode_t mode;

        /* Never through a symbolic link: whoever can write the directory
         * must not get a daemon running as root to change another file.
         * Nor by opening the file: closing a descriptor drops every POSIX
         * lock the process holds on it, SQLite's included (another
         * connection would then take the -shm for its own and truncate
         * it under us). fchmodat() without following links fails on a
         * link swapped in after the lstat(). */
        if (!files[i] || lstat(files[i], &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        mode = st.st_mode & 07777;
        if ((mode & ~(mode_t)STORE_FILE_MODE) == 0)
            continue;
        if (fchmodat(AT_FDCWD, files[i], mode & STORE_FILE_MODE,
                     AT_SYMLINK_NOFOLLOW) < 0) {
            log_warn("database file '%s' is mode %04o, readable by others, "
                     "and cannot be restricted",
                     files[i], (unsigned)mode);
            continue;
        }
        if (!was)
            was = mode;
        if (len < sizeof(done))
            len += (size_t)snprintf(done + len, sizeof(done) - len, "%s%s",
                                    len ? ", " : "",
                                    i ? files[i] + strlen(db) : "the database");
    }
    if (was)
        log_warnx("database '%s' was readable by others (mode %04o): "
                  "restricted to %04o or less (%s)",
                  s->path, (unsigned)was, STORE_FILE_MODE, done);
    free(shm);
}

/*
 * A URI that opens path read-only as immutable: no lock, no -wal or -shm
 * created beside it. For STORE_READ_SNAPSHOT of a file without -wal,
 * which no one writes (the daemon keeps its -wal from its first open
 * on): an auditor's copy of the database alone, in a directory that is
 * theirs, perhaps read-only. The caller frees it.
 */
static char *store_immutable_uri(const char *path)
{
    static const char hex[] = "0123456789ABCDEF";
    static const char tail[] = "?immutable=1";
    char *uri = xmalloc(strlen("file:") + 3 * strlen(path) + sizeof(tail));
    char *p = uri + strlen(strcpy(uri, "file:"));

    for (const unsigned char *c = (const unsigned char *)path; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
            (*c >= '0' && *c <= '9') || strchr("/._-~", *c)) {
            *p++ = (char)*c;
        } else {
            *p++ = '%';
            *p++ = hex[*c >> 4];
            *p++ = hex[*c & 15];
        }
    }
    strcpy(p, tail);
    return uri;
}

/* Whether the database at path (through symbolic links, as SQLite
 * resolves them) has a -wal file. */
static bool store_has_wal(const char *path)
{
    char *real = realpath(path, NULL);
    const char *base = real ? real : path;
    char *wal = xmalloc(strlen(base) + sizeof("-wal"));
    bool has;

    strcpy(wal, base);
    strcat(wal, "-wal");
    has = access(wal, F_OK) == 0 || errno != ENOENT;
    free(wal);
    free(real);
    return has;
}

/* The bus counts, for a file of version 1 or 2 opened without upgrading
 * it: no missed readings there, and no readings_missed index. */
static const char store_status_buses_v2[] = STORE_STATUS_BUSES_SQL("0", "0");

/*
 * A statement as a file of the given version can run it, read as it is
 * (a reader does not upgrade): before version 4 every sensors row is its
 * tag's version 1, under no hash (chain_seq 0). The writer's statements
 * on descriptions are never run on such a file (store_sync_sensors()
 * refuses it): a statement that prepares stands in for them.
 */
static const char *store_sql_of(int i, int64_t version)
{
    if (i == STMT_STATUS_BUSES && version < 3)
        return store_status_buses_v2;
    if (version >= 4)
        return store_sql[i];
    switch (i) {
    case STMT_STATUS_SENSORS:
        return "SELECT s.tag, s.kind, s.unit, s.bus, r.seq, r.ts_us, r.value,"
               " r.quality, r.error, l.last_seq FROM sensors AS s"
               " LEFT JOIN sensor_last AS l ON l.sensor_id = s.id"
               " LEFT JOIN readings AS r ON r.seq = l.last_seq ORDER BY s.tag";
    case STMT_SENSOR_INFOS:
        return "SELECT id, tag, kind, unit, bus, unit_id, reg_table, address,"
               " type, byte_order, scale, \"offset\", interval_ms, cal_date,"
               " cal_due, cal_certificate, 1, range_lo, range_hi, 1"
               " FROM sensors ORDER BY tag";
    case STMT_SENSOR_VERSIONS:
        return "SELECT id, tag, 1, 0 FROM sensors ORDER BY tag, id";
    case STMT_SENSOR_CHAIN:
        return "SELECT 0 WHERE ?1 IS NULL";
    case STMT_SENSOR_BATCH:
        return "SELECT id, tag, 1, 0 FROM sensors WHERE ?1 < 0 AND ?2 < 0";
    /* runs without seqs: the time rule, and ?6 / ?3 unused */
    case STMT_RUNS:
        return STORE_RUN_COLUMNS_V1 " ORDER BY started_us, id";
    case STMT_RUN_BY_NAME:
        return STORE_RUN_COLUMNS_V1 " WHERE name = ?1";
    case STMT_RUN_BY_ID:
        return STORE_RUN_COLUMNS_V1 " WHERE id = ?1";
    case STMT_RUN_OPEN:
        return STORE_RUN_COLUMNS_V1 " WHERE ended_us IS NULL"
                                    " ORDER BY started_us DESC LIMIT 1";
    case STMT_READINGS_AFTER:
        return STORE_READINGS_AFTER_OF(STORE_BY_TIME);
    case STMT_RUN_INSERT:
        return "INSERT INTO runs (name, started_us, operator, note,"
               " config_sha256) SELECT ?1, ?2, ?3, ?4, ?5 WHERE ?6 IS NULL";
    case STMT_RUN_END:
        return "UPDATE runs SET ended_us = ?2 WHERE id = ?1"
               " AND ?3 IS NOT NULL";
    case STMT_RUNS_UNSEALED:
        return "SELECT id, NULL, NULL FROM runs WHERE ended_us IS NOT NULL"
               " AND chain_head IS NULL ORDER BY started_us, id";
    case STMT_CONFIG_BATCH:
        return "SELECT 0, 0 WHERE ?1 < 0 AND ?2 < 0";
    case STMT_CONFIG_FILES:
        return "SELECT 0, '', x'' WHERE ?1 < 0";
    case STMT_CONFIG_ROW:
        return "SELECT 0, 0, 0, '' WHERE ?1 < 0";
    case STMT_SENSOR_SAME:
    case STMT_INSERT_SENSOR:
    case STMT_SENSOR_COVER:
    case STMT_SENSOR_DESC:
    case STMT_CONFIG_INSERT:
    case STMT_CONFIG_FILE_INSERT:
    case STMT_CONFIG_DUE:
    case STMT_CONFIG_COVER:
        return "SELECT NULL";
    default:
        return store_sql[i];
    }
}

/* Prepares every statement for a file of the given version (again, if
 * they were). */
static int store_prepare(struct store *s, int64_t version)
{
    s->version = version;
    for (int i = 0; i < STMT_COUNT; i++) {
        sqlite3_finalize(s->stmt[i]);
        s->stmt[i] = NULL;
        /* Only a writer prunes, and it has upgraded the file first: a
         * version 1 file opened otherwise has no pruned table. */
        if (i == STMT_PRUNE_INSERT && s->mode != STORE_READ_WRITE)
            continue;
        if (sqlite3_prepare_v3(s->db, store_sql_of(i, version), -1,
                               SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
                               NULL) != SQLITE_OK)
            return store_fail(s, "cannot prepare statements on '%s'", s->path);
    }
    return 0;
}

/*
 * A daemon may upgrade the file while a reader has it open: inside the
 * caller's read transaction, re-prepares the statements that depend on
 * the schema version if the snapshot's is newer than they were made for.
 * Returns 0 or -1.
 */
static int store_follow_upgrade(struct store *s)
{
    int64_t v = s->version;

    if (s->version >= STORE_SCHEMA_VERSION)
        return 0;
    if (store_query_int(s, "PRAGMA user_version", &v) < 0)
        return store_fail(s, "cannot read the schema version");
    if (v == s->version)
        return 0;
    return store_prepare(s, v);
}

struct store *store_open(const char *path, enum store_mode mode,
                         char err[STORE_ERR_MAX])
{
    struct store *s = xcalloc(1, sizeof(*s));

    s->digest = sha256_new();
    int flags = store_reader(mode) ? SQLITE_OPEN_READONLY
                : mode == STORE_UPDATE
                    ? SQLITE_OPEN_READWRITE
                    : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int64_t version = 0;
    char *uri = NULL;
    int rc;

    s->path = xstrdup(path);
    s->mode = mode;
    /* SQLite's "unable to open database file" does not say that the
     * file is simply not there, which is the usual mistake. */
    if (mode != STORE_READ_WRITE && access(path, F_OK) < 0 && errno == ENOENT) {
        store_errorf(s, "cannot open '%s': no such database", path);
        goto fail;
    }
    if (mode == STORE_READ_WRITE)
        store_create_file(path);
    if (mode == STORE_READ_SNAPSHOT && !store_has_wal(path)) {
        uri = store_immutable_uri(path);
        flags |= SQLITE_OPEN_URI;
    }
    /* NOMUTEX: a store belongs to one thread (see store.h). */
    rc = sqlite3_open_v2(uri ? uri : path, &s->db, flags | SQLITE_OPEN_NOMUTEX,
                         NULL);
    free(uri);
    if (rc != SQLITE_OK) {
        store_errorf(s, "cannot open '%s': %s", path,
                     s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        goto fail;
    }
    if (store_harden(s) < 0)
        goto fail;
    sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
    /* Look before changing anything: a file that is not ours must not
     * even have its journal mode switched. */
    if (store_check_schema(s, mode == STORE_READ_WRITE, &version) < 0)
        goto fail;
    if (mode == STORE_READ_WRITE)
        store_restrict_modes(s);
    if (!store_reader(mode) && store_setup_writer(s) < 0)
        goto fail;
    if (mode == STORE_READ_WRITE &&
        (version < STORE_SCHEMA_VERSION || s->no_trigger) &&
        store_upgrade_schema(s, &version) < 0)
        goto fail;
    if (store_prepare(s, version) < 0)
        goto fail;
    return s;
fail:
    snprintf(err, STORE_ERR_MAX, "%s", s->err);
    store_close(s);
    return NULL;
}

void store_close(struct store *s)
{
    if (!s)
        return;
    for (int i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(s->stmt[i]);
    sqlite3_close(s->db);
    for (size_t i = 0; i < s->ntags; i++)
        free(s->tags[i]);
    free(s->tags);
    free(s->tag_scratch);
    free(s->canon);
    free(s->digests);
    free(s->cover);
    free(s->vers);
    free(s->newdesc);
    free(s->newconf);
    free(s->newdesc_seq);
    free(s->site);
    sha256_free(s->digest);
    free(s->last);
    free(s->touched);
    free(s->path);
    free(s);
}

const char *store_errmsg(const struct store *s)
{
    return s->err;
}

bool store_busy(const struct store *s)
{
    return s->busy;
}

void store_set_busy_timeout(struct store *s, int ms)
{
    sqlite3_busy_timeout(s->db, ms);
}

/* Binds text, or NULL for a NULL pointer. The text must outlive the
 * statement's next step. */
static int store_bind_text(sqlite3_stmt *st, int i, const char *text)
{
    if (!text)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
}

/* Binds a double, or NULL for a non-finite one (SQLite has no NaN, and an
 * infinite range bound means "unbounded"). */
static int store_bind_finite(sqlite3_stmt *st, int i, double v)
{
    if (!isfinite(v))
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_double(st, i, v);
}

/* --- canonical form and the tag cache ---------------------------------- */

/* Forgets every cached tag. */
static void store_tags_clear(struct store *s)
{
    for (size_t i = 0; i < s->ntags; i++) {
        free(s->tags[i]);
        s->tags[i] = NULL;
    }
}

/* Caches the tag of sensor id (ids beyond the cache are not kept). */
static void store_tag_put(struct store *s, int64_t id, const char *tag)
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
static int store_tag(struct store *s, int64_t id, const char **tag)
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
static int store_tags_load(struct store *s)
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

/* Decimal digits of v; returns their count. buf holds 21 bytes. */
static size_t store_fmt_i64(char *buf, int64_t v)
{
    char tmp[24];
    size_t n = 0, len = 0;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        buf[len++] = '-';
    while (n)
        buf[len++] = tmp[--n];
    return len;
}

/* The canonical text of a stored value: printf's %.17g, which
 * round-trips every double. Zero is written "0": SQLite stores -0.0 as
 * the integer 0, so a -0 could not be read back. buf holds 32 bytes. */
static size_t store_fmt_value(char *buf, double v)
{
    if (v == 0.0)
        v = 0.0;
    return (size_t)snprintf(buf, 32, "%.17g", v);
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
static void store_digest(struct store *s, const char *p, size_t len,
                         uint8_t out[DIGEST_LEN])
{
    unsigned char md[SHA256_LEN];

    sha256_reset(s->digest);
    sha256_update(s->digest, p, len);
    sha256_final_raw(s->digest, md);
    memcpy(out, md, DIGEST_LEN);
}

/* Binds a sensor's tag and description to ?1..?17 of st. */
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
    if (store_run(s, STMT_BEGIN, "cannot update sensors") < 0)
        goto fail;
    for (size_t i = 0; i < c->nsensors; i++)
        if (store_sync_one(s, c, &c->sensors[i], &ids[i]) < 0)
            goto fail;
    if (store_config_put(s, c) < 0)
        goto fail;
    if (store_run(s, STMT_COMMIT, "cannot update sensors") < 0)
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

/* Whether a reading keeps its error text: comm_error says which error,
 * missed why the slot was not served (SPEC "Readings"). Otherwise error
 * is NULL, in the database and the canonical form alike. */
static bool store_has_error(const struct reading *r)
{
    return r->quality == QUALITY_COMM_ERROR || r->quality == QUALITY_MISSED;
}

/* Inserts one reading inside the open transaction, sets its seq and
 * writes its raw words as hex into raw (empty if none). */
static int store_insert_reading(struct store *s, struct reading *r,
                                char raw[5 * REG_MAX_WORDS])
{
    sqlite3_stmt *st = s->stmt[STMT_INSERT_READING];
    int rc = 0;

    raw[0] = '\0';
    if (r->nraw > REG_MAX_WORDS)
        return store_errorf(s,
                            "cannot store reading of sensor %lld: %u raw "
                            "words, more than %d",
                            (long long)r->sensor_id, (unsigned)r->nraw,
                            REG_MAX_WORDS);
    rc |= sqlite3_bind_int64(st, 1, r->sensor_id);
    rc |= sqlite3_bind_int64(st, 2, r->ts_us);
    if (reading_has_value(r))
        rc |= sqlite3_bind_double(st, 3, r->value);
    else
        rc |= sqlite3_bind_null(st, 3);
    rc |= store_bind_text(st, 4, quality_name(r->quality));
    if (store_has_error(r))
        rc |= sqlite3_bind_text(st, 5, r->error,
                                (int)strnlen(r->error, sizeof(r->error)),
                                SQLITE_STATIC);
    else
        rc |= sqlite3_bind_null(st, 5);
    if (r->nraw > 0) {
        hex_words(r->raw, r->nraw, raw);
        rc |= sqlite3_bind_text(st, 6, raw, -1, SQLITE_STATIC);
    } else {
        rc |= sqlite3_bind_null(st, 6);
    }
    if (rc != SQLITE_OK)
        return store_fail(s, "cannot store reading of sensor %lld",
                          (long long)r->sensor_id);
    rc = sqlite3_step(st);
    if (rc != SQLITE_DONE) {
        store_fail(s, "cannot store reading of sensor %lld",
                   (long long)r->sensor_id);
        sqlite3_reset(st);
        return -1;
    }
    sqlite3_reset(st);
    r->seq = sqlite3_last_insert_rowid(s->db);
    return 0;
}

/* Appends the canonical line of a reading just inserted, and its digest
 * to s->digests at index i. It is built from what was bound, which is
 * what verify will read back. */
static int store_canon_reading(struct store *s, const struct reading *r,
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
    f[CANON_SEQ] = (struct store_field){seq, store_fmt_i64(seq, r->seq)};
    f[CANON_TAG] = (struct store_field){tag, strlen(tag)};
    f[CANON_TS] = (struct store_field){ts, store_fmt_i64(ts, r->ts_us)};
    f[CANON_VALUE] = (struct store_field){
        value, has_value ? store_fmt_value(value, r->value) : 0};
    f[CANON_QUALITY] = (struct store_field){q, strlen(q)};
    f[CANON_ERROR] = (struct store_field){
        r->error, store_has_error(r) ? strnlen(r->error, sizeof(r->error)) : 0};
    f[CANON_RAW] = (struct store_field){raw, strlen(raw)};
    start = store_canon_add(s, f);
    xgrow(&s->digests, &s->digests_cap, (i + 1) * DIGEST_LEN, 1);
    store_digest(s, s->canon + start, s->canon_len - start,
                 s->digests + i * DIGEST_LEN);
    return 0;
}

static int store_canon_desc(struct store *s, int64_t id, uint8_t *digest);

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

static int store_canon_config(struct store *s, int64_t id, uint8_t *digest);

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
static int store_chain_last(struct store *s, char head[SHA256_HEX_LEN],
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
    sha256_final_hex(h, hash);
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
static int store_insert_event(struct store *s, int64_t ts_us, const char *kind,
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
    return store_run(s, STMT_SENSOR_LAST, "cannot update sensor_last");
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

static int store_sensor_last_flush(struct store *s)
{
    for (size_t i = 0; i < s->ntouched; i++) {
        const struct store_last *l = &s->last[s->touched[i]];

        if (store_sensor_last_write(s, s->touched[i], l->seq, l->count) < 0)
            return -1;
    }
    return 0;
}

int store_commit_batch(struct store *s, struct reading *r, size_t nr,
                       const struct event *ev, size_t nev)
{
    char raw[5 * REG_MAX_WORDS];

    if (store_run(s, STMT_BEGIN, "cannot begin batch") < 0)
        goto fail;
    s->canon_len = 0;
    s->batch++;
    s->ntouched = 0;
    s->nnewdesc = 0;
    for (size_t i = 0; i < nr; i++) {
        if (store_insert_reading(s, &r[i], raw) < 0)
            goto fail;
        /* One transaction holds the write lock: its seqs follow each
         * other, and verify relies on it. */
        if (i > 0 && r[i].seq != r[i - 1].seq + 1) {
            store_errorf(s, "seq %lld does not follow %lld",
                         (long long)r[i].seq, (long long)r[i - 1].seq);
            goto fail;
        }
        if (store_canon_reading(s, &r[i], raw, i) < 0 ||
            store_sensor_last_note(s, r[i].sensor_id, r[i].seq) < 0 ||
            store_cover_note(s, r[i].sensor_id, r[i].seq) < 0)
            goto fail;
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
    if (store_run(s, STMT_COMMIT, "cannot commit batch") < 0)
        goto fail;
    for (size_t i = 0; i < s->nnewdesc; i++)
        if (s->newdesc[i] >= 0 && (size_t)s->newdesc[i] < s->ncover)
            s->cover[s->newdesc[i]] = COVER_DONE;
    s->nnewdesc = 0;
    if (nr > 0)
        s->config_state = COVER_DONE;
    s->nnewconf = 0;
    /* The bindings point into the caller's arrays: drop them. */
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_READING]);
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
    return 0;
fail:
    store_rollback(s);
    s->nnewdesc = 0;
    s->nnewconf = 0;
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_READING]);
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
    for (size_t i = 0; i < nr; i++)
        r[i].seq = 0;
    return -1;
}

int store_add_event(struct store *s, const char *kind, const char *detail)
{
    if (store_run(s, STMT_BEGIN, "cannot begin event") < 0)
        goto fail;
    if (store_insert_event(s, time_real_us(), kind, -1, detail, -1) < 0)
        goto fail;
    if (store_run(s, STMT_COMMIT, "cannot commit event") < 0)
        goto fail;
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
    return 0;
fail:
    store_rollback(s);
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
    return -1;
}

static const char *store_column_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* Reports each sensor's newest reading to fn; returns 0, -1 or fn's first
 * non-zero return. */
static int store_status_sensors(struct store *s,
                                int (*fn)(const struct store_sensor_status *,
                                          void *),
                                void *arg)
{
    sqlite3_stmt *st = s->stmt[STMT_STATUS_SENSORS];
    int rc, ret = 0;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_sensor_status ss = {
            .tag = store_column_text(st, 0),
            .kind = store_column_text(st, 1),
            .unit = store_column_text(st, 2),
            .bus = store_column_text(st, 3),
            .has_reading = sqlite3_column_type(st, 4) != SQLITE_NULL,
        };

        ss.pruned =
            !ss.has_reading && sqlite3_column_type(st, 9) != SQLITE_NULL;
        if (ss.has_reading) {
            ss.seq = sqlite3_column_int64(st, 4);
            ss.ts_us = sqlite3_column_int64(st, 5);
            ss.has_value = sqlite3_column_type(st, 6) != SQLITE_NULL;
            ss.value = ss.has_value ? sqlite3_column_double(st, 6) : 0.0;
            ss.quality = store_column_text(st, 7);
            ss.error = store_column_text(st, 8);
        }
        if ((ret = fn(&ss, arg)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read sensor status");
    sqlite3_reset(st);
    return ret;
}

/* Reports each bus's counts to bus_fn; returns as above. */
static int store_status_buses(struct store *s, int64_t since_us,
                              int (*bus_fn)(const struct store_bus_status *,
                                            void *),
                              void *arg)
{
    sqlite3_stmt *st = s->stmt[STMT_STATUS_BUSES];
    int rc, ret = 0;

    sqlite3_bind_int64(st, 1, since_us);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_bus_status bs = {
            .bus = store_column_text(st, 0),
            .errors_recent = sqlite3_column_int64(st, 1),
            .errors_total = sqlite3_column_int64(st, 2),
            .readings_total = sqlite3_column_int64(st, 3),
            .missed_recent = sqlite3_column_int64(st, 4),
            .missed_total = sqlite3_column_int64(st, 5),
        };

        if ((ret = bus_fn(&bs, arg)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read bus status");
    sqlite3_reset(st);
    return ret;
}

int store_status(struct store *s, int64_t since_us,
                 int (*fn)(const struct store_sensor_status *, void *),
                 int (*bus_fn)(const struct store_bus_status *, void *),
                 void *arg)
{
    int ret = 0;

    /* A read transaction, so that sensors and counts are one snapshot
     * even while the daemon commits between the two queries. */
    if (store_run(s, STMT_BEGIN_READ, "cannot read status") < 0)
        return -1;
    if (store_follow_upgrade(s) < 0) {
        store_rollback(s);
        return -1;
    }
    if (fn)
        ret = store_status_sensors(s, fn, arg);
    if (ret == 0 && bus_fn)
        ret = store_status_buses(s, since_us, bus_fn, arg);
    /* Nothing was written: ending the read cannot lose anything. */
    store_rollback(s);
    return ret;
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

int store_set_state(struct store *s, const char *key, int64_t value)
{
    sqlite3_stmt *st = s->stmt[STMT_SET_STATE];
    int rc;

    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, value);
    rc = store_run(s, STMT_SET_STATE, "cannot write state");
    sqlite3_clear_bindings(st);
    return rc;
}

int store_readings_after(struct store *s, int64_t after_seq, size_t limit,
                         int (*fn)(const struct store_row *, void *), void *arg)
{
    sqlite3_stmt *st = s->stmt[STMT_READINGS_AFTER];
    int rc, n = 0;

    sqlite3_bind_int64(st, 1, after_seq);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_row row = {
            .seq = sqlite3_column_int64(st, 0),
            .tag = store_column_text(st, 1),
            .kind = store_column_text(st, 2),
            .unit = store_column_text(st, 3),
            .ts_us = sqlite3_column_int64(st, 4),
            .has_value = sqlite3_column_type(st, 5) != SQLITE_NULL,
            .value = sqlite3_column_double(st, 5),
            .quality = store_column_text(st, 6),
            .error = store_column_text(st, 7),
            .run = store_column_text(st, 8),
        };

        n++;
        if (fn(&row, arg) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_fail(s, "cannot read readings after seq %lld",
                          (long long)after_seq);
    return n;
}

int store_last_seq(struct store *s, int64_t *seq)
{
    sqlite3_stmt *st = s->stmt[STMT_LAST_SEQ];
    int rc = sqlite3_step(st);

    *seq = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return store_fail(s, "cannot read the last seq");
    return 0;
}

/* --- runs ------------------------------------------------------------ */

/*
 * Calls fn for each row of st (a STORE_RUN_COLUMNS query, bound), with
 * its reading count. Runs inside the caller's read transaction. Returns
 * 0, -1, or fn's non-zero return; *found counts the rows.
 */
static int store_run_rows(struct store *s, sqlite3_stmt *st,
                          int (*fn)(const struct store_run *, void *),
                          void *arg, int *found)
{
    sqlite3_stmt *cnt;
    int rc, ret = 0;

    *found = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_run run = {
            .id = sqlite3_column_int64(st, 0),
            .name = store_column_text(st, 1),
            .started_us = sqlite3_column_int64(st, 2),
            .ended = sqlite3_column_type(st, 3) != SQLITE_NULL,
            .ended_us = sqlite3_column_int64(st, 3),
            .operator_name = store_column_text(st, 4),
            .note = store_column_text(st, 5),
            .config_sha256 = store_column_text(st, 6),
            .chain_head = store_column_text(st, 7),
            .chain_seq = sqlite3_column_int64(st, 8),
            .first_seq = sqlite3_column_int64(st, 9),
            .last_seq = sqlite3_column_int64(st, 10),
        };

        (*found)++;
        if (run.first_seq > 0) {
            cnt = s->stmt[STMT_RUN_COUNT_SEQ];
            sqlite3_bind_int64(cnt, 1, run.first_seq);
            sqlite3_bind_int64(cnt, 2, run.ended ? run.last_seq : INT64_MAX);
        } else {
            cnt = s->stmt[STMT_RUN_COUNT];
            sqlite3_bind_int64(cnt, 1, run.started_us);
            sqlite3_bind_int64(cnt, 2, run.ended ? run.ended_us : INT64_MAX);
        }
        rc = sqlite3_step(cnt);
        run.readings = sqlite3_column_int64(cnt, 0);
        sqlite3_reset(cnt);
        if (rc != SQLITE_ROW) {
            ret = store_fail(s, "cannot count the readings of run '%s'",
                             run.name);
            break;
        }
        if (fn && (ret = fn(&run, arg)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read runs");
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return ret;
}

/* store_run_rows() in a read transaction of its own; 1 if no row. */
static int store_run_query(struct store *s, sqlite3_stmt *st,
                           int (*fn)(const struct store_run *, void *),
                           void *arg)
{
    int found = 0, ret;

    if (store_run(s, STMT_BEGIN_READ, "cannot read runs") < 0) {
        sqlite3_clear_bindings(st);
        return -1;
    }
    ret = store_run_rows(s, st, fn, arg, &found);
    store_rollback(s);
    return ret == 0 && found == 0 ? 1 : ret;
}

int store_runs(struct store *s, int (*fn)(const struct store_run *, void *),
               void *arg)
{
    int ret = store_run_query(s, s->stmt[STMT_RUNS], fn, arg);

    return ret == 1 ? 0 : ret;
}

int store_run_get(struct store *s, const char *name,
                  int (*fn)(const struct store_run *, void *), void *arg)
{
    sqlite3_stmt *st = s->stmt[STMT_RUN_BY_NAME];

    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    return store_run_query(s, st, fn, arg);
}

int store_run_open(struct store *s, int (*fn)(const struct store_run *, void *),
                   void *arg)
{
    return store_run_query(s, s->stmt[STMT_RUN_OPEN], fn, arg);
}

/* Copies a run's id and name, for the checks of start and stop. */
struct store_run_ref {
    int64_t id;
    int64_t started_us;
    char *name;
};

static int store_run_ref_take(const struct store_run *run, void *arg)
{
    struct store_run_ref *ref = arg;

    ref->id = run->id;
    ref->started_us = run->started_us;
    ref->name = xstrdup(run->name);
    return 0;
}

/* Reads one run into ref inside the open transaction; 1 if none. */
static int store_run_ref_get(struct store *s, sqlite3_stmt *st,
                             struct store_run_ref *ref)
{
    int found = 0;
    int ret = store_run_rows(s, st, store_run_ref_take, ref, &found);

    return ret == 0 && found == 0 ? 1 : ret;
}

/* A single-text-column query inside the open transaction: a copy of the
 * text (NULL if no row or NULL), or -1. */
static int store_query_text(struct store *s, enum store_stmt id, char **out,
                            const char *what)
{
    sqlite3_stmt *st = s->stmt[id];
    int rc = sqlite3_step(st);

    *out = NULL;
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *out = xstrdup(store_column_text(st, 0));
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(s, "%s", what);
    return 0;
}

int store_run_start(struct store *s, const char *name,
                    const char *operator_name, const char *note, int64_t now_us,
                    int64_t first_seq)
{
    sqlite3_stmt *st = s->stmt[STMT_RUN_INSERT];
    struct store_run_ref open = {0, 0, NULL}, same = {0, 0, NULL};
    char *config = NULL, detail[EVENT_DETAIL_MAX];
    int rc = 0;

    if (store_run(s, STMT_BEGIN, "cannot start run") < 0)
        goto fail;
    sqlite3_bind_text(s->stmt[STMT_RUN_BY_NAME], 1, name, -1, SQLITE_STATIC);
    if ((rc = store_run_ref_get(s, s->stmt[STMT_RUN_BY_NAME], &same)) < 0)
        goto fail;
    if (rc == 0) {
        store_errorf(s, "run '%s' already exists", name);
        goto fail;
    }
    if ((rc = store_run_ref_get(s, s->stmt[STMT_RUN_OPEN], &open)) < 0)
        goto fail;
    if (rc == 0) {
        store_errorf(s, "run '%s' is still open; stop it first", open.name);
        goto fail;
    }
    if (store_query_text(s, STMT_CONFIG_SHA, &config,
                         "cannot read the config hash") < 0)
        goto fail;
    rc = 0;
    rc |= store_bind_text(st, 1, name);
    rc |= sqlite3_bind_int64(st, 2, now_us);
    rc |= store_bind_text(st, 3, operator_name);
    rc |= store_bind_text(st, 4, note);
    rc |= store_bind_text(st, 5, config);
    rc |= first_seq > 0 ? sqlite3_bind_int64(st, 6, first_seq)
                        : sqlite3_bind_null(st, 6);
    if (rc != SQLITE_OK ||
        store_run(s, STMT_RUN_INSERT, "cannot start run") < 0)
        goto fail;
    if (operator_name)
        snprintf(detail, sizeof(detail), "%s (operator: %s)", name,
                 operator_name);
    else
        snprintf(detail, sizeof(detail), "%s", name);
    if (store_insert_event(s, now_us, "run_start", -1, detail, -1) < 0 ||
        store_run(s, STMT_COMMIT, "cannot start run") < 0)
        goto fail;
    sqlite3_clear_bindings(st);
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
    free(config);
    return 0;
fail:
    store_rollback(s);
    sqlite3_clear_bindings(st);
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
    free(config);
    free(open.name);
    free(same.name);
    return -1;
}

int store_run_stop(struct store *s, const char *name, int64_t now_us,
                   int64_t last_seq)
{
    sqlite3_stmt *st = s->stmt[STMT_RUN_END];
    struct store_run_ref open = {0, 0, NULL};
    int rc;

    if (store_run(s, STMT_BEGIN, "cannot stop run") < 0)
        goto fail;
    if ((rc = store_run_ref_get(s, s->stmt[STMT_RUN_OPEN], &open)) < 0)
        goto fail;
    if (rc == 1) {
        if (name)
            store_errorf(s, "run '%s' is not open", name);
        else
            store_errorf(s, "no run is open");
        goto fail;
    }
    if (name && strcmp(name, open.name) != 0) {
        store_errorf(s, "run '%s' is not open (the open run is '%s')", name,
                     open.name);
        goto fail;
    }
    /* A clock stepped back must not give a run a negative length. */
    sqlite3_bind_int64(st, 1, open.id);
    sqlite3_bind_int64(st, 2,
                       now_us > open.started_us ? now_us : open.started_us);
    sqlite3_bind_int64(st, 3, last_seq > 0 ? last_seq : 0);
    if (store_run(s, STMT_RUN_END, "cannot stop run") < 0 ||
        store_insert_event(s, now_us, "run_stop", -1, open.name, -1) < 0 ||
        store_run(s, STMT_COMMIT, "cannot stop run") < 0)
        goto fail;
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
    free(open.name);
    return 0;
fail:
    store_rollback(s);
    sqlite3_clear_bindings(s->stmt[STMT_INSERT_EVENT]);
    free(open.name);
    return -1;
}

/* An ended, unsealed run: its id and last seq (0: by time). */
struct store_unsealed {
    int64_t id;
    int64_t last_seq;
};

/* The ended, unsealed runs, inside the caller's transaction (or none).
 * Returns how many, or -1; *ids is the caller's to free. */
static int store_runs_unsealed(struct store *s, struct store_unsealed **ids)
{
    sqlite3_stmt *st = s->stmt[STMT_RUNS_UNSEALED];
    size_t cap = 0;
    int rc, n = 0;

    *ids = NULL;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        xgrow(ids, &cap, (size_t)n + 1, sizeof(**ids));
        (*ids)[n].id = sqlite3_column_int64(st, 0);
        (*ids)[n++].last_seq = sqlite3_column_type(st, 1) == SQLITE_NULL
                                   ? 0
                                   : sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(*ids);
        *ids = NULL;
        return store_fail(s, "cannot read runs");
    }
    return n;
}

/*
 * The head a run with a seq range is sealed with, inside the caller's
 * transaction: that of the batch holding its last seq (the daemon
 * committed it before recording the stop); the current head (in head,
 * *seq) if no batch reaches that seq yet or the run has no seq range.
 */
static int store_seal_head(struct store *s, int64_t run_last,
                           char head[SHA256_HEX_LEN], int64_t *seq)
{
    sqlite3_stmt *st = s->stmt[STMT_BATCH_ENDING];
    int rc;

    if (store_chain_last(s, head, seq) < 0)
        return -1;
    if (run_last <= 0)
        return 0;
    sqlite3_bind_int64(st, 1, run_last);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *h = store_column_text(st, 3);

        *seq = sqlite3_column_int64(st, 2);
        snprintf(head, SHA256_HEX_LEN, "%s", h ? h : "");
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(s, "cannot read the chain");
    return 0;
}

int store_run_seal(struct store *s, int (*fn)(const struct store_run *, void *),
                   void *arg)
{
    sqlite3_stmt *st = s->stmt[STMT_RUN_SEAL];
    char head[SHA256_HEX_LEN];
    struct store_unsealed *ids = NULL;
    int64_t last_seq;
    int n;

    /* The daemon calls this often: a read without the write lock first,
     * since there is almost never anything to seal. */
    if ((n = store_runs_unsealed(s, &ids)) <= 0)
        return n;
    free(ids);
    if (store_run(s, STMT_BEGIN, "cannot seal runs") < 0)
        goto fail;
    if ((n = store_runs_unsealed(s, &ids)) < 0)
        goto fail;
    for (int i = 0; i < n; i++) {
        if (store_seal_head(s, ids[i].last_seq, head, &last_seq) < 0)
            goto fail;
        sqlite3_bind_int64(st, 1, ids[i].id);
        sqlite3_bind_text(st, 2, head, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, last_seq);
        if (store_run(s, STMT_RUN_SEAL, "cannot seal run") < 0)
            goto fail;
    }
    if (store_run(s, STMT_COMMIT, "cannot seal runs") < 0)
        goto fail;
    sqlite3_clear_bindings(st);
    for (int i = 0; fn && i < n; i++) {
        int ret;

        sqlite3_bind_int64(s->stmt[STMT_RUN_BY_ID], 1, ids[i].id);
        ret = store_run_query(s, s->stmt[STMT_RUN_BY_ID], fn, arg);
        if (ret != 0 && ret != 1) {
            free(ids);
            return -1;
        }
    }
    free(ids);
    return n;
fail:
    store_rollback(s);
    sqlite3_clear_bindings(st);
    free(ids);
    return -1;
}

int64_t store_data_version(struct store *s)
{
    sqlite3_stmt *st = s->stmt[STMT_DATA_VERSION];
    int64_t v = -1;

    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    else
        store_fail(s, "cannot read the data version");
    sqlite3_reset(st);
    return v;
}

/* --- the audit chain ------------------------------------------------- */

int store_chain_head(struct store *s, char head[SHA256_HEX_LEN],
                     int64_t *last_seq)
{
    if (store_chain_last(s, head, last_seq) < 0)
        return -1;
    if (*last_seq == 0)
        head[0] = '\0';
    return 0;
}

static const char store_verify_sql[] = STORE_VERIFY_SQL;

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
            buf, store_fmt_i64(buf, sqlite3_column_int64(st, i))};
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
 * as in store_verify_sql); returns where it starts, or -1 if its sensor
 * cannot be read (a sensor that does not exist hashes with its id). */
static int64_t store_canon_row(struct store *s, sqlite3_stmt *st)
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
        f[CANON_TAG] =
            (struct store_field){id, 1 + store_fmt_i64(id + 1, sensor)};
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
 * column of the wrong type marked), TAB-separated, LF-ended. Appends it
 * to s->canon and, if digest is not NULL, its digest there. Returns 0,
 * 1 if there is no such row (nothing appended), or -1.
 */
#define CANON_DESC_COLS 20
static int store_canon_desc(struct store *s, int64_t id, uint8_t *digest)
{
    static const int types[CANON_DESC_COLS] = {
        SQLITE_INTEGER, SQLITE_TEXT,    SQLITE_INTEGER, SQLITE_INTEGER,
        SQLITE_TEXT,    SQLITE_TEXT,    SQLITE_TEXT,    SQLITE_INTEGER,
        SQLITE_TEXT,    SQLITE_INTEGER, SQLITE_TEXT,    SQLITE_TEXT,
        SQLITE_FLOAT,   SQLITE_FLOAT,   SQLITE_INTEGER, SQLITE_FLOAT,
        SQLITE_FLOAT,   SQLITE_TEXT,    SQLITE_TEXT,    SQLITE_TEXT};
    sqlite3_stmt *st = s->stmt[STMT_SENSOR_DESC];
    struct store_field f[CANON_DESC_COLS + 1];
    char buf[CANON_DESC_COLS][32];
    char *alien[CANON_DESC_COLS] = {NULL};
    size_t start;
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
    start = store_canon_addn(s, f, CANON_DESC_COLS + 1);
    sqlite3_reset(st);
    for (int i = 0; i < CANON_DESC_COLS; i++)
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
static int store_canon_config(struct store *s, int64_t id, uint8_t *digest)
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

/* A batch row as verify reads it. */
struct store_batch {
    int64_t id;
    int64_t first_seq;
    int64_t last_seq;
    int64_t n; /* readings, as recorded */
    char prev_hash[SHA256_HEX_LEN];
    char hash[SHA256_HEX_LEN];
};

/* Records the first failure in out; returns 0 (for the walk to stop). */
__attribute__((format(printf, 4, 5))) static int
store_verify_fail(struct store_verify_result *out, int64_t batch, int64_t seq,
                  const char *fmt, ...)
{
    va_list ap;

    out->ok = false;
    out->bad_batch = batch;
    out->bad_seq = seq;
    va_start(ap, fmt);
    vsnprintf(out->what, sizeof(out->what), fmt, ap);
    va_end(ap);
    return 0;
}

/* Copies a hash column into buf ("" if NULL or not a hash). */
static void store_hash_column(sqlite3_stmt *st, int i, char buf[SHA256_HEX_LEN])
{
    const char *t = (const char *)sqlite3_column_text(st, i);

    snprintf(buf, SHA256_HEX_LEN, "%s", t ? t : "");
}

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
static int store_verify_blame(struct store *s, const struct store_batch *b,
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
    if (sqlite3_prepare_v2(s->db, store_verify_sql, -1, &st, NULL) !=
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

/* Feeds s->canon to h once it holds a chunk (or always, if all). */
static void store_verify_flush(struct store *s, struct sha256 *h, bool all)
{
    if (all || s->canon_len >= VERIFY_CHUNK) {
        sha256_update(h, s->canon, s->canon_len);
        s->canon_len = 0;
    }
}

/* The walk of store_verify_range(), its cursors and where it is. */
struct store_walk {
    sqlite3_stmt *rd; /* readings from the first seq on */
    bool rd_row;      /* rd is on a row */
    int64_t rd_seq;   /* its seq */
};

static int store_walk_next(struct store *s, struct store_walk *w)
{
    int rc = sqlite3_step(w->rd);

    w->rd_row = rc == SQLITE_ROW;
    if (w->rd_row)
        w->rd_seq = sqlite3_column_int64(w->rd, 0);
    else if (rc != SQLITE_DONE)
        return store_fail(s, "cannot read readings");
    return 0;
}

/*
 * Hashes batch b from its readings (the walk's cursor is on the first
 * reading at or after b's first seq) and leaves the cursor past b.
 * *bad is set if a seq is missing or the hash differs.
 */
static int store_verify_descs(struct store *s, const struct store_batch *b,
                              struct store_verify_result *out);
static bool store_vers_check(struct store *s, sqlite3_stmt *rd,
                             struct store_verify_result *out, int64_t batch);

static int store_verify_batch(struct store *s, struct store_walk *w,
                              const struct store_batch *b,
                              struct store_verify_result *out, bool *bad)
{
    struct sha256 *h = sha256_new();
    char hash[SHA256_HEX_LEN];
    int64_t expect = b->first_seq;

    *bad = false;
    s->canon_len = 0;
    sha256_update(h, b->prev_hash, strlen(b->prev_hash));
    while (w->rd_row && w->rd_seq <= b->last_seq) {
        if (w->rd_seq != expect)
            *bad = true;
        expect = w->rd_seq + 1;
        if (out->ok && !store_vers_check(s, w->rd, out, b->id))
            *bad = true;
        if (store_canon_row(s, w->rd) < 0 || store_walk_next(s, w) < 0) {
            sha256_final_hex(h, hash);
            return -1;
        }
        out->readings++;
        store_verify_flush(s, h, false);
    }
    store_verify_flush(s, h, true);
    if (store_verify_descs(s, b, out) < 0) {
        sha256_final_hex(h, hash);
        return -1;
    }
    store_verify_flush(s, h, true);
    sha256_final_hex(h, hash);
    if (expect != b->last_seq + 1 || strcmp(hash, b->hash) != 0)
        *bad = true;
    return 0;
}

/* The batch before id: its id, last seq and hash (0, 0 and 64 zeros if
 * none). */
static int store_batch_before(struct store *s, int64_t id,
                              struct store_batch *prev)
{
    sqlite3_stmt *st = s->stmt[STMT_BATCH_BEFORE];
    int rc;

    memset(prev, 0, sizeof(*prev));
    memcpy(prev->hash, store_zero_hash, SHA256_HEX_LEN);
    sqlite3_bind_int64(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        prev->id = sqlite3_column_int64(st, 0);
        prev->last_seq = sqlite3_column_int64(st, 1);
        store_hash_column(st, 2, prev->hash);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(s, "cannot read batches");
    return 0;
}

/* The first batch that reaches seq: *found false if none. */
static int store_batch_reaching(struct store *s, int64_t seq,
                                struct store_batch *b, bool *found)
{
    sqlite3_stmt *st = s->stmt[STMT_BATCH_ENDING];
    int rc;

    memset(b, 0, sizeof(*b));
    sqlite3_bind_int64(st, 1, seq);
    rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (*found) {
        b->id = sqlite3_column_int64(st, 0);
        b->first_seq = sqlite3_column_int64(st, 1);
        b->last_seq = sqlite3_column_int64(st, 2);
        store_hash_column(st, 3, b->hash);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(s, "cannot read batches");
    return 0;
}

/*
 * Checks a batch's place in the chain: it must follow the previous one's
 * hash and seqs. Returns true if it does (else out is filled in).
 */
static bool store_verify_link(const struct store_batch *prev,
                              const struct store_batch *b,
                              struct store_verify_result *out)
{
    if (strcmp(b->prev_hash, prev->hash) != 0) {
        if (prev->id == 0)
            store_verify_fail(out, b->id, 0,
                              "batch %lld does not start the chain",
                              (long long)b->id);
        else
            store_verify_fail(out, b->id, 0,
                              "batch %lld does not follow batch %lld",
                              (long long)b->id, (long long)prev->id);
        return false;
    }
    if (b->first_seq <= prev->last_seq || b->last_seq < b->first_seq ||
        b->n != b->last_seq - b->first_seq + 1) {
        store_verify_fail(out, b->id, 0, "batch %lld's seq range was altered",
                          (long long)b->id);
        return false;
    }
    return true;
}

/* The batches in id order from a given one on, with their pruned row
 * (columns 6..9, NULL if none). A version 1 file has no pruned table. */
static const char store_batches_sql[] =
    "SELECT b.id, b.first_seq, b.last_seq, b.prev_hash, b.hash, b.n,"
    " p.batch_id, p.first_ts_us, p.last_ts_us, p.readings FROM batches AS b"
    " LEFT JOIN pruned AS p ON p.batch_id = b.id WHERE b.id >= ?1"
    " ORDER BY b.id";
static const char store_batches_v1_sql[] =
    "SELECT id, first_seq, last_seq, prev_hash, hash, n, NULL, NULL, NULL,"
    " NULL FROM batches WHERE id >= ?1 ORDER BY id";

/* The runs as verify and prune check batches against them: sorted by
 * start, with the latest end among each run and those before it, so that
 * the runs overlapping a time span are found by one binary search; and
 * the sealed runs' chain seqs, sorted. Read once per call: a query per
 * batch would scan the runs each time. */
struct store_span {
    char *name;
    int64_t start;
    int64_t end;     /* INT64_MAX while open */
    int64_t max_end; /* of this run and every one before it */
};

/* A run with a seq range: it covers the batches its range meets. */
struct store_seqspan {
    char *name;
    int64_t first, last; /* last INT64_MAX while open */
};

struct store_spans {
    struct store_span *v; /* the runs by time */
    size_t n, cap;
    struct store_seqspan *seqv; /* the runs by seq (few: scanned) */
    size_t nseq, seq_cap;
    int64_t *chain; /* chain_seq of each sealed run, ascending */
    size_t nchain, chain_cap;
    bool loaded;
};

static void store_spans_release(struct store_spans *sp)
{
    for (size_t i = 0; i < sp->n; i++)
        free(sp->v[i].name);
    for (size_t i = 0; i < sp->nseq; i++)
        free(sp->seqv[i].name);
    free(sp->v);
    free(sp->seqv);
    free(sp->chain);
    memset(sp, 0, sizeof(*sp));
}

static int store_i64_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* Reads every run into sp, inside the caller's read transaction. */
static int store_spans_load(struct store *s, struct store_spans *sp)
{
    sqlite3_stmt *st = NULL;
    int rc;

    sp->loaded = true;
    if (sqlite3_prepare_v2(s->db,
                           s->version >= 4
                               ? "SELECT name, started_us, ended_us, chain_seq,"
                                 " first_seq, last_seq FROM runs"
                                 " ORDER BY started_us, id"
                               : "SELECT name, started_us, ended_us, chain_seq,"
                                 " NULL, NULL FROM runs"
                                 " ORDER BY started_us, id",
                           -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, "cannot read runs");
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_span *r;
        const char *name = store_column_text(st, 0);

        if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
            xgrow(&sp->chain, &sp->chain_cap, sp->nchain + 1,
                  sizeof(*sp->chain));
            sp->chain[sp->nchain++] = sqlite3_column_int64(st, 3);
        }
        if (sqlite3_column_type(st, 4) != SQLITE_NULL) {
            struct store_seqspan *q;

            xgrow(&sp->seqv, &sp->seq_cap, sp->nseq + 1, sizeof(*sp->seqv));
            q = &sp->seqv[sp->nseq++];
            q->name = xstrdup(name ? name : "");
            q->first = sqlite3_column_int64(st, 4);
            q->last = sqlite3_column_type(st, 2) == SQLITE_NULL ||
                              sqlite3_column_type(st, 5) == SQLITE_NULL
                          ? INT64_MAX
                          : sqlite3_column_int64(st, 5);
            continue;
        }
        xgrow(&sp->v, &sp->cap, sp->n + 1, sizeof(*sp->v));
        r = &sp->v[sp->n];
        r->name = xstrdup(name ? name : "");
        r->start = sqlite3_column_int64(st, 1);
        r->end = sqlite3_column_type(st, 2) == SQLITE_NULL
                     ? INT64_MAX
                     : sqlite3_column_int64(st, 2);
        r->max_end = sp->n && sp->v[sp->n - 1].max_end > r->end
                         ? sp->v[sp->n - 1].max_end
                         : r->end;
        sp->n++;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_fail(s, "cannot read runs");
    if (sp->nchain > 1)
        qsort(sp->chain, sp->nchain, sizeof(*sp->chain), store_i64_cmp);
    return 0;
}

/* Whether a sealed run's chain seq lies in [first_seq, last_seq]. */
static bool store_spans_chain_in(const struct store_spans *sp,
                                 int64_t first_seq, int64_t last_seq)
{
    size_t lo = 0, hi = sp->nchain;

    /* lo: the first chain seq at or after first_seq */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (sp->chain[mid] < first_seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < sp->nchain && sp->chain[lo] <= last_seq;
}

/* The name of a run by seq whose range meets [first_seq, last_seq], or
 * NULL if none does. */
static const char *store_spans_seq_overlap(const struct store_spans *sp,
                                           int64_t first_seq, int64_t last_seq)
{
    for (size_t i = 0; i < sp->nseq; i++)
        if (sp->seqv[i].first <= last_seq && first_seq <= sp->seqv[i].last)
            return sp->seqv[i].name;
    return NULL;
}

/* The name of a run by time whose [start, end) overlaps [first_ts,
 * last_ts], or NULL if none does. */
static const char *store_spans_overlap(const struct store_spans *sp,
                                       int64_t first_ts, int64_t last_ts)
{
    size_t lo = 0, hi = sp->n;

    /* lo: how many runs start at or before last_ts */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (sp->v[mid].start <= last_ts)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || sp->v[lo - 1].max_end <= first_ts)
        return NULL;
    while (lo-- > 0)
        if (sp->v[lo].end > first_ts)
            return sp->v[lo].name;
    return NULL;
}

/* Whether the file has the pruned table (version 2), in the snapshot of
 * the caller's read transaction: a daemon may upgrade the file while a
 * reader has it open. */
static int store_has_pruned(struct store *s, bool *has)
{
    int64_t n = 0;

    if (store_query_int(s,
                        "SELECT count(*) FROM sqlite_master WHERE"
                        " type = 'table' AND name = 'pruned'",
                        &n) < 0)
        return store_fail(s, "cannot read the schema");
    *has = n > 0;
    return 0;
}

/*
 * Checks batch b that retention pruned (the walk's cursor is on the first
 * reading at or after its first seq): none of its readings may be left,
 * and no run may overlap the times its pruned row records, else someone
 * hid the deletion of a run's readings behind a forged pruned row. Its
 * hash cannot be recomputed; its links were checked by the caller.
 * Returns true if it passes (else out is filled in), -1 on error.
 */
static int store_verify_pruned(struct store *s, const struct store_walk *w,
                               const struct store_batch *b, int64_t first_ts,
                               int64_t last_ts, struct store_spans *runs,
                               struct store_verify_result *out)
{
    const char *run;

    if (w->rd_row && w->rd_seq <= b->last_seq) {
        store_verify_fail(out, b->id, w->rd_seq,
                          "seq %lld is in a pruned batch (inserted)",
                          (long long)w->rd_seq);
        return 0;
    }
    if (!runs->loaded && store_spans_load(s, runs) < 0)
        return -1;
    if ((run = store_spans_overlap(runs, first_ts, last_ts)) != NULL ||
        (run = store_spans_seq_overlap(runs, b->first_seq, b->last_seq)) !=
            NULL) {
        store_verify_fail(out, b->id, 0, "readings of run '%s' were pruned",
                          run);
        return 0;
    }
    return 1;
}

/* Fills in the versions of one tag (rows first..n-1 of ids/chains, in
 * the order they came in). */
static void store_vers_group(struct store *s, const int64_t *ids,
                             const int64_t *chains, const int64_t *versions,
                             size_t n)
{
    int64_t first = INT64_MAX;

    for (size_t i = 0; i < n && first == INT64_MAX; i++)
        if (chains[i] > 0)
            first = chains[i];
    for (size_t i = 0; i < n; i++) {
        struct store_vers *v;
        int64_t next = INT64_MAX;

        if (ids[i] < 0 || (size_t)ids[i] >= s->nvers)
            continue;
        if (chains[i] <= 0)
            next = first;
        else
            for (size_t j = i + 1; j < n && next == INT64_MAX; j++)
                if (chains[j] > chains[i])
                    next = chains[j];
        v = &s->vers[ids[i]];
        *v = (struct store_vers){true, versions[i], chains[i], next};
    }
}

/* Loads every description version into s->vers, inside the caller's read
 * transaction, and counts those older than schema 4. */
static int store_vers_load(struct store *s, struct store_verify_result *out)
{
    sqlite3_stmt *st = s->stmt[STMT_SENSOR_VERSIONS];
    int64_t *ids = NULL, *chains = NULL, *versions = NULL;
    size_t n = 0, cap1 = 0, cap2 = 0, cap3 = 0;
    char *tag = NULL;
    int rc;

    free(s->vers);
    s->nvers = TAG_CACHE_MAX < s->ntags + 1 ? TAG_CACHE_MAX : s->ntags + 1;
    s->vers = xcalloc(s->nvers, sizeof(*s->vers));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t = store_column_text(st, 1);

        if (!t)
            t = "";
        if (tag && strcmp(tag, t) != 0) {
            store_vers_group(s, ids, chains, versions, n);
            n = 0;
        }
        if (!tag || strcmp(tag, t) != 0) {
            free(tag);
            tag = xstrdup(t);
        }
        xgrow(&ids, &cap1, n + 1, sizeof(*ids));
        xgrow(&chains, &cap2, n + 1, sizeof(*chains));
        xgrow(&versions, &cap3, n + 1, sizeof(*versions));
        ids[n] = sqlite3_column_int64(st, 0);
        versions[n] = sqlite3_column_int64(st, 2);
        chains[n] = sqlite3_column_type(st, 3) == SQLITE_NULL
                        ? -1
                        : sqlite3_column_int64(st, 3);
        if (chains[n] == 0)
            out->uncovered++;
        n++;
    }
    sqlite3_reset(st);
    if (tag)
        store_vers_group(s, ids, chains, versions, n);
    free(tag);
    free(ids);
    free(chains);
    free(versions);
    if (rc != SQLITE_DONE)
        return store_fail(s, "cannot read sensors");
    return 0;
}

/* The reading at rd's current row must be under the description version
 * in force at its seq: the one that came in last before it. Returns
 * false with out filled in if not. */
static bool store_vers_check(struct store *s, sqlite3_stmt *rd,
                             struct store_verify_result *out, int64_t batch)
{
    int64_t seq = sqlite3_column_int64(rd, 0);
    int64_t id = sqlite3_column_int64(rd, 1);
    const struct store_vers *v;
    const char *tag = NULL;

    if (!s->vers || id < 0 || (size_t)id >= s->nvers || !s->vers[id].present)
        return true;
    v = &s->vers[id];
    if (v->chain == -1 || (v->chain > 0 && seq < v->chain) || seq >= v->next) {
        store_tag(s, id, &tag);
        store_verify_fail(out, batch, seq,
                          "seq %lld (sensor '%s') is recorded under its "
                          "version %lld, not the version in force then",
                          (long long)seq, tag ? tag : "?",
                          (long long)v->version);
        return false;
    }
    return true;
}

/* Appends the canonical lines of the descriptions batch b covers and
 * counts them. */
static int store_verify_descs(struct store *s, const struct store_batch *b,
                              struct store_verify_result *out)
{
    sqlite3_stmt *st = s->stmt[STMT_SENSOR_BATCH];
    int64_t *ids = NULL;
    size_t n = 0, cap = 0;
    int rc, ret = 0;

    /* The rows first: store_canon_desc() runs a statement of its own. */
    sqlite3_bind_int64(st, 1, b->first_seq);
    sqlite3_bind_int64(st, 2, b->last_seq);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        xgrow(&ids, &cap, n + 1, sizeof(*ids));
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read sensors");
    for (size_t i = 0; ret == 0 && i < n; i++) {
        if (store_canon_desc(s, ids[i], NULL) < 0)
            ret = -1;
        out->descriptions++;
    }
    /* then the configurations it covers */
    st = s->stmt[STMT_CONFIG_BATCH];
    n = 0;
    sqlite3_bind_int64(st, 1, b->first_seq);
    sqlite3_bind_int64(st, 2, b->last_seq);
    while (ret == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        xgrow(&ids, &cap, n + 1, sizeof(*ids));
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_reset(st);
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read configurations");
    for (size_t i = 0; ret == 0 && i < n; i++) {
        if (store_canon_config(s, ids[i], NULL) < 0)
            ret = -1;
        out->configs++;
    }
    free(ids);
    return ret;
}

/*
 * store_verify() inside the caller's read transaction. The walk merges
 * two cursors in seq order, the batches and the readings, so that its
 * memory does not grow with the database; a batch that does not hash
 * right is walked a second time to name the culprit.
 */
static int store_verify_range(struct store *s, int64_t from_seq, int64_t to_seq,
                              struct store_verify_result *out)
{
    struct store_walk w = {NULL, false, 0};
    struct store_spans runs = {NULL, 0, 0, NULL, 0, 0, NULL, 0, 0, false};
    struct store_batch prev, b;
    sqlite3_stmt *bt = NULL;
    bool found = false, bad, has_pruned = false;
    int rc, ret = -1, passed;

    memset(out, 0, sizeof(*out));
    out->ok = true;
    if (store_tags_load(s) < 0 || store_vers_load(s, out) < 0 ||
        store_has_pruned(s, &has_pruned) < 0 ||
        store_batch_reaching(s, from_seq, &b, &found) < 0)
        goto done;
    if (store_batch_before(s, found ? b.id : INT64_MAX, &prev) < 0)
        goto done;
    if (sqlite3_prepare_v2(s->db, store_verify_sql, -1, &w.rd, NULL) !=
            SQLITE_OK ||
        sqlite3_prepare_v2(
            s->db, has_pruned ? store_batches_sql : store_batches_v1_sql, -1,
            &bt, NULL) != SQLITE_OK) {
        store_fail(s, "cannot verify");
        goto done;
    }
    /* Whole batches are checked, so their readings before from_seq too. */
    sqlite3_bind_int64(
        w.rd, 1, found && b.first_seq < from_seq ? b.first_seq : from_seq);
    sqlite3_bind_int64(w.rd, 2, INT64_MAX);
    if (store_walk_next(s, &w) < 0)
        goto done;
    sqlite3_bind_int64(bt, 1, found ? b.id : INT64_MAX);
    while ((rc = sqlite3_step(bt)) == SQLITE_ROW) {
        b.id = sqlite3_column_int64(bt, 0);
        b.first_seq = sqlite3_column_int64(bt, 1);
        b.last_seq = sqlite3_column_int64(bt, 2);
        store_hash_column(bt, 3, b.prev_hash);
        store_hash_column(bt, 4, b.hash);
        b.n = sqlite3_column_int64(bt, 5);
        if (b.first_seq > to_seq)
            break;
        if (w.rd_row && w.rd_seq < b.first_seq) {
            ret = store_verify_fail(out, 0, w.rd_seq,
                                    "seq %lld is in no batch (inserted)",
                                    (long long)w.rd_seq);
            goto done;
        }
        if (!store_verify_link(&prev, &b, out)) {
            ret = 0;
            goto done;
        }
        if (sqlite3_column_type(bt, 6) != SQLITE_NULL) {
            passed =
                store_verify_pruned(s, &w, &b, sqlite3_column_int64(bt, 7),
                                    sqlite3_column_int64(bt, 8), &runs, out);
            if (passed <= 0) {
                ret = passed;
                goto done;
            }
            out->pruned_batches++;
            out->pruned_readings += sqlite3_column_int64(bt, 9);
            prev = b;
            continue;
        }
        if (store_verify_batch(s, &w, &b, out, &bad) < 0)
            goto done;
        if (bad) {
            /* A reading under the wrong version is named already. */
            ret = out->ok ? store_verify_blame(s, &b, out) : 0;
            goto done;
        }
        out->batches++;
        prev = b;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        store_fail(s, "cannot read batches");
        goto done;
    }
    if (w.rd_row && w.rd_seq <= to_seq)
        store_verify_fail(out, 0, w.rd_seq,
                          "seq %lld is in no batch (inserted)",
                          (long long)w.rd_seq);
    ret = 0;
done:
    sqlite3_finalize(bt);
    sqlite3_finalize(w.rd);
    store_spans_release(&runs);
    free(s->vers);
    s->vers = NULL;
    s->nvers = 0;
    s->canon_len = 0;
    return ret;
}

/* Decodes the stored hex words raw ("41c8 0000") as type and order name
 * it; false if they do not fit. */
static bool store_decode_words(const char *raw, const char *type_name,
                               const char *order_name, double scale,
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
    *value = decode_value(type, decode_raw(type, order, w), scale, offset);
    return true;
}

/* Fills in where out's failure is: the sensor, time and decoded value of
 * the reading at out->bad_seq, if it is still there. Inside the caller's
 * read transaction; a failure to read leaves them out. */
static void store_verify_where(struct store *s, struct store_verify_result *out)
{
    sqlite3_stmt *st = NULL;
    const char *what = out->what;
    size_t wl = strlen(what);

    out->no_trigger = s->no_trigger;
    if (out->ok || out->bad_seq <= 0 ||
        sqlite3_prepare_v2(
            s->db,
            "SELECT s.tag, r.ts_us, r.raw, s.type, s.byte_order, s.scale,"
            " s.\"offset\" FROM readings AS r LEFT JOIN sensors AS s"
            " ON s.id = r.sensor_id WHERE r.seq = ?1",
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
                sqlite3_column_double(st, 5), sqlite3_column_double(st, 6),
                &out->decoded);
    }
    sqlite3_finalize(st);
}

int store_verify(struct store *s, int64_t from_seq, int64_t to_seq,
                 struct store_verify_result *out)
{
    int ret;

    memset(out, 0, sizeof(*out));
    if (store_run(s, STMT_BEGIN_READ, "cannot verify") < 0)
        return -1;
    ret = store_follow_upgrade(s) < 0
              ? -1
              : store_verify_range(s, from_seq, to_seq, out);
    if (ret == 0)
        store_verify_where(s, out);
    store_rollback(s);
    return ret;
}

/* What verify needs of a run. */
struct store_run_span {
    char name[256];
    int64_t started_us;
    int64_t end_us; /* INT64_MAX while open */
    bool sealed;
    char chain_head[SHA256_HEX_LEN];
    int64_t chain_seq;
    int64_t first_seq; /* 0: by time */
    int64_t last_seq;  /* INT64_MAX while open */
};

static int store_run_span_take(const struct store_run *run, void *arg)
{
    struct store_run_span *sp = arg;

    snprintf(sp->name, sizeof(sp->name), "%s", run->name);
    sp->started_us = run->started_us;
    sp->end_us = run->ended ? run->ended_us : INT64_MAX;
    sp->sealed = run->chain_head != NULL;
    snprintf(sp->chain_head, sizeof(sp->chain_head), "%s",
             run->chain_head ? run->chain_head : "");
    sp->chain_seq = run->chain_seq;
    sp->first_seq = run->first_seq;
    sp->last_seq = run->ended ? run->last_seq : INT64_MAX;
    return 0;
}

/* The first and last seq of the readings in [from_us, to_us) (by_seq:
 * with from_us <= seq <= to_us); 0 and 0 if there are none. */
static int store_window_seqs(struct store *s, bool by_seq, int64_t from_us,
                             int64_t to_us, int64_t *first, int64_t *last)
{
    sqlite3_stmt *st = s->stmt[by_seq ? STMT_RUN_SEQS_SEQ : STMT_RUN_SEQS];
    int rc;

    sqlite3_bind_int64(st, 1, from_us);
    sqlite3_bind_int64(st, 2, to_us);
    rc = sqlite3_step(st);
    *first = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    *last = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return store_fail(s, "cannot read the seqs of a window");
    return 0;
}

/* Checks, after a good verify of its range, that a sealed run's chain
 * head is the stored hash of the batch that ends at its chain seq. */
static int store_verify_head(struct store *s, const struct store_run_span *sp,
                             struct store_verify_result *out)
{
    struct store_batch b;
    bool found = false;

    if (sp->chain_seq == 0) {
        if (strcmp(sp->chain_head, store_zero_hash) != 0)
            store_verify_fail(out, 0, 0, "run '%s' has a chain head but no seq",
                              sp->name);
        return 0;
    }
    if (store_batch_reaching(s, sp->chain_seq, &b, &found) < 0)
        return -1;
    if (!found || b.last_seq != sp->chain_seq)
        store_verify_fail(out, 0, sp->chain_seq,
                          "run '%s''s chain head names seq %lld, which ends "
                          "no batch",
                          sp->name, (long long)sp->chain_seq);
    else if (strcmp(b.hash, sp->chain_head) != 0)
        store_verify_fail(out, b.id, 0,
                          "run '%s''s chain head does not match batch %lld",
                          sp->name, (long long)b.id);
    return 0;
}

int store_verify_run(struct store *s, const char *name,
                     struct store_verify_result *out)
{
    sqlite3_stmt *st;
    struct store_run_span sp;
    int64_t first, last;
    int found = 0, ret = -1;

    memset(out, 0, sizeof(*out));
    memset(&sp, 0, sizeof(sp));
    if (store_run(s, STMT_BEGIN_READ, "cannot verify") < 0)
        return -1;
    if (store_follow_upgrade(s) < 0)
        goto done;
    st = s->stmt[STMT_RUN_BY_NAME];
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (store_run_rows(s, st, store_run_span_take, &sp, &found) < 0)
        goto done;
    if (found == 0) {
        ret = 1;
        goto done;
    }
    if (sp.first_seq > 0 ? store_window_seqs(s, true, sp.first_seq, sp.last_seq,
                                             &first, &last) < 0
                         : store_window_seqs(s, false, sp.started_us, sp.end_us,
                                             &first, &last) < 0)
        goto done;
    /* A sealed run's chain head may lie past its last reading: verify up
     * to it, so that the head is checked against a recomputed batch. */
    if (sp.sealed && sp.chain_seq > last) {
        if (first == 0)
            first = sp.chain_seq;
        last = sp.chain_seq;
    }
    if (store_verify_range(s, first, last, out) < 0)
        goto done;
    if (out->ok && sp.sealed && store_verify_head(s, &sp, out) < 0)
        goto done;
    /* The run's readings, not those of the whole batches checked. */
    if (out->ok) {
        sqlite3_stmt *cnt =
            s->stmt[sp.first_seq > 0 ? STMT_RUN_COUNT_SEQ : STMT_RUN_COUNT];
        int rc;

        sqlite3_bind_int64(cnt, 1,
                           sp.first_seq > 0 ? sp.first_seq : sp.started_us);
        sqlite3_bind_int64(cnt, 2, sp.first_seq > 0 ? sp.last_seq : sp.end_us);
        rc = sqlite3_step(cnt);
        if (rc == SQLITE_ROW)
            out->readings = sqlite3_column_int64(cnt, 0);
        sqlite3_reset(cnt);
        if (rc != SQLITE_ROW) {
            store_fail(s, "cannot count the readings of run '%s'", name);
            goto done;
        }
    }
    store_verify_where(s, out);
    ret = 0;
done:
    store_rollback(s);
    return ret;
}

/* --- retention ------------------------------------------------------- */

/*
 * Pruning walks the chain in id order from the cursor (the state
 * STORE_STATE_PRUNE: every batch up to it is decided), one batch at a
 * time, in one write transaction per call:
 *
 * - a batch whose newest reading is not older than the cut-off ends the
 *   step without moving the cursor: it may be pruned later, and the later
 *   batches are (but for clock steps) newer still;
 * - a batch a run covers is kept for good and passed over: runs are never
 *   deleted, and a run started later starts at its "now", after every
 *   reading old enough to be pruned, so it cannot come to cover a batch
 *   passed over before (the check and the pruning are under the write
 *   lock, which starting a run takes too). An open run covers everything
 *   from its start on, so its batches are kept as they come;
 * - a batch that does not hash to its stored hash (a reading changed or
 *   deleted) is passed over and kept: deleting it would erase the
 *   evidence that verify reports;
 * - any other batch loses its readings and gains a pruned row.
 */

/* Reads the first batch after id; *found false if none. */
static int store_prune_next(struct store *s, int64_t after,
                            struct store_batch *b, bool *found)
{
    sqlite3_stmt *st = s->stmt[STMT_PRUNE_NEXT];
    int rc;

    sqlite3_bind_int64(st, 1, after);
    rc = sqlite3_step(st);
    *found = rc == SQLITE_ROW;
    if (*found) {
        b->id = sqlite3_column_int64(st, 0);
        b->first_seq = sqlite3_column_int64(st, 1);
        b->last_seq = sqlite3_column_int64(st, 2);
        b->n = sqlite3_column_int64(st, 3);
        store_hash_column(st, 4, b->prev_hash);
        store_hash_column(st, 5, b->hash);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(s, "cannot read batches");
    return 0;
}

/* The earliest and latest time of batch b's readings, and how many it
 * still has (times 0 if none). */
static int store_prune_span(struct store *s, const struct store_batch *b,
                            int64_t *first_ts, int64_t *last_ts, int64_t *count)
{
    sqlite3_stmt *st = s->stmt[STMT_PRUNE_SPAN];
    int rc;

    sqlite3_bind_int64(st, 1, b->first_seq);
    sqlite3_bind_int64(st, 2, b->last_seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *first_ts = sqlite3_column_int64(st, 0);
        *last_ts = sqlite3_column_int64(st, 1);
        *count = sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_ROW)
        return store_fail(s, "cannot read batch %lld", (long long)b->id);
    return 0;
}

/* Whether batch b's readings still hash to its stored hash. */
static int store_prune_intact(struct store *s, const struct store_batch *b,
                              bool *intact)
{
    struct store_walk w = {s->stmt[STMT_PRUNE_READINGS], false, 0};
    struct store_verify_result scratch;
    bool bad = true;
    int ret;

    memset(&scratch, 0, sizeof(scratch));
    sqlite3_bind_int64(w.rd, 1, b->first_seq);
    sqlite3_bind_int64(w.rd, 2, b->last_seq);
    ret = store_walk_next(s, &w);
    if (ret == 0)
        ret = store_verify_batch(s, &w, b, &scratch, &bad);
    sqlite3_reset(w.rd);
    s->canon_len = 0;
    *intact = !bad;
    return ret;
}

/* Takes batch b's readings off sensor_last's counts. A sensor whose
 * newest reading goes keeps its last_seq: `tbdaq status` then finds no
 * such reading and shows none. */
static int store_prune_counts(struct store *s, const struct store_batch *b)
{
    sqlite3_stmt *st = s->stmt[STMT_PRUNE_COUNTS];
    sqlite3_stmt *up = s->stmt[STMT_PRUNE_LAST];
    int rc, ret = 0;

    sqlite3_bind_int64(st, 1, b->first_seq);
    sqlite3_bind_int64(st, 2, b->last_seq);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_bind_int64(up, 1, sqlite3_column_int64(st, 0));
        sqlite3_bind_int64(up, 2, sqlite3_column_int64(st, 1));
        if ((ret = store_run(s, STMT_PRUNE_LAST, "cannot update sensor_last")) <
            0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot count batch %lld", (long long)b->id);
    sqlite3_reset(st);
    return ret;
}

/* Deletes batch b's readings and records it in pruned. */
static int store_prune_batch(struct store *s, const struct store_batch *b,
                             int64_t first_ts, int64_t last_ts, int64_t count)
{
    sqlite3_stmt *del = s->stmt[STMT_PRUNE_DELETE];
    sqlite3_stmt *ins = s->stmt[STMT_PRUNE_INSERT];

    if (store_prune_counts(s, b) < 0)
        return -1;
    sqlite3_bind_int64(del, 1, b->first_seq);
    sqlite3_bind_int64(del, 2, b->last_seq);
    if (store_run(s, STMT_PRUNE_DELETE, "cannot prune readings") < 0)
        return -1;
    sqlite3_bind_int64(ins, 1, b->id);
    sqlite3_bind_int64(ins, 2, first_ts);
    sqlite3_bind_int64(ins, 3, last_ts);
    sqlite3_bind_int64(ins, 4, count);
    sqlite3_bind_int64(ins, 5, time_real_us());
    return store_run(s, STMT_PRUNE_INSERT, "cannot record pruned batch");
}

int store_prune(struct store *s, int64_t before_us, int64_t max_seq,
                size_t max_readings, struct store_prune_result *res)
{
    struct store_spans runs = {NULL, 0, 0, NULL, 0, 0, NULL, 0, 0, false};
    struct store_batch b;
    int64_t cursor = 0, start, first_ts = 0, last_ts = 0, count = 0;
    uint64_t work = 0;
    bool found = false, intact, tags = false;

    memset(res, 0, sizeof(*res));
    memset(&b, 0, sizeof(b));
    if (s->mode != STORE_READ_WRITE)
        return store_errorf(s, "cannot prune '%s': not opened read-write",
                            s->path);
    if (max_readings == 0)
        max_readings = 1;
    if (store_run(s, STMT_BEGIN, "cannot prune") < 0 ||
        store_get_state(s, STORE_STATE_PRUNE, &cursor) < 0)
        goto fail;
    start = cursor;
    for (;;) {
        if (work >= max_readings) {
            res->more = true;
            break;
        }
        if (store_prune_next(s, cursor, &b, &found) < 0)
            goto fail;
        if (!found)
            break;
        if (store_prune_span(s, &b, &first_ts, &last_ts, &count) < 0)
            goto fail;
        /* A batch with no readings left and no pruned row is a deletion
         * for verify to report: passed over, like a damaged one. */
        if ((count > 0 && last_ts >= before_us) || b.last_seq > max_seq)
            break;
        work += (uint64_t)(b.n > 0 ? b.n : 1);
        cursor = b.id;
        if (count == 0 || count != b.n) {
            res->damaged++;
            continue;
        }
        /* Covered: the run's times (seqs, for a run with a seq range)
         * overlap the batch's, or the batch is
         * the one the run's chain head names. */
        if (!runs.loaded && store_spans_load(s, &runs) < 0)
            goto fail;
        if (store_spans_overlap(&runs, first_ts, last_ts) ||
            store_spans_seq_overlap(&runs, b.first_seq, b.last_seq) ||
            store_spans_chain_in(&runs, b.first_seq, b.last_seq))
            continue;
        /* Hash with the tags the file holds, as verify does. */
        if (!tags && store_tags_load(s) < 0)
            goto fail;
        tags = true;
        if (store_prune_intact(s, &b, &intact) < 0)
            goto fail;
        if (!intact) {
            res->damaged++;
            continue;
        }
        if (store_prune_batch(s, &b, first_ts, last_ts, count) < 0)
            goto fail;
        res->batches++;
        res->readings += count;
    }
    if (cursor != start && store_set_state(s, STORE_STATE_PRUNE, cursor) < 0)
        goto fail;
    if (store_run(s, STMT_COMMIT, "cannot prune") < 0)
        goto fail;
    store_spans_release(&runs);
    return 0;
fail:
    store_rollback(s);
    store_spans_release(&runs);
    memset(res, 0, sizeof(*res));
    return -1;
}

/* --- export ---------------------------------------------------------- */

/*
 * The export query, with one placeholder per sensor tag. CROSS JOIN keeps
 * readings the outer loop, walked along readings_ts: rows come in time
 * order as they are read, and SQLite sorts only each run of equal times
 * by tag and seq, so memory does not grow with the window.
 */
static char *store_export_sql(size_t nsensors, int64_t version, bool by_seq)
{
    /* before schema 4, every row is its tag's version 1 */
    const char *head =
        version >= 4
            ? "SELECT r.seq, r.ts_us, s.tag, s.kind, r.value, s.unit, "
              "r.quality,"
              " r.error, s.version FROM readings AS r CROSS JOIN sensors AS s"
              " ON s.id = r.sensor_id WHERE "
            : "SELECT r.seq, r.ts_us, s.tag, s.kind, r.value, s.unit, "
              "r.quality,"
              " r.error, 1 FROM readings AS r CROSS JOIN sensors AS s"
              " ON s.id = r.sensor_id WHERE ";
    /* by seq: a range of the primary key, sorted by time afterwards */
    const char *where =
        by_seq ? "r.seq BETWEEN ?1 AND ?2" : "r.ts_us >= ?1 AND r.ts_us < ?2";
    static const char in[] = " AND s.tag IN (";
    static const char tail[] = " ORDER BY r.ts_us, s.tag, r.seq";
    /* ",?" and its number: at most 8 bytes per tag */
    size_t len =
        strlen(head) + strlen(where) + sizeof(in) + 8 * nsensors + sizeof(tail);
    char *sql = xmalloc(len);
    size_t n = 0;

    n += (size_t)snprintf(sql + n, len - n, "%s%s", head, where);
    if (nsensors) {
        n += (size_t)snprintf(sql + n, len - n, "%s", in);
        for (size_t i = 0; i < nsensors; i++)
            n += (size_t)snprintf(sql + n, len - n, "%s?%zu", i ? "," : "",
                                  i + 3);
        n += (size_t)snprintf(sql + n, len - n, ")");
    }
    snprintf(sql + n, len - n, "%s", tail);
    return sql;
}

/* store_export() and store_export_seqs(): [from, to) in time, or
 * from <= seq <= to. */
static int64_t
store_export_by(struct store *s, bool by_seq, int64_t from, int64_t to,
                const char *const *sensors, size_t nsensors,
                int (*fn)(const struct store_export_row *, void *), void *arg)
{
    char *sql = NULL;
    sqlite3_stmt *st = NULL;
    int64_t rows = 0;
    int rc;

    if (nsensors + 2 >
        (size_t)sqlite3_limit(s->db, SQLITE_LIMIT_VARIABLE_NUMBER, -1))
        return store_errorf(s, "cannot export: %zu sensors are too many",
                            nsensors);
    /* One read transaction: one snapshot, whatever the daemon commits
     * while the rows stream out. */
    if (store_run(s, STMT_BEGIN_READ, "cannot export") < 0 ||
        store_follow_upgrade(s) < 0)
        goto fail;
    sql = store_export_sql(nsensors, s->version, by_seq);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        store_fail(s, "cannot export");
        goto fail;
    }
    sqlite3_bind_int64(st, 1, from);
    sqlite3_bind_int64(st, 2, to);
    for (size_t i = 0; i < nsensors; i++)
        sqlite3_bind_text(st, (int)i + 3, sensors[i], -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_export_row row = {
            .seq = sqlite3_column_int64(st, 0),
            .ts_us = sqlite3_column_int64(st, 1),
            .sensor = store_column_text(st, 2),
            .kind = store_column_text(st, 3),
            .has_value = sqlite3_column_type(st, 4) != SQLITE_NULL,
            .value = sqlite3_column_double(st, 4),
            .unit = store_column_text(st, 5),
            .quality = store_column_text(st, 6),
            .error = store_column_text(st, 7),
            .version = sqlite3_column_int64(st, 8),
        };

        if (fn(&row, arg) != 0) {
            store_errorf(s, "export stopped after %lld rows", (long long)rows);
            goto fail;
        }
        rows++;
    }
    if (rc != SQLITE_DONE) {
        store_fail(s, "cannot export");
        goto fail;
    }
    sqlite3_finalize(st);
    store_rollback(s);
    free(sql);
    return rows;
fail:
    sqlite3_finalize(st);
    store_rollback(s);
    free(sql);
    return -1;
}

int64_t store_export(struct store *s, int64_t from_us, int64_t to_us,
                     const char *const *sensors, size_t nsensors,
                     int (*fn)(const struct store_export_row *, void *),
                     void *arg)
{
    return store_export_by(s, false, from_us, to_us, sensors, nsensors, fn,
                           arg);
}

int64_t store_export_seqs(struct store *s, int64_t first_seq, int64_t last_seq,
                          const char *const *sensors, size_t nsensors,
                          int (*fn)(const struct store_export_row *, void *),
                          void *arg)
{
    return store_export_by(s, true, first_seq, last_seq, sensors, nsensors, fn,
                           arg);
}

/* Per-quality counts of one sensor, found by id. */
struct store_counts {
    int64_t id;
    int64_t n[QUALITY_MISSED + 1]; /* by enum quality */
    int64_t first_ts, last_ts;     /* INT64_MAX, INT64_MIN if none */
};

static int store_counts_cmp(const void *a, const void *b)
{
    int64_t x = ((const struct store_counts *)a)->id;
    int64_t y = ((const struct store_counts *)b)->id;

    return (x > y) - (x < y);
}

/* The quality of a stored name, or -1 if it is none of them. */
static int store_quality_of(const char *q)
{
    static const enum quality all[] = {QUALITY_GOOD, QUALITY_OUT_OF_RANGE,
                                       QUALITY_INVALID, QUALITY_COMM_ERROR,
                                       QUALITY_MISSED};

    for (size_t i = 0; q && i < sizeof(all) / sizeof(all[0]); i++)
        if (strcmp(q, quality_name(all[i])) == 0)
            return (int)all[i];
    return -1;
}

/*
 * Counts the readings of the window per sensor and quality, in one walk
 * of readings_ts: *counts is sorted by id (the caller frees it) and *n
 * its length. Inside the caller's read transaction.
 */
static int store_window_counts(struct store *s, bool by_seq, int64_t from_us,
                               int64_t to_us, struct store_counts **counts,
                               size_t *n)
{
    sqlite3_stmt *ids = s->stmt[STMT_SENSOR_TAGS];
    sqlite3_stmt *st = s->stmt[by_seq ? STMT_SEQ_QUALITY : STMT_WINDOW_QUALITY];
    size_t cap = 0;
    int rc;

    *counts = NULL;
    *n = 0;
    while ((rc = sqlite3_step(ids)) == SQLITE_ROW) {
        xgrow(counts, &cap, *n + 1, sizeof(**counts));
        memset(&(*counts)[*n], 0, sizeof(**counts));
        (*counts)[*n].first_ts = INT64_MAX;
        (*counts)[*n].last_ts = INT64_MIN;
        (*counts)[(*n)++].id = sqlite3_column_int64(ids, 0);
    }
    sqlite3_reset(ids);
    if (rc != SQLITE_DONE)
        return store_fail(s, "cannot read sensors");
    if (*n > 1)
        qsort(*counts, *n, sizeof(**counts), store_counts_cmp);
    sqlite3_bind_int64(st, 1, from_us);
    sqlite3_bind_int64(st, 2, to_us);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_counts key = {sqlite3_column_int64(st, 0), {0}, 0, 0};
        struct store_counts *c =
            *n ? bsearch(&key, *counts, *n, sizeof(key), store_counts_cmp)
               : NULL;
        int q = store_quality_of(store_column_text(st, 1));
        int64_t ts = sqlite3_column_int64(st, 2);

        if (c && q >= 0) {
            c->n[q]++;
            if (ts < c->first_ts)
                c->first_ts = ts;
            if (ts > c->last_ts)
                c->last_ts = ts;
        }
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return store_fail(s, "cannot count readings");
    return 0;
}

/* Whether tag is one of the n given. */
static bool store_tag_listed(const char *tag, const char *const *tags, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(tag, tags[i]) == 0)
            return true;
    return false;
}

/* Returns 1 with a message if a given tag names no sensor, else 0/-1. */
static int store_tags_known(struct store *s, const char *const *tags, size_t n)
{
    sqlite3_stmt *st = s->stmt[STMT_SENSOR_ID];

    for (size_t i = 0; i < n; i++) {
        int rc;

        sqlite3_bind_text(st, 1, tags[i], -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        if (rc == SQLITE_DONE) {
            store_errorf(s, "unknown sensor '%s'", tags[i]);
            return 1;
        }
        if (rc != SQLITE_ROW)
            return store_fail(s, "cannot read sensor '%s'", tags[i]);
    }
    return 0;
}

static int store_sensor_infos_by(
    struct store *s, bool by_seq, int64_t from_us, int64_t to_us,
    const char *const *sensors, size_t nsensors,
    int (*fn)(const struct store_sensor_info *, void *), void *arg)
{
    sqlite3_stmt *st;
    struct store_counts *counts = NULL;
    size_t ncounts = 0;
    int rc, ret;

    if (store_run(s, STMT_BEGIN_READ, "cannot read sensors") < 0)
        return -1;
    if ((ret = store_follow_upgrade(s)) != 0 ||
        (ret = store_tags_known(s, sensors, nsensors)) != 0 ||
        (ret = store_window_counts(s, by_seq, from_us, to_us, &counts,
                                   &ncounts)) != 0)
        goto done;
    st = s->stmt[STMT_SENSOR_INFOS];
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct store_counts key = {sqlite3_column_int64(st, 0), {0}, 0, 0};
        struct store_counts *c =
            ncounts
                ? bsearch(&key, counts, ncounts, sizeof(key), store_counts_cmp)
                : NULL;
        bool any;
        struct store_sensor_info si = {
            .tag = store_column_text(st, 1),
            .kind = store_column_text(st, 2),
            .unit = store_column_text(st, 3),
            .bus = store_column_text(st, 4),
            .unit_id = sqlite3_column_int(st, 5),
            .table = store_column_text(st, 6),
            .address = sqlite3_column_int(st, 7),
            .type = store_column_text(st, 8),
            .byte_order = store_column_text(st, 9),
            .scale = sqlite3_column_double(st, 10),
            .offset = sqlite3_column_double(st, 11),
            .interval_ms = sqlite3_column_int(st, 12),
            .cal_date = store_column_text(st, 13),
            .cal_due = store_column_text(st, 14),
            .cal_certificate = store_column_text(st, 15),
            .version = sqlite3_column_int64(st, 16),
            .has_range_lo = sqlite3_column_type(st, 17) != SQLITE_NULL,
            .range_lo = sqlite3_column_double(st, 17),
            .has_range_hi = sqlite3_column_type(st, 18) != SQLITE_NULL,
            .range_hi = sqlite3_column_double(st, 18),
        };

        if (!si.tag)
            si.tag = "";
        si.newest = sqlite3_column_int(st, 19) != 0;
        if (c) {
            si.good = c->n[QUALITY_GOOD];
            si.out_of_range = c->n[QUALITY_OUT_OF_RANGE];
            si.invalid = c->n[QUALITY_INVALID];
            si.comm_error = c->n[QUALITY_COMM_ERROR];
            si.missed = c->n[QUALITY_MISSED];
            si.has_span = c->first_ts <= c->last_ts;
            si.first_ts_us = si.has_span ? c->first_ts : 0;
            si.last_ts_us = si.has_span ? c->last_ts : 0;
        }
        any =
            si.good + si.out_of_range + si.invalid + si.comm_error + si.missed >
            0;
        if (nsensors ? !store_tag_listed(si.tag, sensors, nsensors) : !any)
            continue;
        if ((ret = fn(&si, arg)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read sensors");
    sqlite3_reset(st);
done:
    store_rollback(s);
    free(counts);
    return ret;
}

int store_sensor_infos(struct store *s, int64_t from_us, int64_t to_us,
                       const char *const *sensors, size_t nsensors,
                       int (*fn)(const struct store_sensor_info *, void *),
                       void *arg)
{
    return store_sensor_infos_by(s, false, from_us, to_us, sensors, nsensors,
                                 fn, arg);
}

int store_sensor_infos_seqs(struct store *s, int64_t first_seq,
                            int64_t last_seq, const char *const *sensors,
                            size_t nsensors,
                            int (*fn)(const struct store_sensor_info *, void *),
                            void *arg)
{
    return store_sensor_infos_by(s, true, first_seq, last_seq, sensors,
                                 nsensors, fn, arg);
}

int store_events(struct store *s, int64_t from_us, int64_t to_us,
                 int (*fn)(int64_t ts_us, const char *kind, const char *detail,
                           void *),
                 void *arg)
{
    sqlite3_stmt *st = s->stmt[STMT_EVENTS];
    int rc, ret = 0;

    sqlite3_bind_int64(st, 1, from_us);
    sqlite3_bind_int64(st, 2, to_us);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if ((ret = fn(sqlite3_column_int64(st, 0), store_column_text(st, 1),
                      store_column_text(st, 2), arg)) != 0)
            break;
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read events");
    sqlite3_reset(st);
    return ret;
}

/* --- configurations (issue 11) --------------------------------------- */

int store_config_at(struct store *s, int64_t at_us, int64_t *id)
{
    sqlite3_stmt *st = NULL;
    int rc, ret = -1;

    *id = 0;
    if (store_run(s, STMT_BEGIN_READ, "cannot read configurations") < 0)
        return -1;
    if (store_follow_upgrade(s) < 0)
        goto done;
    if (s->version < 4) {
        ret = 1;
        goto done;
    }
    if (sqlite3_prepare_v2(s->db,
                           "SELECT id FROM configs WHERE ts_us <= ?1"
                           " ORDER BY ts_us DESC, id DESC LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK) {
        store_fail(s, "cannot read configurations");
        goto done;
    }
    sqlite3_bind_int64(st, 1, at_us);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *id = sqlite3_column_int64(st, 0);
        ret = 0;
    } else if (rc == SQLITE_DONE) {
        ret = 1;
    } else {
        store_fail(s, "cannot read configurations");
    }
done:
    sqlite3_finalize(st);
    store_rollback(s);
    return ret;
}

int store_config_files(struct store *s, int64_t id,
                       int (*fn)(const struct store_config_file *, void *),
                       void *arg)
{
    sqlite3_stmt *st = NULL;
    int rc, ret = 0;

    if (store_run(s, STMT_BEGIN_READ, "cannot read configurations") < 0)
        return -1;
    if (store_follow_upgrade(s) < 0 ||
        sqlite3_prepare_v2(s->db,
                           "SELECT c.id, c.ts_us, f.idx, f.name, f.bytes"
                           " FROM configs AS c JOIN config_files AS f"
                           " ON f.config_id = c.id WHERE c.id = ?1"
                           " ORDER BY f.idx",
                           -1, &st, NULL) != SQLITE_OK) {
        ret = store_fail(s, "cannot read configurations");
        goto done;
    }
    sqlite3_bind_int64(st, 1, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *bytes = sqlite3_column_blob(st, 4);
        struct store_config_file f = {
            .config_id = sqlite3_column_int64(st, 0),
            .ts_us = sqlite3_column_int64(st, 1),
            .idx = sqlite3_column_int(st, 2),
            .name = store_column_text(st, 3),
            .bytes = bytes ? bytes : "",
            .len = (size_t)sqlite3_column_bytes(st, 4),
        };

        if (!f.name)
            f.name = "";
        sha256_hex(f.bytes, f.len, f.sha256);
        if ((ret = fn(&f, arg)) != 0)
            break;
    }
    if (ret == 0 && rc != SQLITE_DONE)
        ret = store_fail(s, "cannot read configurations");
done:
    sqlite3_finalize(st);
    store_rollback(s);
    return ret;
}

/* --- meta ------------------------------------------------------------ */

/* The meta key of the site. */
#define STORE_META_SITE "site"

const char *store_site(struct store *s)
{
    sqlite3_stmt *st = s->stmt[STMT_GET_META];
    int rc;

    free(s->site);
    s->site = NULL;
    sqlite3_bind_text(st, 1, STORE_META_SITE, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        s->site = xstrdup(store_column_text(st, 0));
    else if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        store_fail(s, "cannot read the site");
    sqlite3_reset(st);
    return s->site;
}

int store_set_site(struct store *s, const char *site)
{
    sqlite3_stmt *st = s->stmt[STMT_SET_META];
    int rc;

    sqlite3_bind_text(st, 1, STORE_META_SITE, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, site, -1, SQLITE_STATIC);
    rc = store_run(s, STMT_SET_META, "cannot record the site");
    sqlite3_clear_bindings(st);
    return rc;
}

/* ---- Chain witness (issue 11) ------------------------------------------ */

int store_chain_at(struct store *s, int64_t seq, char head[SHA256_HEX_LEN],
                   int64_t *batch_last_seq)
{
    /* batches_last_seq: one index lookup. */
    static const char sql[] = "SELECT last_seq, hash FROM batches"
                              " WHERE last_seq >= ?1 ORDER BY last_seq LIMIT 1";
    sqlite3_stmt *st;
    int rc, ret = 1;

    head[0] = '\0';
    *batch_last_seq = 0;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return store_fail(s, "cannot read the chain at seq %lld",
                          (long long)seq);
    sqlite3_bind_int64(st, 1, seq);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *h = (const char *)sqlite3_column_text(st, 1);

        *batch_last_seq = sqlite3_column_int64(st, 0);
        snprintf(head, SHA256_HEX_LEN, "%s", h ? h : "");
        ret = 0;
    } else if (rc != SQLITE_DONE) {
        ret =
            store_fail(s, "cannot read the chain at seq %lld", (long long)seq);
    }
    sqlite3_finalize(st);
    return ret;
}
