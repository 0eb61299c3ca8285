// SPDX-License-Identifier: MIT
/*
 * `tbdaq export`: the readings of a run or a time window as CSV or JSON,
 * with the manifest an auditor needs (SPEC "Export").
 *
 * It streams: rows go from the store's cursor through 1 MiB buffers that
 * a writer thread hashes and writes while the next fills, so memory stays
 * constant however many rows there are. Formatting avoids printf
 * (common/fmt.h).
 *
 * What is exported is fixed when the export starts: the highest seq then
 * committed bounds every pass, so readings the daemon commits meanwhile
 * (a window that reaches into the last commit interval, an open run) are
 * left out, and the manifest's counts are those of the rows exported:
 * CSV tallies them as they stream and writes the manifest after; JSON,
 * whose manifest comes first, takes the database's counts and checks them
 * against the tally (see export_json).
 *
 * With -o FILE nothing is ever left half-written: the data (and the
 * manifest) go to temporary files beside FILE, are synced, and are renamed
 * into place only when complete; any error removes them.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/csv.h"
#include "common/fmt.h"
#include "common/hash.h"
#include "common/jsonw.h"
#include "common/log.h"
#include "common/util.h"
#include "lib/clock_summary.h"
#include "version.h"

/* Bytes gathered before each write(2) and SHA-256 update: large enough
 * that the per-call costs vanish, small enough to be no burden. */
#define EXPORT_BUF_SIZE (1u << 20)
/* The manifest's format name (SPEC). */
#define EXPORT_FORMAT "tbdaq-export-1"
/* The CSV header (SPEC), with its line end. */
#define EXPORT_CSV_HEADER "seq,ts,sensor,kind,value,unit,quality,error\r\n"
/* Suffixes of the files written beside -o FILE. */
#define EXPORT_MANIFEST_SUFFIX ".manifest.json"
#define EXPORT_TMP_SUFFIX ".tmp-XXXXXX"
/* A window that ended this long ago (us) is taken to be complete: the
 * daemon commits within commit_interval_ms (at most a minute). */
#define EXPORT_SETTLED_US (120 * US_PER_S)
/* Room for the fixed parts of one row: punctuation, keys, numbers. */
#define EXPORT_ROW_FIXED 160

/* Set by SIGINT, SIGTERM and SIGHUP: the export stops and cleans up. */
static volatile sig_atomic_t export_interrupted;

/* The qualities of SPEC "Readings", in the order of the manifest. */
enum export_quality {
    Q_GOOD,
    Q_OUT_OF_RANGE,
    Q_INVALID,
    Q_COMM_ERROR,
    Q_MISSED,
    Q_COUNT,
};
static const char *const export_quality_names[Q_COUNT] = {
    "good", "out_of_range", "invalid", "comm_error", "missed",
};

/*
 * Buffered output to a file descriptor, hashed as it is written. Two
 * buffers: the caller fills one while a writer thread hashes and writes
 * the other, so that formatting, SHA-256 and write(2) overlap. Only the
 * writer touches fd and hash until sink_drain(); the fields under "shared"
 * are guarded by mu.
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

/* A file written under a temporary name, renamed into place when done. */
struct outfile {
    char *path;
    char *tmp; /* NULL when there is no temporary file */
    int fd;
};

/* A version of a sensor's description in the manifest: as described in
 * the database, and counted. */
struct export_sensor {
    char *tag;
    int64_t version;
    bool newest; /* the tag's newest version */
    char *kind, *unit, *bus, *table, *type, *byte_order;
    char *cal_date, *cal_due, *cal_certificate;
    int unit_id, address, interval_ms;
    double scale, offset;
    bool has_range_lo, has_range_hi; /* else unbounded: null */
    double range_lo, range_hi;
    bool described;            /* the fields above came from the database */
    int64_t counts[Q_COUNT];   /* what the manifest says */
    int64_t tally[Q_COUNT];    /* what the rows streamed so far hold */
    int64_t first_us, last_us; /* the manifest's span (if counted) */
    int64_t tally_first, tally_last; /* the rows': INT64_MAX, INT64_MIN */
};

struct export_run {
    char *name, *operator_name, *note, *config_sha256, *chain_head;
    int64_t started_us, ended_us;
    bool ended;
    /* A run the daemon started holds first_seq <= seq <= last_seq
     * (INT64_MAX while open), whatever the readings' times; first_seq 0:
     * a run of an older database, held by time. */
    int64_t first_seq, last_seq;
};

struct export_job {
    /* the request */
    const char *run_name;
    const char *from_text, *to_text;
    int64_t from_us, to_us; /* the window [from, to) */
    const char **tags;      /* --sensor, deduplicated */
    size_t ntags;
    bool json;
    const char *out_path; /* NULL: stdout */
    /* what the database says */
    bool has_run;
    struct export_run run;
    char *site; /* or NULL */
    int64_t last_seq;
    struct export_sensor *sensors; /* sorted by tag and version; grows as
                                      rows show sensors (without --sensor) */
    size_t nsensors, cap_sensors;
    /* the rows */
    struct sink *sink;
    bool counting; /* tally the rows into the sensors */
    int64_t rows;
    size_t last_sensor; /* where the previous row's sensor was found */
    bool stopped;       /* a callback stopped the export, and said why */
};

static void export_on_signal(int sig)
{
    (void)sig;
    export_interrupted = 1;
}

/* --- the sink ----------------------------------------------------------- */

/* Hashes and writes n bytes; returns 0 or an errno. */
static int sink_write(int fd, struct sha256 *hash, const char *p, size_t n)
{
    if (hash)
        sha256_update(hash, p, n);
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR && !export_interrupted)
            continue;
        if (w <= 0)
            return w < 0 ? errno : EIO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void *sink_writer(void *arg)
{
    struct sink *k = arg;

    pthread_mutex_lock(&k->mu);
    for (;;) {
        char *p;
        size_t n;
        int err = 0;

        while (!k->busy && !k->quit)
            pthread_cond_wait(&k->cv, &k->mu);
        if (!k->busy)
            break;
        p = k->pending;
        n = k->pending_len;
        pthread_mutex_unlock(&k->mu);
        if (!k->werr) /* after a failure, only discard */
            err = sink_write(k->fd, k->hash, p, n);
        pthread_mutex_lock(&k->mu);
        if (err && !k->werr)
            k->werr = err;
        k->spare = p;
        k->busy = false;
        pthread_cond_broadcast(&k->cv);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

static void sink_init(struct sink *k, int fd, const char *name, bool hash)
{
    memset(k, 0, sizeof(*k));
    k->fd = fd;
    k->name = name;
    k->cap = EXPORT_BUF_SIZE;
    k->buf = xmalloc(k->cap);
    k->spare = xmalloc(k->cap);
    k->hash = hash ? sha256_new() : NULL;
    pthread_mutex_init(&k->mu, NULL);
    pthread_cond_init(&k->cv, NULL);
    /* without a thread, everything still works, one step at a time */
    k->threaded = pthread_create(&k->thread, NULL, sink_writer, k) == 0;
}

/* Waits until the writer is idle; takes over its error. Call with mu. */
static void sink_wait_idle(struct sink *k)
{
    while (k->busy)
        pthread_cond_wait(&k->cv, &k->mu);
    k->err = k->werr;
}

/*
 * Hands the buffer to the writer (waiting for it to finish the previous
 * one) and carries on with the other. Returns 0, or -1 once a write has
 * failed (k->err says why); after that the sink only discards.
 */
static int sink_flush(struct sink *k)
{
    if (!k->threaded) {
        if (!k->werr)
            k->werr = sink_write(k->fd, k->hash, k->buf, k->len);
        k->err = k->werr;
        k->len = 0;
        return k->err ? -1 : 0;
    }
    pthread_mutex_lock(&k->mu);
    sink_wait_idle(k);
    k->pending = k->buf;
    k->pending_len = k->len;
    k->buf = k->spare;
    k->spare = NULL;
    k->busy = true;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    k->len = 0;
    return k->err ? -1 : 0;
}

/* Writes out everything and waits for it. Returns 0 or -1 (k->err). */
static int sink_drain(struct sink *k)
{
    sink_flush(k);
    if (k->threaded) {
        pthread_mutex_lock(&k->mu);
        sink_wait_idle(k);
        pthread_mutex_unlock(&k->mu);
    }
    return k->err ? -1 : 0;
}

/* Drops what is buffered, once the writer is idle (then the caller may
 * move around in fd). */
static void sink_discard(struct sink *k)
{
    if (k->threaded) {
        pthread_mutex_lock(&k->mu);
        sink_wait_idle(k);
        pthread_mutex_unlock(&k->mu);
    }
    k->len = 0;
}

/* Stops the writer and frees everything; unwritten data is dropped. */
static void sink_release(struct sink *k)
{
    char discard[SHA256_HEX_LEN];

    if (!k->buf)
        return;
    if (k->threaded) {
        pthread_mutex_lock(&k->mu);
        sink_wait_idle(k);
        k->quit = true;
        pthread_cond_broadcast(&k->cv);
        pthread_mutex_unlock(&k->mu);
        pthread_join(k->thread, NULL);
    }
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    free(k->buf);
    free(k->spare);
    k->buf = k->spare = NULL;
    if (k->hash)
        sha256_final_hex(k->hash, discard);
    k->hash = NULL;
}

/* Room for n more bytes at the returned pointer; sink_commit() takes
 * what was written there. */
static char *sink_reserve(struct sink *k, size_t n)
{
    if (k->cap - k->len < n) {
        if (n <= k->cap) {
            sink_flush(k);
        } else {
            /* larger than a buffer (a huge string): both buffers grow,
             * the idle one once the writer is done with it */
            sink_drain(k);
            xgrow(&k->buf, &k->cap, n, 1);
            k->spare = xrealloc(k->spare, k->cap);
        }
    }
    return k->buf + k->len;
}

static void sink_commit(struct sink *k, const char *end)
{
    k->len = (size_t)(end - k->buf);
}

static void sink_put(struct sink *k, const char *s, size_t n)
{
    char *p = sink_reserve(k, n);

    memcpy(p, s, n);
    sink_commit(k, p + n);
}

static void sink_puts(struct sink *k, const char *s)
{
    sink_put(k, s, strlen(s));
}

/* A JSON string, or null. */
static void sink_jstr(struct sink *k, const char *s)
{
    char *p = sink_reserve(k, s ? JSONW_STRING_MAX(strlen(s)) : 4);

    sink_commit(k, jsonw_string_or_null(p, s));
}

static void sink_jint(struct sink *k, int64_t v)
{
    char *p = sink_reserve(k, FMT_INT64_LEN);

    sink_commit(k, p + fmt_int64(v, p));
}

static void sink_jdouble(struct sink *k, double v)
{
    char *p = sink_reserve(k, JSONW_DOUBLE_MAX);

    sink_commit(k, jsonw_double(p, v));
}

/* A time as a JSON string in ISO 8601 UTC. */
static void sink_jtime(struct sink *k, int64_t us)
{
    char *p = sink_reserve(k, TIME_ISO_LEN + 2);

    *p++ = '"';
    p += fmt_time_iso(us, p);
    *p++ = '"';
    sink_commit(k, p);
}

/* --- files written atomically ------------------------------------------- */

/* Creates path's temporary file beside it. Logs and returns -1 on error. */
static int outfile_open(struct outfile *o, const char *path)
{
    struct stat st;
    mode_t mask;

    o->path = xstrdup(path);
    o->fd = -1;
    o->tmp = xmalloc(strlen(path) + sizeof(EXPORT_TMP_SUFFIX));
    strcpy(o->tmp, path);
    strcat(o->tmp, EXPORT_TMP_SUFFIX);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        log_err("cannot write '%s': it is a directory", path);
        goto fail;
    }
    if ((o->fd = mkstemp(o->tmp)) < 0) {
        log_err("cannot write '%s': %s", path, strerror(errno));
        goto fail;
    }
    /* mkstemp makes it private; an export is an ordinary file */
    mask = umask(0);
    umask(mask);
    if (fchmod(o->fd, 0666 & ~mask) < 0) {
        log_err("cannot write '%s': %s", path, strerror(errno));
        goto fail;
    }
    return 0;
fail:
    if (o->fd >= 0) {
        close(o->fd);
        unlink(o->tmp);
    }
    o->fd = -1;
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
    return -1;
}

/* Syncs and closes the temporary file. Logs and returns -1 on error. */
static int outfile_close(struct outfile *o)
{
    int rc = fsync(o->fd);

    if (close(o->fd) < 0)
        rc = -1;
    o->fd = -1;
    if (rc < 0)
        log_err("cannot write '%s': %s", o->path, strerror(errno));
    return rc;
}

/* Renames the temporary file into place. Logs and returns -1 on error. */
static int outfile_commit(struct outfile *o)
{
    if (rename(o->tmp, o->path) < 0) {
        log_err("cannot write '%s': %s", o->path, strerror(errno));
        return -1;
    }
    free(o->tmp);
    o->tmp = NULL;
    return 0;
}

/* Removes the temporary file, if any, and frees o. */
static void outfile_release(struct outfile *o)
{
    if (o->fd >= 0)
        close(o->fd);
    if (o->tmp)
        unlink(o->tmp);
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
    o->fd = -1;
}

/* Makes the renames durable: syncs the directory holding path. */
static void outfile_sync_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrdup(path) : xstrdup(".");
    int fd;

    if (slash)
        dir[slash == path ? 1 : slash - path] = '\0';
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

/* --- what the database says --------------------------------------------- */

static char *export_dup(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

static int export_run_fn(const struct store_run *r, void *arg)
{
    struct export_run *run = arg;

    run->name = xstrdup(r->name);
    run->operator_name = export_dup(r->operator_name);
    run->note = export_dup(r->note);
    run->config_sha256 = export_dup(r->config_sha256);
    run->chain_head = export_dup(r->chain_head);
    run->started_us = r->started_us;
    run->ended = r->ended;
    run->ended_us = r->ended_us;
    run->first_seq = r->first_seq;
    run->last_seq = r->ended ? r->last_seq : INT64_MAX;
    return 0;
}

/* Whether the rows are a run's seq range rather than a time window. */
static bool export_by_seq(const struct export_job *e)
{
    return e->has_run && e->run.first_seq > 0;
}

static int export_sensor_cmp(const void *a, const void *b)
{
    const struct export_sensor *x = a, *y = b;
    int c = strcmp(x->tag, y->tag);

    return c ? c : (x->version > y->version) - (x->version < y->version);
}

/* The version of the sensor tagged tag, added (in order) if it is not
 * there yet. */
static struct export_sensor *export_sensor_at(struct export_job *e,
                                              const char *tag, int64_t version)
{
    struct export_sensor key = {.tag = (char *)tag, .version = version}, *o;
    size_t lo = 0, hi = e->nsensors;

    /* rows of one time slot often come in tag order: try the sensor of
     * the previous row and the one after it first */
    for (size_t i = e->last_sensor; i < e->nsensors && i < e->last_sensor + 2;
         i++)
        if (e->sensors[i].version == version &&
            strcmp(e->sensors[i].tag, tag) == 0) {
            e->last_sensor = i;
            return &e->sensors[i];
        }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = export_sensor_cmp(&key, &e->sensors[mid]);

        if (c == 0) {
            e->last_sensor = mid;
            return &e->sensors[mid];
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    xgrow(&e->sensors, &e->cap_sensors, e->nsensors + 1, sizeof(*o));
    memmove(&e->sensors[lo + 1], &e->sensors[lo],
            (e->nsensors - lo) * sizeof(*o));
    e->nsensors++;
    o = &e->sensors[lo];
    memset(o, 0, sizeof(*o));
    o->tag = xstrdup(tag);
    o->version = version;
    o->tally_first = INT64_MAX;
    o->tally_last = INT64_MIN;
    e->last_sensor = lo;
    return o;
}

static int export_sensor_fn(const struct store_sensor_info *in, void *arg)
{
    struct export_job *e = arg;
    struct export_sensor *o = export_sensor_at(e, in->tag, in->version);

    if (o->described)
        return 0;
    o->described = true;
    o->newest = in->newest;
    o->kind = export_dup(in->kind);
    o->unit = export_dup(in->unit);
    o->bus = export_dup(in->bus);
    o->table = export_dup(in->table);
    o->type = export_dup(in->type);
    o->byte_order = export_dup(in->byte_order);
    o->cal_date = export_dup(in->cal_date);
    o->cal_due = export_dup(in->cal_due);
    o->cal_certificate = export_dup(in->cal_certificate);
    o->unit_id = in->unit_id;
    o->address = in->address;
    o->interval_ms = in->interval_ms;
    o->has_range_lo = in->has_range_lo;
    o->has_range_hi = in->has_range_hi;
    o->range_lo = in->range_lo;
    o->range_hi = in->range_hi;
    o->scale = in->scale;
    o->offset = in->offset;
    o->counts[Q_GOOD] = in->good;
    o->counts[Q_OUT_OF_RANGE] = in->out_of_range;
    o->counts[Q_INVALID] = in->invalid;
    o->counts[Q_COMM_ERROR] = in->comm_error;
    o->counts[Q_MISSED] = in->missed;
    o->first_us = in->has_span ? in->first_ts_us : 0;
    o->last_us = in->has_span ? in->last_ts_us : 0;
    return 0;
}

/*
 * Reads the description of the given sensors (--sensor, or else every
 * sensor seen so far; without either, every sensor with readings in the
 * window) from the database, with their counts in the window (the run's
 * seq range) if counts, else in an empty window, which is cheap. Returns
 * 0, or -1 after logging the error ("unknown sensor 'X'").
 */
static int export_describe(struct export_job *e, struct store *s, bool counts)
{
    const char **tags = NULL;
    size_t ntags = e->ntags;
    int rc;

    if (!e->ntags && e->nsensors) {
        tags = xcalloc(e->nsensors, sizeof(*tags));
        ntags = 0;
        for (size_t i = 0; i < e->nsensors; i++)
            if (!ntags || strcmp(tags[ntags - 1], e->sensors[i].tag) != 0)
                tags[ntags++] = e->sensors[i].tag;
    }
    /* export_sensor_fn may move the array, never the tags' strings */
    if (counts && export_by_seq(e))
        rc = store_sensor_infos_seqs(s, e->run.first_seq, e->run.last_seq,
                                     tags ? tags : e->tags, ntags,
                                     export_sensor_fn, e);
    else
        rc = store_sensor_infos(s, e->from_us, counts ? e->to_us : e->from_us,
                                tags ? tags : e->tags, ntags, export_sensor_fn,
                                e);
    if (rc != 0)
        log_err("%s", store_errmsg(s));
    free(tags);
    return rc ? -1 : 0;
}

static void export_sensor_free(struct export_sensor *o)
{
    char **strs[] = {
        &o->tag,     &o->kind,           &o->unit,       &o->bus,
        &o->table,   &o->type,           &o->byte_order, &o->cal_date,
        &o->cal_due, &o->cal_certificate};

    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(*strs[i]);
}

static void export_release(struct export_job *e)
{
    for (size_t i = 0; i < e->nsensors; i++)
        export_sensor_free(&e->sensors[i]);
    free(e->sensors);
    free(e->tags);
    free(e->site);
    free(e->run.name);
    free(e->run.operator_name);
    free(e->run.note);
    free(e->run.config_sha256);
    free(e->run.chain_head);
}

static int64_t export_sensor_rows(const struct export_sensor *o)
{
    int64_t n = 0;

    for (int q = 0; q < Q_COUNT; q++)
        n += o->counts[q];
    return n;
}

/* Whether another version of o's tag (next to it) has rows. */
static bool export_tag_has_rows(const struct export_job *e, size_t i)
{
    for (size_t j = i;
         j-- > 0 && strcmp(e->sensors[j].tag, e->sensors[i].tag) == 0;)
        if (export_sensor_rows(&e->sensors[j]))
            return true;
    for (size_t j = i + 1;
         j < e->nsensors && strcmp(e->sensors[j].tag, e->sensors[i].tag) == 0;
         j++)
        if (export_sensor_rows(&e->sensors[j]))
            return true;
    return false;
}

/* The manifest lists the versions that have rows (the sensors table may
 * have shown one whose readings came after last_seq, or versions of a
 * --sensor outside the window); a --sensor without any row in the window
 * is listed once, with its newest version. */
static void export_drop_unseen(struct export_job *e)
{
    size_t kept = 0;
    bool *keep = xcalloc(e->nsensors ? e->nsensors : 1, sizeof(*keep));

    for (size_t i = 0; i < e->nsensors; i++)
        keep[i] =
            export_sensor_rows(&e->sensors[i]) > 0 ||
            (e->ntags && e->sensors[i].newest && !export_tag_has_rows(e, i));
    for (size_t i = 0; i < e->nsensors; i++) {
        if (keep[i])
            e->sensors[kept++] = e->sensors[i];
        else
            export_sensor_free(&e->sensors[i]);
    }
    e->nsensors = kept;
    free(keep);
}

/* --- rows --------------------------------------------------------------- */

static enum export_quality export_quality(const char *q)
{
    /* the first letters differ: one comparison per row */
    enum export_quality i = q[0] == 'g'   ? Q_GOOD
                            : q[0] == 'o' ? Q_OUT_OF_RANGE
                            : q[0] == 'i' ? Q_INVALID
                            : q[0] == 'm' ? Q_MISSED
                                          : Q_COMM_ERROR;

    return strcmp(q, export_quality_names[i]) == 0 ? i : Q_COUNT;
}

/* Counts a row for its sensor; logs and returns -1 if it fits nowhere. */
static int export_tally(struct export_job *e, const struct store_export_row *r)
{
    enum export_quality q = export_quality(r->quality);
    struct export_sensor *o;

    if (q == Q_COUNT) {
        log_err("reading %lld: unknown quality '%s'", (long long)r->seq,
                r->quality);
        return -1;
    }
    o = export_sensor_at(e, r->sensor, r->version);
    o->tally[q]++;
    if (r->ts_us < o->tally_first)
        o->tally_first = r->ts_us;
    if (r->ts_us > o->tally_last)
        o->tally_last = r->ts_us;
    return 0;
}

/* Makes the streamed rows' tally the manifest's counts. */
static void export_take_tally(struct export_job *e)
{
    for (size_t i = 0; i < e->nsensors; i++) {
        struct export_sensor *o = &e->sensors[i];

        memcpy(o->counts, o->tally, sizeof(o->counts));
        memset(o->tally, 0, sizeof(o->tally));
        o->first_us = o->tally_first <= o->tally_last ? o->tally_first : 0;
        o->last_us = o->tally_first <= o->tally_last ? o->tally_last : 0;
        o->tally_first = INT64_MAX;
        o->tally_last = INT64_MIN;
    }
}

/* The rows the manifest's counts add up to. */
static int64_t export_counted(const struct export_job *e)
{
    int64_t n = 0;

    for (size_t i = 0; i < e->nsensors; i++)
        for (int q = 0; q < Q_COUNT; q++)
            n += e->sensors[i].counts[q];
    return n;
}

/* True if the rows streamed are exactly those the counts count. */
static bool export_tally_matches(const struct export_job *e)
{
    for (size_t i = 0; i < e->nsensors; i++)
        if (memcmp(e->sensors[i].counts, e->sensors[i].tally,
                   sizeof(e->sensors[i].counts)) != 0)
            return false;
    return true;
}

/* What every row callback does first: skip rows committed after the
 * export began, stop when asked to, count. Returns 1 to skip the row, -1
 * to stop, 0 to go on. */
static int export_row_begin(struct export_job *e,
                            const struct store_export_row *r)
{
    if (r->seq > e->last_seq)
        return 1;
    if (export_interrupted) {
        log_err("interrupted");
        e->stopped = true;
        return -1;
    }
    if (e->counting && export_tally(e, r) < 0) {
        e->stopped = true;
        return -1;
    }
    e->rows++;
    return 0;
}

/* A failed write stops the export (the sink discards meanwhile). */
static int export_row_end(struct export_job *e)
{
    if (e->sink->err) {
        log_err("cannot write '%s': %s", e->sink->name, strerror(e->sink->err));
        e->stopped = true;
        return 1;
    }
    return 0;
}

static int export_count_row(const struct store_export_row *r, void *arg)
{
    struct export_job *e = arg;

    return export_row_begin(e, r) < 0;
}

static int export_csv_row(const struct store_export_row *r, void *arg)
{
    struct export_job *e = arg;
    size_t ls = strlen(r->sensor), lk = strlen(r->kind), lu = strlen(r->unit),
           lq = strlen(r->quality), le = r->error ? strlen(r->error) : 0;
    int begin = export_row_begin(e, r);
    char *p;

    if (begin)
        return begin < 0;
    /* The header waits for the first row: no rows, no output. */
    if (e->rows == 1)
        sink_puts(e->sink, EXPORT_CSV_HEADER);
    p = sink_reserve(e->sink, EXPORT_ROW_FIXED + CSV_FIELD_MAX(ls) +
                                  CSV_FIELD_MAX(lk) + CSV_FIELD_MAX(lu) +
                                  CSV_FIELD_MAX(lq) + CSV_FIELD_MAX(le));
    p += fmt_int64(r->seq, p);
    *p++ = ',';
    p += fmt_time_iso(r->ts_us, p);
    *p++ = ',';
    p = csv_field(p, r->sensor, ls);
    *p++ = ',';
    p = csv_field(p, r->kind, lk);
    *p++ = ',';
    if (r->has_value)
        p += fmt_double(r->value, p);
    *p++ = ',';
    p = csv_field(p, r->unit, lu);
    *p++ = ',';
    p = csv_field(p, r->quality, lq);
    *p++ = ',';
    if (r->error)
        p = csv_field(p, r->error, le);
    *p++ = '\r';
    *p++ = '\n';
    sink_commit(e->sink, p);
    return export_row_end(e);
}

/* Appends a literal to p. */
#define EXPORT_PUT(p, lit)                                                     \
    (memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

static int export_json_row(const struct store_export_row *r, void *arg)
{
    struct export_job *e = arg;
    size_t ls = strlen(r->sensor), lk = strlen(r->kind), lu = strlen(r->unit),
           lq = strlen(r->quality), le = r->error ? strlen(r->error) : 0;
    int begin = export_row_begin(e, r);
    char *p;

    if (begin)
        return begin < 0;
    p = sink_reserve(e->sink, EXPORT_ROW_FIXED + JSONW_STRING_MAX(ls) +
                                  JSONW_STRING_MAX(lk) + JSONW_STRING_MAX(lu) +
                                  JSONW_STRING_MAX(lq) + JSONW_STRING_MAX(le));
    if (e->rows > 1)
        p = EXPORT_PUT(p, ",\n");
    p = EXPORT_PUT(p, "{\"seq\":");
    p += fmt_int64(r->seq, p);
    p = EXPORT_PUT(p, ",\"ts\":\"");
    p += fmt_time_iso(r->ts_us, p);
    p = EXPORT_PUT(p, "\",\"ts_us\":");
    p += fmt_int64(r->ts_us, p);
    p = EXPORT_PUT(p, ",\"sensor\":");
    p = jsonw_string(p, r->sensor, ls);
    p = EXPORT_PUT(p, ",\"kind\":");
    p = jsonw_string(p, r->kind, lk);
    p = EXPORT_PUT(p, ",\"value\":");
    if (r->has_value)
        p = jsonw_double(p, r->value);
    else
        p = EXPORT_PUT(p, "null");
    p = EXPORT_PUT(p, ",\"unit\":");
    p = jsonw_string(p, r->unit, lu);
    p = EXPORT_PUT(p, ",\"quality\":");
    p = jsonw_string(p, r->quality, lq);
    p = EXPORT_PUT(p, ",\"error\":");
    if (r->error)
        p = jsonw_string(p, r->error, le);
    else
        p = EXPORT_PUT(p, "null");
    *p++ = '}';
    sink_commit(e->sink, p);
    return export_row_end(e);
}

/* --- the manifest --------------------------------------------------------- */

/* Where store_events' callback writes, and how many it wrote. */
struct export_events {
    struct sink *sink;
    int64_t n;
};

/* The newest `config` event before the window: the config in force. */
struct export_config {
    int64_t ts_us;
    char *detail; /* NULL until one is found */
};

static int export_config_fn(int64_t ts_us, const char *kind, const char *detail,
                            void *arg)
{
    struct export_config *c = arg;

    if (strcmp(kind, "config") == 0 && detail) {
        free(c->detail);
        c->detail = xstrdup(detail);
        c->ts_us = ts_us;
    }
    return 0;
}

static int export_event_fn(int64_t ts_us, const char *kind, const char *detail,
                           void *arg)
{
    struct export_events *ev = arg;
    struct sink *k = ev->sink;

    sink_puts(k, ev->n++ ? ",\n{\"ts\":" : "\n{\"ts\":");
    sink_jtime(k, ts_us);
    sink_puts(k, ",\"kind\":");
    sink_jstr(k, kind);
    sink_puts(k, ",\"detail\":");
    sink_jstr(k, detail);
    sink_puts(k, "}");
    return export_interrupted ? 1 : 0;
}

static void export_manifest_sensor(const struct export_job *e,
                                   const struct export_sensor *o,
                                   struct sink *k)
{
    int64_t due_us, expected = 0;
    char num[32];

    sink_puts(k, "{\"id\":");
    sink_jstr(k, o->tag);
    sink_puts(k, ",\"version\":");
    sink_jint(k, o->version);
    sink_puts(k, ",\"kind\":");
    sink_jstr(k, o->kind);
    sink_puts(k, ",\"unit\":");
    sink_jstr(k, o->unit);
    sink_puts(k, ",\"bus\":");
    sink_jstr(k, o->bus);
    sink_puts(k, ",\"unit_id\":");
    sink_jint(k, o->unit_id);
    sink_puts(k, ",\"table\":");
    sink_jstr(k, o->table);
    sink_puts(k, ",\"address\":");
    sink_jint(k, o->address);
    sink_puts(k, ",\"type\":");
    sink_jstr(k, o->type);
    sink_puts(k, ",\"byte_order\":");
    sink_jstr(k, o->byte_order);
    sink_puts(k, ",\"scale\":");
    sink_jdouble(k, o->scale);
    sink_puts(k, ",\"offset\":");
    sink_jdouble(k, o->offset);
    sink_puts(k, ",\"interval_ms\":");
    sink_jint(k, o->interval_ms);
    sink_puts(k, ",\"calibration\":{\"date\":");
    sink_jstr(k, o->cal_date);
    sink_puts(k, ",\"due\":");
    sink_jstr(k, o->cal_due);
    sink_puts(k, ",\"certificate\":");
    sink_jstr(k, o->cal_certificate);
    /* expired: due before the end of the run (or window); null without
     * a due date (no calibration) */
    sink_puts(k, !o->cal_due ? "},\"calibration_expired\":null"
                 : time_parse_iso(o->cal_due, &due_us) == 0 && due_us < e->to_us
                     ? "},\"calibration_expired\":true"
                     : "},\"calibration_expired\":false");
    /* the range: null for an unbounded side */
    sink_puts(k, ",\"range\":[");
    if (o->has_range_lo)
        sink_jdouble(k, o->range_lo);
    else
        sink_puts(k, "null");
    sink_puts(k, ",");
    if (o->has_range_hi)
        sink_jdouble(k, o->range_hi);
    else
        sink_puts(k, "null");
    /* the instrument's identity: not read from devices yet */
    sink_puts(k, "],\"device\":null");
    /* the span this version was in force within the window: its first
     * and last reading there */
    sink_puts(k, ",\"valid_from\":");
    if (export_sensor_rows(o))
        sink_jtime(k, o->first_us);
    else
        sink_puts(k, "null");
    sink_puts(k, ",\"valid_to\":");
    if (export_sensor_rows(o))
        sink_jtime(k, o->last_us);
    else
        sink_puts(k, "null");
    sink_puts(k, ",\"counts\":{");
    for (int q = 0; q < Q_COUNT; q++) {
        sink_puts(k, q ? ",\"" : "\"");
        sink_puts(k, export_quality_names[q]);
        sink_puts(k, "\":");
        sink_jint(k, o->counts[q]);
    }
    /* slots on the sensor's grid within the window */
    if (o->interval_ms > 0)
        expected = (e->to_us - e->from_us) / (o->interval_ms * INT64_C(1000));
    sink_puts(k, "},\"expected\":");
    sink_jint(k, expected);
    sink_puts(k, ",\"completeness\":");
    if (expected > 0)
        snprintf(num, sizeof(num), "%.3f",
                 (double)o->counts[Q_GOOD] / (double)expected);
    else
        snprintf(num, sizeof(num), "0");
    sink_puts(k, num);
    sink_puts(k, "}");
}

/*
 * Writes the manifest (SPEC "Export") to k; file and sha256 only if file
 * is not NULL (the CSV's manifest file; JSON embeds it without them).
 * Returns 0, or -1 after logging a database error.
 */
/* The newest `clock` event before the window: its detail (or NULL). */
static int export_clock_before_fn(int64_t ts_us, const char *kind,
                                  const char *detail, void *arg)
{
    char **last = arg;

    (void)ts_us;
    if (strcmp(kind, "clock") == 0) {
        free(*last);
        *last = xstrdup(detail ? detail : "");
    }
    return 0;
}

static int export_clock_fn(int64_t ts_us, const char *kind, const char *detail,
                           void *arg)
{
    (void)ts_us;
    clock_summary_add(arg, kind, detail);
    return 0;
}

/*
 * The manifest's "clock" (SPEC Export, Traceable time) from the events:
 * the state in force when the window opens (the newest `clock` event
 * before it), then every `clock` and `clock_step` event inside it, by
 * time. Returns 0, or -1 on a database error.
 */
static int export_clock(const struct export_job *e, struct store *s,
                        struct sink *k)
{
    struct clock_summary cs;
    char *before = NULL;
    int rc;

    clock_summary_init(&cs);
    rc = store_events(s, 0, e->from_us, export_clock_before_fn, &before);
    if (rc == 0 && before)
        clock_summary_add(&cs, "clock", before);
    free(before);
    if (rc == 0)
        rc = store_events(s, e->from_us, e->to_us + 1, export_clock_fn, &cs);
    if (rc != 0)
        return -1;
    sink_puts(k, "{\"synchronized\":");
    sink_puts(k, !cs.known ? "null" : cs.synchronized ? "true" : "false");
    sink_puts(k, ",\"max_error_us\":");
    if (cs.max_error_us >= 0)
        sink_jint(k, cs.max_error_us);
    else
        sink_puts(k, "null");
    sink_puts(k, ",\"steps\":");
    sink_jint(k, (int64_t)cs.steps);
    sink_puts(k, "}");
    return 0;
}

static int export_manifest(struct export_job *e, struct store *s,
                           struct sink *k, const char *file, const char *sha256)
{
    struct export_events ev = {k, 0};
    struct export_config cfg = {0, NULL};
    int rc;

    sink_puts(k, "{\"format\":\"" EXPORT_FORMAT "\"");
    if (file) {
        sink_puts(k, ",\"file\":");
        sink_jstr(k, file);
        sink_puts(k, ",\"sha256\":");
        sink_jstr(k, sha256);
    }
    sink_puts(k, ",\"rows\":");
    sink_jint(k, e->rows);
    sink_puts(k, ",\"site\":");
    sink_jstr(k, e->site);
    if (e->has_run) {
        sink_puts(k, ",\n\"run\":{\"name\":");
        sink_jstr(k, e->run.name);
        sink_puts(k, ",\"started\":");
        sink_jtime(k, e->run.started_us);
        sink_puts(k, ",\"ended\":");
        if (e->run.ended)
            sink_jtime(k, e->run.ended_us);
        else
            sink_puts(k, "null");
        sink_puts(k, ",\"operator\":");
        sink_jstr(k, e->run.operator_name);
        sink_puts(k, ",\"note\":");
        sink_jstr(k, e->run.note);
        sink_puts(k, ",\"config_sha256\":");
        sink_jstr(k, e->run.config_sha256);
        sink_puts(k, ",\"chain_head\":");
        sink_jstr(k, e->run.chain_head);
        sink_puts(k, "}");
    }
    sink_puts(k, ",\n\"window\":{\"from\":");
    sink_jtime(k, e->from_us);
    sink_puts(k, ",\"to\":");
    sink_jtime(k, e->to_us);
    sink_puts(k, "},\n\"sensors\":[");
    for (size_t i = 0; i < e->nsensors; i++) {
        sink_puts(k, i ? ",\n" : "\n");
        export_manifest_sensor(e, &e->sensors[i], k);
    }
    sink_puts(k, "],\n\"clock\":");
    if (export_clock(e, s, k) < 0) {
        log_err("%s", store_errmsg(s));
        return -1;
    }
    sink_puts(k, ",\"exported\":");
    sink_jtime(k, time_real_us());
    sink_puts(k, ",\"tool\":\"tbdaq " TBDAQ_VERSION "\"");
    sink_puts(k, ",\n\"events\":[");
    /* The config in force when the window opens, then the window's own
     * events, the one at its end included (a run's run_stop). */
    rc = store_events(s, 0, e->from_us, export_config_fn, &cfg);
    if (rc == 0 && cfg.detail)
        export_event_fn(cfg.ts_us, "config", cfg.detail, &ev);
    free(cfg.detail);
    if (rc == 0)
        rc = store_events(s, e->from_us, e->to_us + 1, export_event_fn, &ev);
    if (rc < 0)
        log_err("%s", store_errmsg(s));
    else if (rc > 0)
        log_err("interrupted");
    sink_puts(k, "]}");
    return rc ? -1 : 0;
}

/* --- the two formats ---------------------------------------------------- */

/* Logs that the window holds no rows. */
static void export_log_empty(const struct export_job *e)
{
    char from[TIME_ISO_LEN], to[TIME_ISO_LEN];
    const char *which = e->ntags ? " of the given sensors" : "";

    if (e->has_run) {
        log_err("no readings%s in run '%s'", which, e->run_name);
        return;
    }
    fmt_time_iso(e->from_us, from);
    fmt_time_iso(e->to_us, to);
    log_err("no readings%s from %s to %s", which, from, to);
}

/* Runs store_export with fn; logs what went wrong. Returns 0 or -1. */
static int export_pass(struct export_job *e, struct store *s,
                       int (*fn)(const struct store_export_row *, void *))
{
    e->rows = 0;
    e->stopped = false;
    if ((export_by_seq(e)
             ? store_export_seqs(s, e->run.first_seq, e->run.last_seq, e->tags,
                                 e->ntags, fn, e)
             : store_export(s, e->from_us, e->to_us, e->tags, e->ntags, fn,
                            e)) < 0) {
        if (!e->stopped)
            log_err("%s", store_errmsg(s));
        return -1;
    }
    return 0;
}

static int export_csv(struct export_job *e, struct store *s)
{
    struct outfile data = {.fd = -1}, man = {.fd = -1};
    struct sink k = {.fd = -1}, mk = {.fd = -1};
    char sha[SHA256_HEX_LEN], *man_path = NULL;
    const char *base;
    int rc = -1;

    if (e->out_path && outfile_open(&data, e->out_path) < 0)
        return -1;
    sink_init(&k, e->out_path ? data.fd : STDOUT_FILENO,
              e->out_path ? e->out_path : "stdout", e->out_path != NULL);
    e->sink = &k;
    e->counting = true;
    if (export_pass(e, s, export_csv_row) < 0)
        goto fail;
    if (e->rows == 0) {
        export_log_empty(e);
        goto fail;
    }
    if (sink_drain(&k) < 0) {
        log_err("cannot write '%s': %s", k.name, strerror(k.err));
        goto fail;
    }
    if (!e->out_path) {
        rc = 0;
        goto fail;
    }
    sha256_final_hex(k.hash, sha);
    k.hash = NULL;
    if (outfile_close(&data) < 0)
        goto fail;

    /* The manifest: the sensors the rows showed, described (cheaply: an
     * empty window), and counted from the rows. */
    if (!e->ntags && export_describe(e, s, false) < 0)
        goto fail;
    export_take_tally(e);
    export_drop_unseen(e);
    man_path = xmalloc(strlen(e->out_path) + sizeof(EXPORT_MANIFEST_SUFFIX));
    strcpy(man_path, e->out_path);
    strcat(man_path, EXPORT_MANIFEST_SUFFIX);
    if (outfile_open(&man, man_path) < 0)
        goto fail;
    sink_init(&mk, man.fd, man_path, false);
    base = strrchr(e->out_path, '/');
    if (export_manifest(e, s, &mk, base ? base + 1 : e->out_path, sha) < 0)
        goto fail;
    sink_puts(&mk, "\n");
    if (sink_drain(&mk) < 0) {
        log_err("cannot write '%s': %s", man_path, strerror(mk.err));
        goto fail;
    }
    if (outfile_close(&man) < 0 || outfile_commit(&data) < 0)
        goto fail;
    if (outfile_commit(&man) < 0) {
        /* never a data file without its manifest */
        unlink(e->out_path);
        goto fail;
    }
    outfile_sync_dir(e->out_path);
    rc = 0;
fail:
    sink_release(&k);
    if (mk.buf)
        sink_release(&mk);
    outfile_release(&data);
    if (man.path)
        outfile_release(&man);
    free(man_path);
    return rc;
}

/* True if no reading can still be committed into the window: a sealed
 * run, or a window that ended a while ago. */
static bool export_settled(const struct export_job *e)
{
    if (e->has_run)
        return e->run.chain_head != NULL;
    return e->to_us <= time_real_us() - EXPORT_SETTLED_US;
}

/*
 * JSON puts the manifest, with its counts, before the rows. The counts
 * come from the database's per-sensor counts (cheap); the rows are
 * tallied as they stream, and must agree. They can only disagree if
 * readings were committed into the window after the export began; then
 * a file is written again from the tally (the same rows, by the seq
 * bound). Standard output cannot be rewritten, so a window that may still
 * fill is first counted with a pass of its own.
 */
static int export_json(struct export_job *e, struct store *s)
{
    struct outfile data = {.fd = -1};
    struct sink k = {.fd = -1};
    bool counted = !e->out_path && !export_settled(e);
    int rc = -1;

    if (counted) {
        e->counting = true;
        if (export_pass(e, s, export_count_row) < 0)
            return -1;
        export_take_tally(e);
    }
    export_drop_unseen(e);
    if (export_counted(e) == 0) {
        export_log_empty(e);
        return -1;
    }
    if (e->out_path && outfile_open(&data, e->out_path) < 0)
        return -1;
    sink_init(&k, e->out_path ? data.fd : STDOUT_FILENO,
              e->out_path ? e->out_path : "stdout", false);
    e->sink = &k;
    for (int attempt = 0;; attempt++) {
        e->rows = export_counted(e);
        sink_puts(&k, "{\"manifest\":");
        if (export_manifest(e, s, &k, NULL, NULL) < 0)
            goto fail;
        sink_puts(&k, ",\n\"readings\":[\n");
        e->counting = true;
        if (export_pass(e, s, export_json_row) < 0)
            goto fail;
        if (export_tally_matches(e))
            break;
        if (!e->out_path || attempt > 0) {
            log_err("readings were committed into the window during the "
                    "export; export again");
            goto fail;
        }
        /* start the file over, counted from the rows */
        sink_discard(&k);
        if (lseek(data.fd, 0, SEEK_SET) < 0 || ftruncate(data.fd, 0) < 0) {
            log_err("cannot write '%s': %s", e->out_path, strerror(errno));
            goto fail;
        }
        export_take_tally(e);
        export_drop_unseen(e);
        if (export_counted(e) == 0) {
            export_log_empty(e);
            goto fail;
        }
    }
    sink_puts(&k, "\n]}\n");
    if (sink_drain(&k) < 0) {
        log_err("cannot write '%s': %s", k.name, strerror(k.err));
        goto fail;
    }
    if (e->out_path) {
        if (outfile_close(&data) < 0 || outfile_commit(&data) < 0)
            goto fail;
        outfile_sync_dir(e->out_path);
    }
    rc = 0;
fail:
    sink_release(&k);
    outfile_release(&data);
    return rc;
}

/* --- the command ---------------------------------------------------------- */

/* Parses a --from/--to time; logs and returns -1 if it is not one. */
static int export_time(const char *opt, const char *text, int64_t *us)
{
    if (time_parse_iso(text, us) == 0)
        return 0;
    log_err("%s '%s' is not an ISO 8601 time with a zone (e.g. "
            "2026-11-25T09:00:00Z or 2026-11-25T18:00:00+09:00)",
            opt, text);
    return -1;
}

/* Parses the options into e. Returns 0, -1 after printing the help, or
 * CLI_USAGE / CLI_FAIL after logging why. */
static int export_parse(struct export_job *e, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"run", required_argument, NULL, 'r'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"sensor", required_argument, NULL, 's'},
        {"format", required_argument, NULL, 'F'},
        {"output", required_argument, NULL, 'o'},
        CLI_OPTION_HELP,
        {NULL, 0, NULL, 0},
    };
    size_t cap = 0;
    int opt;

    optind = 0;
    while ((opt = cli_getopt(argc, argv, ":o:h", longopts, "export")) != -1) {
        switch (opt) {
        case 'h':
            return -1;
        case 'r':
            e->run_name = optarg;
            break;
        case 'f':
            e->from_text = optarg;
            break;
        case 't':
            e->to_text = optarg;
            break;
        case 's': {
            bool dup = false;

            for (size_t i = 0; i < e->ntags; i++)
                dup |= strcmp(e->tags[i], optarg) == 0;
            if (!dup) {
                xgrow(&e->tags, &cap, e->ntags + 1, sizeof(*e->tags));
                e->tags[e->ntags++] = optarg;
            }
            break;
        }
        case 'F':
            if (strcmp(optarg, "csv") != 0 && strcmp(optarg, "json") != 0) {
                log_err("unknown format '%s' (csv or json)", optarg);
                return CLI_USAGE;
            }
            e->json = strcmp(optarg, "json") == 0;
            break;
        case 'o':
            e->out_path = strcmp(optarg, "-") == 0 ? NULL : optarg;
            break;
        default:
            return CLI_USAGE;
        }
    }
    if (optind < argc) {
        log_err("unexpected argument '%s' (see tbdaq export --help)",
                argv[optind]);
        return CLI_USAGE;
    }
    if (e->run_name && (e->from_text || e->to_text)) {
        log_err("--run and --from/--to exclude each other");
        return CLI_USAGE;
    }
    if (!e->run_name && !e->from_text && !e->to_text) {
        log_err("export needs --run NAME or --from TIME --to TIME");
        return CLI_USAGE;
    }
    if (!e->run_name && (!e->from_text || !e->to_text)) {
        log_err(e->from_text ? "--from needs --to" : "--to needs --from");
        return CLI_USAGE;
    }
    if (e->run_name)
        return 0;
    if (export_time("--from", e->from_text, &e->from_us) < 0 ||
        export_time("--to", e->to_text, &e->to_us) < 0)
        return CLI_USAGE;
    if (e->from_us >= e->to_us) {
        log_err("--from %s is not before --to %s", e->from_text, e->to_text);
        return CLI_FAIL;
    }
    return 0;
}

int export_main(struct cli *cli, int argc, char **argv)
{
    struct export_job e = {0};
    struct sigaction sa;
    struct store *s = NULL;
    const char *site;
    int rc, got;

    if ((rc = export_parse(&e, argc, argv)) != 0) {
        rc = rc < 0 ? CLI_OK : rc;
        goto done;
    }
    rc = CLI_FAIL;
    if (!(s = cli_store(cli, STORE_READ_SNAPSHOT)))
        goto done;
    if (e.run_name) {
        got = store_run_get(s, e.run_name, export_run_fn, &e.run);
        if (got == 1) {
            log_err("unknown run '%s'", e.run_name);
            goto done;
        }
        if (got != 0) {
            log_err("%s", store_errmsg(s));
            goto done;
        }
        e.has_run = true;
        e.from_us = e.run.started_us;
        e.to_us = e.run.ended ? e.run.ended_us : time_real_us();
    }
    /* The bound of every pass: first, so that the sensors read next
     * include every sensor of the rows up to it. */
    if (store_last_seq(s, &e.last_seq) < 0) {
        log_err("%s", store_errmsg(s));
        goto done;
    }
    /* --sensor tags are checked before anything is written; JSON's
     * manifest needs the counts before the rows, CSV's only after. */
    if ((e.ntags || e.json) && export_describe(&e, s, e.json) < 0)
        goto done;
    if ((site = store_site(s)))
        e.site = xstrdup(site);
    else if (cli->config_given && cli_config(cli))
        e.site = xstrdup(cli->config->site);

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = export_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    if ((e.json ? export_json(&e, s) : export_csv(&e, s)) == 0)
        rc = CLI_OK;
done:
    if (s)
        store_close(s);
    export_release(&e);
    return rc;
}
