// SPDX-License-Identifier: MIT
/*
 * Opening and closing a store, and the helpers every part of the store
 * shares: the error message (store_errorf(), store_fail()), stepping a
 * statement (store_step()), rolling back (those for binding and reading
 * columns are inline, in store_private.h).
 * An open hardens the connection against a hostile file, has the schema
 * checked (and, for a writer, created or upgraded: store_schema.c), sets
 * the writer up (WAL, synchronous=FULL, the files' modes) and prepares
 * every statement (store_stmt.c).
 */
#include "lib/store_private.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hash.h"
#include "common/log.h"
#include "common/util.h"

/* Sets the message to the formatted text; returns -1. */
__attribute__((format(printf, 2, 3))) int store_errorf(struct store *s,
                                                       const char *fmt, ...)
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
__attribute__((format(printf, 2, 3))) int store_fail(struct store *s,
                                                     const char *fmt, ...)
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
int store_step(struct store *s, enum store_stmt id, const char *what)
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

/* Ends a failed transaction, if one is open, but for a snapshot (only
 * store_snapshot_end() ends that); keeps the first message. */
void store_rollback(struct store *s)
{
    if (s->snapshot || sqlite3_get_autocommit(s->db))
        return;
    sqlite3_step(s->stmt[STMT_ROLLBACK]);
    sqlite3_reset(s->stmt[STMT_ROLLBACK]);
}

/* Reads one integer from a single-row query; returns 0 or -1. */
int store_query_int(struct store *s, const char *sql, int64_t *out)
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

void store_no_checkpoints(struct store *s)
{
    sqlite3_wal_autocheckpoint(s->db, 0);
}

void store_keep_wal(struct store *s)
{
    sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
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
    store_shown_clear(s);
    free(s->shown);
    for (size_t i = 0; i < s->page_runs_cap; i++)
        free(s->page_runs[i].name);
    free(s->page_runs);
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
