/* SPDX-License-Identifier: MIT */
/*
 * The store's private header: what the parts of lib/store_*.c share and
 * nothing else includes. lib/store.h is the contract; this is how it is
 * kept. The store is the only module that calls SQLite. Every statement
 * is prepared once at open (store_stmt.c) and reset after each use; a
 * batch of readings is one BEGIN IMMEDIATE transaction, so it is all
 * there or not at all. SQLite's errors become text once, prefixed with
 * what was being done, in the store's message buffer (store_fail()).
 *
 * The parts: store_open.c (open, close, shared helpers), store_schema.c,
 * store_stmt.c, store_canon.c (the canonical form commit and verify
 * share), store_write.c, store_query.c, store_runs.c, store_verify.c,
 * store_blame.c, store_spans.c, store_prune.c, store_export.c,
 * store_report.c, store_snapshot.c.
 *
 * Unless said otherwise a function here returns 0, or -1 with the store's
 * message set; those taking a struct store run on its owner's thread,
 * like every store_*() of store.h.
 */
#ifndef TBDAQ_STORE_PRIVATE_H
#define TBDAQ_STORE_PRIVATE_H

#include <math.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/hash.h"
#include "lib/store.h"

/* The prepared statements a store keeps, by what they do. */
enum store_stmt {
    STMT_BEGIN,
    STMT_BEGIN_READ,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_INSERT_READING,
    STMT_INSERT_READINGS,
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
    STMT_PAGE_RUNS,
    STMT_SENSOR_SHOWN,
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
    STMT_RUNS_SETTLE,
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
    STMT_SENSOR_LASTS,
    STMT_PRUNE_NEXT,
    STMT_PRUNE_SPAN,
    STMT_PRUNE_READINGS,
    STMT_PRUNE_COUNTS,
    STMT_PRUNE_LAST,
    STMT_PRUNE_DELETE,
    STMT_PRUNE_INSERT, /* needs version 2: see store_open() */
    STMT_COUNT
};

/* The readings walked by verify (and by prune's check), in seq order. */
#define STORE_VERIFY_SQL                                                       \
    "SELECT seq, sensor_id, ts_us, value, quality, error, raw FROM readings"   \
    " WHERE seq >= ?1 AND seq <= ?2 ORDER BY seq"

/* Readings inserted by one statement where a batch has that many left:
 * what SQLite does once per statement (the program's start and end,
 * AUTOINCREMENT's sqlite_sequence, the statement journal) is then paid
 * once for so many, a third of an insert's cost. The rest go one by one. */
#define STORE_INSERT_ROWS 16
/* A reading's raw words as hex ("41c8 0000"), NUL included. */
#define STORE_RAW_HEX_MAX (5 * REG_MAX_WORDS)

/* Bytes of a reading's SHA-256 kept in batches.digests: enough to tell
 * which reading of a broken batch changed, not evidence in themselves. */
#define DIGEST_LEN 8
/* Sensor ids below this have their tag cached in an array; ids are small
 * row ids in practice, so the bound only guards against a strange file. */
#define TAG_CACHE_MAX 65536
/* Canonical text hashed in one piece by verify; bounds its memory. */
#define VERIFY_CHUNK (64 * 1024)
/* The hash before the first batch: 64 zeros (store_canon.c). */
extern const char store_zero_hash[SHA256_HEX_LEN];

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

/* A sensor's newest seq and count in the batch being committed. */
struct store_last {
    int64_t seq;
    int64_t count;
    uint64_t batch;
};

/* Sensor ids above this are summed one reading at a time (ids are rowids
 * of the small sensors table; this only bounds the array). */
#define STORE_LAST_MAX_ID 100000

/*
 * A sensor's description as a reading read back shows it
 * (store_readings_after()): one allocation, the strings after the
 * struct. Cached by sensors.id, which from schema 4 on names one
 * description for good: a changed description is a new row (a new id),
 * and a row is never changed but for chain_seq, nor deleted.
 */
struct store_shown {
    int unit_id;
    const char *kind, *unit, *bus, *type;
    char tag[]; /* then kind, unit, bus and type */
};

/* A run that can hold a reading of the page store_readings_after() reads,
 * and which readings it holds. */
struct store_page_run {
    char *name;
    struct store_scope scope;
};

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
    /* State values to write with the next batch (store_stage_state()). */
    struct {
        const char *key;
        int64_t value;
    } staged[STORE_STAGED_MAX];
    size_t nstaged;
    /* Descriptions by sensor id (ids below TAG_CACHE_MAX, or NULL if not
     * read yet), and the one of an id beyond them. */
    struct store_shown **shown;
    size_t nshown;
    struct store_shown *shown_scratch;
    /* The runs that can hold the page being read back, newest start
     * first (store_page_runs()). */
    struct store_page_run *page_runs;
    size_t npage_runs, page_runs_cap;
    bool no_trigger; /* the file lacks the immutability trigger */
    bool busy;       /* the last failure: another connection's lock */
    bool snapshot;   /* a store_snapshot_begin() transaction is open */
};

/* A batch row as verify reads it. */
struct store_batch {
    int64_t id;
    int64_t first_seq;
    int64_t last_seq;
    int64_t n; /* readings, as recorded */
    char prev_hash[SHA256_HEX_LEN];
    char hash[SHA256_HEX_LEN];
};

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

/* The columns of a sensor's description, as a list (the schema, its
 * upgrade and the statements name them alike). */
#define STORE_SENSORS_DESC_LIST                                                \
    "kind, unit, bus, unit_id, reg_table, address, type, byte_order, scale,"   \
    " \"offset\", interval_ms, range_lo, range_hi, cal_date, cal_due,"         \
    " cal_certificate"

/* The walk of store_verify_range(), its cursors and where it is. */
struct store_walk {
    sqlite3_stmt *rd; /* readings from the first seq on */
    bool rd_row;      /* rd is on a row */
    int64_t rd_seq;   /* its seq */
};

/*
 * store_open.c: the helpers every part uses. store_errorf() sets the
 * message; store_fail() sets it followed by ": " and SQLite's last error
 * (and notes whether that was another connection's lock); both return -1.
 * store_step() steps a statement that returns no rows and resets it (0,
 * or -1 with store_fail()'s message prefixed with what). store_rollback()
 * ends a transaction, if one is open and is not a snapshot, keeping the
 * first message.
 * store_query_int() reads one integer from a one-row query (0 or -1,
 * message not set). The bind and column helpers after them are inline:
 * they run for every reading and row.
 */
__attribute__((format(printf, 2, 3))) int store_errorf(struct store *s,
                                                       const char *fmt, ...);
__attribute__((format(printf, 2, 3))) int store_fail(struct store *s,
                                                     const char *fmt, ...);
int store_step(struct store *s, enum store_stmt id, const char *what);

/*
 * A scope (store.h) as the statements take it: by seq (a range of the
 * primary key, ?1..?2, times ?3 <= ts < ?4 checked on its rows but past
 * seq ?5 and up to seq ?6) when it bounds the seqs, else by time (?1 <=
 * ts < ?2, along readings_ts).
 * store_bind_scope() binds st, a statement of the kind the scope asks
 * for (STORE_IN_SCOPE, or a window's).
 */
bool store_scope_by_seq(const struct store_scope *sp);
void store_bind_scope(sqlite3_stmt *st, const struct store_scope *sp);
void store_rollback(struct store *s);
int store_query_int(struct store *s, const char *sql, int64_t *out);

/* Binds text, or NULL for a NULL pointer. The text must outlive the
 * statement's next step. */
static inline int store_bind_text(sqlite3_stmt *st, int i, const char *text)
{
    if (!text)
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_text(st, i, text, -1, SQLITE_STATIC);
}

/* Binds a double, or NULL for a non-finite one (SQLite has no NaN, and an
 * infinite range bound means "unbounded"). */
static inline int store_bind_finite(sqlite3_stmt *st, int i, double v)
{
    if (!isfinite(v))
        return sqlite3_bind_null(st, i);
    return sqlite3_bind_double(st, i, v);
}

/* sqlite3_column_text() as char. */
static inline const char *store_column_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* store_export.c: the sensor description of STMT_SENSOR_INFOS's current
 * row (the export's and the report's), its strings the statement's. */
struct store_sensor_info;
void store_sensor_info_row(sqlite3_stmt *st, struct store_sensor_info *si);

/*
 * store_snapshot.c: store_read_begin() begins the read transaction of a
 * function that reads more than once and must see one state of the file
 * (prefix of the message: what), or, inside a snapshot, joins it (-1 if
 * the snapshot's transaction has ended early). Such a function ends it
 * with store_rollback(), which leaves a snapshot open.
 */
int store_read_begin(struct store *s, const char *what);

/*
 * store_schema.c: store_check_schema() reads the schema version and
 * refuses a file that is not a tbdaq database this code can use (an empty
 * file is *version 0, accepted only when empty_ok); it reads only.
 * store_upgrade_schema() creates or upgrades the schema and puts back a
 * missing trigger, in one transaction, before any statement is prepared;
 * *version is then STORE_SCHEMA_VERSION.
 */
int store_check_schema(struct store *s, bool empty_ok, int64_t *version);
int store_upgrade_schema(struct store *s, int64_t *version);

/*
 * store_stmt.c: store_prepare() (re)prepares every statement for a file of
 * the given version; store_follow_upgrade(), inside the caller's read
 * transaction, prepares them again if a daemon has upgraded the file since.
 */
int store_prepare(struct store *s, int64_t version);
int store_follow_upgrade(struct store *s);

/*
 * store_canon.c: the tag cache (store_tag()'s *tag is valid until the next
 * call; NULL if no such sensor) and the canonical form. The store_canon_*()
 * append to s->canon (the caller empties it): store_canon_reading() the
 * line of a reading being committed, its digest at s->digests[i];
 * store_canon_row() the line of the reading at st's row (STORE_VERIFY_SQL's
 * columns), returning where it starts or -1; store_canon_desc() and
 * store_canon_config() a description version's and a configuration's
 * text, and its digest if digest is not NULL, returning 1 (nothing
 * appended) if there is no such row. store_digest() writes the first
 * DIGEST_LEN bytes of the SHA-256 of len bytes at p.
 */
void store_tag_put(struct store *s, int64_t id, const char *tag);
int store_tag(struct store *s, int64_t id, const char **tag);
int store_tags_load(struct store *s);
void store_digest(struct store *s, const char *p, size_t len,
                  uint8_t out[DIGEST_LEN]);
/* Whether a reading keeps its error text (comm_error, missed). */
bool store_keeps_error(const struct reading *r);
int store_canon_reading(struct store *s, const struct reading *r,
                        const char *raw, size_t i);
int64_t store_canon_row(struct store *s, sqlite3_stmt *st);
int store_canon_desc(struct store *s, int64_t id, uint8_t *digest);
int store_canon_config(struct store *s, int64_t id, uint8_t *digest);

/*
 * store_write.c: store_chain_last() reads the newest batch's hash and last
 * seq (64 zeros and 0 before any); store_insert_event() inserts an event
 * inside the caller's open transaction (an empty detail is NULL).
 */
int store_chain_last(struct store *s, char head[SHA256_HEX_LEN],
                     int64_t *last_seq);
int store_insert_event(struct store *s, int64_t ts_us, const char *kind,
                       int kind_len, const char *detail, int detail_len);

/*
 * store_runs.c: calls fn for each row of st (a run query, bound) with its
 * reading count, inside the caller's read transaction; returns 0, -1 or
 * fn's first non-zero return; *found counts the rows.
 */
int store_run_rows(struct store *s, sqlite3_stmt *st,
                   int (*fn)(const struct store_run *, void *), void *arg,
                   int *found);

/* store_query.c: forgets every cached description (store_shown). */
void store_shown_clear(struct store *s);

/*
 * store_runs.c, for store_readings_after(): store_scope_holds() is
 * whether the reading of seq taken at ts_us is in sp (STORE_IN_SCOPE's
 * rule, in C). store_page_runs() reads the runs that can hold a reading
 * of the page of limit readings after after_seq into s->page_runs (a
 * superset of those that do: open, or ending after the page's first seq
 * or earliest time), inside the page's read transaction; 0 or -1.
 * store_page_run() is the name of the run holding a reading of that page
 * (the latest started, if several do), or NULL: valid until the next
 * store_page_runs().
 */
bool store_scope_holds(const struct store_scope *sp, int64_t seq,
                       int64_t ts_us);
int store_page_runs(struct store *s, int64_t after_seq, size_t limit);
const char *store_page_run(const struct store *s, int64_t seq, int64_t ts_us);

/*
 * store_verify.c, for blame and prune: store_verify_fail() records the
 * first failure in out and returns 0 (the walk stops); store_hash_column()
 * copies a hash column ("" if NULL or not a hash); store_walk_next() moves
 * the walk's cursor; store_vers_check() is false, with out filled in, if
 * the reading at rd's row is not under the description version in force
 * at its seq; store_verify_batch() hashes batch b again from the walk and
 * sets *bad if a seq is missing or the hash differs.
 */
__attribute__((format(printf, 4, 5))) int
store_verify_fail(struct store_verify_result *out, int64_t batch, int64_t seq,
                  const char *fmt, ...);
void store_hash_column(sqlite3_stmt *st, int i, char buf[SHA256_HEX_LEN]);
int store_walk_next(struct store *s, struct store_walk *w);
bool store_vers_check(struct store *s, sqlite3_stmt *rd,
                      struct store_verify_result *out, int64_t batch);
int store_verify_batch(struct store *s, struct store_walk *w,
                       const struct store_batch *b,
                       struct store_verify_result *out, bool *bad);

/*
 * store_blame.c: store_verify_blame() names what changed in batch b, whose
 * hash came out wrong (0, or -1 on a database error);
 * store_verify_where() fills in the sensor, time and decoded value of the
 * reading at out->bad_seq, leaving them out if it cannot read them.
 */
int store_verify_blame(struct store *s, const struct store_batch *b,
                       struct store_verify_result *out);
void store_verify_where(struct store *s, struct store_verify_result *out);

/*
 * store_spans.c: store_spans_load() reads every run into sp (zeroed first
 * by the caller), inside the caller's read transaction; release it with
 * store_spans_release(). The lookups return whether, or the name of the
 * run (owned by sp; NULL if none) that, covers a batch's seqs or times.
 */
void store_spans_release(struct store_spans *sp);
int store_spans_load(struct store *s, struct store_spans *sp);
bool store_spans_chain_in(const struct store_spans *sp, int64_t first_seq,
                          int64_t last_seq);
const char *store_spans_seq_overlap(const struct store_spans *sp,
                                    int64_t first_seq, int64_t last_seq);
const char *store_spans_overlap(const struct store_spans *sp, int64_t first_ts,
                                int64_t last_ts);

#endif
