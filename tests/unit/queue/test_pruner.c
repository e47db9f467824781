/* test_pruner.c - the server's pruning thread, on a SQLite store: it prunes on its own every
 * retention.every (the first time after at most a minute), counts what went in the
 * metrics (ferry_pruned_rows_total), and stops at once however long it would still wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "config/config.h"
#include "config/live.h"
#include "events/metrics.h"
#include "queue/pruner.h"
#include "store/store.h"
#include "testutil.h"
#include "util/timeutil.h"

typedef struct {
    char *dir;
    ferry_config_live *live;
    sqlite3 *db; /* the test's own connection to the store's database */
} fixture;

static int setup_every(void **state, const char *every)
{
    fixture *fx = calloc(1, sizeof(*fx));
    char yaml[256], path[4200];
    ferry_store *st = NULL;
    ferry_config *cfg = NULL;
    ferry_err err;

    fx->dir = tu_tempdir();
    snprintf(yaml, sizeof(yaml), "database: sqlite:ferry.db\nretention: {every: %s}\n", every);
    ferry_err_clear(&err);
    if (ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", fx->dir, &cfg, &err) != FERRY_OK)
        fail_msg("config: %s", err.msg);
    /* The tables, as ferry serve makes them before it starts its threads. */
    if (ferry_store_open(cfg->database, fx->dir, &st, &err) != FERRY_OK)
        fail_msg("store: %s", err.msg);
    ferry_store_close(st);
    if (ferry_config_live_new(cfg, &fx->live, &err) != FERRY_OK)
        fail_msg("live config: %s", err.msg);
    snprintf(path, sizeof(path), "%s/ferry.db", fx->dir);
    assert_int_equal(sqlite3_open(path, &fx->db), SQLITE_OK);
    sqlite3_busy_timeout(fx->db, 10000);
    *state = fx;
    return 0;
}

static int setup_second(void **state)
{
    return setup_every(state, "1s");
}

static int setup_hour(void **state)
{
    return setup_every(state, "1h");
}

static int teardown(void **state)
{
    fixture *fx = *state;

    sqlite3_close(fx->db);
    ferry_config_live_free(fx->live);
    tu_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

static int64_t count(fixture *fx, const char *sql)
{
    sqlite3_stmt *st;
    int64_t n;

    assert_int_equal(sqlite3_prepare_v2(fx->db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void the_pruner_prunes_on_its_own_and_counts_what_went(void **state)
{
    fixture *fx = *state;
    ferry_pruner *p = NULL;
    ferry_buf metrics;
    ferry_err err;

    /* Run 1 ended 40 days ago with 3 change rows; run 2, the latest, keeps its one. */
    assert_int_equal(
        sqlite3_exec(fx->db,
                     "INSERT INTO ferry_runs (id, sync, trigger, status, phase, queued_at,"
                     " finished_at) VALUES"
                     " (1, 'staff', 'cli', 'succeeded', 'done', '2020-01-01T00:00:00.000Z',"
                     "  strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-40 days')),"
                     " (2, 'staff', 'cli', 'succeeded', 'done', '2020-01-02T00:00:00.000Z',"
                     "  strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));"
                     "INSERT INTO ferry_changes (run_id, seq, outcome) VALUES (1, 1, 'created'),"
                     " (1, 2, 'created'), (1, 3, 'created'), (2, 1, 'updated');",
                     NULL, NULL, NULL),
        SQLITE_OK);
    ferry_metrics_reset();
    ferry_err_clear(&err);
    assert_int_equal(ferry_pruner_start(fx->live, &p, &err), FERRY_OK);
    for (int i = 0; i < 1200 && count(fx, "SELECT count(*) FROM ferry_changes") > 1; i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    ferry_pruner_stop(p);
    assert_int_equal(count(fx, "SELECT count(*) FROM ferry_changes WHERE run_id = 1"), 0);
    assert_int_equal(count(fx, "SELECT count(*) FROM ferry_changes WHERE run_id = 2"), 1);
    assert_int_equal(count(fx, "SELECT count(*) FROM ferry_runs WHERE changes_pruned_at IS NOT"
                               " NULL"),
                     1);
    ferry_buf_init(&metrics, 1 << 20);
    assert_int_equal(ferry_metrics_format(&metrics), FERRY_OK);
    assert_int_equal(ferry_buf_append(&metrics, "", 1), FERRY_OK);
    assert_non_null(strstr(metrics.data, "ferry_pruned_rows_total{table=\"changes\"} 3\n"));
    ferry_buf_done(&metrics);
    assert_string_equal(ferry_prune_kind_table(FERRY_PRUNE_CHANGES), "ferry_changes");
}

/* With an hour to wait, stopping returns without waiting for the first prune. */
static void stopping_does_not_wait_for_the_next_prune(void **state)
{
    fixture *fx = *state;
    ferry_pruner *p = NULL;
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_equal(ferry_pruner_start(fx->live, &p, &err), FERRY_OK);
    ferry_pruner_stop(p);
    ferry_pruner_stop(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(the_pruner_prunes_on_its_own_and_counts_what_went,
                                        setup_second, teardown),
        cmocka_unit_test_setup_teardown(stopping_does_not_wait_for_the_next_prune, setup_hour,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
