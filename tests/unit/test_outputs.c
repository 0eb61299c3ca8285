// SPDX-License-Identifier: MIT
/*
 * How the outputs persist their acknowledged seq (daemon/outputs.c), with
 * an output of the test's own over a real SQLite file: a seq that moved
 * is staged for the next batch, at most once a period; one that no batch
 * took for twice the period is written alone, and a write that fails (a
 * lock) is tried again a period later, not at every pump; a stop writes
 * at once; nothing while the database is down.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/util.h"
#include "daemon/outputs.h"
#include "lib/store.h"

#define PERIOD (OUTPUTS_ACKED_SAVE_MS * NS_PER_MS)

/* The test output: acknowledged up to fake_acked. */
static int64_t fake_acked;

static void fake_pump(void *o, int64_t last_seq, bool stopping)
{
    (void)o;
    (void)last_seq;
    (void)stopping;
}

static int64_t fake_acked_of(const void *o)
{
    (void)o;
    return fake_acked;
}

static const struct output_ops fake_ops = {
    .name = "fake",
    .acked_key = STORE_STATE_MQTT_ACKED,
    .pump = fake_pump,
    .acked = fake_acked_of,
};

struct world {
    char dir[64], db[96];
    struct store *s;
    struct outputs l;
    int running; /* the output's state: any address */
};

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    char err[STORE_ERR_MAX];

    if (!w)
        return -1;
    snprintf(w->dir, sizeof(w->dir), "/tmp/test_outputs.XXXXXX");
    if (!mkdtemp(w->dir))
        return -1;
    snprintf(w->db, sizeof(w->db), "%s/t.db", w->dir);
    if (!(w->s = store_open(w->db, STORE_READ_WRITE, err)))
        return -1;
    store_set_busy_timeout(w->s, 20);
    /* one slot, running, as outputs_start() leaves it with nothing
     * acknowledged */
    w->l = (struct outputs){.n = 1, .store = w->s};
    w->l.slot[0] = (struct output_slot){.ops = &fake_ops, .o = &w->running};
    fake_acked = 0;
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;
    char path[128];

    store_close(w->s);
    for (const char *const *x = (const char *const[]){"", "-wal", "-shm", NULL};
         *x; x++) {
        snprintf(path, sizeof(path), "%s%s", w->db, *x);
        unlink(path);
    }
    rmdir(w->dir);
    free(w);
    return 0;
}

/* The seq in the file, as another connection sees it (-1: none). */
static int64_t saved(const struct world *w)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t v = -1;

    assert_int_equal(sqlite3_open_v2(w->db, &db, SQLITE_OPEN_READONLY, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT value FROM state WHERE key = "
                                        "'" STORE_STATE_MQTT_ACKED "'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* Moves the slot's clocks back by ns: as if that long had passed. */
static void age(struct world *w, int64_t ns)
{
    struct output_slot *sl = &w->l.slot[0];

    sl->acked_save_at -= ns;
    if (sl->staged_at)
        sl->staged_at -= ns;
}

static void test_staged_then_alone(void **state)
{
    struct world *w = *state;

    fake_acked = 10;
    outputs_pump(&w->l, 10, false, false);
    assert_true(store_state_staged(w->s, STORE_STATE_MQTT_ACKED));
    assert_int_equal(saved(w), -1); /* for the next batch */

    /* within the period, a newer seq waits */
    fake_acked = 20;
    outputs_pump(&w->l, 20, false, false);
    assert_true(store_state_staged(w->s, STORE_STATE_MQTT_ACKED));
    /* a period on it is staged; no batch came */
    age(w, PERIOD);
    outputs_pump(&w->l, 20, false, false);
    assert_int_equal(saved(w), -1);
    /* twice the period since the first stage: written alone */
    age(w, PERIOD);
    outputs_pump(&w->l, 20, false, false);
    assert_int_equal(saved(w), 20);
    assert_false(store_state_staged(w->s, STORE_STATE_MQTT_ACKED));
}

static void test_locked_retried_a_period_later(void **state)
{
    struct world *w = *state;
    sqlite3 *other;
    int64_t steps;

    fake_acked = 30;
    outputs_pump(&w->l, 30, false, false);
    age(w, 2 * PERIOD);
    assert_int_equal(sqlite3_open(w->db, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL),
                     SQLITE_OK);
    outputs_pump(&w->l, 30, false, false); /* tried: the lock */
    assert_true(store_state_staged(w->s, STORE_STATE_MQTT_ACKED));
    steps = store_vm_steps(w->s);
    outputs_pump(&w->l, 30, false, false); /* not again at once */
    assert_int_equal(store_vm_steps(w->s), steps);
    assert_int_equal(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(other);
    age(w, PERIOD);
    outputs_pump(&w->l, 30, false, false);
    assert_int_equal(saved(w), 30);
}

static void test_stop_and_down(void **state)
{
    struct world *w = *state;

    fake_acked = 40;
    outputs_pump(&w->l, 40, false, true); /* down: nothing */
    assert_false(store_state_staged(w->s, STORE_STATE_MQTT_ACKED));
    outputs_pump(&w->l, 40, true, false); /* a stop: at once */
    assert_int_equal(saved(w), 40);
    assert_false(store_state_staged(w->s, STORE_STATE_MQTT_ACKED));
    /* staged, then a stop: written, the stage dropped */
    fake_acked = 50;
    age(w, PERIOD);
    outputs_pump(&w->l, 50, false, false);
    assert_true(store_state_staged(w->s, STORE_STATE_MQTT_ACKED));
    outputs_pump(&w->l, 50, true, false);
    assert_int_equal(saved(w), 50);
    assert_false(store_state_staged(w->s, STORE_STATE_MQTT_ACKED));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_staged_then_alone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_locked_retried_a_period_later,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_and_down, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
