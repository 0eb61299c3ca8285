// SPDX-License-Identifier: MIT
/*
 * The store's open against real files: the schema a new file gets, a
 * reopen, files refused (not a database, a newer schema, objects that are
 * not tbdaq's, crafted ones), a read-only open of a missing file, update
 * mode, an auditor's lone copy opened without -wal, and the files' modes.
 * The test looks at the files with SQLite directly, and tampers with
 * them, as an auditor (or a forger) would.
 */
#include "tests/unit/test_store.h"

static void test_open_creates_schema(void **state)
{
    static const char *const objects[] = {
        "table|sensors",
        "table|readings",
        "table|runs",
        "table|events",
        "index|readings_ts",
        "table|sensor_last",
        "trigger|readings_immutable",
        "table|batches",
        "index|batches_last_seq",
        "table|meta",
        "index|events_ts",
        "table|pruned",
        "index|readings_missed",
    };
    char path[TEST_PATH_MAX], sql[TEST_PATH_MAX], row[TEST_ROW_MAX];
    struct store *s;

    (void)state;
    s = open_rw("create.db", path);
    assert_int_equal(access(path, F_OK), 0);
    store_close(s);

    assert_int_equal(raw_int(path, "PRAGMA user_version"),
                     STORE_SCHEMA_VERSION);
    raw_row(path, "PRAGMA journal_mode", row);
    assert_string_equal(row, "wal");
    for (size_t i = 0; i < sizeof(objects) / sizeof(objects[0]); i++) {
        const char *name = strchr(objects[i], '|') + 1;

        snprintf(sql, sizeof(sql),
                 "SELECT type, name FROM sqlite_master WHERE name = '%s'",
                 name);
        raw_row(path, sql, row);
        assert_string_equal(row, objects[i]);
    }
}

static void test_reopen(void **state)
{
    char path[TEST_PATH_MAX], err[STORE_ERR_MAX] = "";
    struct fixture f;
    struct store *s = open_synced("reopen.db", path, &f);
    struct reading r =
        mk_reading(f.sensors[0].db_id, 1000, QUALITY_GOOD, 1.5, "", 0, NULL);
    int64_t first_id = f.sensors[0].db_id;

    (void)state;
    assert_int_equal(store_commit_batch(s, &r, 1, NULL, 0), 0);
    store_close(s);

    /* Again read-write: the schema is left alone, the rows are there. */
    s = store_open(path, STORE_READ_WRITE, err);
    assert_non_null(s);
    fixture_init(&f, 3);
    assert_int_equal(store_sync_sensors(s, &f.c), 0);
    assert_int_equal(f.sensors[0].db_id, first_id);
    store_close(s);

    s = store_open(path, STORE_READ_ONLY, err);
    assert_non_null(s);
    store_close(s);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM readings"), 1);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sensors"), 3);
}

static void test_open_refused(void **state)
{
    static const struct {
        const char *name;
        const char *setup;  /* SQL run on the file first, or NULL */
        const char *bytes;  /* else written to the file as they are */
        const char *before; /* the message: before, the path, after */
        const char *after;
    } cases[] = {
        {"newer.db", "CREATE TABLE sensors (id); PRAGMA user_version = 7", NULL,
         "database '", "' has schema version 7, newer than this tbdaq (6)"},
        {"foreign.db", "CREATE TABLE foo (x); INSERT INTO foo VALUES (1)", NULL,
         "'",
         "' is not a tbdaq database: no tbdaq schema version (user_version "
         "0)"},
        {"text.db", NULL,
         "this is a text file and certainly not an SQLite database\n",
         "cannot open '", "': file is not a database"},
    };
    static const enum store_mode modes[] = {STORE_READ_WRITE, STORE_READ_ONLY};

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[TEST_PATH_MAX], want[TEST_PATH_MAX], row[TEST_ROW_MAX];
        char err[STORE_ERR_MAX];

        path_of(path, cases[i].name);
        if (cases[i].setup) {
            raw_exec(path, cases[i].setup);
        } else {
            FILE *fp = fopen(path, "w");

            assert_non_null(fp);
            fputs(cases[i].bytes, fp);
            fclose(fp);
        }
        snprintf(want, sizeof(want), "%s%s%s", cases[i].before, path,
                 cases[i].after);
        for (size_t m = 0; m < 2; m++) {
            memset(err, 0, sizeof(err));
            assert_null(store_open(path, modes[m], err));
            assert_string_equal(err, want);
        }
        /* Refused means untouched: not even switched to WAL. */
        if (cases[i].setup) {
            raw_row(path, "PRAGMA journal_mode", row);
            assert_string_equal(row, "delete");
        }
    }
}

static void test_open_readonly_missing(void **state)
{
    char path[TEST_PATH_MAX], err[STORE_ERR_MAX] = "";

    (void)state;
    path_of(path, "missing.db");
    assert_null(store_open(path, STORE_READ_ONLY, err));
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "cannot open"));
    assert_int_equal(access(path, F_OK), -1);
}

static void test_open_update(void **state)
{
    char path[TEST_PATH_MAX], want[TEST_ROW_MAX], err[STORE_ERR_MAX] = "";
    struct store *s;
    FILE *fp;

    (void)state;
    path_of(path, "update_missing.db");
    assert_null(store_open(path, STORE_UPDATE, err));
    snprintf(want, sizeof(want), "cannot open '%s': no such database", path);
    assert_string_equal(err, want);
    assert_int_equal(access(path, F_OK), -1);

    /* An empty file is not given a schema. */
    path_of(path, "update_empty.db");
    fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    assert_null(store_open(path, STORE_UPDATE, err));
    snprintf(want, sizeof(want), "'%s' is not a tbdaq database: it is empty",
             path);
    assert_string_equal(err, want);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master"), 0);

    /* A database: read-write. */
    s = open_rw("update.db", path);
    store_close(s);
    s = store_open(path, STORE_UPDATE, err);
    assert_non_null(s);
    assert_int_equal(store_run_start(s, "U-1", NULL, NULL, 1, 0), 0);
    store_close(s);
}

/* A copy of a good database, changed by sql; the open's message. */
static void crafted(const char *name, const char *sql, const char *want)
{
    static const enum store_mode modes[] = {STORE_READ_ONLY, STORE_UPDATE,
                                            STORE_READ_WRITE};
    char src[TEST_PATH_MAX], path[TEST_PATH_MAX], msg[TEST_ROW_MAX];
    char err[STORE_ERR_MAX], before[TEST_ROW_MAX], after[TEST_ROW_MAX];
    char copy[TEST_ROW_MAX];

    path_of(src, "crafted_src.db");
    path_of(path, name);
    if (access(src, F_OK) < 0)
        make_chain_db("crafted_src.db", src);
    snprintf(copy, sizeof(copy), "VACUUM INTO '%s'", path);
    raw_exec(src, copy);
    if (sql)
        raw_exec(path, sql);
    snprintf(msg, sizeof(msg), "'%s' is not a tbdaq database: %s", path, want);
    raw_row(path, "SELECT group_concat(name) FROM sqlite_master", before);
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        memset(err, 0, sizeof(err));
        assert_null(store_open(path, modes[m], err));
        if (strcmp(err, msg) != 0)
            fail_msg("%s: got \"%s\", want \"%s\"", name, err, msg);
    }
    /* refused means untouched */
    raw_row(path, "SELECT group_concat(name) FROM sqlite_master", after);
    assert_string_equal(before, after);
}

/* Files that are not what tbdaq writes are refused at open, naming what
 * differs, before anything else is read or written. */
static void test_open_crafted(void **state)
{
    char path[TEST_PATH_MAX], err[STORE_ERR_MAX];
    struct store_verify_result v;
    struct store *s;

    (void)state;
    crafted("c_view.db",
            "ALTER TABLE readings RENAME TO r0;"
            " CREATE VIEW readings AS SELECT * FROM r0",
            "'readings' is a view, not a table");
    crafted("c_trigger.db",
            "CREATE TRIGGER spy AFTER INSERT ON events BEGIN"
            " SELECT 1; END",
            "unexpected trigger 'spy'");
    crafted("c_column.db", "ALTER TABLE readings DROP COLUMN raw",
            "table 'readings' has no column 'raw'");
    crafted("c_extra.db", "ALTER TABLE runs ADD COLUMN x TEXT",
            "table 'runs' has an unexpected column 'x'");
    crafted("c_generated.db",
            "ALTER TABLE readings ADD COLUMN g GENERATED ALWAYS AS (1)",
            "table 'readings' has a hidden or generated column 'g'");
    crafted("c_index.db",
            "DROP INDEX readings_ts;"
            " CREATE INDEX readings_ts ON readings(ts_us) WHERE seq % 2 = 0",
            "index 'readings_ts' is not defined as tbdaq defines it");
    crafted("c_noindex.db", "DROP INDEX readings_missed",
            "no index 'readings_missed'");
    crafted("c_table.db", "CREATE TABLE extra (x)", "unexpected table 'extra'");
    crafted("c_vtab.db",
            "DROP TABLE meta; CREATE VIRTUAL TABLE meta USING"
            " fts5(key, value)",
            "'meta' is a virtual table");
    crafted("c_version.db", "PRAGMA user_version = 0",
            "no tbdaq schema version (user_version 0)");
    crafted("c_v2.db", "PRAGMA user_version = 2",
            "table 'sensors' has an unexpected column 'version'");

    /* Without the immutability trigger the file is read (verify says
     * what was changed), and the daemon's open puts the trigger back. */
    path_of(path, "c_notrigger.db");
    make_chain_db("c_notrigger.db", path);
    raw_exec(path, "DROP TRIGGER readings_immutable");
    s = open_ro(path);
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    store_close(s);
    s = store_open(path, STORE_READ_WRITE, err);
    assert_non_null(s);
    store_close(s);
    assert_int_equal(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE"
                                   " type = 'trigger'"),
                     1);
}

/* Whether a directory holds exactly the one file name. */
static bool dir_holds_only(const char *dir, const char *name)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    bool only = true;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        n++;
        if (strcmp(e->d_name, name) != 0)
            only = false;
    }
    closedir(d);
    return only && n == 1;
}

/* Copies a file byte for byte, as cp(1) does. */
static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[4096];
    size_t n;

    assert_non_null(in);
    assert_non_null(out);
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
        assert_int_equal(fwrite(buf, 1, n, out), n);
    fclose(in);
    assert_int_equal(fclose(out), 0);
}

/* An auditor's copy of the database file alone (no -wal, no -shm) is
 * read, and nothing is created beside it; the live file, with its -wal,
 * is read beside the writer as before (test_reader_beside_writer). */
static void test_open_lone_copy(void **state)
{
    char path[TEST_PATH_MAX], dir[TEST_PATH_MAX], copy[TEST_PATH_MAX + 16];
    char err[STORE_ERR_MAX] = "";
    struct store_verify_result v;
    struct store *s;

    (void)state;
    make_chain_db("lone_src.db", path);
    path_of(dir, "lone.d");
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(copy, sizeof(copy), "%s/copy of t.db", dir);
    copy_file(path, copy); /* a WAL-mode file, all committed */
    assert_true(dir_holds_only(dir, "copy of t.db"));
    s = store_open(copy, STORE_READ_SNAPSHOT, err);
    assert_non_null(s);
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    assert_int_equal(v.readings, TAMPER_BATCH * TAMPER_BATCHES);
    store_close(s);
    assert_true(dir_holds_only(dir, "copy of t.db"));
    /* The live database, -wal beside it, is read as before. */
    s = store_open(path, STORE_READ_SNAPSHOT, err);
    assert_non_null(s);
    assert_int_equal(store_verify(s, 0, INT64_MAX, &v), 0);
    assert_true(v.ok);
    store_close(s);
    unlink(copy);
    rmdir(dir);
}

/* The mode of a file, or -1 if it is absent. */
static int file_mode(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

/* The database's files are 0640 or tighter whatever the umask; wider ones
 * (an older tbdaq) are narrowed by the daemon's open. */
static void test_file_modes(void **state)
{
    static const char *const sfx[] = {"", "-wal", "-shm"};
    char path[TEST_PATH_MAX], f[TEST_PATH_MAX + 8];
    mode_t old = umask(022);
    struct store *s;

    (void)state;
    s = open_rw("modes.db", path);
    for (size_t i = 0; i < 3; i++) {
        snprintf(f, sizeof(f), "%s%s", path, sfx[i]);
        assert_int_equal(file_mode(f), 0640);
    }
    store_close(s);

    /* as the older tbdaq left them, readable by all */
    for (size_t i = 0; i < 3; i++) {
        snprintf(f, sizeof(f), "%s%s", path, sfx[i]);
        assert_int_equal(chmod(f, 0664), 0);
    }
    s = open_ro(path); /* a reader changes nothing */
    store_close(s);
    assert_int_equal(file_mode(path), 0664);
    s = open_rw("modes.db", path);
    for (size_t i = 0; i < 3; i++) {
        snprintf(f, sizeof(f), "%s%s", path, sfx[i]);
        assert_int_equal(file_mode(f), 0640);
    }
    store_close(s);

    /* a journal that is a symbolic link to another file: that file is
     * not touched (a daemon running as root must not change it) */
    {
        char target[TEST_PATH_MAX + 16];

        snprintf(target, sizeof(target), "%s.elsewhere", path);
        snprintf(f, sizeof(f), "%s-journal", path);
        assert_int_equal(close(open(target, O_WRONLY | O_CREAT, 0644)), 0);
        assert_int_equal(chmod(target, 0644), 0);
        assert_int_equal(symlink(target, f), 0);
        s = open_rw("modes.db", path);
        store_close(s);
        assert_int_equal(file_mode(target), 0644);
        unlink(f);
        unlink(target);
    }

    /* a tighter umask is kept */
    umask(077);
    s = open_rw("modes_077.db", path);
    for (size_t i = 0; i < 3; i++) {
        snprintf(f, sizeof(f), "%s%s", path, sfx[i]);
        assert_int_equal(file_mode(f), 0600);
    }
    store_close(s);
    umask(old);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_creates_schema),
        cmocka_unit_test(test_reopen),
        cmocka_unit_test(test_open_refused),
        cmocka_unit_test(test_open_readonly_missing),
        cmocka_unit_test(test_open_update),
        cmocka_unit_test(test_open_crafted),
        cmocka_unit_test(test_open_lone_copy),
        cmocka_unit_test(test_file_modes),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
