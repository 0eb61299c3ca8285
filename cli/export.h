/* SPDX-License-Identifier: MIT */
/*
 * `tbdaq export` (SPEC "Export") in its parts, and what they share:
 *
 *   cli/export.c          the command: options, the job, CSV and JSON
 *   cli/export_rows.c     the passes over the store's rows and the row
 *                         writer (CSV, JSON)
 *   cli/export_sensors.c  the manifest's sensors: described from the
 *                         database, counted from the rows
 *   cli/manifest.c        the manifest itself (JSON): run, window, sensors,
 *                         clock, events
 *   cli/export_sink.c     buffered output, hashed and written on a writer
 *                         thread
 *   cli/export_file.c     files written under a temporary name, synced,
 *                         then renamed into place
 *
 * Threads: everything runs on the command's thread, but for the sink's
 * writer (see struct sink). Errors: a function returning int returns 0,
 * or -1 after logging why (log_err), unless it says otherwise. Ownership:
 * the job owns every string it points to, but the request's (argv's); a
 * sink or an outfile owns its buffers and names until released; nobody
 * but an outfile closes a descriptor.
 */
#ifndef TBDAQ_CLI_EXPORT_H
#define TBDAQ_CLI_EXPORT_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/hash.h"
#include "common/util.h"
#include "lib/reading.h"
#include "lib/store.h"

/* The qualities of SPEC "Readings", counted in the order of the manifest,
 * which is enum quality's. */
#define EXPORT_QUALITIES (QUALITY_MISSED + 1)

/*
 * Set by SIGINT, SIGTERM and SIGHUP (export.c catches them): the export
 * stops and cleans up. Read by the row writers, the manifest's events and
 * a write(2) that a signal interrupted.
 */
extern volatile sig_atomic_t export_interrupted;

/* ---- cli/export_sink.c ------------------------------------------------ */

/*
 * Buffered output to a file descriptor, hashed as it is written. Two
 * buffers: the caller fills one while a writer thread hashes and writes
 * the other, so that formatting, SHA-256 and write(2) overlap. Only the
 * writer touches fd and hash until sink_drain(); the fields under "shared"
 * are guarded by mu. The caller touches buf and len only, through
 * sink_reserve() and sink_commit() (or the sink_put* helpers). The sink
 * never closes fd.
 *
 * A write error is kept: from then on the sink discards what it is given,
 * sink_drain() returns -1, and err holds the errno (err is the writer's as
 * last seen: check it after a drain, or per row as export_rows.c does).
 */
struct sink {
    int fd;
    const char *name;    /* for messages */
    char *buf;           /* being filled */
    size_t len, cap;     /* cap: of both buffers */
    struct sha256 *hash; /* NULL: not hashed */
    int err;             /* the writer's first errno, as last seen */
    bool threaded;       /* false: writes happen in sink_flush itself */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* shared */
    char *spare;   /* the idle buffer, or NULL while being written */
    char *pending; /* handed to the writer */
    size_t pending_len;
    bool busy, quit;
    int werr;
};

/* Starts a sink writing to fd (name for messages; it must outlive the
 * sink), hashed if hash. Without a thread (pthread_create failed) it
 * works all the same, one step at a time. Aborts if out of memory. */
void sink_init(struct sink *k, int fd, const char *name, bool hash);
/* Makes room for n more bytes: hands the full buffer to the writer, or
 * grows both buffers for n larger than one. For sink_reserve(). */
void sink_make_room(struct sink *k, size_t n);
/* Writes out everything and waits for it. Returns 0 or -1 (k->err). */
int sink_drain(struct sink *k);
/* sink_drain(), and on failure logs "cannot write 'NAME': REASON". */
int sink_finish(struct sink *k);
/* Stops the writer and frees everything; unwritten data is dropped. A
 * sink that was never started (buf NULL) is left alone. */
void sink_release(struct sink *k);

/* Room for n more bytes at the returned pointer; sink_commit() takes
 * what was written there. */
static inline char *sink_reserve(struct sink *k, size_t n)
{
    if (k->cap - k->len < n)
        sink_make_room(k, n);
    return k->buf + k->len;
}

static inline void sink_commit(struct sink *k, const char *end)
{
    k->len = (size_t)(end - k->buf);
}

void sink_put(struct sink *k, const char *s, size_t n);
void sink_puts(struct sink *k, const char *s);
/* A JSON string, or null. */
void sink_jstr(struct sink *k, const char *s);
void sink_jint(struct sink *k, int64_t v);
void sink_jdouble(struct sink *k, double v);
/* A time as a JSON string in ISO 8601 UTC. */
void sink_jtime(struct sink *k, int64_t us);

/* ---- cli/export_file.c ------------------------------------------------ */

/* A file written under a temporary name, renamed into place when done.
 * Zero it with fd = -1 before use: outfile_release() is then harmless. */
struct outfile {
    char *path;
    char *tmp; /* NULL when there is no temporary file */
    int fd;
};

/* Creates path's temporary file beside it, mode 0666 less the umask. */
int outfile_open(struct outfile *o, const char *path);
/* Syncs and closes the temporary file. */
int outfile_close(struct outfile *o);
/* Renames the temporary file into place. */
int outfile_commit(struct outfile *o);
/* Removes the temporary file, if any, and frees o's contents. */
void outfile_release(struct outfile *o);
/* Makes the renames durable: syncs the directory holding path (errors
 * are ignored: the files are complete either way). */
void outfile_sync_dir(const char *path);

/* ---- the job (cli/export.c) ------------------------------------------- */

/* A version of a sensor's description in the manifest: as described in
 * the database, and counted. */
struct export_sensor {
    char *tag;
    int64_t version;
    bool newest; /* the tag's newest version */
    char *kind, *unit, *bus, *table, *type, *byte_order;
    char *cal_date, *cal_due, *cal_certificate;
    int unit_id, address, interval_ms;
    int bit; /* or -1: the whole value */
    double scale, offset;
    bool has_range_lo, has_range_hi; /* else unbounded: null */
    double range_lo, range_hi;
    bool described;                   /* the fields above came from the
                                         database */
    int64_t counts[EXPORT_QUALITIES]; /* what the manifest says */
    int64_t tally[EXPORT_QUALITIES];  /* what the rows streamed so far
                                         hold */
    int64_t first_us, last_us;        /* the manifest's span (if counted) */
    int64_t tally_first, tally_last;  /* the rows': INT64_MAX, INT64_MIN */
};

struct export_run {
    char *name, *operator_name, *note, *config_sha256, *chain_head;
    int64_t started_us, ended_us;
    bool ended;
    struct store_scope scope; /* its readings (struct store_run) */
};

struct export_job {
    /* the request */
    const char *run_name;
    const char *from_text, *to_text;
    int64_t from_us, to_us;   /* the window [from, to) */
    struct store_scope scope; /* the rows: the run's, or the window's */
    const char **tags;        /* --sensor, deduplicated */
    size_t ntags;
    bool json;
    const char *out_path; /* NULL: stdout */
    /* what the database says */
    bool has_run;
    struct export_run run;
    char *site;                    /* or NULL */
    struct export_sensor *sensors; /* sorted by tag and version; grows as
                                      rows show sensors (without --sensor) */
    size_t nsensors, cap_sensors;
    /* the rows */
    struct sink *sink;
    int64_t rows;
    size_t last_sensor; /* where the previous row's sensor was found */
    bool stopped;       /* a callback stopped the export, and said why */
};

/* A copy of s, or NULL for NULL. Aborts if out of memory. */
static inline char *export_dup(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* ---- cli/export_rows.c ------------------------------------------------ */

/*
 * One pass over the job's rows (its run's seq range, or else its window;
 * its --sensor tags), each given to fn (export_write_row()); e->rows
 * counts them. Inside the export's snapshot, every pass sees the same
 * rows. Returns 0, or -1 after logging why (a database error, or what
 * stopped the writer).
 */
int export_pass(struct export_job *e, struct store *s,
                int (*fn)(const struct reading_row *, void *));

/* The row writer, a store_export() callback with the job as arg: stops
 * when interrupted, tallies the row into its sensor (an unknown quality
 * stops it), and writes the row to e->sink: a JSON object if e->json,
 * after ",\n" but for the first; else a CSV line (SPEC), the header
 * before the first. A failed write stops it. Returns 0 to go on, 1 after
 * logging why it stops. */
int export_write_row(const struct reading_row *r, void *arg);

/* ---- cli/export_sensors.c --------------------------------------------- */

/*
 * Reads the description of the given sensors (--sensor, or else every
 * sensor seen so far; without either, every sensor with readings in the
 * window) from the database, with their counts in the window (the run's
 * seq range) if counts, else in an empty window, which is cheap. Returns
 * 0, or -1 after logging the error ("unknown sensor 'X'").
 */
int export_describe(struct export_job *e, struct store *s, bool counts);
/* Counts a row for its sensor (added if new); logs and returns -1 if its
 * quality is none of SPEC's. */
int export_tally(struct export_job *e, const struct reading_row *r);
/* Makes the streamed rows' tally the manifest's counts. */
void export_take_tally(struct export_job *e);
/* True if the rows streamed are exactly those the counts count. */
bool export_tally_matches(const struct export_job *e);
/* The rows the manifest's counts add up to: of one sensor, of all. */
int64_t export_sensor_rows(const struct export_sensor *o);
int64_t export_counted(const struct export_job *e);
/* Drops from the manifest the versions without rows, but keeps one (the
 * newest) of a --sensor that has none. */
void export_drop_unseen(struct export_job *e);
/* Frees the sensors and their array. */
void export_sensors_release(struct export_job *e);

/* ---- cli/manifest.c --------------------------------------------------- */

/*
 * Writes the manifest (SPEC "Export") of e to k; "file" and "sha256" only
 * if file is not NULL (the CSV's manifest file; JSON embeds it without
 * them). The clock summary and the events are read from s. Returns 0, or
 * -1 after logging a database error or "interrupted".
 */
int manifest_write(struct export_job *e, struct store *s, struct sink *k,
                   const char *file, const char *sha256);

#endif
