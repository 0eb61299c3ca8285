// SPDX-License-Identifier: MIT
/*
 * The read snapshot (store_snapshot_begin() in lib/store.h): one read
 * transaction that several reads run inside, so that a command reading
 * several tables, or the same window twice, sees the database as it was
 * at one instant while the daemon commits.
 *
 * SQLite in WAL mode gives each read transaction the database as of its
 * first read, and keeps it until the transaction ends, without blocking
 * the writer. The read functions that open a transaction of their own to
 * read consistently (store_read_begin() callers) join the snapshot
 * instead of beginning again; those that read with a single statement are
 * inside it anyway. While a snapshot is open, store_rollback() leaves it
 * alone: only store_snapshot_end() ends it.
 */
#include "lib/store_private.h"

/* Makes the connection refuse to write, or write again (PRAGMA
 * query_only): it refuses for the length of a snapshot, so that a write
 * function called inside it fails instead of adding its write to a
 * transaction that is rolled back at the end. */
static int store_query_only(struct store *s, bool on)
{
    if (sqlite3_exec(s->db,
                     on ? "PRAGMA query_only = 1" : "PRAGMA query_only = 0",
                     NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    return 0;
}

int store_snapshot_begin(struct store *s)
{
    int64_t version;

    if (s->snapshot)
        return store_errorf(s, "cannot begin a snapshot: one is already open");
    if (store_query_only(s, true) < 0)
        return store_fail(s, "cannot begin a snapshot");
    if (store_step(s, STMT_BEGIN_READ, "cannot begin a snapshot") < 0)
        goto fail;
    /* BEGIN defers: the first read fixes what the transaction sees. Read
     * now, so that nothing committed after this call is seen. */
    if (store_query_int(s, "PRAGMA schema_version", &version) < 0) {
        store_fail(s, "cannot begin a snapshot");
        store_rollback(s);
        goto fail;
    }
    s->snapshot = true;
    return 0;
fail:
    store_query_only(s, false);
    return -1;
}

int store_snapshot_end(struct store *s)
{
    /* An error that SQLite answers with a rollback (a full disk, an I/O
     * error, out of memory) ends the transaction early: what was read
     * after it is not known to be of the same snapshot. */
    bool lost;

    if (!s->snapshot)
        return 0;
    lost = sqlite3_get_autocommit(s->db) != 0;
    s->snapshot = false;
    store_rollback(s);
    store_query_only(s, false);
    if (lost)
        return store_errorf(s, "the snapshot ended early: a database error "
                               "rolled its transaction back");
    return 0;
}

int store_read_begin(struct store *s, const char *what)
{
    if (!s->snapshot)
        return store_step(s, STMT_BEGIN_READ, what);
    if (sqlite3_get_autocommit(s->db))
        return store_errorf(s, "%s: the snapshot ended early", what);
    return 0;
}
