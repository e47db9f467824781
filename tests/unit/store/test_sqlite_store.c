/* test_sqlite_store.c - the run store on SQLite (src/store/sqlite_store.c).
 *
 * Every test opens a fresh database file in a temporary directory: run records round-trip
 * every field through run_start/run_finish/run_get/run_list, the partial unique index allows
 * one queued-or-running run per sync and tenant, change rows list in order with an outcome
 * filter and a limit, data survives reopening, and a database from a newer Ferry is refused.
 * It also covers ferry_store_open()'s database setting and the status/outcome names. */
#include "store/store.h"
#include "testutil.h"
#include "util/timeutil.h"

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

typedef struct {
    char *dir;
    char path[4096];
    ferry_store *store;
} fixture;

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    ferry_err err;

    assert_non_null(fx);
    fx->dir = tu_tempdir();
    assert_non_null(fx->dir);
    snprintf(fx->path, sizeof(fx->path), "%s/ferry.db", fx->dir);
    ferry_err_clear(&err);
    if (ferry_sqlite_store_open(fx->path, &fx->store, &err) != FERRY_OK)
        fail_msg("open: %s", err.msg);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;

    ferry_store_free(fx->store);
    tu_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

/* A run as run.c starts one: running, queued and started at ms. */
static ferry_run new_run(const char *sync, int64_t ms)
{
    ferry_run run;

    memset(&run, 0, sizeof(run));
    run.sync = (char *)sync;
    run.trigger = (char *)"cli";
    run.status = FERRY_RUN_RUNNING;
    run.phase = (char *)"queued";
    run.total = -1;
    run.attempt = 1;
    run.queued_at_ms = run.started_at_ms = ms;
    return run;
}

static int64_t start(ferry_store *st, const ferry_run *run)
{
    int64_t id = 0;
    ferry_err err;

    ferry_err_clear(&err);
    if (st->ops->run_start(st, run, &id, &err) != FERRY_OK)
        fail_msg("run_start: %s", err.msg);
    assert_true(id > 0);
    return id;
}

static void finish(ferry_store *st, int64_t id, ferry_run_status status)
{
    ferry_run run = new_run("x", 0);
    ferry_err err;

    run.id = id;
    run.status = status;
    run.phase = (char *)"done";
    run.finished_at_ms = ferry_time_now_ms();
    ferry_err_clear(&err);
    if (st->ops->run_finish(st, &run, &err) != FERRY_OK)
        fail_msg("run_finish: %s", err.msg);
}

static void add_change(ferry_store *st, int64_t run_id, int64_t seq, const char *key,
                       ferry_outcome outcome, long row, const char *reason, const char *diff)
{
    ferry_change c = {
        .run_id = run_id,
        .seq = seq,
        .record_key = (char *)key,
        .outcome = outcome,
        .row = row,
        .reason = (char *)reason,
        .diff = (char *)diff,
    };
    ferry_err err;

    ferry_err_clear(&err);
    if (st->ops->changes_add(st, &c, 1, &err) != FERRY_OK)
        fail_msg("changes_add: %s", err.msg);
}

static void run_round_trip_keeps_every_field(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344123);
    ferry_run got;
    ferry_err err;
    int64_t id;

    run.tenant = (char *)"acme";
    run.trigger = (char *)"api";
    run.user = (char *)"ayu@example.com";
    run.phase = (char *)"connecting";
    run.dry_run = true;
    run.attempt = 3;
    run.queued_at_ms = 1795500340000;
    id = start(st, &run);

    /* Right after the start, the stored run is running. */
    ferry_err_clear(&err);
    assert_int_equal(st->ops->run_get(st, id, &got, &err), FERRY_OK);
    assert_int_equal(got.status, FERRY_RUN_RUNNING);
    assert_string_equal(got.phase, "connecting");
    assert_int_equal(got.total, -1);
    assert_int_equal(got.finished_at_ms, 0);
    assert_null(got.ui_message);
    ferry_run_done(&got);

    run.id = id;
    run.status = FERRY_RUN_SUCCEEDED;
    run.phase = (char *)"done";
    run.percent = 100;
    run.processed = 151;
    run.total = 20480;
    for (int i = 0; i < FERRY_OUTCOME_COUNT; i++)
        run.counts[i] = 10 * (i + 1) + i;
    run.ui_message = (char *)"Processed 151 therapists: ...";
    run.log_message = (char *)"Processed 151 therapists\nCreated: T001.";
    run.error = (char *)"no error, really";
    run.error_code = (char *)"ok";
    run.finished_at_ms = 1795500349999;
    run.duration_ms = 5876;
    assert_int_equal(st->ops->run_finish(st, &run, &err), FERRY_OK);

    assert_int_equal(st->ops->run_get(st, id, &got, &err), FERRY_OK);
    assert_int_equal(got.id, id);
    assert_string_equal(got.sync, "therapists");
    assert_string_equal(got.tenant, "acme");
    assert_string_equal(got.trigger, "api");
    assert_string_equal(got.user, "ayu@example.com");
    assert_int_equal(got.status, FERRY_RUN_SUCCEEDED);
    assert_string_equal(got.phase, "done");
    assert_int_equal(got.percent, 100);
    assert_int_equal(got.processed, 151);
    assert_int_equal(got.total, 20480);
    for (int i = 0; i < FERRY_OUTCOME_COUNT; i++)
        assert_int_equal(got.counts[i], 10 * (i + 1) + i);
    assert_string_equal(got.ui_message, run.ui_message);
    assert_string_equal(got.log_message, run.log_message);
    assert_string_equal(got.error, run.error);
    assert_string_equal(got.error_code, "ok");
    assert_true(got.dry_run);
    assert_int_equal(got.queued_at_ms, 1795500340000);
    assert_int_equal(got.started_at_ms, 1795500344123);
    assert_int_equal(got.finished_at_ms, 1795500349999);
    assert_int_equal(got.duration_ms, 5876);
    assert_int_equal(got.attempt, 3);
    ferry_run_done(&got);
}

static void run_without_optional_fields_reads_back_as_null(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("rooms", 1795500344000);
    ferry_run got;
    ferry_err err;
    int64_t id;

    id = start(st, &run);
    finish(st, id, FERRY_RUN_FAILED);
    ferry_err_clear(&err);
    assert_int_equal(st->ops->run_get(st, id, &got, &err), FERRY_OK);
    assert_null(got.tenant);
    assert_null(got.user);
    assert_null(got.ui_message);
    assert_null(got.error);
    assert_int_equal(got.total, -1);
    assert_false(got.dry_run);
    assert_int_equal(got.status, FERRY_RUN_FAILED);
    ferry_run_done(&got);
}

static void run_get_of_an_unknown_id_is_not_found(void **state)
{
    fixture *fx = *state;
    ferry_run got;
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_equal(fx->store->ops->run_get(fx->store, 42, &got, &err), FERRY_ENOTFOUND);
    assert_string_equal(err.msg, "there is no run 42");
}

static void second_run_start_while_one_is_running_is_einval(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344000);
    ferry_run_filter all = {.limit = 0};
    ferry_run *runs = NULL;
    size_t n = 0;
    int64_t id = 0;
    ferry_err err;

    start(st, &run);
    ferry_err_clear(&err);
    assert_int_equal(st->ops->run_start(st, &run, &id, &err), FERRY_EINVAL);
    assert_string_equal(err.msg, "a run of 'therapists' is already queued or running");
    /* The refused run left no record. */
    assert_int_equal(st->ops->run_list(st, &all, &runs, &n, &err), FERRY_OK);
    assert_int_equal(n, 1);
    ferry_runs_free(runs, n);
}

static void queued_run_also_blocks_a_second_one(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344000);
    int64_t id = 0;
    ferry_err err;

    run.status = FERRY_RUN_QUEUED;
    start(st, &run);
    run.status = FERRY_RUN_RUNNING;
    ferry_err_clear(&err);
    assert_int_equal(st->ops->run_start(st, &run, &id, &err), FERRY_EINVAL);
}

static void active_runs_are_per_sync_and_tenant(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344000);
    int64_t id = 0;
    ferry_err err;

    start(st, &run);
    run.sync = (char *)"rooms";
    start(st, &run);
    run.sync = (char *)"therapists";
    run.tenant = (char *)"acme";
    start(st, &run);
    ferry_err_clear(&err);
    assert_int_equal(st->ops->run_start(st, &run, &id, &err), FERRY_EINVAL);
    assert_string_equal(err.msg,
                        "a run of 'therapists' for tenant acme is already queued or running");
}

static void new_run_can_start_after_the_previous_finished(void **state)
{
    static const ferry_run_status ends[] = {FERRY_RUN_SUCCEEDED, FERRY_RUN_FAILED,
                                            FERRY_RUN_CANCELLED, FERRY_RUN_INTERRUPTED};
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344000);
    int64_t id = start(st, &run), next;

    for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
        finish(st, id, ends[i]);
        next = start(st, &run);
        assert_true(next > id);
        id = next;
    }
}

static void run_start_failing_for_another_reason_is_not_called_a_duplicate(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 0); /* queued_at is NOT NULL in the table */
    int64_t id = 0;
    ferry_err err;
    ferry_rc rc;

    ferry_err_clear(&err);
    rc = st->ops->run_start(st, &run, &id, &err);
    assert_int_equal(rc, FERRY_EDB);
    assert_null(strstr(err.msg, "already queued or running"));
}

static void run_list_is_newest_first_filtered_and_limited(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run_filter filter = {.limit = 0};
    ferry_run *runs = NULL;
    int64_t ids[6];
    size_t n = 0;
    ferry_err err;

    for (int i = 0; i < 6; i++) {
        ferry_run run = new_run(i % 2 == 0 ? "therapists" : "rooms", 1795500344000 + i);
        ids[i] = start(st, &run);
        finish(st, ids[i], FERRY_RUN_SUCCEEDED);
    }
    ferry_err_clear(&err);
    assert_int_equal(st->ops->run_list(st, &filter, &runs, &n, &err), FERRY_OK);
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(runs[i].id, ids[5 - i]);
    ferry_runs_free(runs, n);

    filter.sync = "therapists";
    assert_int_equal(st->ops->run_list(st, &filter, &runs, &n, &err), FERRY_OK);
    assert_int_equal(n, 3);
    assert_int_equal(runs[0].id, ids[4]);
    assert_int_equal(runs[1].id, ids[2]);
    assert_int_equal(runs[2].id, ids[0]);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(runs[i].sync, "therapists");
    ferry_runs_free(runs, n);

    filter.limit = 2;
    assert_int_equal(st->ops->run_list(st, &filter, &runs, &n, &err), FERRY_OK);
    assert_int_equal(n, 2);
    assert_int_equal(runs[0].id, ids[4]);
    ferry_runs_free(runs, n);

    filter.sync = "nothing";
    assert_int_equal(st->ops->run_list(st, &filter, &runs, &n, &err), FERRY_OK);
    assert_int_equal(n, 0);
    ferry_runs_free(runs, n);
}

static void run_list_without_a_limit_gives_20(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run_filter filter = {.limit = 0};
    ferry_run *runs = NULL;
    size_t n = 0;
    ferry_err err;

    for (int i = 0; i < 25; i++) {
        ferry_run run = new_run("therapists", 1795500344000 + i);
        finish(st, start(st, &run), FERRY_RUN_SUCCEEDED);
    }
    ferry_err_clear(&err);
    assert_int_equal(st->ops->run_list(st, &filter, &runs, &n, &err), FERRY_OK);
    assert_int_equal(n, 20);
    ferry_runs_free(runs, n);
}

static void changes_list_in_sequence_order_with_every_field(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344000);
    ferry_change *ch = NULL;
    size_t n = 0;
    ferry_err err;
    int64_t id = start(st, &run);

    add_change(st, id, 1, "T001", FERRY_OUTCOME_CREATED, 2, NULL, NULL);
    add_change(st, id, 2, "T002", FERRY_OUTCOME_UPDATED, 3, NULL,
               "{\"email\":[\"a@x.io\",\"b@x.io\"]}");
    add_change(st, id, 3, NULL, FERRY_OUTCOME_FAILED, 4, "row 4: id is required but empty", NULL);
    add_change(st, id, 4, "T009", FERRY_OUTCOME_DELETED, 0, "no longer in the source: deleted",
               NULL);
    ferry_err_clear(&err);
    assert_int_equal(st->ops->change_list(st, id, &(ferry_change_filter){.outcome = -1, .limit = 0},
                                          &ch, &n, &err),
                     FERRY_OK);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ch[i].run_id, id);
        assert_int_equal(ch[i].seq, (int64_t)i + 1);
    }
    assert_string_equal(ch[0].record_key, "T001");
    assert_int_equal(ch[0].outcome, FERRY_OUTCOME_CREATED);
    assert_int_equal(ch[0].row, 2);
    assert_null(ch[0].reason);
    assert_null(ch[0].diff);
    assert_int_equal(ch[1].outcome, FERRY_OUTCOME_UPDATED);
    assert_string_equal(ch[1].diff, "{\"email\":[\"a@x.io\",\"b@x.io\"]}");
    assert_null(ch[2].record_key);
    assert_int_equal(ch[2].outcome, FERRY_OUTCOME_FAILED);
    assert_string_equal(ch[2].reason, "row 4: id is required but empty");
    assert_int_equal(ch[3].outcome, FERRY_OUTCOME_DELETED);
    assert_int_equal(ch[3].row, 0);
    assert_string_equal(ch[3].reason, "no longer in the source: deleted");
    ferry_changes_free(ch, n);
}

static void changes_filter_by_outcome_and_limit(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344000);
    ferry_change *ch = NULL;
    size_t n = 0;
    ferry_err err;
    int64_t id = start(st, &run);

    for (int i = 1; i <= 10; i++) {
        char key[16];
        snprintf(key, sizeof(key), "T%03d", i);
        add_change(st, id, i, key, i % 3 == 0 ? FERRY_OUTCOME_FAILED : FERRY_OUTCOME_CREATED, i,
                   i % 3 == 0 ? "bad" : NULL, NULL);
    }
    ferry_err_clear(&err);
    assert_int_equal(
        st->ops->change_list(st, id,
                             &(ferry_change_filter){.outcome = FERRY_OUTCOME_FAILED, .limit = 0},
                             &ch, &n, &err),
        FERRY_OK);
    assert_int_equal(n, 3);
    assert_string_equal(ch[0].record_key, "T003");
    assert_string_equal(ch[1].record_key, "T006");
    assert_string_equal(ch[2].record_key, "T009");
    ferry_changes_free(ch, n);

    assert_int_equal(
        st->ops->change_list(st, id,
                             &(ferry_change_filter){.outcome = FERRY_OUTCOME_CREATED, .limit = 4},
                             &ch, &n, &err),
        FERRY_OK);
    assert_int_equal(n, 4);
    assert_string_equal(ch[0].record_key, "T001");
    assert_string_equal(ch[3].record_key, "T005");
    ferry_changes_free(ch, n);

    assert_int_equal(st->ops->change_list(st, id, &(ferry_change_filter){.outcome = -1, .limit = 5},
                                          &ch, &n, &err),
                     FERRY_OK);
    assert_int_equal(n, 5);
    ferry_changes_free(ch, n);

    assert_int_equal(
        st->ops->change_list(st, id,
                             &(ferry_change_filter){.outcome = FERRY_OUTCOME_DELETED, .limit = 0},
                             &ch, &n, &err),
        FERRY_OK);
    assert_int_equal(n, 0);
    ferry_changes_free(ch, n);
}

static void changes_belong_to_their_run(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run a = new_run("therapists", 1795500344000), b = new_run("rooms", 1795500344000);
    ferry_change *ch = NULL;
    size_t n = 0;
    ferry_err err;
    int64_t ida = start(st, &a), idb = start(st, &b);

    add_change(st, ida, 1, "A1", FERRY_OUTCOME_CREATED, 2, NULL, NULL);
    add_change(st, idb, 1, "B1", FERRY_OUTCOME_CREATED, 2, NULL, NULL);
    add_change(st, idb, 2, "B2", FERRY_OUTCOME_CREATED, 3, NULL, NULL);
    ferry_err_clear(&err);
    assert_int_equal(st->ops->change_list(
                         st, ida, &(ferry_change_filter){.outcome = -1, .limit = 0}, &ch, &n, &err),
                     FERRY_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ch[0].record_key, "A1");
    ferry_changes_free(ch, n);
}

static void repeated_change_seq_is_a_database_error(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344000);
    ferry_change c = {.seq = 1, .record_key = (char *)"T1", .outcome = FERRY_OUTCOME_CREATED};
    ferry_err err;

    c.run_id = start(st, &run);
    add_change(st, c.run_id, 1, "T1", FERRY_OUTCOME_CREATED, 2, NULL, NULL);
    ferry_err_clear(&err);
    assert_int_equal(st->ops->changes_add(st, &c, 1, &err), FERRY_EDB);
    /* The statement is reusable after the failure. */
    add_change(st, c.run_id, 2, "T2", FERRY_OUTCOME_CREATED, 3, NULL, NULL);
}

static void a_run_whose_lease_was_taken_cannot_be_finished(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344000);
    ferry_err err;

    run.id = start(st, &run);
    assert_int_equal(sqlite3_exec(ferry_sqlite_store_db(st),
                                  "UPDATE ferry_runs SET lease_owner = 'elsewhere:1'", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    run.status = FERRY_RUN_SUCCEEDED;
    run.finished_at_ms = 1795500345000;
    ferry_err_clear(&err);
    assert_int_equal(st->ops->run_finish(st, &run, &err), FERRY_ENOTFOUND);
    assert_non_null(strstr(err.msg, "not held by this process"));
}

static void enqueue_twice_returns_the_queued_run_and_claim_takes_it(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run want = new_run("therapists", 1795500344000), a, b, c;
    bool created = false;
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_equal(st->ops->run_enqueue(st, &want, NULL, NULL, &a, &created, &err), FERRY_OK);
    assert_true(created);
    assert_int_equal(a.status, FERRY_RUN_QUEUED);
    assert_int_equal(st->ops->run_enqueue(st, &want, NULL, NULL, &b, &created, &err), FERRY_OK);
    assert_false(created);
    assert_int_equal(b.id, a.id);
    assert_int_equal(st->ops->run_claim(st, &c, &err), FERRY_OK);
    assert_int_equal(c.id, a.id);
    assert_int_equal(c.status, FERRY_RUN_RUNNING);
    ferry_run_done(&c);
    assert_int_equal(st->ops->run_claim(st, &c, &err), FERRY_DONE);
    assert_int_equal(st->ops->run_cancel_queued(st, a.id, NULL, &err), FERRY_ENOTFOUND);
    ferry_run_done(&a);
    ferry_run_done(&b);
}

static void a_queued_run_can_be_cancelled(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run want = new_run("therapists", 1795500344000), a, got;
    bool created = false;
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_equal(st->ops->run_enqueue(st, &want, NULL, NULL, &a, &created, &err), FERRY_OK);
    assert_int_equal(st->ops->run_cancel_queued(st, a.id, "ana", &err), FERRY_OK);
    assert_int_equal(st->ops->run_get(st, a.id, &got, &err), FERRY_OK);
    assert_int_equal(got.status, FERRY_RUN_CANCELLED);
    ferry_run_done(&got);
    assert_int_equal(st->ops->run_claim(st, &got, &err), FERRY_DONE);
    ferry_run_done(&a);
}

static void heartbeats_renew_a_held_lease_and_expired_leases_are_reclaimed(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    sqlite3 *db = ferry_sqlite_store_db(st);
    ferry_run run = new_run("therapists", 1795500344000), got;
    int n = -1;
    ferry_err err;

    run.id = start(st, &run);
    ferry_err_clear(&err);
    assert_int_equal(st->ops->run_heartbeat(st, run.id, &err), FERRY_OK);
    /* A fresh lease is not reclaimed. */
    assert_int_equal(st->ops->run_reclaim_expired(st, 60000, &n, &err), FERRY_OK);
    assert_int_equal(n, 0);
    /* A lease last renewed long ago is: the run is queued again as attempt 2. */
    assert_int_equal(sqlite3_exec(db,
                                  "UPDATE ferry_runs SET heartbeat_at = '2020-01-01T00:00:00.000Z'",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(st->ops->run_reclaim_expired(st, 60000, &n, &err), FERRY_OK);
    assert_int_equal(n, 1);
    assert_int_equal(st->ops->run_get(st, run.id, &got, &err), FERRY_OK);
    assert_int_equal(got.status, FERRY_RUN_QUEUED);
    assert_int_equal(got.attempt, 2);
    ferry_run_done(&got);
    /* The old holder has lost it: its heartbeat says so. */
    assert_int_equal(st->ops->run_heartbeat(st, run.id, &err), FERRY_ENOTFOUND);
}

static void a_batch_of_many_changes_is_stored_in_order(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344000);
    ferry_change batch[300];
    char keys[300][16];
    ferry_change *ch = NULL;
    size_t n = 0;
    ferry_err err;
    int64_t id = start(st, &run);

    /* 300 spans two multi-row statements of 128 and a remainder of single rows. */
    for (int i = 0; i < 300; i++) {
        snprintf(keys[i], sizeof(keys[i]), "K%03d", i);
        batch[i] = (ferry_change){.run_id = id,
                                  .seq = i + 1,
                                  .record_key = keys[i],
                                  .outcome = i % 2 ? FERRY_OUTCOME_UPDATED : FERRY_OUTCOME_CREATED,
                                  .row = i + 2};
    }
    ferry_err_clear(&err);
    assert_int_equal(st->ops->changes_add(st, batch, 300, &err), FERRY_OK);
    assert_int_equal(st->ops->change_list(st, id, &(ferry_change_filter){.outcome = -1, .limit = 0},
                                          &ch, &n, &err),
                     FERRY_OK);
    assert_int_equal(n, 300);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ch[i].seq, (int64_t)i + 1);
        assert_string_equal(ch[i].record_key, keys[i]);
        assert_int_equal(ch[i].row, (long)i + 2);
    }
    ferry_changes_free(ch, n);
    assert_int_equal(
        st->ops->change_list(st, id,
                             &(ferry_change_filter){.outcome = FERRY_OUTCOME_UPDATED, .limit = 0},
                             &ch, &n, &err),
        FERRY_OK);
    assert_int_equal(n, 150);
    ferry_changes_free(ch, n);
}

static void reopening_the_database_keeps_runs_and_changes(void **state)
{
    fixture *fx = *state;
    ferry_run run = new_run("therapists", 1795500344000);
    ferry_change *ch = NULL;
    ferry_run got;
    size_t n = 0;
    ferry_err err;
    int64_t id = start(fx->store, &run);

    add_change(fx->store, id, 1, "T001", FERRY_OUTCOME_CREATED, 2, NULL, NULL);
    finish(fx->store, id, FERRY_RUN_SUCCEEDED);
    ferry_store_free(fx->store);
    fx->store = NULL;

    ferry_err_clear(&err);
    assert_int_equal(ferry_sqlite_store_open(fx->path, &fx->store, &err), FERRY_OK);
    assert_int_equal(fx->store->ops->run_get(fx->store, id, &got, &err), FERRY_OK);
    assert_string_equal(got.sync, "therapists");
    assert_int_equal(got.status, FERRY_RUN_SUCCEEDED);
    ferry_run_done(&got);
    assert_int_equal(fx->store->ops->change_list(fx->store, id,
                                                 &(ferry_change_filter){.outcome = -1, .limit = 0},
                                                 &ch, &n, &err),
                     FERRY_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ch[0].record_key, "T001");
    ferry_changes_free(ch, n);
    /* Ids keep counting up after a reopen. */
    assert_true(start(fx->store, &run) > id);
}

static void database_from_a_newer_ferry_is_refused(void **state)
{
    fixture *fx = *state;
    ferry_store *again = NULL;
    sqlite3 *db = ferry_sqlite_store_db(fx->store);
    char want[4400];
    ferry_err err;

    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    ferry_store_free(fx->store);
    fx->store = NULL;
    ferry_err_clear(&err);
    assert_int_equal(ferry_sqlite_store_open(fx->path, &again, &err), FERRY_EDB);
    assert_null(again);
    snprintf(want, sizeof(want),
             "database %s: the database was written by a newer Ferry (schema version 99; this "
             "Ferry knows up to 3)",
             fx->path);
    assert_string_equal(err.msg, want);
}

static void opening_creates_ferry_tables_at_the_current_schema_version(void **state)
{
    fixture *fx = *state;
    sqlite3 *db = ferry_sqlite_store_db(fx->store);
    sqlite3_stmt *st;

    assert_int_equal(
        sqlite3_prepare_v2(db,
                           "SELECT (SELECT user_version FROM pragma_user_version),"
                           " (SELECT count(*) FROM sqlite_master WHERE name IN"
                           " ('ferry_runs', 'ferry_changes', 'ferry_users', 'ferry_api_tokens')),"
                           " (SELECT journal_mode FROM pragma_journal_mode)",
                           -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 3);
    assert_int_equal(sqlite3_column_int(st, 1), 4);
    assert_string_equal((const char *)sqlite3_column_text(st, 2), "wal");
    sqlite3_finalize(st);
}

static void store_open_resolves_sqlite_paths_against_the_config_dir(void **state)
{
    fixture *fx = *state;
    ferry_store *st = NULL;
    char path[4200];
    ferry_err err;
    FILE *f;

    ferry_err_clear(&err);
    assert_int_equal(ferry_store_open("sqlite:other.db", fx->dir, &st, &err), FERRY_OK);
    ferry_store_free(st);
    snprintf(path, sizeof(path), "%s/other.db", fx->dir);
    f = fopen(path, "rb");
    assert_non_null(f);
    fclose(f);
}

static void store_open_rejects_other_databases(void **state)
{
    ferry_store *st = NULL;
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_store_open("sqlite:", NULL, &st, &err), FERRY_ECONFIG);
    assert_string_equal(err.msg, "database: 'sqlite:' needs a file path");
    ferry_err_clear(&err);
    assert_int_equal(ferry_store_open("postgres://u@h/db", NULL, &st, &err), FERRY_ECONFIG);
    ferry_err_clear(&err);
    assert_int_equal(ferry_store_open("mysql://h/db", NULL, &st, &err), FERRY_ECONFIG);
    assert_string_equal(err.msg, "database: expected sqlite:PATH");
    assert_null(st);
}

static void status_and_outcome_names_round_trip(void **state)
{
    ferry_run_status status;
    ferry_outcome outcome;

    (void)state;
    for (int i = FERRY_RUN_QUEUED; i <= FERRY_RUN_INTERRUPTED; i++) {
        assert_true(ferry_run_status_parse(ferry_run_status_name((ferry_run_status)i), &status));
        assert_int_equal(status, i);
    }
    for (int i = 0; i < FERRY_OUTCOME_COUNT; i++) {
        assert_true(ferry_outcome_parse(ferry_outcome_name((ferry_outcome)i), &outcome));
        assert_int_equal(outcome, i);
    }
    assert_string_equal(ferry_run_status_name(FERRY_RUN_CANCELLED), "cancelled");
    assert_string_equal(ferry_outcome_name(FERRY_OUTCOME_UNCHANGED), "unchanged");
    assert_string_equal(ferry_run_status_name((ferry_run_status)99), "unknown");
    assert_false(ferry_run_status_parse("Running", &status));
    assert_false(ferry_outcome_parse(NULL, &outcome));
}

static void a_version_1_database_is_migrated_and_keeps_its_runs(void **state)
{
    fixture *fx = *state;
    sqlite3 *db = ferry_sqlite_store_db(fx->store);
    ferry_run run = new_run("therapists", 1795500344000), got;
    ferry_store *again = NULL;
    ferry_err err;
    int64_t id = start(fx->store, &run);

    /* Make it a version 1 database: no users table. */
    assert_int_equal(
        sqlite3_exec(db, "DROP TABLE ferry_users; PRAGMA user_version = 1", NULL, NULL, NULL),
        SQLITE_OK);
    ferry_store_free(fx->store);
    fx->store = NULL;
    ferry_err_clear(&err);
    assert_int_equal(ferry_sqlite_store_open(fx->path, &again, &err), FERRY_OK);
    fx->store = again;
    assert_int_equal(again->ops->run_get(again, id, &got, &err), FERRY_OK);
    ferry_run_done(&got);
    assert_int_equal(sqlite3_exec(ferry_sqlite_store_db(again), "SELECT count(*) FROM ferry_users",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
}

static void users_are_added_listed_changed_and_disabled(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_user *users = NULL, u;
    size_t n = 0;
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_equal(st->ops->user_add(st, "ana", FERRY_ROLE_ADMIN, "$hash-a", &err), FERRY_OK);
    assert_int_equal(st->ops->user_add(st, "bo", FERRY_ROLE_VIEWER, "$hash-b", &err), FERRY_OK);
    assert_int_equal(st->ops->user_add(st, "ANA", FERRY_ROLE_VIEWER, "$x", &err), FERRY_EINVAL);
    assert_string_equal(err.msg, "a user named 'ANA' already exists");
    ferry_err_clear(&err);
    assert_int_equal(st->ops->user_list(st, &users, &n, &err), FERRY_OK);
    assert_int_equal(n, 2);
    assert_string_equal(users[0].name, "ana");
    assert_int_equal(users[0].role, FERRY_ROLE_ADMIN);
    assert_false(users[0].disabled);
    ferry_users_free(users, n);
    assert_int_equal(st->ops->user_set_password(st, "bo", "$hash-c", &err), FERRY_OK);
    assert_int_equal(st->ops->user_set_disabled(st, "bo", true, &err), FERRY_OK);
    assert_int_equal(st->ops->user_get(st, "bo", &u, &err), FERRY_OK);
    assert_string_equal(u.password_hash, "$hash-c");
    assert_true(u.disabled);
    ferry_user_done(&u);
    assert_int_equal(st->ops->user_get(st, "nobody", &u, &err), FERRY_ENOTFOUND);
    ferry_err_clear(&err);
    assert_int_equal(st->ops->user_set_disabled(st, "nobody", true, &err), FERRY_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(run_round_trip_keeps_every_field, setup, teardown),
        cmocka_unit_test_setup_teardown(run_without_optional_fields_reads_back_as_null, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(run_get_of_an_unknown_id_is_not_found, setup, teardown),
        cmocka_unit_test_setup_teardown(second_run_start_while_one_is_running_is_einval, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(queued_run_also_blocks_a_second_one, setup, teardown),
        cmocka_unit_test_setup_teardown(active_runs_are_per_sync_and_tenant, setup, teardown),
        cmocka_unit_test_setup_teardown(new_run_can_start_after_the_previous_finished, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            run_start_failing_for_another_reason_is_not_called_a_duplicate, setup, teardown),
        cmocka_unit_test_setup_teardown(run_list_is_newest_first_filtered_and_limited, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(run_list_without_a_limit_gives_20, setup, teardown),
        cmocka_unit_test_setup_teardown(changes_list_in_sequence_order_with_every_field, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(changes_filter_by_outcome_and_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(changes_belong_to_their_run, setup, teardown),
        cmocka_unit_test_setup_teardown(repeated_change_seq_is_a_database_error, setup, teardown),
        cmocka_unit_test_setup_teardown(a_run_whose_lease_was_taken_cannot_be_finished, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(enqueue_twice_returns_the_queued_run_and_claim_takes_it,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_queued_run_can_be_cancelled, setup, teardown),
        cmocka_unit_test_setup_teardown(
            heartbeats_renew_a_held_lease_and_expired_leases_are_reclaimed, setup, teardown),
        cmocka_unit_test_setup_teardown(a_batch_of_many_changes_is_stored_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(reopening_the_database_keeps_runs_and_changes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(users_are_added_listed_changed_and_disabled, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_version_1_database_is_migrated_and_keeps_its_runs, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(database_from_a_newer_ferry_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(opening_creates_ferry_tables_at_the_current_schema_version,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(store_open_resolves_sqlite_paths_against_the_config_dir,
                                        setup, teardown),
        cmocka_unit_test(store_open_rejects_other_databases),
        cmocka_unit_test(status_and_outcome_names_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
