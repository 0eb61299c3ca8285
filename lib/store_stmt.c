// SPDX-License-Identifier: MIT
/*
 * The SQL of every prepared statement a store keeps (enum store_stmt), the
 * variants a file of an older schema version runs when it is read as it
 * is, and preparing them: at open, and again when a daemon has upgraded
 * the file under a reader.
 */
#include "lib/store_private.h"

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
#define STORE_COMM_ERROR_RECENT STORE_COMM_ERROR_COUNT("ts_us >= ?1 AND")
#define STORE_COMM_ERROR_TOTAL STORE_COMM_ERROR_COUNT("")
/* The readings of bus b.bus, as sensor_last counts them. */
#define STORE_BUS_READINGS                                                     \
    "(SELECT coalesce(sum(l.count), 0) FROM sensor_last AS l"                  \
    "  JOIN sensors AS x ON x.id = l.sensor_id WHERE x.bus = b.bus)"
#define STORE_STATUS_BUSES_SQL(missed_recent, missed_total)                    \
    "SELECT b.bus, " STORE_COMM_ERROR_RECENT ", " STORE_COMM_ERROR_TOTAL       \
    ", " STORE_BUS_READINGS ", " missed_recent ", " missed_total               \
    " FROM (SELECT DISTINCT bus FROM sensors) AS b ORDER BY b.bus"

/* The columns of a run, in the order store_run_rows() reads them (seqs:
 * "first_seq, last_seq, exact, start_edge_seq, stop_edge_seq"; NULL for
 * the columns a file of an older version lacks). */
#define STORE_RUN_COLUMNS_OF(seqs)                                             \
    "SELECT id, name, started_us, ended_us, operator, note, config_sha256,"    \
    " chain_head, chain_seq, " seqs " FROM runs"
#define STORE_RUN_COLUMNS                                                      \
    STORE_RUN_COLUMNS_OF(                                                      \
        "first_seq, last_seq, exact, start_edge_seq, stop_edge_seq")
#define STORE_RUN_COLUMNS_V4                                                   \
    STORE_RUN_COLUMNS_OF("first_seq, last_seq, NULL, NULL, NULL")
#define STORE_RUN_COLUMNS_V1                                                   \
    STORE_RUN_COLUMNS_OF("NULL, NULL, NULL, NULL, NULL")

/* The runs that can hold a reading of the page of ?2 readings after seq
 * ?1 (cand: their columns, candidates: the rule), newest start first;
 * store_readings_after() tells which holds each reading (struct
 * store_run: membership). */
#define STORE_PAGE_RUNS_OF(cols, candidates)                                   \
    cols " WHERE " candidates " ORDER BY started_us DESC, id DESC"
/* The earliest time of that page of readings. */
#define STORE_PAGE_MIN_TS                                                      \
    "(SELECT min(ts_us) FROM (SELECT ts_us FROM readings WHERE seq > ?1"       \
    " ORDER BY seq LIMIT ?2))"
/* The runs that can hold a reading of the page: open, or ended after its
 * earliest time (by time), or after its first seq (by seq). A superset of
 * the members, found once per page: the runs of a long-lived database
 * are many (a few a day for years), and the member test per reading and
 * run made a page of 10,000 readings take 3 s with 1,000 runs. */
#define STORE_RUN_CANDIDATES                                                   \
    "CASE WHEN first_seq IS NULL THEN ended_us IS NULL OR ended_us "           \
    "> " STORE_PAGE_MIN_TS " ELSE ended_us IS NULL OR last_seq IS NULL"        \
    " OR last_seq > ?1 END"
#define STORE_RUN_CANDIDATES_V1                                                \
    "ended_us IS NULL OR ended_us > " STORE_PAGE_MIN_TS

/* A range of seqs ?1..?2 whose times are ?3 <= ts (but past seq ?5) and
 * ts < ?4 (but up to seq ?6): struct store_scope. */
#define STORE_IN_SCOPE                                                         \
    "seq BETWEEN ?1 AND ?2 AND (+ts_us >= ?3 OR seq > ?5)"                     \
    " AND (+ts_us < ?4 OR seq <= ?6)"
/* Ends run ?1 at ?2, ?3 the last seq given before it (0: none, or by
 * time); last_seq: NULL if no_last (a run by time, or an exact run, whose
 * last seq is drawn later), else ?3, at least first_seq - 1 (an empty
 * run), the last seq stored if 0; then edge (an exact run's stop edge). */
#define STORE_RUN_END_OF(no_last, edge)                                        \
    "UPDATE runs SET ended_us = ?2, last_seq = CASE WHEN " no_last             \
    " THEN NULL ELSE max(first_seq - 1, coalesce(nullif(?3, 0),"               \
    " (SELECT coalesce(max(seq), 0) FROM readings))) END" edge                 \
    " WHERE id = ?1"

/* A description version's canonical columns (store_canon_desc()), then
 * its bit (the column, or NULL before version 5). */
#define STORE_SENSOR_DESC_OF(bit)                                              \
    "SELECT id, tag, version, chain_seq, " STORE_SENSORS_DESC_LIST ", " bit    \
    " FROM sensors WHERE id = ?1"

/* The rows of STMT_INSERT_READINGS. */
#define STORE_ROW "(?, ?, ?, ?, ?, ?)"
#define STORE_ROWS_4 STORE_ROW ", " STORE_ROW ", " STORE_ROW ", " STORE_ROW
#define STORE_ROWS_16                                                          \
    STORE_ROWS_4 ", " STORE_ROWS_4 ", " STORE_ROWS_4 ", " STORE_ROWS_4
_Static_assert(STORE_INSERT_ROWS == 16, "STORE_ROWS_16 has 16 rows");
/* The rows of STMT_SENSOR_LASTS, and what both sensor_last statements do
 * with a sensor that has its row already. */
#define STORE_LAST "(?, ?, ?)"
#define STORE_LASTS_4 STORE_LAST ", " STORE_LAST ", " STORE_LAST ", " STORE_LAST
#define STORE_LASTS_16                                                         \
    STORE_LASTS_4 ", " STORE_LASTS_4 ", " STORE_LASTS_4 ", " STORE_LASTS_4
#define STORE_LAST_UPSERT                                                      \
    " ON CONFLICT(sensor_id) DO UPDATE SET"                                    \
    " last_seq = excluded.last_seq, count = count + excluded.count"

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
    /* STORE_INSERT_ROWS of them, parameters 6k+1..6k+6 for row k. */
    [STMT_INSERT_READINGS] =
        "INSERT INTO readings (sensor_id, ts_us, value, quality, error, raw)"
        " VALUES " STORE_ROWS_16,
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
        " AND bit IS ?18 AND chain_seq IS NOT 0",
    [STMT_INSERT_SENSOR] =
        "INSERT INTO sensors (tag, version, " STORE_SENSORS_DESC_LIST ", bit)"
        " VALUES (?1, (SELECT coalesce(max(version), 0) + 1 FROM sensors"
        " WHERE tag = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
        " ?13, ?14, ?15, ?16, ?17, ?18)",
    [STMT_SENSOR_CHAIN] = "SELECT chain_seq FROM sensors WHERE id = ?1",
    [STMT_SENSOR_COVER] = "UPDATE sensors SET chain_seq = ?2"
                          " WHERE id = ?1 AND chain_seq IS NULL",
    /* A description's canonical fields, in order (README), and its bit. */
    [STMT_SENSOR_DESC] = STORE_SENSOR_DESC_OF("bit"),
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
    [STMT_SENSOR_LAST] = "INSERT INTO sensor_last (sensor_id, last_seq, count)"
                         " VALUES (?1, ?2, ?3)" STORE_LAST_UPSERT,
    /* STORE_INSERT_ROWS sensors at once (parameters 3k+1..3k+3), as the
     * readings are inserted; a batch touches each sensor once. */
    [STMT_SENSOR_LASTS] = "INSERT INTO sensor_last (sensor_id, last_seq, count)"
                          " VALUES " STORE_LASTS_16 STORE_LAST_UPSERT,
    [STMT_GET_STATE] = "SELECT value FROM state WHERE key = ?1",
    [STMT_SET_STATE] = "INSERT INTO state (key, value) VALUES (?1, ?2)"
                       " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    /* A page of the record in seq order: a range scan of the primary key.
     * Each reading's description is its sensor's STMT_SENSOR_SHOWN
     * (cached by id), its run told in C (store_page_run()) among the
     * page's STMT_PAGE_RUNS. */
    [STMT_READINGS_AFTER] =
        "SELECT seq, sensor_id, ts_us, value, quality, error FROM readings"
        " WHERE seq > ?1 ORDER BY seq LIMIT ?2",
    [STMT_SENSOR_SHOWN] =
        "SELECT tag, kind, unit, bus, unit_id, type FROM sensors WHERE id = ?1",
    [STMT_PAGE_RUNS] =
        STORE_PAGE_RUNS_OF(STORE_RUN_COLUMNS, STORE_RUN_CANDIDATES),
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
    /* A run with a seq range: a range of the primary key, its times
     * ?3 <= ts < ?4 checked on the rows (+: not by readings_ts). */
    [STMT_RUN_COUNT_SEQ] =
        "SELECT count(*) FROM readings WHERE " STORE_IN_SCOPE,
    [STMT_RUN_SEQS_SEQ] =
        "SELECT min(seq), max(seq) FROM readings WHERE " STORE_IN_SCOPE,
    [STMT_SEQ_QUALITY] = "SELECT sensor_id, quality, ts_us FROM readings"
                         " WHERE " STORE_IN_SCOPE,
    /* A run with a first seq is exact. */
    [STMT_RUN_INSERT] = "INSERT INTO runs (name, started_us, operator, note,"
                        " config_sha256, first_seq, exact)"
                        " VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
                        " CASE WHEN ?6 IS NULL THEN NULL ELSE 1 END)",
    [STMT_RUN_END] =
        STORE_RUN_END_OF("first_seq IS NULL OR exact IS NOT NULL",
                         ", stop_edge_seq = CASE WHEN exact IS NULL THEN NULL"
                         " ELSE max(first_seq - 1, ?3) END"),
    /* An exact run's start edge, and if it ended its last seq: each at
     * least first_seq - 1 (an empty run), each drawn once. */
    [STMT_RUNS_SETTLE] =
        "UPDATE runs SET start_edge_seq = coalesce(start_edge_seq,"
        " max(first_seq - 1, ?1)), last_seq = CASE WHEN ended_us IS NULL"
        " THEN NULL ELSE coalesce(last_seq, max(first_seq - 1, ?1)) END"
        " WHERE exact IS NOT NULL AND (start_edge_seq IS NULL OR"
        " (ended_us IS NOT NULL AND last_seq IS NULL))",
    /* An exact run once its last seq is drawn. */
    [STMT_RUNS_UNSEALED] =
        "SELECT id, first_seq, last_seq FROM runs WHERE ended_us IS NOT NULL"
        " AND chain_head IS NULL AND (exact IS NULL OR last_seq IS NOT NULL)"
        " ORDER BY started_us, id",
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
        " WHERE x.tag = sensors.tag), bit FROM sensors ORDER BY tag, version",
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
    if (version >= 5)
        return store_sql[i];
    /* version 4: runs without exact, all of them by seq (or by time);
     * sensors without bit (the writer's statements on descriptions never
     * run on a file it has not upgraded: a statement that prepares stands
     * in for them) */
    if (version == 4) {
        switch (i) {
        case STMT_SENSOR_SAME:
        case STMT_INSERT_SENSOR:
            return "SELECT NULL";
        case STMT_SENSOR_DESC:
            return STORE_SENSOR_DESC_OF("NULL");
        case STMT_SENSOR_INFOS:
            return "SELECT id, tag, kind, unit, bus, unit_id, reg_table,"
                   " address, type, byte_order, scale, \"offset\","
                   " interval_ms, cal_date, cal_due, cal_certificate, version,"
                   " range_lo, range_hi, version = (SELECT max(version)"
                   " FROM sensors AS x WHERE x.tag = sensors.tag), NULL"
                   " FROM sensors ORDER BY tag, version";
        case STMT_RUNS:
            return STORE_RUN_COLUMNS_V4 " ORDER BY started_us, id";
        case STMT_RUN_BY_NAME:
            return STORE_RUN_COLUMNS_V4 " WHERE name = ?1";
        case STMT_RUN_BY_ID:
            return STORE_RUN_COLUMNS_V4 " WHERE id = ?1";
        case STMT_RUN_OPEN:
            return STORE_RUN_COLUMNS_V4 " WHERE ended_us IS NULL"
                                        " ORDER BY started_us DESC LIMIT 1";
        case STMT_PAGE_RUNS:
            return STORE_PAGE_RUNS_OF(STORE_RUN_COLUMNS_V4,
                                      STORE_RUN_CANDIDATES);
        case STMT_RUN_INSERT:
            return "INSERT INTO runs (name, started_us, operator, note,"
                   " config_sha256, first_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
        case STMT_RUN_END:
            return STORE_RUN_END_OF("first_seq IS NULL", "");
        case STMT_RUNS_SETTLE:
            return "SELECT NULL WHERE ?1 IS NULL";
        case STMT_RUNS_UNSEALED:
            return "SELECT id, first_seq, last_seq FROM runs"
                   " WHERE ended_us IS NOT NULL AND chain_head IS NULL"
                   " ORDER BY started_us, id";
        default:
            return store_sql[i];
        }
    }
    switch (i) {
    case STMT_STATUS_SENSORS:
        return "SELECT s.tag, s.kind, s.unit, s.bus, r.seq, r.ts_us, r.value,"
               " r.quality, r.error, l.last_seq FROM sensors AS s"
               " LEFT JOIN sensor_last AS l ON l.sensor_id = s.id"
               " LEFT JOIN readings AS r ON r.seq = l.last_seq ORDER BY s.tag";
    case STMT_SENSOR_INFOS:
        return "SELECT id, tag, kind, unit, bus, unit_id, reg_table, address,"
               " type, byte_order, scale, \"offset\", interval_ms, cal_date,"
               " cal_due, cal_certificate, 1, range_lo, range_hi, 1, NULL"
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
    case STMT_PAGE_RUNS:
        return STORE_PAGE_RUNS_OF(STORE_RUN_COLUMNS_V1,
                                  STORE_RUN_CANDIDATES_V1);
    case STMT_RUN_INSERT:
        return "INSERT INTO runs (name, started_us, operator, note,"
               " config_sha256) SELECT ?1, ?2, ?3, ?4, ?5 WHERE ?6 IS NULL";
    case STMT_RUN_END:
        return "UPDATE runs SET ended_us = ?2 WHERE id = ?1"
               " AND ?3 IS NOT NULL";
    case STMT_RUNS_SETTLE:
        return "SELECT NULL WHERE ?1 IS NULL";
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
int store_prepare(struct store *s, int64_t version)
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
int store_follow_upgrade(struct store *s)
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
