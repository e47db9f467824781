/* test_store.c - Ferry's own tables on SQLite (src/store/sqlite_store.c) and PostgreSQL
 * (src/store/pg_store.c).
 *
 * The same scenarios run against both stores, in two groups: every test opens a fresh store
 * (a database file in a temporary directory, or a new database on the test run's PostgreSQL
 * server). Run records round-trip every field through run_start/run_finish/run_get/run_list,
 * the partial unique index allows one queued-or-running run per sync and tenant, change rows
 * list in order with an outcome filter and a limit, data survives reopening. Users, API
 * tokens and login sessions: token and session checks, idle and absolute session expiry
 * (tested by ageing rows through the raw connection, never by sleeping), sessions ended by a
 * new password or a disabled user, and the audit log with its filters and cursor. Nodes,
 * schedule claims and cancel requests of a running run.
 *
 * SQLite only: older databases (versions 1 and 3) are migrated with their data, a database
 * from a newer Ferry is refused, authentication does not wait for a writer, and
 * ferry_store_open()'s database setting. PostgreSQL only: several connections at once (claims
 * hand each run to one claimer, concurrent enqueues create one run, one schedule claimer
 * wins, three processes migrate one empty database), a broken connection is reset, the change
 * rows commit with the caller's transaction, and the URL's password never appears in an
 * error. */
#include "events/run_json.h"
#include "store/prune.h"
#include "store/store.h"
#include "testutil.h"
#include "util/timeutil.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

typedef enum { BACKEND_SQLITE, BACKEND_PG } backend;

typedef struct {
    backend kind;
    char *dir;       /* SQLite: the temporary directory */
    char path[4096]; /* SQLite: the database file */
    char *url;       /* PostgreSQL: the test's own database */
    ferry_store *store;
} fixture;

/* Opens another store on the fixture's database. */
static ferry_rc fx_open(const fixture *fx, ferry_store **ret, ferry_err *err)
{
    ferry_err_clear(err);
    if (fx->kind == BACKEND_PG)
        return ferry_pg_store_open(fx->url, ret, err);
    return ferry_sqlite_store_open(fx->path, ret, err);
}

static int setup_kind(void **state, backend kind)
{
    fixture *fx = calloc(1, sizeof(*fx));
    ferry_err err;

    assert_non_null(fx);
    fx->kind = kind;
    fx->dir = tu_tempdir();
    assert_non_null(fx->dir);
    snprintf(fx->path, sizeof(fx->path), "%s/ferry.db", fx->dir);
    if (kind == BACKEND_PG && (fx->url = tu_pg_database()) == NULL)
        fail_msg("no PostgreSQL database for the test");
    if (fx_open(fx, &fx->store, &err) != FERRY_OK)
        fail_msg("open: %s", err.msg);
    *state = fx;
    return 0;
}

static int setup_sqlite(void **state)
{
    return setup_kind(state, BACKEND_SQLITE);
}

static int setup_pg(void **state)
{
    return setup_kind(state, BACKEND_PG);
}

static int teardown(void **state)
{
    fixture *fx = *state;

    ferry_store_close(fx->store);
    tu_rmtree(fx->dir);
    free(fx->dir);
    free(fx->url);
    free(fx);
    return 0;
}

/* Runs sql on the fixture store's own connection (a test's way to age a row or break a
 * rule behind the store's back); sql must succeed. PostgreSQL gets "?1" as "$1". */
static void fx_exec_time(fixture *fx, const char *sql, const char *iso)
{
    if (fx->kind == BACKEND_SQLITE) {
        sqlite3 *db = ferry_sqlite_store_db(fx->store);
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
        if (iso != NULL)
            sqlite3_bind_text(st, 1, iso, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE && rc != SQLITE_ROW)
            fail_msg("%s: %s", sql, sqlite3_errmsg(db));
        return;
    }
    char pgsql[2048];
    size_t n = 0;
    for (const char *p = sql; *p != '\0' && n + 2 < sizeof(pgsql); p++) {
        pgsql[n++] = (p[0] == '?' && p[1] == '1') ? '$' : *p;
    }
    pgsql[n] = '\0';
    PGresult *res = PQexecParams(ferry_pg_store_conn(fx->store), pgsql, iso != NULL ? 1 : 0, NULL,
                                 iso != NULL ? &iso : NULL, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", pgsql, PQresultErrorMessage(res));
    PQclear(res);
}

static void fx_exec(fixture *fx, const char *sql)
{
    fx_exec_time(fx, sql, NULL);
}

/* True when a transaction is open on the store's connection. */
static bool fx_in_transaction(fixture *fx)
{
    if (fx->kind == BACKEND_SQLITE)
        return !sqlite3_get_autocommit(ferry_sqlite_store_db(fx->store));
    return PQtransactionStatus(ferry_pg_store_conn(fx->store)) != PQTRANS_IDLE;
}

/* Runs sql on db with ?1 bound to the ISO time of ms (a test's way to age a row). */
static void set_time(fixture *fx, const char *sql, int64_t ms)
{
    char iso[FERRY_ISO_TIME_MAX];

    ferry_time_format_iso(ms, iso);
    fx_exec_time(fx, sql, iso);
}

/* The first column of the first row of sql on db (SQLite), as an integer. */
static int64_t sq_query_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    int64_t v;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The first column of the first row of sql on conn (PostgreSQL), as an integer. */
static int64_t pg_query_int(PGconn *conn, const char *sql)
{
    PGresult *res = PQexec(conn, sql);
    int64_t v;

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1)
        fail_msg("%s: %s", sql, PQresultErrorMessage(res));
    v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return v;
}

/* The first column of the first row of sql, as an integer. */
static int64_t query_int(fixture *fx, const char *sql)
{
    if (fx->kind == BACKEND_SQLITE)
        return sq_query_int(ferry_sqlite_store_db(fx->store), sql);
    return pg_query_int(ferry_pg_store_conn(fx->store), sql);
}

/* True when the first column of the first row of sql is the time ms. */
static bool query_is_time(fixture *fx, const char *sql, int64_t ms)
{
    char iso[FERRY_ISO_TIME_MAX], wrapped[1024];
    sqlite3_stmt *st;
    bool same;

    if (fx->kind == BACKEND_PG) {
        snprintf(wrapped, sizeof(wrapped),
                 "SELECT (extract(epoch FROM x) * 1000)::bigint FROM (%s) AS q(x)", sql);
        return query_int(fx, wrapped) == ms;
    }
    ferry_time_format_iso(ms, iso);
    assert_int_equal(sqlite3_prepare_v2(ferry_sqlite_store_db(fx->store), sql, -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    same = sqlite3_column_text(st, 0) != NULL &&
           strcmp((const char *)sqlite3_column_text(st, 0), iso) == 0;
    sqlite3_finalize(st);
    return same;
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
    if (st->runs->run_start(st, run, &id, &err) != FERRY_OK)
        fail_msg("run_start: %s", err.msg);
    assert_true(id > 0);
    return id;
}

/* Ends run id with status at ms. */
static void finish_at(ferry_store *st, int64_t id, ferry_run_status status, int64_t ms)
{
    ferry_run run = new_run("x", 0);
    ferry_err err;

    run.id = id;
    run.status = status;
    run.phase = (char *)"done";
    run.finished_at_ms = ms;
    ferry_err_clear(&err);
    if (st->runs->run_finish(st, &run, &err) != FERRY_OK)
        fail_msg("run_finish: %s", err.msg);
}

static void finish(ferry_store *st, int64_t id, ferry_run_status status)
{
    finish_at(st, id, status, ferry_time_now_ms());
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
    if (st->runs->changes_add(st, &c, 1, &err) != FERRY_OK)
        fail_msg("changes_add: %s", err.msg);
}

/* A planner for the tests: a run delivery for endpoint 0 on every end, and the first records
 * batch for endpoint 0 when the run succeeded. */
static size_t test_plan(void *ctx, const ferry_run *run, ferry_delivery_plan *out, size_t max)
{
    size_t n = 0;

    (void)ctx;
    assert_true(max >= 2);
    out[n++] = (ferry_delivery_plan){0, "webhook", NULL};
    if (run->status == FERRY_RUN_SUCCEEDED)
        out[n++] = (ferry_delivery_plan){0, "records", NULL};
    return n;
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
    assert_int_equal(st->runs->run_load(st, id, &got, &err), FERRY_OK);
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
    assert_int_equal(st->runs->run_finish(st, &run, &err), FERRY_OK);

    assert_int_equal(st->runs->run_load(st, id, &got, &err), FERRY_OK);
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
    assert_int_equal(st->runs->run_load(st, id, &got, &err), FERRY_OK);
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
    assert_int_equal(fx->store->runs->run_load(fx->store, 42, &got, &err), FERRY_ENOTFOUND);
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
    assert_int_equal(st->runs->run_start(st, &run, &id, &err), FERRY_EINVAL);
    assert_string_equal(err.msg,
                        "a run of 'therapists' is already queued, running or held for review (a "
                        "held run waits for ferry approve RUN or ferry reject RUN)");
    /* The refused run left no record. */
    assert_int_equal(st->runs->run_list(st, &all, &runs, &n, &err), FERRY_OK);
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
    assert_int_equal(st->runs->run_start(st, &run, &id, &err), FERRY_EINVAL);
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
    assert_int_equal(st->runs->run_start(st, &run, &id, &err), FERRY_EINVAL);
    assert_string_equal(err.msg,
                        "a run of 'therapists' for tenant acme is already queued, running or held "
                        "for review (a held run waits for ferry approve RUN or ferry reject RUN)");
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
    rc = st->runs->run_start(st, &run, &id, &err);
    assert_int_equal(rc, FERRY_EDB);
    assert_null(strstr(err.msg, "already queued, running or held"));
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
    assert_int_equal(st->runs->run_list(st, &filter, &runs, &n, &err), FERRY_OK);
    assert_int_equal(n, 6);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(runs[i].id, ids[5 - i]);
    ferry_runs_free(runs, n);

    filter.sync = "therapists";
    assert_int_equal(st->runs->run_list(st, &filter, &runs, &n, &err), FERRY_OK);
    assert_int_equal(n, 3);
    assert_int_equal(runs[0].id, ids[4]);
    assert_int_equal(runs[1].id, ids[2]);
    assert_int_equal(runs[2].id, ids[0]);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(runs[i].sync, "therapists");
    ferry_runs_free(runs, n);

    filter.limit = 2;
    assert_int_equal(st->runs->run_list(st, &filter, &runs, &n, &err), FERRY_OK);
    assert_int_equal(n, 2);
    assert_int_equal(runs[0].id, ids[4]);
    ferry_runs_free(runs, n);

    filter.sync = "nothing";
    assert_int_equal(st->runs->run_list(st, &filter, &runs, &n, &err), FERRY_OK);
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
    assert_int_equal(st->runs->run_list(st, &filter, &runs, &n, &err), FERRY_OK);
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
    assert_int_equal(st->runs->change_list(
                         st, id, &(ferry_change_filter){.outcome = -1, .limit = 0}, &ch, &n, &err),
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
        st->runs->change_list(st, id,
                              &(ferry_change_filter){.outcome = FERRY_OUTCOME_FAILED, .limit = 0},
                              &ch, &n, &err),
        FERRY_OK);
    assert_int_equal(n, 3);
    assert_string_equal(ch[0].record_key, "T003");
    assert_string_equal(ch[1].record_key, "T006");
    assert_string_equal(ch[2].record_key, "T009");
    ferry_changes_free(ch, n);

    assert_int_equal(
        st->runs->change_list(st, id,
                              &(ferry_change_filter){.outcome = FERRY_OUTCOME_CREATED, .limit = 4},
                              &ch, &n, &err),
        FERRY_OK);
    assert_int_equal(n, 4);
    assert_string_equal(ch[0].record_key, "T001");
    assert_string_equal(ch[3].record_key, "T005");
    ferry_changes_free(ch, n);

    assert_int_equal(st->runs->change_list(
                         st, id, &(ferry_change_filter){.outcome = -1, .limit = 5}, &ch, &n, &err),
                     FERRY_OK);
    assert_int_equal(n, 5);
    ferry_changes_free(ch, n);

    assert_int_equal(
        st->runs->change_list(st, id,
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
    assert_int_equal(st->runs->change_list(
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
    assert_int_equal(st->runs->changes_add(st, &c, 1, &err), FERRY_EDB);
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
    fx_exec(fx, "UPDATE ferry_runs SET lease_owner = 'elsewhere:1'");
    run.status = FERRY_RUN_SUCCEEDED;
    run.finished_at_ms = 1795500345000;
    ferry_err_clear(&err);
    assert_int_equal(st->runs->run_finish(st, &run, &err), FERRY_ENOTFOUND);
    assert_non_null(strstr(err.msg, "not held by this process"));
}

static void a_failure_never_overwrites_a_run_that_already_ended(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344000), got;
    ferry_err err;

    /* A COMMIT stored the run as succeeded, but its answer was lost: the failure the run
     * then tries to record must not replace it. */
    run.id = start(st, &run);
    finish(st, run.id, FERRY_RUN_SUCCEEDED);
    run.status = FERRY_RUN_FAILED;
    run.error = (char *)"database: the connection was lost";
    run.finished_at_ms = 1795500346000;
    ferry_err_clear(&err);
    assert_int_equal(st->runs->run_finish(st, &run, &err), FERRY_ENOTFOUND);
    assert_int_equal(st->runs->run_load(st, run.id, &got, &err), FERRY_OK);
    assert_int_equal(got.status, FERRY_RUN_SUCCEEDED);
    assert_null(got.error);
    ferry_run_done(&got);
}

/* Incremental syncs: the watermark of each (sync, tenant, step), kept only when the run's
 * transaction commits, full_at kept when a later run passes 0; the run's full, mode, since. */
static void watermarks_commit_with_the_run_and_runs_keep_their_mode(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("tickets", 1795500344123), got;
    ferry_watermark wm = {1796547600000, 1796500000000, 7}, back;
    ferry_err err;
    int64_t id;

    ferry_err_clear(&err);
    assert_int_equal(st->runs->watermark_get(st, "tickets", NULL, 0, &back, &err), FERRY_ENOTFOUND);
    /* Rolled back with its transaction. */
    assert_int_equal(st->runs->tx_begin(st, &err), FERRY_OK);
    assert_int_equal(st->runs->watermark_put(st, "tickets", NULL, 0, &wm, &err), FERRY_OK);
    st->runs->tx_rollback(st);
    assert_int_equal(st->runs->watermark_get(st, "tickets", NULL, 0, &back, &err), FERRY_ENOTFOUND);
    assert_int_equal(st->runs->tx_begin(st, &err), FERRY_OK);
    assert_int_equal(st->runs->watermark_put(st, "tickets", NULL, 0, &wm, &err), FERRY_OK);
    assert_int_equal(st->runs->tx_commit(st, &err), FERRY_OK);
    ferry_err_clear(&err);
    assert_int_equal(st->runs->watermark_get(st, "tickets", NULL, 0, &back, &err), FERRY_OK);
    assert_int_equal(back.cursor_ms, wm.cursor_ms);
    assert_int_equal(back.full_at_ms, wm.full_at_ms);
    assert_int_equal(back.run_id, 7);
    /* An incremental run's (full_at 0) keeps the last full run's time. */
    wm = (ferry_watermark){1796547700000, 0, 8};
    assert_int_equal(st->runs->watermark_put(st, "tickets", NULL, 0, &wm, &err), FERRY_OK);
    assert_int_equal(st->runs->watermark_get(st, "tickets", NULL, 0, &back, &err), FERRY_OK);
    assert_int_equal(back.cursor_ms, 1796547700000);
    assert_int_equal(back.full_at_ms, 1796500000000);
    /* Other tenants and steps have their own. */
    assert_int_equal(st->runs->watermark_get(st, "tickets", "acme", 0, &back, &err),
                     FERRY_ENOTFOUND);
    assert_int_equal(st->runs->watermark_get(st, "tickets", NULL, 1, &back, &err), FERRY_ENOTFOUND);

    run.full = true;
    id = start(st, &run);
    run.id = id;
    run.status = FERRY_RUN_SUCCEEDED;
    run.mode = (char *)"incremental";
    run.since = (char *)"2026-12-06T08:55:00Z";
    run.finished_at_ms = 1795500349999;
    assert_int_equal(st->runs->run_finish(st, &run, &err), FERRY_OK);
    assert_int_equal(st->runs->run_load(st, id, &got, &err), FERRY_OK);
    assert_true(got.full);
    assert_string_equal(got.mode, "incremental");
    assert_string_equal(got.since, "2026-12-06T08:55:00Z");
    ferry_run_done(&got);
}

static void a_held_run_is_queued_again_as_the_same_attempt(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run want = new_run("therapists", 1795500344000), a, got;
    bool created = false;
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_equal(st->runs->run_enqueue(st, &want, &a, &created, &err), FERRY_OK);
    assert_int_equal(st->runs->run_claim(st, &got, &err), FERRY_OK);
    ferry_run_done(&got);
    assert_int_equal(st->runs->run_requeue(st, a.id, &err), FERRY_OK);
    assert_int_equal(st->runs->run_load(st, a.id, &got, &err), FERRY_OK);
    assert_int_equal(got.status, FERRY_RUN_QUEUED);
    assert_string_equal(got.phase, "queued");
    assert_int_equal(got.attempt, 1);
    assert_int_equal(got.started_at_ms, 0);
    assert_null(got.node);
    ferry_run_done(&got);
    /* Not running any more: nothing to give back. */
    assert_int_equal(st->runs->run_requeue(st, a.id, &err), FERRY_ENOTFOUND);
    /* The next claim takes it again. */
    assert_int_equal(st->runs->run_claim(st, &got, &err), FERRY_OK);
    assert_int_equal(got.id, a.id);
    ferry_run_done(&got);
    /* A run another process holds is not this one's to give back. */
    fx_exec(fx, "UPDATE ferry_runs SET lease_owner = 'elsewhere:1'");
    assert_int_equal(st->runs->run_requeue(st, a.id, &err), FERRY_ENOTFOUND);
    ferry_run_done(&a);
}

static void enqueue_twice_returns_the_queued_run_and_claim_takes_it(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run want = new_run("therapists", 1795500344000), a, b, c;
    bool created = false;
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_equal(st->runs->run_enqueue(st, &want, &a, &created, &err), FERRY_OK);
    assert_true(created);
    assert_int_equal(a.status, FERRY_RUN_QUEUED);
    assert_int_equal(st->runs->run_enqueue(st, &want, &b, &created, &err), FERRY_OK);
    assert_false(created);
    assert_int_equal(b.id, a.id);
    assert_int_equal(st->runs->run_claim(st, &c, &err), FERRY_OK);
    assert_int_equal(c.id, a.id);
    assert_int_equal(c.status, FERRY_RUN_RUNNING);
    ferry_run_done(&c);
    assert_int_equal(st->runs->run_claim(st, &c, &err), FERRY_DONE);
    assert_int_equal(st->runs->run_cancel_queued(st, a.id, NULL, &err), FERRY_ENOTFOUND);
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
    assert_int_equal(st->runs->run_enqueue(st, &want, &a, &created, &err), FERRY_OK);
    assert_int_equal(st->runs->run_cancel_queued(st, a.id, "ana", &err), FERRY_OK);
    assert_int_equal(st->runs->run_load(st, a.id, &got, &err), FERRY_OK);
    assert_int_equal(got.status, FERRY_RUN_CANCELLED);
    ferry_run_done(&got);
    assert_int_equal(st->runs->run_claim(st, &got, &err), FERRY_DONE);
    ferry_run_done(&a);
}

/* ferry_recovery.retries for the tests: the number in ctx. */
static int retries_from_ctx(void *ctx, const char *sync)
{
    (void)sync;
    return *(const int *)ctx;
}

static void heartbeats_renew_a_held_lease_and_expired_leases_are_reclaimed(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344000), got, next;
    int retries = 1, n = -1;
    ferry_recovery rec = {retries_from_ctx, NULL, &retries};
    ferry_audit_entry *audit = NULL;
    ferry_audit_filter af = {.action = "run.interrupted"};
    size_t naudit = 0;
    ferry_err err;

    run.id = start(st, &run);
    ferry_err_clear(&err);
    assert_int_equal(st->runs->run_heartbeat(st, run.id, &err), FERRY_OK);
    /* A fresh lease is not reclaimed. */
    assert_int_equal(st->runs->run_reclaim_expired(st, 60000, &rec, &n, &err), FERRY_OK);
    assert_int_equal(n, 0);
    /* A lease last renewed long ago is: attempt 1 ends as interrupted, and attempt 2 is a
     * new queued run that names it (retries: 1). */
    fx_exec(fx, "UPDATE ferry_runs SET heartbeat_at = '2020-01-01T00:00:00.000Z'");
    assert_int_equal(st->runs->run_reclaim_expired(st, 60000, &rec, &n, &err), FERRY_OK);
    assert_int_equal(n, 1);
    assert_int_equal(st->runs->run_load(st, run.id, &got, &err), FERRY_OK);
    assert_int_equal(got.status, FERRY_RUN_INTERRUPTED);
    assert_string_equal(got.error_code, "interrupted");
    assert_non_null(strstr(got.error, "sent no heartbeat for 60s"));
    assert_non_null(strstr(got.error, "queued again as run"));
    assert_non_null(strstr(got.error, "(attempt 2 of 2)"));
    assert_true(got.finished_at_ms > 0);
    ferry_run_done(&got);
    assert_int_equal(st->runs->run_claim(st, &next, &err), FERRY_OK);
    assert_true(next.id != run.id);
    assert_int_equal(next.attempt, 2);
    assert_int_equal(next.retry_of, run.id);
    assert_string_equal(next.sync, "therapists");
    assert_string_equal(next.trigger, run.trigger);
    /* The old holder has lost it: its heartbeat and its end say so. */
    assert_int_equal(st->runs->run_heartbeat(st, run.id, &err), FERRY_ENOTFOUND);
    /* Attempt 2 expires too: past the retries, it ends as failed, with no attempt 3. */
    fx_exec(fx, "UPDATE ferry_runs SET heartbeat_at = '2020-01-01T00:00:00.000Z'");
    assert_int_equal(st->runs->run_reclaim_expired(st, 60000, &rec, &n, &err), FERRY_OK);
    assert_int_equal(n, 1);
    assert_int_equal(st->runs->run_load(st, next.id, &got, &err), FERRY_OK);
    assert_int_equal(got.status, FERRY_RUN_FAILED);
    assert_string_equal(got.error_code, "interrupted");
    assert_non_null(strstr(got.error, "it is not started again (attempt 2, retries: 1)"));
    assert_non_null(strstr(got.ui_message, "Sync of therapists failed: the process running it"));
    ferry_run_done(&got);
    ferry_run_done(&next);
    assert_int_equal(st->runs->run_claim(st, &next, &err), FERRY_DONE);
    /* Both interruptions are in the audit trail, newest first. */
    assert_int_equal(st->people->audit_list(st, &af, &audit, &naudit, &err), FERRY_OK);
    assert_int_equal(naudit, 2);
    assert_non_null(strstr(audit[0].detail, "failed"));
    assert_non_null(strstr(audit[1].detail, "was interrupted"));
    assert_null(audit[0].actor);
    ferry_audit_free(audit, naudit);
}

static void a_revert_whose_lease_expired_fails_and_is_not_run_again(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344000), got, next;
    int retries = 3, n = -1;
    ferry_recovery rec = {retries_from_ctx, NULL, &retries};
    ferry_err err;

    run.trigger = (char *)"revert";
    run.reverts = 7;
    run.id = start(st, &run);
    fx_exec(fx, "UPDATE ferry_runs SET heartbeat_at = '2020-01-01T00:00:00.000Z'");
    ferry_err_clear(&err);
    assert_int_equal(st->runs->run_reclaim_expired(st, 60000, &rec, &n, &err), FERRY_OK);
    assert_int_equal(n, 1);
    assert_int_equal(st->runs->run_load(st, run.id, &got, &err), FERRY_OK);
    assert_int_equal(got.status, FERRY_RUN_FAILED);
    ferry_run_done(&got);
    assert_int_equal(st->runs->run_claim(st, &next, &err), FERRY_DONE);
}

static void a_run_whose_process_died_is_interrupted_and_without_retries_fails(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344000), got;
    ferry_recovery rec = {NULL, NULL, NULL}; /* retries: 0 */
    char dead[300];
    int n = -1;
    ferry_err err;
    pid_t pid = fork();

    /* A pid of this host that no longer exists: a child that has been reaped. */
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    ferry_node_self(dead, sizeof(dead));
    snprintf(strrchr(dead, ':') + 1, sizeof(dead) - (size_t)(strrchr(dead, ':') + 1 - dead), "%ld",
             (long)pid);
    run.id = start(st, &run);
    if (fx->kind == BACKEND_SQLITE) {
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(ferry_sqlite_store_db(st),
                                            "UPDATE ferry_runs SET lease_owner = ?1", -1, &q, NULL),
                         SQLITE_OK);
        sqlite3_bind_text(q, 1, dead, -1, SQLITE_STATIC);
        assert_int_equal(sqlite3_step(q), SQLITE_DONE);
        sqlite3_finalize(q);
    } else {
        char sql[512];
        snprintf(sql, sizeof(sql), "UPDATE ferry_runs SET lease_owner = '%s'", dead);
        fx_exec(fx, sql);
    }
    ferry_err_clear(&err);
    {
        /* Ended as failed: the deliveries a failure owes, in the same transaction. */
        ferry_outbox_planner planner = {test_plan, NULL};
        ferry_delivery_summary sum;
        ferry_store_planner_set(st, &planner);
        assert_int_equal(st->runs->run_recover(st, &rec, &n, &err), FERRY_OK);
        ferry_store_planner_set(st, NULL);
        assert_int_equal(st->outbox->delivery_summary(st, &run.id, 1, &sum, &err), FERRY_OK);
        assert_int_equal(sum.total, 1);
    }
    assert_int_equal(n, 1);
    assert_int_equal(st->runs->run_load(st, run.id, &got, &err), FERRY_OK);
    assert_int_equal(got.status, FERRY_RUN_FAILED);
    assert_string_equal(got.error_code, "interrupted");
    assert_non_null(strstr(got.error, "ended before the run finished"));
    assert_non_null(strstr(got.error, "it is not started again (attempt 1, retries: 0)"));
    ferry_run_done(&got);
    /* Nothing queued, and recovering again finds nothing. */
    assert_int_equal(st->runs->run_claim(st, &got, &err), FERRY_DONE);
    assert_int_equal(st->runs->run_recover(st, &rec, &n, &err), FERRY_OK);
    assert_int_equal(n, 0);
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
    assert_int_equal(st->runs->changes_add(st, batch, 300, &err), FERRY_OK);
    assert_int_equal(st->runs->change_list(
                         st, id, &(ferry_change_filter){.outcome = -1, .limit = 0}, &ch, &n, &err),
                     FERRY_OK);
    assert_int_equal(n, 300);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ch[i].seq, (int64_t)i + 1);
        assert_string_equal(ch[i].record_key, keys[i]);
        assert_int_equal(ch[i].row, (long)i + 2);
    }
    ferry_changes_free(ch, n);
    assert_int_equal(
        st->runs->change_list(st, id,
                              &(ferry_change_filter){.outcome = FERRY_OUTCOME_UPDATED, .limit = 0},
                              &ch, &n, &err),
        FERRY_OK);
    assert_int_equal(n, 150);
    ferry_changes_free(ch, n);
}

static void a_run_keeps_what_it_read_and_its_activity(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("tickets", 1795500344000), got;
    const char *log = "[{\"at\":\"2026-11-22T10:05:44.000Z\",\"kind\":\"page\",\"text\":"
                      "\"page 1: 100 records, 18634 bytes\"}]";
    ferry_err err;
    int64_t id = start(st, &run), quiet;

    run.id = id;
    run.status = FERRY_RUN_SUCCEEDED;
    run.phase = (char *)"done";
    run.source_bytes = 2400000;
    run.source_records = 12345;
    run.activity = (char *)log;
    run.finished_at_ms = 1795500349999;
    ferry_err_clear(&err);
    assert_int_equal(st->runs->run_finish(st, &run, &err), FERRY_OK);
    assert_int_equal(st->runs->run_load(st, id, &got, &err), FERRY_OK);
    assert_int_equal(got.source_bytes, 2400000);
    assert_int_equal(got.source_records, 12345);
    assert_int_equal(got.fetched, 12345);
    assert_string_equal(got.activity, log);
    ferry_run_done(&got);

    /* A run that read nothing (it failed connecting) has neither, and no log. */
    run = new_run("tickets", 1795500350000);
    quiet = start(st, &run);
    run.id = quiet;
    run.status = FERRY_RUN_FAILED;
    run.phase = (char *)"done";
    run.source_records = -1;
    run.finished_at_ms = 1795500359999;
    assert_int_equal(st->runs->run_finish(st, &run, &err), FERRY_OK);
    assert_int_equal(st->runs->run_load(st, quiet, &got, &err), FERRY_OK);
    assert_int_equal(got.source_bytes, 0);
    assert_int_equal(got.source_records, -1);
    assert_null(got.activity);
    ferry_run_done(&got);
}

static void a_revert_names_its_run_and_a_deleted_row_keeps_its_values(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("people", 1795500344000), got;
    const char *values = "{\"id\":\"P1\",\"name\":\"Ann\",\"email\":null}";
    ferry_change c = {0}, *ch = NULL;
    ferry_change_filter all = {.outcome = -1};
    size_t n = 0;
    ferry_err err;
    int64_t id;

    run.trigger = (char *)"revert";
    run.reverts = 41;
    run.revert_comment = (char *)"wrong file";
    id = start(st, &run);
    c.run_id = id;
    c.seq = 1;
    c.record_key = (char *)"P1";
    c.outcome = FERRY_OUTCOME_DELETED;
    c.reason = (char *)"no longer in the source: deleted";
    c.row_values = (char *)values;
    ferry_err_clear(&err);
    assert_int_equal(st->runs->changes_add(st, &c, 1, &err), FERRY_OK);
    assert_int_equal(st->runs->run_load(st, id, &got, &err), FERRY_OK);
    assert_string_equal(got.trigger, "revert");
    assert_int_equal(got.reverts, 41);
    assert_string_equal(got.revert_comment, "wrong file");
    ferry_run_done(&got);
    assert_int_equal(st->runs->change_list(st, id, &all, &ch, &n, &err), FERRY_OK);
    assert_int_equal(n, 1);
    assert_string_equal(ch[0].row_values, values);
    ferry_changes_free(ch, n);
}

static void labelled_skip_counts_are_kept_in_their_order(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344000), got, *runs = NULL;
    ferry_label_count items[3] = {
        {(char *)"FLAT", 3}, {(char *)"no email", 0}, {(char *)"Über", 2}};
    ferry_sync_stats stats;
    size_t n = 0;
    ferry_err err;
    int64_t id = start(st, &run), plain;

    run.id = id;
    run.status = FERRY_RUN_SUCCEEDED;
    run.phase = (char *)"done";
    run.counts[FERRY_OUTCOME_SKIPPED] = 5;
    run.skipped_by_label = (ferry_label_counts){items, 3};
    run.finished_at_ms = 1795500349999;
    ferry_err_clear(&err);
    assert_int_equal(st->runs->run_finish(st, &run, &err), FERRY_OK);
    assert_int_equal(st->runs->run_load(st, id, &got, &err), FERRY_OK);
    assert_int_equal(got.counts[FERRY_OUTCOME_SKIPPED], 5);
    assert_int_equal(got.skipped_by_label.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_string_equal(got.skipped_by_label.items[i].label, items[i].label);
        assert_int_equal(got.skipped_by_label.items[i].count, items[i].count);
    }
    ferry_run_done(&got);
    assert_int_equal(
        st->runs->run_list(st, &(ferry_run_filter){.sync = "therapists"}, &runs, &n, &err),
        FERRY_OK);
    assert_int_equal(n, 1);
    assert_int_equal(runs[0].skipped_by_label.n, 3);
    assert_string_equal(runs[0].skipped_by_label.items[2].label, "Über");
    ferry_runs_free(runs, n);

    /* A run of a sync without labels has none; the statistics count every skipped record. */
    run = new_run("therapists", 1795500350000);
    plain = start(st, &run);
    run.id = plain;
    run.status = FERRY_RUN_SUCCEEDED;
    run.phase = (char *)"done";
    run.counts[FERRY_OUTCOME_SKIPPED] = 4;
    run.finished_at_ms = 1795500359999;
    assert_int_equal(st->runs->run_finish(st, &run, &err), FERRY_OK);
    assert_int_equal(st->runs->run_load(st, plain, &got, &err), FERRY_OK);
    assert_int_equal(got.skipped_by_label.n, 0);
    assert_null(got.skipped_by_label.items);
    ferry_run_done(&got);
    assert_int_equal(st->runs->sync_stats(st, "therapists", &stats, &err), FERRY_OK);
    assert_int_equal(stats.records[FERRY_OUTCOME_SKIPPED], 5 + 3 + 2 + 4);
    ferry_sync_stats_done(&stats);
}

static void a_change_keeps_the_records_name(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344000);
    ferry_change batch[130];
    char names[130][32];
    ferry_change *ch = NULL;
    size_t n = 0;
    ferry_err err;
    int64_t id = start(st, &run);

    /* 130: a multi-row statement of 128 and two single rows on SQLite; one COPY on PostgreSQL,
     * whose text format escapes the backslash and the tab. */
    for (int i = 0; i < 130; i++) {
        snprintf(names[i], sizeof(names[i]), "Ayu %d (a\\%d@x.io)\t", i, i);
        batch[i] = (ferry_change){.run_id = id,
                                  .seq = i + 1,
                                  .record_key = (char *)"K",
                                  .outcome = FERRY_OUTCOME_CREATED,
                                  .row = i + 2,
                                  .label = i == 7 ? NULL : names[i]};
    }
    ferry_err_clear(&err);
    assert_int_equal(st->runs->changes_add(st, batch, 130, &err), FERRY_OK);
    assert_int_equal(st->runs->change_list(
                         st, id, &(ferry_change_filter){.outcome = -1, .limit = 0}, &ch, &n, &err),
                     FERRY_OK);
    assert_int_equal(n, 130);
    for (size_t i = 0; i < n; i++) {
        if (i == 7)
            assert_null(ch[i].label);
        else
            assert_string_equal(ch[i].label, names[i]);
    }
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
    ferry_store_close(fx->store);
    fx->store = NULL;

    ferry_err_clear(&err);
    assert_int_equal(fx_open(fx, &fx->store, &err), FERRY_OK);
    assert_int_equal(fx->store->runs->run_load(fx->store, id, &got, &err), FERRY_OK);
    assert_string_equal(got.sync, "therapists");
    assert_int_equal(got.status, FERRY_RUN_SUCCEEDED);
    ferry_run_done(&got);
    assert_int_equal(fx->store->runs->change_list(fx->store, id,
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
    ferry_store_close(fx->store);
    fx->store = NULL;
    ferry_err_clear(&err);
    assert_int_equal(ferry_sqlite_store_open(fx->path, &again, &err), FERRY_EDB);
    assert_null(again);
    snprintf(want, sizeof(want),
             "database %s: the database was written by a newer Ferry (schema version 99; this "
             "Ferry knows up to 17)",
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
                           " ('ferry_runs', 'ferry_changes', 'ferry_users', 'ferry_api_tokens',"
                           " 'ferry_sessions', 'ferry_audit', 'ferry_nodes',"
                           " 'ferry_schedule_fires', 'ferry_secrets')),"
                           " (SELECT journal_mode FROM pragma_journal_mode)",
                           -1, &st, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 17);
    assert_int_equal(sqlite3_column_int(st, 1), 9);
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
    ferry_store_close(st);
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
    /* A PostgreSQL URL is opened by the PostgreSQL store: nothing listens on port 1. */
    assert_int_equal(ferry_store_open("postgres://u:hunter2pw@127.0.0.1:1/db", NULL, &st, &err),
                     FERRY_EDB);
    assert_null(strstr(err.msg, "hunter2pw"));
    assert_non_null(strstr(err.msg, "postgres://127.0.0.1:1/db"));
    ferry_err_clear(&err);
    assert_int_equal(ferry_store_open("mysql://h/db", NULL, &st, &err), FERRY_ECONFIG);
    assert_string_equal(err.msg, "database: expected sqlite:PATH or postgres://USER@HOST:PORT/DB");
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

    /* Make it a version 1 database: nothing of versions 2 to 9. */
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TABLE ferry_audit; DROP TABLE ferry_sessions;"
                                  " DROP TABLE ferry_api_tokens; DROP TABLE ferry_users;"
                                  " DROP TABLE ferry_nodes; DROP TABLE ferry_schedule_fires;"
                                  " ALTER TABLE ferry_runs DROP COLUMN token_label;"
                                  " ALTER TABLE ferry_runs DROP COLUMN cancel_requested_by;"
                                  " ALTER TABLE ferry_runs DROP COLUMN allow_missing;"
                                  " ALTER TABLE ferry_runs DROP COLUMN retry_of;"
                                  " ALTER TABLE ferry_runs DROP COLUMN steps;"
                                  " ALTER TABLE ferry_changes DROP COLUMN step;"
                                  " ALTER TABLE ferry_runs DROP COLUMN skipped_by_label;"
                                  " ALTER TABLE ferry_changes DROP COLUMN label;"
                                  " ALTER TABLE ferry_changes DROP COLUMN link;"
                                  " ALTER TABLE ferry_runs DROP COLUMN full_requested;"
                                  " ALTER TABLE ferry_runs DROP COLUMN run_mode;"
                                  " ALTER TABLE ferry_runs DROP COLUMN since;"
                                  " DROP TABLE ferry_watermarks;"
                                  " ALTER TABLE ferry_runs DROP COLUMN source_bytes;"
                                  " ALTER TABLE ferry_runs DROP COLUMN source_records;"
                                  " ALTER TABLE ferry_runs DROP COLUMN activity;"
                                  " ALTER TABLE ferry_runs DROP COLUMN preview;"
                                  " ALTER TABLE ferry_runs DROP COLUMN held_reason;"
                                  " ALTER TABLE ferry_runs DROP COLUMN held_admin;"
                                  " ALTER TABLE ferry_runs DROP COLUMN held_until;"
                                  " ALTER TABLE ferry_runs DROP COLUMN change_digest;"
                                  " ALTER TABLE ferry_runs DROP COLUMN decision;"
                                  " ALTER TABLE ferry_runs DROP COLUMN decided_by;"
                                  " ALTER TABLE ferry_runs DROP COLUMN decision_comment;"
                                  " ALTER TABLE ferry_runs DROP COLUMN decided_at;"
                                  " ALTER TABLE ferry_runs DROP COLUMN reverts;"
                                  " ALTER TABLE ferry_runs DROP COLUMN revert_comment;"
                                  " ALTER TABLE ferry_changes DROP COLUMN row_values;"
                                  " DROP INDEX ferry_runs_by_finished;"
                                  " ALTER TABLE ferry_runs DROP COLUMN changes_pruned_at;"
                                  " PRAGMA user_version = 1",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    ferry_store_close(fx->store);
    fx->store = NULL;
    ferry_err_clear(&err);
    assert_int_equal(ferry_sqlite_store_open(fx->path, &again, &err), FERRY_OK);
    fx->store = again;
    assert_int_equal(again->runs->run_load(again, id, &got, &err), FERRY_OK);
    ferry_run_done(&got);
    assert_int_equal(sqlite3_exec(ferry_sqlite_store_db(again),
                                  "SELECT count(*) FROM ferry_users; SELECT count(*) FROM"
                                  " ferry_sessions; SELECT token_label, cancel_requested_by,"
                                  " allow_missing, skipped_by_label FROM ferry_runs; SELECT"
                                  " label FROM ferry_changes; SELECT count(*) FROM ferry_nodes",
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
    assert_int_equal(st->people->user_add(st, "ana", FERRY_ROLE_ADMIN, "$hash-a", &err), FERRY_OK);
    assert_int_equal(st->people->user_add(st, "bo", FERRY_ROLE_VIEWER, "$hash-b", &err), FERRY_OK);
    assert_int_equal(st->people->user_add(st, "ANA", FERRY_ROLE_VIEWER, "$x", &err), FERRY_EINVAL);
    assert_string_equal(err.msg, "a user named 'ANA' already exists");
    ferry_err_clear(&err);
    assert_int_equal(st->people->user_list(st, &users, &n, &err), FERRY_OK);
    assert_int_equal(n, 2);
    assert_string_equal(users[0].name, "ana");
    assert_int_equal(users[0].role, FERRY_ROLE_ADMIN);
    assert_false(users[0].disabled);
    ferry_users_free(users, n);
    assert_int_equal(st->people->user_set_password(st, "bo", "$hash-c", &err), FERRY_OK);
    assert_int_equal(st->people->user_set_disabled(st, "bo", true, &err), FERRY_OK);
    assert_int_equal(st->people->user_load(st, "bo", &u, &err), FERRY_OK);
    assert_string_equal(u.password_hash, "$hash-c");
    assert_true(u.disabled);
    ferry_user_done(&u);
    assert_int_equal(st->people->user_load(st, "nobody", &u, &err), FERRY_ENOTFOUND);
    ferry_err_clear(&err);
    assert_int_equal(st->people->user_set_disabled(st, "nobody", true, &err), FERRY_ENOTFOUND);
}

static void add_user(ferry_store *st, const char *name, ferry_role role)
{
    ferry_err err;

    ferry_err_clear(&err);
    if (st->people->user_add(st, name, role, "$argon2id$placeholder", &err) != FERRY_OK)
        fail_msg("user_add: %s", err.msg);
}

static int64_t add_token(ferry_store *st, const char *user, const char *label, const char *hash)
{
    int64_t id = 0;
    ferry_err err;

    ferry_err_clear(&err);
    if (st->people->token_add(st, user, label, hash, &id, &err) != FERRY_OK)
        fail_msg("token_add: %s", err.msg);
    return id;
}

static void add_session(ferry_store *st, const char *user, const char *hash)
{
    ferry_err err;

    ferry_err_clear(&err);
    if (st->people->session_add(st, user, hash, &err) != FERRY_OK)
        fail_msg("session_add: %s", err.msg);
}

/* session_auth with limits long enough that only a test's aging of a row expires it. */
#define IDLE_MS (30 * 60 * 1000)
#define MAX_MS (12 * 60 * 60 * 1000)

static ferry_rc auth_session(ferry_store *st, const char *hash, ferry_err *err)
{
    ferry_principal p;
    ferry_rc rc;

    ferry_err_clear(err);
    rc = st->people->session_auth(st, hash, IDLE_MS, MAX_MS, &p, err);
    if (rc == FERRY_OK)
        ferry_principal_done(&p);
    return rc;
}

static ferry_rc auth_token(ferry_store *st, const char *hash, ferry_err *err)
{
    ferry_principal p;
    ferry_rc rc;

    ferry_err_clear(err);
    rc = st->people->token_auth(st, hash, &p, err);
    if (rc == FERRY_OK)
        ferry_principal_done(&p);
    return rc;
}

/* The schema of a version 3 database, as Ferry 3 wrote it (no token_label, sessions or
 * audit log). */
static const char *const v3_schema =
    "CREATE TABLE ferry_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, sync TEXT NOT NULL,"
    " tenant TEXT, trigger TEXT NOT NULL, user_name TEXT, status TEXT NOT NULL, phase TEXT NOT"
    " NULL, percent INTEGER NOT NULL DEFAULT 0, processed INTEGER NOT NULL DEFAULT 0, total"
    " INTEGER, created INTEGER NOT NULL DEFAULT 0, updated INTEGER NOT NULL DEFAULT 0,"
    " unchanged INTEGER NOT NULL DEFAULT 0, skipped INTEGER NOT NULL DEFAULT 0, failed INTEGER"
    " NOT NULL DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0, ui_message TEXT, log_message"
    " TEXT, error TEXT, error_code TEXT, dry_run INTEGER NOT NULL DEFAULT 0, queued_at TEXT NOT"
    " NULL, started_at TEXT, finished_at TEXT, heartbeat_at TEXT, duration_ms INTEGER,"
    " lease_owner TEXT, attempt INTEGER NOT NULL DEFAULT 1, cancel_requested INTEGER NOT NULL"
    " DEFAULT 0, cancelled_by TEXT);"
    "CREATE UNIQUE INDEX ferry_runs_one_active ON ferry_runs (sync, ifnull(tenant, ''))"
    " WHERE status IN ('queued', 'running');"
    "CREATE INDEX ferry_runs_by_sync ON ferry_runs (sync, id);"
    "CREATE TABLE ferry_changes (run_id INTEGER NOT NULL, seq INTEGER NOT NULL, record_key"
    " TEXT, outcome TEXT NOT NULL, row INTEGER, reason TEXT, diff TEXT, PRIMARY KEY (run_id,"
    " seq)) WITHOUT ROWID;"
    "CREATE TABLE ferry_users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE"
    " COLLATE NOCASE, role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),"
    " password_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT"
    " NULL, password_changed_at TEXT NOT NULL);"
    "CREATE TABLE ferry_api_tokens (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id INTEGER NOT"
    " NULL REFERENCES ferry_users (id), label TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,"
    " created_at TEXT NOT NULL, last_used_at TEXT, revoked_at TEXT);"
    "INSERT INTO ferry_users (name, role, password_hash, created_at, password_changed_at)"
    " VALUES ('ana', 'admin', '$argon2id$ana', '2026-11-01T10:00:00.000Z',"
    " '2026-11-01T10:00:00.000Z');"
    "INSERT INTO ferry_api_tokens (user_id, label, token_hash, created_at) VALUES (1, 'app"
    " backend', 'v3-token-hash', '2026-11-02T10:00:00.000Z');"
    "INSERT INTO ferry_runs (sync, trigger, user_name, status, phase, queued_at, cancelled_by)"
    " VALUES ('therapists', 'api', 'ana', 'cancelled', 'done', '2026-11-03T10:00:00.000Z',"
    " 'ana');"
    "PRAGMA user_version = 3;";

static void a_version_3_database_is_migrated_and_keeps_users_tokens_and_runs(void **state)
{
    fixture *fx = *state;
    char path[4200];
    ferry_store *st = NULL;
    ferry_principal p;
    ferry_token *tokens = NULL;
    ferry_user u;
    ferry_run run;
    sqlite3 *db;
    size_t n = 0;
    ferry_err err;

    snprintf(path, sizeof(path), "%s/v3.db", fx->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, v3_schema, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    ferry_err_clear(&err);
    if (ferry_sqlite_store_open(path, &st, &err) != FERRY_OK)
        fail_msg("open: %s", err.msg);
    db = ferry_sqlite_store_db(st);
    assert_int_equal(sq_query_int(db, "PRAGMA user_version"), 17);
    assert_int_equal(sq_query_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN"
                                      " ('ferry_sessions', 'ferry_audit', 'ferry_nodes')"),
                     3);
    /* The user, the token and the run are all still there. */
    assert_int_equal(st->people->user_load(st, "ana", &u, &err), FERRY_OK);
    assert_int_equal(u.role, FERRY_ROLE_ADMIN);
    assert_string_equal(u.password_hash, "$argon2id$ana");
    ferry_user_done(&u);
    assert_int_equal(st->people->token_list(st, &tokens, &n, &err), FERRY_OK);
    assert_int_equal(n, 1);
    assert_string_equal(tokens[0].label, "app backend");
    ferry_tokens_free(tokens, n);
    assert_int_equal(st->people->token_auth(st, "v3-token-hash", &p, &err), FERRY_OK);
    assert_string_equal(p.user, "ana");
    ferry_principal_done(&p);
    assert_int_equal(st->runs->run_load(st, 1, &run, &err), FERRY_OK);
    assert_string_equal(run.user, "ana");
    assert_null(run.token);
    assert_string_equal(run.cancelled_by, "ana");
    ferry_run_done(&run);
    /* The new tables work. */
    add_session(st, "ana", "s1");
    assert_int_equal(auth_session(st, "s1", &err), FERRY_OK);
    assert_int_equal(
        st->people->audit_add(st, &(ferry_audit_entry){.actor = "ana", .action = "login"}, &err),
        FERRY_OK);
    ferry_store_close(st);
}

static void a_run_keeps_its_token_and_who_cancelled_it(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344000), got, copy, queued;
    ferry_run_filter all = {.limit = 0};
    ferry_run *runs = NULL;
    bool created = false;
    size_t n = 0;
    ferry_err err;
    int64_t id;

    run.user = (char *)"ana";
    run.token = (char *)"app backend";
    id = start(st, &run);
    ferry_err_clear(&err);
    assert_int_equal(st->runs->run_load(st, id, &got, &err), FERRY_OK);
    assert_string_equal(got.token, "app backend");
    assert_null(got.cancelled_by);
    ferry_run_done(&got);

    /* A running run's canceller is recorded in the same write as its end. */
    {
        ferry_run end = new_run("x", 0);
        end.id = id;
        end.status = FERRY_RUN_CANCELLED;
        end.phase = (char *)"done";
        end.finished_at_ms = ferry_time_now_ms();
        end.cancelled_by = (char *)"bo";
        ferry_err_clear(&err);
        assert_int_equal(st->runs->run_finish(st, &end, &err), FERRY_OK);
    }
    ferry_err_clear(&err);
    assert_int_equal(st->runs->run_load(st, id, &got, &err), FERRY_OK);
    assert_int_equal(got.status, FERRY_RUN_CANCELLED);
    assert_string_equal(got.cancelled_by, "bo");
    assert_string_equal(got.token, "app backend");
    /* ferry_run_copy copies both. */
    assert_true(ferry_run_copy(&copy, &got));
    assert_string_equal(copy.token, "app backend");
    assert_string_equal(copy.cancelled_by, "bo");
    assert_ptr_not_equal(copy.token, got.token);
    ferry_run_done(&copy);
    ferry_run_done(&got);

    /* A queued run: its token from run_enqueue, its canceller from run_cancel_queued. */
    run.token = (char *)"cron job";
    ferry_err_clear(&err);
    assert_int_equal(st->runs->run_enqueue(st, &run, &queued, &created, &err), FERRY_OK);
    assert_true(created);
    assert_string_equal(queued.token, "cron job");
    assert_int_equal(st->runs->run_cancel_queued(st, queued.id, "ana", &err), FERRY_OK);
    assert_int_equal(st->runs->run_list(st, &all, &runs, &n, &err), FERRY_OK);
    assert_int_equal(n, 2);
    assert_int_equal(runs[0].id, queued.id);
    assert_string_equal(runs[0].token, "cron job");
    assert_string_equal(runs[0].cancelled_by, "ana");
    assert_string_equal(runs[1].token, "app backend");
    ferry_runs_free(runs, n);
    ferry_run_done(&queued);
}

static void run_list_filters_by_exactly_one_user(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    static const char *const users[] = {"ana", "bo", NULL, "ana", "anabel", "Ana"};
    ferry_run_filter filter = {.user = "ana"};
    ferry_run *runs = NULL;
    int64_t ids[6];
    size_t n = 0;
    ferry_err err;

    for (int i = 0; i < 6; i++) {
        ferry_run run = new_run("therapists", 1795500344000 + i);
        run.user = (char *)users[i];
        ids[i] = start(st, &run);
        finish(st, ids[i], FERRY_RUN_SUCCEEDED);
    }
    ferry_err_clear(&err);
    assert_int_equal(st->runs->run_list(st, &filter, &runs, &n, &err), FERRY_OK);
    assert_int_equal(n, 2);
    assert_int_equal(runs[0].id, ids[3]);
    assert_int_equal(runs[1].id, ids[0]);
    ferry_runs_free(runs, n);
    filter.user = "nobody";
    assert_int_equal(st->runs->run_list(st, &filter, &runs, &n, &err), FERRY_OK);
    assert_int_equal(n, 0);
    ferry_runs_free(runs, n);
    filter.user = NULL;
    assert_int_equal(st->runs->run_list(st, &filter, &runs, &n, &err), FERRY_OK);
    assert_int_equal(n, 6);
    ferry_runs_free(runs, n);
}

static void a_valid_token_names_its_user_and_records_its_use(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    int64_t before = ferry_time_now_ms(), id, old;
    ferry_principal p;
    ferry_err err;

    add_user(st, "ana", FERRY_ROLE_VIEWER);
    add_user(st, "bo", FERRY_ROLE_OPERATOR);
    id = add_token(st, "bo", "app backend", "hash-bo");
    ferry_err_clear(&err);
    assert_int_equal(st->people->token_auth(st, "hash-bo", &p, &err), FERRY_OK);
    assert_int_equal(p.token_id, id);
    assert_string_equal(p.token_label, "app backend");
    assert_string_equal(p.user, "bo");
    assert_int_equal(p.user_id, query_int(fx, "SELECT id FROM ferry_users WHERE name = 'bo'"));
    assert_int_equal(p.role, FERRY_ROLE_OPERATOR);
    assert_true(p.created_at_ms >= before - 1000 && p.created_at_ms <= ferry_time_now_ms());
    /* Never used before: the use is recorded now. */
    assert_true(p.last_seen_at_ms >= before && p.last_seen_at_ms <= ferry_time_now_ms());
    assert_true(query_is_time(fx, "SELECT last_used_at FROM ferry_api_tokens", p.last_seen_at_ms));
    ferry_principal_done(&p);

    /* Used 30 s ago: not written again. */
    old = ferry_time_now_ms() - 30000;
    set_time(fx, "UPDATE ferry_api_tokens SET last_used_at = ?1", old);
    assert_int_equal(st->people->token_auth(st, "hash-bo", &p, &err), FERRY_OK);
    assert_int_equal(p.last_seen_at_ms, old);
    ferry_principal_done(&p);
    assert_true(query_is_time(fx, "SELECT last_used_at FROM ferry_api_tokens", old));

    /* Used two minutes ago: written again. */
    old = ferry_time_now_ms() - 120000;
    set_time(fx, "UPDATE ferry_api_tokens SET last_used_at = ?1", old);
    assert_int_equal(st->people->token_auth(st, "hash-bo", &p, &err), FERRY_OK);
    assert_true(p.last_seen_at_ms > old + 60000);
    assert_true(query_is_time(fx, "SELECT last_used_at FROM ferry_api_tokens", p.last_seen_at_ms));
    ferry_principal_done(&p);
}

static void unknown_revoked_or_disabled_tokens_are_refused(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    int64_t revoked;
    ferry_err err;

    add_user(st, "ana", FERRY_ROLE_ADMIN);
    add_user(st, "bo", FERRY_ROLE_VIEWER);
    revoked = add_token(st, "ana", "old", "hash-revoked");
    add_token(st, "bo", "bo's", "hash-bo");
    ferry_err_clear(&err);
    assert_int_equal(st->people->token_revoke(st, revoked, &err), FERRY_OK);

    assert_int_equal(auth_token(st, "hash-unknown", &err), FERRY_ENOTFOUND);
    assert_string_equal(err.msg, "no such API token");
    assert_int_equal(auth_token(st, "hash-revoked", &err), FERRY_ENOTFOUND);
    assert_string_equal(err.msg, "API token 1 is revoked");
    assert_null(strstr(err.msg, "hash"));

    /* A disabled user's token stops working, and works again once the user is enabled. */
    assert_int_equal(auth_token(st, "hash-bo", &err), FERRY_OK);
    assert_int_equal(st->people->user_set_disabled(st, "bo", true, &err), FERRY_OK);
    assert_int_equal(auth_token(st, "hash-bo", &err), FERRY_ENOTFOUND);
    assert_string_equal(err.msg, "user 'bo' is disabled");
    assert_int_equal(st->people->user_set_disabled(st, "bo", false, &err), FERRY_OK);
    assert_int_equal(auth_token(st, "hash-bo", &err), FERRY_OK);
}

static void authentication_does_not_wait_for_a_busy_database(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    sqlite3 *writer;
    int64_t old = ferry_time_now_ms() - 120000, t0;
    ferry_principal p;
    ferry_err err;

    add_user(st, "ana", FERRY_ROLE_ADMIN);
    add_token(st, "ana", "app", "hash-a");
    add_session(st, "ana", "sess-a");
    set_time(fx, "UPDATE ferry_api_tokens SET last_used_at = ?1", old);
    set_time(fx, "UPDATE ferry_sessions SET last_seen_at = ?1", old);
    /* Another connection holds the write lock, as a run does for its whole transaction. */
    assert_int_equal(sqlite3_open(fx->path, &writer), SQLITE_OK);
    assert_int_equal(sqlite3_exec(writer, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    t0 = ferry_time_mono_ms();
    ferry_err_clear(&err);
    assert_int_equal(st->people->token_auth(st, "hash-a", &p, &err), FERRY_OK);
    assert_int_equal(p.last_seen_at_ms, old);
    ferry_principal_done(&p);
    assert_int_equal(st->people->session_auth(st, "sess-a", IDLE_MS, MAX_MS, &p, &err), FERRY_OK);
    assert_int_equal(p.last_seen_at_ms, old);
    ferry_principal_done(&p);
    /* The busy timeout is 10 s: well under it means neither waited. */
    assert_true(ferry_time_mono_ms() - t0 < 5000);
    assert_int_equal(sqlite3_exec(writer, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(writer);
    /* Once the database is free, the use is recorded. */
    assert_int_equal(st->people->token_auth(st, "hash-a", &p, &err), FERRY_OK);
    assert_true(p.last_seen_at_ms > old);
    assert_true(query_is_time(fx, "SELECT last_used_at FROM ferry_api_tokens", p.last_seen_at_ms));
    ferry_principal_done(&p);
}

static void a_session_names_its_user_until_it_is_deleted(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    int64_t before = ferry_time_now_ms(), seen;
    ferry_principal p;
    ferry_err err;

    add_user(st, "ana", FERRY_ROLE_ADMIN);
    add_session(st, "ana", "sess-a");
    ferry_err_clear(&err);
    assert_int_equal(st->people->session_auth(st, "sess-a", IDLE_MS, MAX_MS, &p, &err), FERRY_OK);
    assert_string_equal(p.user, "ana");
    assert_int_equal(p.user_id, query_int(fx, "SELECT id FROM ferry_users WHERE name = 'ana'"));
    assert_int_equal(p.role, FERRY_ROLE_ADMIN);
    assert_int_equal(p.token_id, 0);
    assert_null(p.token_label);
    assert_true(p.created_at_ms >= before && p.created_at_ms <= ferry_time_now_ms());
    assert_int_equal(p.last_seen_at_ms, p.created_at_ms);
    ferry_principal_done(&p);

    /* Seen 10 s ago: not written; two minutes ago: written. */
    seen = ferry_time_now_ms() - 10000;
    set_time(fx, "UPDATE ferry_sessions SET last_seen_at = ?1", seen);
    assert_int_equal(st->people->session_auth(st, "sess-a", IDLE_MS, MAX_MS, &p, &err), FERRY_OK);
    assert_int_equal(p.last_seen_at_ms, seen);
    ferry_principal_done(&p);
    assert_true(query_is_time(fx, "SELECT last_seen_at FROM ferry_sessions", seen));
    seen = ferry_time_now_ms() - 120000;
    set_time(fx, "UPDATE ferry_sessions SET last_seen_at = ?1", seen);
    assert_int_equal(st->people->session_auth(st, "sess-a", IDLE_MS, MAX_MS, &p, &err), FERRY_OK);
    assert_true(p.last_seen_at_ms > seen + 60000);
    assert_true(query_is_time(fx, "SELECT last_seen_at FROM ferry_sessions", p.last_seen_at_ms));
    ferry_principal_done(&p);

    /* Logging out deletes it; logging out twice is fine. */
    assert_int_equal(st->people->session_delete(st, "sess-a", &err), FERRY_OK);
    assert_int_equal(auth_session(st, "sess-a", &err), FERRY_ENOTFOUND);
    assert_string_equal(err.msg, "no such session");
    assert_int_equal(st->people->session_delete(st, "sess-a", &err), FERRY_OK);
    assert_int_equal(st->people->session_delete(st, "never-was", &err), FERRY_OK);
}

static void a_session_can_only_be_added_for_an_enabled_user(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_err err;

    add_user(st, "ana", FERRY_ROLE_ADMIN);
    ferry_err_clear(&err);
    assert_int_equal(st->people->user_set_disabled(st, "ana", true, &err), FERRY_OK);
    assert_int_equal(st->people->session_add(st, "ana", "sess-a", &err), FERRY_ENOTFOUND);
    assert_string_equal(err.msg, "user 'ana' is disabled");
    ferry_err_clear(&err);
    assert_int_equal(st->people->session_add(st, "nobody", "sess-n", &err), FERRY_ENOTFOUND);
    assert_string_equal(err.msg, "there is no user named 'nobody'");
    assert_int_equal(query_int(fx, "SELECT count(*) FROM ferry_sessions"), 0);
}

static void an_idle_session_expires_and_is_deleted(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_err err;

    add_user(st, "ana", FERRY_ROLE_ADMIN);
    add_session(st, "ana", "sess-a");
    /* Last seen 31 minutes ago, with 30 minutes allowed. */
    set_time(fx, "UPDATE ferry_sessions SET last_seen_at = ?1",
             ferry_time_now_ms() - 31 * 60 * 1000);
    assert_int_equal(auth_session(st, "sess-a", &err), FERRY_ENOTFOUND);
    assert_string_equal(err.msg, "the session expired (no request for more than 30 min 0 s)");
    assert_int_equal(query_int(fx, "SELECT count(*) FROM ferry_sessions"), 0);
    assert_int_equal(auth_session(st, "sess-a", &err), FERRY_ENOTFOUND);
    assert_string_equal(err.msg, "no such session");
}

static void an_old_session_expires_however_active_it_is(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_err err;

    add_user(st, "ana", FERRY_ROLE_ADMIN);
    add_session(st, "ana", "sess-a");
    /* Created 13 hours ago with 12 allowed, seen a second ago. */
    set_time(fx, "UPDATE ferry_sessions SET created_at = ?1",
             ferry_time_now_ms() - 13 * 3600 * 1000);
    assert_int_equal(auth_session(st, "sess-a", &err), FERRY_ENOTFOUND);
    assert_string_equal(err.msg, "the session expired (older than 12 h 0 min)");
    assert_int_equal(query_int(fx, "SELECT count(*) FROM ferry_sessions"), 0);
}

static void purge_deletes_idle_and_old_sessions_only(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_err err;

    add_user(st, "ana", FERRY_ROLE_ADMIN);
    add_session(st, "ana", "fresh");
    add_session(st, "ana", "idle");
    add_session(st, "ana", "old");
    set_time(fx, "UPDATE ferry_sessions SET last_seen_at = ?1 WHERE session_hash = 'idle'",
             ferry_time_now_ms() - 31 * 60 * 1000);
    set_time(fx, "UPDATE ferry_sessions SET created_at = ?1 WHERE session_hash = 'old'",
             ferry_time_now_ms() - 13 * 3600 * 1000);
    ferry_err_clear(&err);
    assert_int_equal(st->people->session_purge(st, IDLE_MS, MAX_MS, &err), FERRY_OK);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM ferry_sessions"), 1);
    assert_int_equal(auth_session(st, "fresh", &err), FERRY_OK);
    /* With no time allowed at all, a session a few ms old goes too. */
    set_time(fx, "UPDATE ferry_sessions SET created_at = ?1, last_seen_at = ?1",
             ferry_time_now_ms() - 5);
    assert_int_equal(st->people->session_purge(st, 0, 0, &err), FERRY_OK);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM ferry_sessions"), 0);
}

static void a_new_password_logs_out_every_session_of_the_user(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_user u;
    ferry_err err;

    add_user(st, "ana", FERRY_ROLE_ADMIN);
    add_user(st, "bo", FERRY_ROLE_VIEWER);
    add_session(st, "ana", "ana-1");
    add_session(st, "ana", "ana-2");
    add_session(st, "bo", "bo-1");
    ferry_err_clear(&err);
    assert_int_equal(st->people->user_set_password(st, "ANA", "$argon2id$new", &err), FERRY_OK);
    assert_int_equal(auth_session(st, "ana-1", &err), FERRY_ENOTFOUND);
    assert_int_equal(auth_session(st, "ana-2", &err), FERRY_ENOTFOUND);
    assert_int_equal(auth_session(st, "bo-1", &err), FERRY_OK);
    /* An unknown user changes nothing and leaves no transaction open. */
    assert_int_equal(st->people->user_set_password(st, "nobody", "$x", &err), FERRY_ENOTFOUND);
    assert_string_equal(err.msg, "there is no user named 'nobody'");
    assert_true(!fx_in_transaction(fx));

    /* When the sessions cannot be deleted, the password is not changed either. */
    add_session(st, "ana", "ana-3");
    if (fx->kind == BACKEND_SQLITE) {
        fx_exec(fx, "CREATE TEMP TRIGGER keep BEFORE DELETE ON ferry_sessions"
                    " BEGIN SELECT RAISE(ABORT, 'kept'); END");
    } else {
        fx_exec(fx, "CREATE FUNCTION keep_sessions() RETURNS trigger LANGUAGE plpgsql AS"
                    " 'BEGIN RAISE EXCEPTION ''kept''; END'");
        fx_exec(fx, "CREATE TRIGGER keep BEFORE DELETE ON ferry_sessions FOR EACH ROW"
                    " EXECUTE FUNCTION keep_sessions()");
    }
    ferry_err_clear(&err);
    assert_int_equal(st->people->user_set_password(st, "ana", "$argon2id$newer", &err), FERRY_EDB);
    assert_true(!fx_in_transaction(fx));
    assert_int_equal(st->people->user_load(st, "ana", &u, &err), FERRY_OK);
    assert_string_equal(u.password_hash, "$argon2id$new");
    ferry_user_done(&u);
    assert_int_equal(auth_session(st, "ana-3", &err), FERRY_OK);
}

static void disabling_a_user_logs_out_its_sessions_and_stops_its_tokens(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_err err;

    add_user(st, "ana", FERRY_ROLE_ADMIN);
    add_user(st, "bo", FERRY_ROLE_VIEWER);
    add_token(st, "bo", "bo's", "hash-bo");
    add_session(st, "bo", "bo-1");
    add_session(st, "ana", "ana-1");
    ferry_err_clear(&err);
    assert_int_equal(st->people->user_set_disabled(st, "bo", true, &err), FERRY_OK);
    assert_int_equal(auth_session(st, "bo-1", &err), FERRY_ENOTFOUND);
    assert_int_equal(auth_token(st, "hash-bo", &err), FERRY_ENOTFOUND);
    assert_int_equal(auth_session(st, "ana-1", &err), FERRY_OK);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM ferry_sessions"), 1);
    /* Enabling the user again does not bring the sessions back. */
    assert_int_equal(st->people->user_set_disabled(st, "bo", false, &err), FERRY_OK);
    assert_int_equal(auth_session(st, "bo-1", &err), FERRY_ENOTFOUND);
    assert_string_equal(err.msg, "no such session");
    assert_true(!fx_in_transaction(fx));
}

static void a_session_of_a_user_disabled_behind_the_stores_back_is_refused(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_err err;

    add_user(st, "ana", FERRY_ROLE_ADMIN);
    add_session(st, "ana", "ana-1");
    fx_exec(fx, "UPDATE ferry_users SET disabled = true");
    assert_int_equal(auth_session(st, "ana-1", &err), FERRY_ENOTFOUND);
    assert_string_equal(err.msg, "user 'ana' is disabled");
    assert_null(strstr(err.msg, "ana-1"));
    assert_int_equal(query_int(fx, "SELECT count(*) FROM ferry_sessions"), 0);
}

static void a_users_role_can_be_changed(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_principal p;
    ferry_user u;
    ferry_err err;

    add_user(st, "bo", FERRY_ROLE_VIEWER);
    add_session(st, "bo", "bo-1");
    ferry_err_clear(&err);
    assert_int_equal(st->people->user_set_role(st, "bo", FERRY_ROLE_OPERATOR, &err), FERRY_OK);
    assert_int_equal(st->people->user_load(st, "bo", &u, &err), FERRY_OK);
    assert_int_equal(u.role, FERRY_ROLE_OPERATOR);
    ferry_user_done(&u);
    /* A live session acts with the new role at once. */
    assert_int_equal(st->people->session_auth(st, "bo-1", IDLE_MS, MAX_MS, &p, &err), FERRY_OK);
    assert_int_equal(p.role, FERRY_ROLE_OPERATOR);
    ferry_principal_done(&p);
    assert_int_equal(st->people->user_set_role(st, "nobody", FERRY_ROLE_ADMIN, &err),
                     FERRY_ENOTFOUND);
    assert_string_equal(err.msg, "there is no user named 'nobody'");
    ferry_err_clear(&err);
    assert_int_equal(st->people->user_set_role(st, "bo", (ferry_role)7, &err), FERRY_EINVAL);
    assert_int_equal(st->people->user_load(st, "bo", &u, &err), FERRY_OK);
    assert_int_equal(u.role, FERRY_ROLE_OPERATOR);
    ferry_user_done(&u);
}

static void audit(ferry_store *st, const char *actor, const char *action, const char *target)
{
    ferry_audit_entry e = {
        .actor = (char *)actor, .action = (char *)action, .target = (char *)target};
    ferry_err err;

    ferry_err_clear(&err);
    if (st->people->audit_add(st, &e, &err) != FERRY_OK)
        fail_msg("audit_add: %s", err.msg);
}

static void audit_entries_list_newest_first_with_every_field(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_audit_entry e = {.id = 77,
                           .at_ms = 1,
                           .actor = "ana",
                           .action = "user.passwd",
                           .target = "bo",
                           .detail = "ana set a new password for bo",
                           .client = "192.0.2.7"};
    ferry_audit_entry *got = NULL;
    int64_t before = ferry_time_now_ms();
    size_t n = 0;
    ferry_err err;

    audit(st, NULL, "login.failed", "ana");
    ferry_err_clear(&err);
    assert_int_equal(st->people->audit_add(st, &e, &err), FERRY_OK);
    assert_int_equal(st->people->audit_list(st, &(ferry_audit_filter){.limit = 0}, &got, &n, &err),
                     FERRY_OK);
    assert_int_equal(n, 2);
    /* The store sets the id and the time. */
    assert_int_equal(got[0].id, 2);
    assert_true(got[0].at_ms >= before && got[0].at_ms <= ferry_time_now_ms());
    assert_string_equal(got[0].actor, "ana");
    assert_string_equal(got[0].action, "user.passwd");
    assert_string_equal(got[0].target, "bo");
    assert_string_equal(got[0].detail, "ana set a new password for bo");
    assert_string_equal(got[0].client, "192.0.2.7");
    assert_int_equal(got[1].id, 1);
    assert_null(got[1].actor);
    assert_string_equal(got[1].action, "login.failed");
    assert_null(got[1].detail);
    assert_null(got[1].client);
    ferry_audit_free(got, n);

    /* Every entry needs an action. */
    e.action = NULL;
    assert_int_equal(st->people->audit_add(st, &e, &err), FERRY_EINVAL);
    assert_string_equal(err.msg, "an audit entry needs an action");
}

static void audit_list_filters_by_actor_and_action_and_pages_by_id(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_audit_filter filter = {.actor = "ana"};
    ferry_audit_entry *got = NULL;
    size_t n = 0;
    ferry_err err;

    audit(st, "ana", "login", NULL);        /* 1 */
    audit(st, "bo", "login", NULL);         /* 2 */
    audit(st, "ana", "user.add", "carla");  /* 3 */
    audit(st, "cli", "user.add", "dan");    /* 4 */
    audit(st, "ana", "token.create", "t1"); /* 5 */
    audit(st, "ana", "login", NULL);        /* 6 */
    ferry_err_clear(&err);
    assert_int_equal(st->people->audit_list(st, &filter, &got, &n, &err), FERRY_OK);
    assert_int_equal(n, 4);
    assert_int_equal(got[0].id, 6);
    assert_int_equal(got[1].id, 5);
    assert_int_equal(got[2].id, 3);
    assert_int_equal(got[3].id, 1);
    ferry_audit_free(got, n);

    filter = (ferry_audit_filter){.action = "user.add"};
    assert_int_equal(st->people->audit_list(st, &filter, &got, &n, &err), FERRY_OK);
    assert_int_equal(n, 2);
    assert_string_equal(got[0].target, "dan");
    assert_string_equal(got[1].target, "carla");
    ferry_audit_free(got, n);

    filter = (ferry_audit_filter){.actor = "ana", .action = "login"};
    assert_int_equal(st->people->audit_list(st, &filter, &got, &n, &err), FERRY_OK);
    assert_int_equal(n, 2);
    assert_int_equal(got[0].id, 6);
    assert_int_equal(got[1].id, 1);
    ferry_audit_free(got, n);

    /* Pages of two, each starting below the last id of the page before. */
    filter = (ferry_audit_filter){.limit = 2};
    assert_int_equal(st->people->audit_list(st, &filter, &got, &n, &err), FERRY_OK);
    assert_int_equal(n, 2);
    assert_int_equal(got[1].id, 5);
    filter.before_id = got[1].id;
    ferry_audit_free(got, n);
    assert_int_equal(st->people->audit_list(st, &filter, &got, &n, &err), FERRY_OK);
    assert_int_equal(n, 2);
    assert_int_equal(got[0].id, 4);
    assert_int_equal(got[1].id, 3);
    ferry_audit_free(got, n);
    filter = (ferry_audit_filter){.actor = "ana", .before_id = 3};
    assert_int_equal(st->people->audit_list(st, &filter, &got, &n, &err), FERRY_OK);
    assert_int_equal(n, 1);
    assert_int_equal(got[0].id, 1);
    ferry_audit_free(got, n);

    filter = (ferry_audit_filter){.actor = "nobody"};
    assert_int_equal(st->people->audit_list(st, &filter, &got, &n, &err), FERRY_OK);
    assert_int_equal(n, 0);
    ferry_audit_free(got, n);
}

static void audit_list_without_a_limit_gives_100(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_audit_entry *got = NULL;
    size_t n = 0;
    ferry_err err;

    for (int i = 0; i < 105; i++)
        audit(st, "cli", "user.add", NULL);
    ferry_err_clear(&err);
    assert_int_equal(st->people->audit_list(st, &(ferry_audit_filter){.limit = 0}, &got, &n, &err),
                     FERRY_OK);
    assert_int_equal(n, 100);
    assert_int_equal(got[0].id, 105);
    ferry_audit_free(got, n);
    assert_int_equal(st->people->audit_list(st, &(ferry_audit_filter){.limit = -3}, &got, &n, &err),
                     FERRY_OK);
    assert_int_equal(n, 100);
    ferry_audit_free(got, n);
}

static void a_running_run_names_its_node_and_others_do_not(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run want = new_run("therapists", 1795500344000), queued, claimed, got;
    char self[300];
    bool created = false;
    ferry_err err;

    ferry_node_self(self, sizeof(self));
    ferry_err_clear(&err);
    assert_int_equal(st->runs->run_enqueue(st, &want, &queued, &created, &err), FERRY_OK);
    assert_null(queued.node);
    assert_int_equal(st->runs->run_claim(st, &claimed, &err), FERRY_OK);
    assert_string_equal(claimed.node, self);
    assert_int_equal(st->runs->run_load(st, claimed.id, &got, &err), FERRY_OK);
    assert_string_equal(got.node, self);
    ferry_run_done(&got);
    finish(st, claimed.id, FERRY_RUN_SUCCEEDED);
    assert_int_equal(st->runs->run_load(st, claimed.id, &got, &err), FERRY_OK);
    assert_null(got.node);
    ferry_run_done(&got);
    ferry_run_done(&claimed);
    ferry_run_done(&queued);
}

static void nodes_beat_list_and_leave(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_node *nodes = NULL;
    int64_t before = ferry_time_now_ms();
    char self[300];
    size_t n = 0;
    ferry_err err;

    ferry_node_self(self, sizeof(self));
    ferry_err_clear(&err);
    assert_int_equal(st->cluster->node_beat(st, "127.0.0.1:8080", 4, &err), FERRY_OK);
    assert_int_equal(st->cluster->node_list(st, 60000, &nodes, &n, &err), FERRY_OK);
    assert_int_equal(n, 1);
    assert_string_equal(nodes[0].id, self);
    assert_string_equal(nodes[0].address, "127.0.0.1:8080");
    assert_int_equal(nodes[0].workers, 4);
    assert_true(nodes[0].started_at_ms >= before - 1000);
    assert_true(nodes[0].heartbeat_at_ms >= nodes[0].started_at_ms);
    int64_t started = nodes[0].started_at_ms;
    ferry_nodes_free(nodes, n);

    /* Another node silent for a minute and a half is not live; one silent for two days is forgotten
     * by the next beat. A beat keeps this node's start and updates the rest. */
    set_time(fx,
             "INSERT INTO ferry_nodes (id, address, workers, started_at, heartbeat_at) VALUES"
             " ('quiet:1', NULL, 2, ?1, ?1)",
             ferry_time_now_ms() - 90000);
    set_time(fx,
             "INSERT INTO ferry_nodes (id, address, workers, started_at, heartbeat_at) VALUES"
             " ('gone:1', NULL, 2, ?1, ?1)",
             ferry_time_now_ms() - 2 * 24 * 3600 * 1000LL);
    assert_int_equal(st->cluster->node_list(st, 10000, &nodes, &n, &err), FERRY_OK);
    assert_int_equal(n, 1);
    ferry_nodes_free(nodes, n);
    assert_int_equal(st->cluster->node_beat(st, NULL, 8, &err), FERRY_OK);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM ferry_nodes"), 2);
    assert_int_equal(st->cluster->node_list(st, 3600000, &nodes, &n, &err), FERRY_OK);
    assert_int_equal(n, 2);
    /* Oldest start first. */
    assert_string_equal(nodes[0].id, "quiet:1");
    assert_string_equal(nodes[1].id, self);
    assert_null(nodes[1].address);
    assert_int_equal(nodes[1].workers, 8);
    assert_int_equal(nodes[1].started_at_ms, started);
    ferry_nodes_free(nodes, n);

    assert_int_equal(st->cluster->node_leave(st, &err), FERRY_OK);
    assert_int_equal(st->cluster->node_list(st, 60000, &nodes, &n, &err), FERRY_OK);
    assert_int_equal(n, 0);
    ferry_nodes_free(nodes, n);
}

static void a_schedule_firing_is_claimed_once(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    bool won = false;
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_equal(st->cluster->schedule_claim(st, "therapists", NULL, 1795500000000, &won, &err),
                     FERRY_OK);
    assert_true(won);
    assert_int_equal(st->cluster->schedule_claim(st, "therapists", NULL, 1795500000000, &won, &err),
                     FERRY_OK);
    assert_false(won);
    /* Another period, tenant or sync is another firing. */
    assert_int_equal(st->cluster->schedule_claim(st, "therapists", NULL, 1795500060000, &won, &err),
                     FERRY_OK);
    assert_true(won);
    assert_int_equal(
        st->cluster->schedule_claim(st, "therapists", "acme", 1795500000000, &won, &err), FERRY_OK);
    assert_true(won);
    assert_int_equal(
        st->cluster->schedule_claim(st, "therapists", "acme", 1795500000000, &won, &err), FERRY_OK);
    assert_false(won);
    assert_int_equal(st->cluster->schedule_claim(st, "rooms", NULL, 1795500000000, &won, &err),
                     FERRY_OK);
    assert_true(won);
}

static void a_secret_is_kept_replaced_and_read_by_another_connection(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store, *other = NULL;
    char *text = (char *)"x";
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_equal(st->cluster->secret_get(st, "oauth2 a", &text, &err), FERRY_OK);
    assert_null(text);
    assert_int_equal(st->cluster->secret_put(st, "oauth2 a", "v1.first", &err), FERRY_OK);
    assert_int_equal(st->cluster->secret_put(st, "oauth2 b", "v1.other", &err), FERRY_OK);
    assert_int_equal(st->cluster->secret_put(st, "oauth2 a", "v1.second", &err), FERRY_OK);
    assert_int_equal(fx_open(fx, &other, &err), FERRY_OK);
    assert_int_equal(other->cluster->secret_get(other, "oauth2 a", &text, &err), FERRY_OK);
    assert_string_equal(text, "v1.second");
    free(text);
    assert_int_equal(other->cluster->secret_get(other, "oauth2 b", &text, &err), FERRY_OK);
    assert_string_equal(text, "v1.other");
    free(text);
    ferry_store_close(other);
}

static void a_running_run_can_be_asked_to_cancel(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run want = new_run("therapists", 1795500344000), queued, claimed;
    bool created = false, requested = true;
    char *user = NULL;
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_equal(st->runs->run_enqueue(st, &want, &queued, &created, &err), FERRY_OK);
    /* Only a running run: a queued one is cancelled with run_cancel_queued. */
    assert_int_equal(st->cluster->run_request_cancel(st, queued.id, "ana", &err), FERRY_ENOTFOUND);
    assert_string_equal(err.msg, "run 1 is not running");
    ferry_err_clear(&err);
    assert_int_equal(st->cluster->run_cancel_requested(st, queued.id, &requested, &user, &err),
                     FERRY_OK);
    assert_false(requested);
    assert_null(user);
    assert_int_equal(st->runs->run_claim(st, &claimed, &err), FERRY_OK);
    assert_int_equal(st->cluster->run_request_cancel(st, claimed.id, "ana", &err), FERRY_OK);
    assert_int_equal(st->cluster->run_cancel_requested(st, claimed.id, &requested, &user, &err),
                     FERRY_OK);
    assert_true(requested);
    assert_string_equal(user, "ana");
    free(user);
    /* Asked again by someone else: the last one is recorded; ret_user may be NULL. */
    assert_int_equal(st->cluster->run_request_cancel(st, claimed.id, NULL, &err), FERRY_OK);
    requested = false;
    assert_int_equal(st->cluster->run_cancel_requested(st, claimed.id, &requested, &user, &err),
                     FERRY_OK);
    assert_true(requested);
    assert_null(user);
    assert_int_equal(st->cluster->run_cancel_requested(st, claimed.id, &requested, NULL, &err),
                     FERRY_OK);
    finish(st, claimed.id, FERRY_RUN_CANCELLED);
    assert_int_equal(st->cluster->run_request_cancel(st, claimed.id, "ana", &err), FERRY_ENOTFOUND);
    ferry_err_clear(&err);
    assert_int_equal(st->cluster->run_cancel_requested(st, 999, &requested, &user, &err),
                     FERRY_ENOTFOUND);
    assert_string_equal(err.msg, "there is no run 999");
    ferry_run_done(&claimed);
    ferry_run_done(&queued);
}

/* PostgreSQL only. */

static void pg_opening_creates_ferry_tables_at_the_current_schema_version(void **state)
{
    fixture *fx = *state;

    assert_int_equal(query_int(fx, "SELECT version FROM ferry_schema_version"), 13);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM ferry_schema_version"), 1);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM pg_tables WHERE tablename IN"
                                   " ('ferry_runs', 'ferry_changes', 'ferry_users',"
                                   " 'ferry_api_tokens', 'ferry_sessions', 'ferry_audit',"
                                   " 'ferry_nodes', 'ferry_schedule_fires',"
                                   " 'ferry_cancel_requests', 'ferry_secrets')"),
                     10);
    /* Opening again migrates nothing. */
    ferry_store *again = NULL;
    ferry_err err;
    assert_int_equal(fx_open(fx, &again, &err), FERRY_OK);
    ferry_store_close(again);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM ferry_schema_version"), 1);
}

static void pg_database_from_a_newer_ferry_is_refused(void **state)
{
    fixture *fx = *state;
    ferry_store *again = NULL;
    char want[1200], where[600];
    ferry_err err;

    fx_exec(fx, "UPDATE ferry_schema_version SET version = 99");
    assert_int_equal(fx_open(fx, &again, &err), FERRY_EDB);
    assert_null(again);
    /* The URL without its user. */
    snprintf(where, sizeof(where), "postgres://%s", strchr(fx->url, '@') + 1);
    snprintf(want, sizeof(want),
             "database %s: the database was written by a newer Ferry (schema version 99; this "
             "Ferry knows up to 13)",
             where);
    assert_string_equal(err.msg, want);
}

#define THREADS_MAX 20

typedef struct {
    fixture *fx;
    ferry_store *store;
    pthread_barrier_t *barrier;
    int64_t ids[64];
    int n;
    bool created;
    bool won;
    ferry_rc rc;
    char msg[FERRY_ERR_MSG_MAX];
} worker;

static void *claim_all(void *arg)
{
    worker *w = arg;
    ferry_err err;
    ferry_run run;

    pthread_barrier_wait(w->barrier);
    for (;;) {
        ferry_err_clear(&err);
        w->rc = w->store->runs->run_claim(w->store, &run, &err);
        if (w->rc != FERRY_OK)
            break;
        if (w->n < 64)
            w->ids[w->n++] = run.id;
        ferry_run_done(&run);
    }
    if (w->rc == FERRY_DONE)
        w->rc = FERRY_OK;
    snprintf(w->msg, sizeof(w->msg), "%s", err.msg);
    return NULL;
}

/* Opens a store per worker, starts them together on fn, and joins them. */
static void run_workers(fixture *fx, worker *w, int n, void *(*fn)(void *))
{
    pthread_barrier_t barrier;
    pthread_t threads[THREADS_MAX];
    ferry_err err;

    assert_int_equal(pthread_barrier_init(&barrier, NULL, (unsigned)n), 0);
    for (int i = 0; i < n; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].fx = fx;
        w[i].barrier = &barrier;
        if (fn != NULL && fx_open(fx, &w[i].store, &err) != FERRY_OK)
            fail_msg("open: %s", err.msg);
    }
    for (int i = 0; i < n; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, fn, &w[i]), 0);
    for (int i = 0; i < n; i++) {
        pthread_join(threads[i], NULL);
        ferry_store_close(w[i].store);
        w[i].store = NULL;
    }
    pthread_barrier_destroy(&barrier);
}

static void pg_concurrent_claims_hand_each_run_to_one_claimer(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    worker w[4];
    int seen[41] = {0}, total = 0;
    bool created;
    ferry_err err;

    for (int i = 0; i < 40; i++) {
        char sync[16];
        ferry_run want, got;
        snprintf(sync, sizeof(sync), "s%d", i);
        want = new_run(sync, 1795500344000);
        ferry_err_clear(&err);
        assert_int_equal(st->runs->run_enqueue(st, &want, &got, &created, &err), FERRY_OK);
        assert_true(created);
        assert_true(got.id >= 1 && got.id <= 40);
        ferry_run_done(&got);
    }
    run_workers(fx, w, 4, claim_all);
    for (int i = 0; i < 4; i++) {
        if (w[i].rc != FERRY_OK)
            fail_msg("claim: %s", w[i].msg);
        for (int j = 0; j < w[i].n; j++) {
            assert_true(w[i].ids[j] >= 1 && w[i].ids[j] <= 40);
            seen[w[i].ids[j]]++;
            total++;
        }
    }
    assert_int_equal(total, 40);
    for (int i = 1; i <= 40; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM ferry_runs WHERE status = 'running'"), 40);
}

static void *enqueue_one(void *arg)
{
    worker *w = arg;
    ferry_run want = new_run("therapists", 1795500344000), got;
    ferry_err err;

    want.tenant = (char *)"acme";
    pthread_barrier_wait(w->barrier);
    ferry_err_clear(&err);
    w->rc = w->store->runs->run_enqueue(w->store, &want, &got, &w->created, &err);
    if (w->rc == FERRY_OK) {
        w->ids[w->n++] = got.id;
        ferry_run_done(&got);
    }
    snprintf(w->msg, sizeof(w->msg), "%s", err.msg);
    return NULL;
}

static void pg_concurrent_enqueues_create_one_run(void **state)
{
    fixture *fx = *state;
    worker w[20];
    int created = 0;

    run_workers(fx, w, 20, enqueue_one);
    for (int i = 0; i < 20; i++) {
        if (w[i].rc != FERRY_OK)
            fail_msg("enqueue: %s", w[i].msg);
        created += w[i].created;
        assert_int_equal(w[i].n, 1);
        assert_int_equal(w[i].ids[0], w[0].ids[0]);
    }
    assert_int_equal(created, 1);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM ferry_runs"), 1);
}

static void *claim_schedule(void *arg)
{
    worker *w = arg;
    ferry_err err;

    pthread_barrier_wait(w->barrier);
    ferry_err_clear(&err);
    w->rc = w->store->cluster->schedule_claim(w->store, "therapists", "acme", 1795500000000,
                                              &w->won, &err);
    snprintf(w->msg, sizeof(w->msg), "%s", err.msg);
    return NULL;
}

static void pg_concurrent_schedule_claims_have_one_winner(void **state)
{
    fixture *fx = *state;
    worker w[8];
    int won = 0;

    run_workers(fx, w, 8, claim_schedule);
    for (int i = 0; i < 8; i++) {
        if (w[i].rc != FERRY_OK)
            fail_msg("schedule_claim: %s", w[i].msg);
        won += w[i].won;
    }
    assert_int_equal(won, 1);
}

static void *open_store(void *arg)
{
    worker *w = arg;
    ferry_err err;

    pthread_barrier_wait(w->barrier);
    ferry_err_clear(&err);
    w->rc = fx_open(w->fx, &w->store, &err);
    snprintf(w->msg, sizeof(w->msg), "%s", err.msg);
    return NULL;
}

static void pg_three_processes_migrate_one_empty_database(void **state)
{
    fixture *fx = *state, empty;
    worker w[3];

    /* The workers open their stores themselves, at once, on a database nobody opened. */
    memset(&empty, 0, sizeof(empty));
    empty.kind = BACKEND_PG;
    empty.url = tu_pg_database();
    assert_non_null(empty.url);
    pthread_barrier_t barrier;
    pthread_t threads[3];
    assert_int_equal(pthread_barrier_init(&barrier, NULL, 3), 0);
    for (int i = 0; i < 3; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].fx = &empty;
        w[i].barrier = &barrier;
        assert_int_equal(pthread_create(&threads[i], NULL, open_store, &w[i]), 0);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&barrier);
    for (int i = 0; i < 3; i++) {
        if (w[i].rc != FERRY_OK)
            fail_msg("open: %s", w[i].msg);
    }
    assert_int_equal(
        pg_query_int(ferry_pg_store_conn(w[0].store), "SELECT count(*) FROM ferry_schema_version"),
        1);
    assert_int_equal(
        pg_query_int(ferry_pg_store_conn(w[0].store), "SELECT version FROM ferry_schema_version"),
        13);
    for (int i = 0; i < 3; i++)
        ferry_store_close(w[i].store);
    free(empty.url);
    (void)fx;
}

static void pg_the_password_never_appears_in_an_error(void **state)
{
    fixture *fx = *state;
    const char *hostport = strchr(fx->url, '@') + 1; /* 127.0.0.1:PORT/db */
    char url[1024], server[512];
    ferry_store *st = NULL;
    ferry_err err;

    snprintf(server, sizeof(server), "%.*s", (int)(strchr(hostport, '/') - hostport), hostport);
    /* Each URL is before + the test server's HOST:PORT + after. */
    const struct {
        const char *before, *after;
    } cases[] = {
        {"postgres://ferry:s3cr3t-Pw@127.0.0.1:1/ferry#", ""},  /* nothing listens */
        {"postgresql://ferry:s3cr3t-Pw@", "/no_such_database"}, /* the server refuses */
        {"postgres://nobody:s3cr3t-Pw@", "/ferry"},             /* an unknown user */
        {"postgres://ferry:s3cr3t-Pw@", "/s3cr3t-Pw"},          /* the server repeats it */
        {"postgres://ferry@", "/s3cr3t-Pw?password=s3cr3t-Pw"}, /* in the query string */
        {"postgres://ferry:s3cr3t%2DPw@", "/s3cr3t-Pw"},        /* percent-encoded */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(url, sizeof(url), "%s%s%s", cases[i].before,
                 cases[i].before[strlen(cases[i].before) - 1] == '#' ? "" : server, cases[i].after);
        ferry_err_clear(&err);
        assert_int_equal(ferry_store_open(url, NULL, &st, &err), FERRY_EDB);
        assert_null(st);
        if (strstr(err.msg, "s3cr3t") != NULL)
            fail_msg("the password shows in: %s", err.msg);
        assert_non_null(strstr(err.msg, "cannot connect"));
        assert_non_null(strstr(err.msg, "database postgres"));
    }
}

static void pg_a_broken_connection_is_reset(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344000), got;
    ferry_change c = {.seq = 1, .record_key = (char *)"T1", .outcome = FERRY_OUTCOME_CREATED};
    char sql[128];
    PGconn *killer;
    ferry_err err;

    run.id = start(st, &run);
    killer = PQconnectdb(fx->url);
    assert_int_equal(PQstatus(killer), CONNECTION_OK);
    /* Ended by the server (a restart, a failover, an idle timeout): reset and tried again. */
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)",
             PQbackendPID(ferry_pg_store_conn(st)));
    assert_int_equal(pg_query_int(killer, sql) >= 0, 1);
    ferry_err_clear(&err);
    if (st->runs->run_load(st, run.id, &got, &err) != FERRY_OK)
        fail_msg("run_get after the connection ended: %s", err.msg);
    ferry_run_done(&got);
    /* changes_add belongs to a run's transaction: it does not reconnect, it fails. */
    snprintf(sql, sizeof(sql), "SELECT pg_terminate_backend(%d)",
             PQbackendPID(ferry_pg_store_conn(st)));
    pg_query_int(killer, sql);
    c.run_id = run.id;
    ferry_err_clear(&err);
    assert_int_equal(st->runs->changes_add(st, &c, 1, &err), FERRY_EDB);
    assert_int_equal(strncmp(err.msg, "database: ", 10), 0);
    /* The next call outside a run reconnects. */
    ferry_err_clear(&err);
    if (st->runs->run_load(st, run.id, &got, &err) != FERRY_OK)
        fail_msg("run_get after a failed changes_add: %s", err.msg);
    ferry_run_done(&got);
    PQfinish(killer);
}

static size_t count_changes(ferry_store *st, int64_t run_id)
{
    ferry_change *ch = NULL;
    size_t n = 0;
    ferry_err err;

    ferry_err_clear(&err);
    if (st->runs->change_list(st, run_id, &(ferry_change_filter){.outcome = -1}, &ch, &n, &err) !=
        FERRY_OK)
        fail_msg("change_list: %s", err.msg);
    ferry_changes_free(ch, n);
    return n;
}

static void pg_changes_commit_or_roll_back_with_the_callers_transaction(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store, *other = NULL;
    ferry_run run = new_run("therapists", 1795500344000), got;
    ferry_err err;

    run.id = start(st, &run);
    assert_int_equal(fx_open(fx, &other, &err), FERRY_OK);
    /* As a target does: the run's transaction is open on the store's connection. */
    fx_exec(fx, "BEGIN");
    add_change(st, run.id, 1, "T1", FERRY_OUTCOME_CREATED, 2, NULL, NULL);
    add_change(st, run.id, 2, "T2\tkey\nwith\\escapes", FERRY_OUTCOME_FAILED, 3,
               "row 3: a\ttab and a\nnewline", NULL);
    finish(st, run.id, FERRY_RUN_SUCCEEDED);
    assert_true(fx_in_transaction(fx));
    assert_int_equal(count_changes(other, run.id), 0);
    ferry_err_clear(&err);
    assert_int_equal(other->runs->run_load(other, run.id, &got, &err), FERRY_OK);
    assert_int_equal(got.status, FERRY_RUN_RUNNING);
    ferry_run_done(&got);
    fx_exec(fx, "ROLLBACK");
    assert_int_equal(count_changes(other, run.id), 0);
    assert_int_equal(other->runs->run_load(other, run.id, &got, &err), FERRY_OK);
    assert_int_equal(got.status, FERRY_RUN_RUNNING);
    ferry_run_done(&got);

    fx_exec(fx, "BEGIN");
    add_change(st, run.id, 1, "T1", FERRY_OUTCOME_CREATED, 2, NULL, NULL);
    add_change(st, run.id, 2, "T2\tkey\nwith\\escapes", FERRY_OUTCOME_FAILED, 3,
               "row 3: a\ttab and a\nnewline", NULL);
    finish(st, run.id, FERRY_RUN_SUCCEEDED);
    fx_exec(fx, "COMMIT");
    assert_int_equal(count_changes(other, run.id), 2);
    ferry_change *ch = NULL;
    size_t n = 0;
    assert_int_equal(other->runs->change_list(other, run.id, &(ferry_change_filter){.outcome = -1},
                                              &ch, &n, &err),
                     FERRY_OK);
    assert_string_equal(ch[1].record_key, "T2\tkey\nwith\\escapes");
    assert_string_equal(ch[1].reason, "row 3: a\ttab and a\nnewline");
    ferry_changes_free(ch, n);
    assert_int_equal(other->runs->run_load(other, run.id, &got, &err), FERRY_OK);
    assert_int_equal(got.status, FERRY_RUN_SUCCEEDED);
    ferry_run_done(&got);
    ferry_store_close(other);
}

static void pg_reclaim_skips_a_run_whose_transaction_is_alive(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store, *other = NULL;
    ferry_run run = new_run("therapists", 1795500344000);
    int64_t t0;
    int n = -1;
    ferry_err err;

    run.id = start(st, &run);
    fx_exec(fx, "UPDATE ferry_runs SET heartbeat_at = '2020-01-01T00:00:00.000Z'");
    assert_int_equal(fx_open(fx, &other, &err), FERRY_OK);
    /* The run's transaction renews the lease: the row is locked until it ends. */
    fx_exec(fx, "BEGIN");
    ferry_err_clear(&err);
    assert_int_equal(st->runs->run_heartbeat(st, run.id, &err), FERRY_OK);
    t0 = ferry_time_mono_ms();
    assert_int_equal(other->runs->run_reclaim_expired(other, 60000, NULL, &n, &err), FERRY_OK);
    assert_int_equal(n, 0);
    assert_true(ferry_time_mono_ms() - t0 < 5000);
    fx_exec(fx, "COMMIT");
    assert_int_equal(other->runs->run_reclaim_expired(other, 60000, NULL, &n, &err), FERRY_OK);
    assert_int_equal(n, 0);
    /* Without a live transaction, an old heartbeat is an expired lease. */
    fx_exec(fx, "UPDATE ferry_runs SET heartbeat_at = '2020-01-01T00:00:00.000Z'");
    assert_int_equal(other->runs->run_reclaim_expired(other, 60000, NULL, &n, &err), FERRY_OK);
    assert_int_equal(n, 1);
    ferry_store_close(other);
}

static void pg_authentication_does_not_wait_for_a_locked_row(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    int64_t old = ferry_time_now_ms() - 120000, t0;
    ferry_principal p;
    PGconn *locker;
    PGresult *res;
    ferry_err err;

    add_user(st, "ana", FERRY_ROLE_ADMIN);
    add_token(st, "ana", "app", "hash-a");
    add_session(st, "ana", "sess-a");
    set_time(fx, "UPDATE ferry_api_tokens SET last_used_at = ?1", old);
    set_time(fx, "UPDATE ferry_sessions SET last_seen_at = ?1", old);
    locker = PQconnectdb(fx->url);
    assert_int_equal(PQstatus(locker), CONNECTION_OK);
    res = PQexec(locker, "BEGIN; SELECT 1 FROM ferry_api_tokens FOR UPDATE;"
                         " SELECT 1 FROM ferry_sessions FOR UPDATE");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    PQclear(res);
    t0 = ferry_time_mono_ms();
    ferry_err_clear(&err);
    assert_int_equal(st->people->token_auth(st, "hash-a", &p, &err), FERRY_OK);
    assert_int_equal(p.last_seen_at_ms, old);
    ferry_principal_done(&p);
    assert_int_equal(st->people->session_auth(st, "sess-a", IDLE_MS, MAX_MS, &p, &err), FERRY_OK);
    assert_int_equal(p.last_seen_at_ms, old);
    ferry_principal_done(&p);
    assert_true(ferry_time_mono_ms() - t0 < 5000);
    PQclear(PQexec(locker, "ROLLBACK"));
    PQfinish(locker);
    assert_int_equal(st->people->token_auth(st, "hash-a", &p, &err), FERRY_OK);
    assert_true(p.last_seen_at_ms > old);
    ferry_principal_done(&p);
}

/* Writes FERRY_TEST_CHANGE_ROWS change rows (100,000 unless set) in calls of 256, as a run's
 * recorder does, inside one transaction, and prints the rate. */
static void pg_many_changes_are_written_in_batches(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("therapists", 1795500344000);
    const char *env = getenv("FERRY_TEST_CHANGE_ROWS");
    long total = env != NULL ? strtol(env, NULL, 10) : 100000;
    ferry_change batch[256];
    char keys[256][24], sql[128];
    int64_t t0, ms;
    ferry_err err;

    run.id = start(st, &run);
    fx_exec(fx, "BEGIN");
    t0 = ferry_time_mono_ms();
    for (long done = 0; done < total;) {
        int n = total - done < 256 ? (int)(total - done) : 256;
        for (int i = 0; i < n; i++) {
            long seq = done + i + 1;
            snprintf(keys[i], sizeof(keys[i]), "T%07ld", seq);
            batch[i] =
                (ferry_change){.run_id = run.id,
                               .seq = seq,
                               .record_key = keys[i],
                               .outcome = seq % 10 ? FERRY_OUTCOME_CREATED : FERRY_OUTCOME_UPDATED,
                               .row = seq + 1,
                               .diff = seq % 10 ? NULL
                                                : (char *)"{\"email\":[\"a@x.io\","
                                                          "\"b@x.io\"]}"};
        }
        ferry_err_clear(&err);
        if (st->runs->changes_add(st, batch, (size_t)n, &err) != FERRY_OK)
            fail_msg("changes_add: %s", err.msg);
        done += n;
    }
    fx_exec(fx, "COMMIT");
    ms = ferry_time_mono_ms() - t0;
    printf("changes_add: %ld rows in %lld ms (%.0f rows/s)\n", total, (long long)ms,
           ms > 0 ? total * 1000.0 / (double)ms : 0.0);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM ferry_changes WHERE run_id = %lld",
             (long long)run.id);
    assert_int_equal(query_int(fx, sql), total);
}

/* ---- the outbox ---- */

static void a_runs_end_enqueues_its_deliveries_in_the_same_write(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_outbox_planner planner = {test_plan, NULL};
    ferry_run run = new_run("x", ferry_time_now_ms());
    ferry_delivery_summary sum;
    ferry_err err;

    ferry_store_planner_set(st, &planner);
    run.id = start(st, &run);
    run.status = FERRY_RUN_SUCCEEDED;
    run.phase = (char *)"done";
    run.finished_at_ms = ferry_time_now_ms();
    ferry_err_clear(&err);
    /* Inside the run's transaction: rolled back with it. */
    assert_int_equal(st->runs->tx_begin(st, &err), FERRY_OK);
    assert_int_equal(st->runs->run_finish(st, &run, &err), FERRY_OK);
    st->runs->tx_rollback(st);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM ferry_deliveries"), 0);
    /* On its own: the end and both deliveries. */
    assert_int_equal(st->runs->run_finish(st, &run, &err), FERRY_OK);
    assert_int_equal(st->outbox->delivery_summary(st, &run.id, 1, &sum, &err), FERRY_OK);
    assert_int_equal(sum.total, 2);
    assert_int_equal(sum.pending, 2);
    /* A queued run cancelled: one delivery, no records. */
    {
        ferry_run q = new_run("y", ferry_time_now_ms());
        ferry_run got;
        bool created = false;
        q.status = FERRY_RUN_QUEUED;
        assert_int_equal(st->runs->run_enqueue(st, &q, &got, &created, &err), FERRY_OK);
        assert_int_equal(st->runs->run_cancel_queued(st, got.id, "ana", &err), FERRY_OK);
        assert_int_equal(st->outbox->delivery_summary(st, &got.id, 1, &sum, &err), FERRY_OK);
        assert_int_equal(sum.total, 1);
        /* Several runs in one call, each its own; a run without deliveries counts none. */
        {
            int64_t ids[4] = {got.id, 999999, run.id, got.id};
            ferry_delivery_summary sums[4];
            assert_int_equal(st->outbox->delivery_summary(st, ids, 4, sums, &err), FERRY_OK);
            assert_int_equal(sums[0].total, 1);
            assert_int_equal(sums[1].total, 0);
            assert_int_equal(sums[2].total, 2);
            assert_int_equal(sums[2].pending, 2);
            assert_int_equal(sums[3].total, 1);
            assert_int_equal(st->outbox->delivery_summary(st, ids, 0, sums, &err), FERRY_OK);
        }
        ferry_run_done(&got);
    }
    ferry_store_planner_set(st, NULL);
}

static void deliveries_are_claimed_once_recorded_and_batches_follow_in_order(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_outbox_planner planner = {test_plan, NULL};
    ferry_run run = new_run("x", ferry_time_now_ms());
    ferry_delivery a, b, c, *list = NULL;
    ferry_delivery_result r;
    size_t n = 0;
    ferry_err err;

    ferry_store_planner_set(st, &planner);
    run.id = start(st, &run);
    finish(st, run.id, FERRY_RUN_SUCCEEDED);
    ferry_err_clear(&err);
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&c, 0, sizeof(c));
    assert_int_equal(st->outbox->delivery_claim(st, 60000, &a, &err), FERRY_OK);
    assert_int_equal(st->outbox->delivery_claim(st, 60000, &b, &err), FERRY_OK);
    assert_string_not_equal(a.id, b.id);
    assert_int_equal(strncmp(a.id, "dlv_", 4), 0);
    assert_int_equal(strlen(a.id), 28);
    /* Both are leased: nothing more is due. */
    assert_int_equal(st->outbox->delivery_claim(st, 60000, &c, &err), FERRY_DONE);
    if (strcmp(a.kind, "records") != 0) { /* a: the records batch */
        ferry_delivery t = a;
        a = b;
        b = t;
    }
    assert_string_equal(a.kind, "records");
    assert_int_equal(a.seq, 1);
    /* b failed: pending again, due at once (for the test), and claimable again. */
    r = (ferry_delivery_result){.at_ms = ferry_time_now_ms(),
                                .status = 500,
                                .error = "the endpoint answered 500",
                                .duration_ms = 3,
                                .next = FERRY_DELIVERY_PENDING,
                                .next_at_ms = 1000};
    assert_int_equal(st->outbox->delivery_record(st, &b, &r, &err), FERRY_OK);
    /* recorded twice: the lease is gone */
    assert_int_equal(st->outbox->delivery_record(st, &b, &r, &err), FERRY_ENOTFOUND);
    /* a delivered, another batch after change 500 */
    r = (ferry_delivery_result){.at_ms = ferry_time_now_ms(),
                                .status = 200,
                                .duration_ms = 2,
                                .next = FERRY_DELIVERY_DELIVERED,
                                .more = true,
                                .next_from_seq = 500};
    assert_int_equal(st->outbox->delivery_record(st, &a, &r, &err), FERRY_OK);
    assert_int_equal(st->outbox->delivery_list(st, run.id, &list, &n, &err), FERRY_OK);
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].id, b.id) == 0) {
            assert_int_equal(list[i].status, FERRY_DELIVERY_PENDING);
            assert_int_equal(list[i].attempts, 1);
            assert_int_equal(list[i].last_status, 500);
            assert_int_equal(list[i].ntries, 1);
            assert_string_equal(list[i].tries[0].error, "the endpoint answered 500");
        } else if (strcmp(list[i].id, a.id) == 0) {
            assert_int_equal(list[i].status, FERRY_DELIVERY_DELIVERED);
            assert_true(list[i].delivered_at_ms > 0);
        } else {
            assert_string_equal(list[i].kind, "records");
            assert_int_equal(list[i].seq, 2);
            assert_int_equal(list[i].from_seq, 500);
        }
    }
    ferry_deliveries_free(list, n);
    /* Redelivering the delivered one: pending again, the same id. */
    assert_int_equal(st->outbox->delivery_redeliver(st, a.id, &err), FERRY_OK);
    assert_int_equal(st->outbox->delivery_load(st, a.id, &c, &err), FERRY_OK);
    assert_int_equal(c.status, FERRY_DELIVERY_PENDING);
    ferry_delivery_done(&c);
    assert_int_equal(st->outbox->delivery_redeliver(st, "dlv_none", &err), FERRY_ENOTFOUND);
    ferry_delivery_done(&a);
    ferry_delivery_done(&b);
    ferry_store_planner_set(st, NULL);
}

/* The scenarios both stores must pass, for a group's setup. */
static void the_latest_success_of_each_sync_and_tenant_is_found(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_run run = new_run("a", 1000);
    ferry_last_success *last = NULL;
    size_t n = 0;
    ferry_err err;

    finish_at(st, start(st, &run), FERRY_RUN_SUCCEEDED, 1780000000123);
    finish_at(st, start(st, &run), FERRY_RUN_SUCCEEDED, 1780000500456);
    finish_at(st, start(st, &run), FERRY_RUN_FAILED, 1780000900000);
    run.tenant = (char *)"acme \"one\"";
    finish_at(st, start(st, &run), FERRY_RUN_SUCCEEDED, 1780000200000);
    run = new_run("b", 1000);
    finish_at(st, start(st, &run), FERRY_RUN_FAILED, 1780000300000);
    ferry_err_clear(&err);
    assert_int_equal(st->runs->last_successes(st, &last, &n, &err), FERRY_OK);
    assert_int_equal(n, 2);
    assert_string_equal(last[0].sync, "a");
    assert_string_equal(last[0].tenant, "");
    assert_int_equal(last[0].finished_at_ms, 1780000500456);
    assert_string_equal(last[1].sync, "a");
    assert_string_equal(last[1].tenant, "acme \"one\"");
    assert_int_equal(last[1].finished_at_ms, 1780000200000);
    ferry_last_successes_free(last, n);
}

static void pending_deliveries_are_counted(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_outbox_planner planner = {test_plan, NULL};
    ferry_run run = new_run("a", 1000);
    int64_t pending = -1;
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_equal(st->outbox->delivery_pending(st, &pending, &err), FERRY_OK);
    assert_int_equal(pending, 0);
    ferry_store_planner_set(st, &planner);
    finish(st, start(st, &run), FERRY_RUN_SUCCEEDED); /* a webhook and a records batch */
    finish(st, start(st, &run), FERRY_RUN_FAILED);    /* a webhook */
    ferry_store_planner_set(st, NULL);
    assert_int_equal(st->outbox->delivery_pending(st, &pending, &err), FERRY_OK);
    assert_int_equal(pending, 3);
    fx_exec(fx, "UPDATE ferry_deliveries SET status = 'delivered' WHERE kind = 'records'");
    assert_int_equal(st->outbox->delivery_pending(st, &pending, &err), FERRY_OK);
    assert_int_equal(pending, 2);
}

static void the_schema_version_is_read_from_the_database(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    int have = 0, want = 0, current = fx->kind == BACKEND_PG ? 13 : 17;
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_equal(st->cluster->schema_version(st, &have, &want, &err), FERRY_OK);
    assert_int_equal(have, current);
    assert_int_equal(want, current);
    fx_exec(fx, fx->kind == BACKEND_PG ? "UPDATE ferry_schema_version SET version = version + 5"
                                       : "PRAGMA user_version = 22");
    assert_int_equal(st->cluster->schema_version(st, &have, &want, &err), FERRY_OK);
    assert_int_equal(have, current + 5);
    assert_int_equal(want, current);
}

/* ---- retention (store/prune.h) ---- */

#define DAY_MS (24LL * 3600 * 1000)

/* Sets column of the row of table whose id is id to days ago. */
static void age(fixture *fx, const char *table, const char *column, int64_t id, int days)
{
    char sql[256], iso[FERRY_ISO_TIME_MAX];

    ferry_time_format_iso(ferry_time_now_ms() - days * DAY_MS, iso);
    snprintf(sql, sizeof(sql), "UPDATE %s SET %s = ?1 WHERE id = %lld", table, column,
             (long long)id);
    fx_exec_time(fx, sql, iso);
}

/* A finished run of sync with nchanges change rows, ended days ago. */
static int64_t old_run(fixture *fx, const char *sync, ferry_run_status status, int nchanges,
                       int days)
{
    ferry_run run = new_run(sync, ferry_time_now_ms() - days * DAY_MS);
    int64_t id = start(fx->store, &run);
    char key[32];

    for (int i = 1; i <= nchanges; i++) {
        snprintf(key, sizeof(key), "K%d", i);
        add_change(fx->store, id, i, key, FERRY_OUTCOME_CREATED, i + 1, NULL, NULL);
    }
    finish(fx->store, id, status);
    age(fx, "ferry_runs", "finished_at", id, days);
    return id;
}

static const ferry_prune_policy default_policy = {
    .runs_ms = 180 * DAY_MS,
    .changes_ms = 30 * DAY_MS,
    .audit_ms = 365 * DAY_MS,
    .session_idle_ms = 30 * 60 * 1000,
    .session_max_ms = 12 * 3600 * 1000,
};

static void prune(fixture *fx, const ferry_prune_policy *policy, bool dry_run, int batch,
                  ferry_prune_counts *ret)
{
    ferry_prune_opts opts = {.dry_run = dry_run, .batch = batch};
    ferry_err err;

    ferry_err_clear(&err);
    if (ferry_store_prune(fx->store, policy, ferry_time_now_ms(), &opts, ret, &err) != FERRY_OK)
        fail_msg("prune: %s", err.msg);
}

static void prune_takes_old_change_rows_and_keeps_the_run_with_its_counts(void **state)
{
    fixture *fx = *state;
    int64_t a = old_run(fx, "therapists", FERRY_RUN_SUCCEEDED, 5, 40);
    int64_t last_ok = old_run(fx, "therapists", FERRY_RUN_SUCCEEDED, 0, 35);
    int64_t b = old_run(fx, "therapists", FERRY_RUN_FAILED, 3, 31);
    int64_t recent = old_run(fx, "therapists", FERRY_RUN_FAILED, 4, 10);
    int64_t last = old_run(fx, "clients", FERRY_RUN_SUCCEEDED, 2, 50);
    ferry_prune_counts dry, real;
    ferry_run run;
    ferry_err err;

    prune(fx, &default_policy, true, 0, &dry);
    assert_int_equal(dry.rows[FERRY_PRUNE_CHANGES], 8);
    assert_int_equal(dry.change_runs, 2);
    assert_int_equal(count_changes(fx->store, a), 5); /* a dry run deletes nothing */
    prune(fx, &default_policy, false, 0, &real);
    assert_memory_equal(&dry, &real, sizeof(dry));
    assert_int_equal(count_changes(fx->store, a), 0);
    assert_int_equal(count_changes(fx->store, b), 0);
    assert_int_equal(count_changes(fx->store, recent), 4); /* ended 10 days ago */
    assert_int_equal(count_changes(fx->store, last), 2);   /* the latest run of clients */
    (void)last_ok; /* therapists' latest succeeded run: kept, though it has no rows */
    ferry_err_clear(&err);
    assert_int_equal(fx->store->runs->run_load(fx->store, a, &run, &err), FERRY_OK);
    assert_int_equal(run.status, FERRY_RUN_SUCCEEDED);
    assert_true(run.changes_pruned_at_ms > ferry_time_now_ms() - 60000);
    ferry_run_done(&run);
    assert_int_equal(fx->store->runs->run_load(fx->store, recent, &run, &err), FERRY_OK);
    assert_int_equal(run.changes_pruned_at_ms, 0);
    ferry_run_done(&run);
    /* Once pruned, nothing more goes. */
    prune(fx, &default_policy, false, 0, &real);
    assert_int_equal(ferry_prune_counts_total(&real), 0);
}

static void
prune_takes_old_runs_deliveries_audit_firings_and_sessions_but_keeps_the_latest(void **state)
{
    fixture *fx = *state;
    ferry_store *st = fx->store;
    ferry_prune_policy keep_changes = default_policy;
    int64_t gone = old_run(fx, "therapists", FERRY_RUN_FAILED, 3, 200);
    int64_t last_ok = old_run(fx, "therapists", FERRY_RUN_SUCCEEDED, 2, 200);
    int64_t last = old_run(fx, "therapists", FERRY_RUN_FAILED, 1, 200);
    int64_t other = old_run(fx, "clients", FERRY_RUN_SUCCEEDED, 1, 400);
    int64_t young = old_run(fx, "clients", FERRY_RUN_SUCCEEDED, 0, 1);
    ferry_audit_entry e = {.actor = (char *)"ana", .action = (char *)"login"};
    ferry_prune_counts dry, real;
    char iso[FERRY_ISO_TIME_MAX], sql[512];
    bool won = false;
    ferry_err err;

    keep_changes.changes_ms = 0; /* changes: keep, so the runs take their own change rows */
    ferry_time_format_iso(ferry_time_now_ms() - 200 * DAY_MS, iso);
    snprintf(sql, sizeof(sql),
             "INSERT INTO ferry_deliveries (id, run_id, endpoint, kind, status, created_at,"
             " give_up_at) VALUES ('dlv_a', %lld, 0, 'webhook', 'failed', ?1, ?1)",
             (long long)gone);
    fx_exec_time(fx, sql, iso);
    snprintf(sql, sizeof(sql),
             "INSERT INTO ferry_deliveries (id, run_id, endpoint, kind, status, created_at,"
             " give_up_at) VALUES ('dlv_b', %lld, 0, 'webhook', 'delivered', ?1, ?1)",
             (long long)last);
    fx_exec_time(fx, sql, iso);
    fx_exec_time(fx,
                 "INSERT INTO ferry_delivery_attempts (delivery_id, n, at) VALUES ('dlv_a', 1, ?1),"
                 " ('dlv_a', 2, ?1), ('dlv_b', 1, ?1)",
                 iso);
    ferry_err_clear(&err);
    assert_int_equal(st->people->audit_add(st, &e, &err), FERRY_OK);
    assert_int_equal(st->people->audit_add(st, &e, &err), FERRY_OK);
    age(fx, "ferry_audit", "at", 1, 400);
    assert_int_equal(st->cluster->schedule_claim(st, "therapists", NULL, 1000, &won, &err),
                     FERRY_OK);
    ferry_time_format_iso(ferry_time_now_ms() - 8 * DAY_MS, iso);
    fx_exec_time(fx, "UPDATE ferry_schedule_fires SET claimed_at = ?1", iso);
    assert_int_equal(st->people->user_add(st, "ana", FERRY_ROLE_ADMIN, "$h", &err), FERRY_OK);
    assert_int_equal(st->people->session_add(st, "ana", "stale", &err), FERRY_OK);
    assert_int_equal(st->people->session_add(st, "ana", "live", &err), FERRY_OK);
    ferry_time_format_iso(ferry_time_now_ms() - 3600 * 1000, iso);
    fx_exec_time(fx, "UPDATE ferry_sessions SET last_seen_at = ?1 WHERE session_hash = 'stale'",
                 iso);

    prune(fx, &keep_changes, true, 0, &dry);
    prune(fx, &keep_changes, false, 2, &real);
    assert_memory_equal(&dry, &real, sizeof(dry));
    assert_int_equal(real.rows[FERRY_PRUNE_CHANGES], 0);
    assert_int_equal(real.rows[FERRY_PRUNE_RUN_CHANGES], 4);
    assert_int_equal(real.rows[FERRY_PRUNE_RUNS], 2);
    assert_int_equal(real.rows[FERRY_PRUNE_DELIVERIES], 2); /* the pruned run's; an old one */
    assert_int_equal(real.rows[FERRY_PRUNE_ATTEMPTS], 3);
    assert_int_equal(real.rows[FERRY_PRUNE_AUDIT], 1);
    assert_int_equal(real.rows[FERRY_PRUNE_FIRES], 1);
    assert_int_equal(real.rows[FERRY_PRUNE_SESSIONS], 1);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM ferry_runs WHERE id = %lld", (long long)gone);
    assert_int_equal(query_int(fx, sql), 0);
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM ferry_runs WHERE id IN (%lld, %lld, %lld, %lld)",
             (long long)last_ok, (long long)last, (long long)other, (long long)young);
    assert_int_equal(query_int(fx, sql), 3); /* other is not clients' latest run */
    assert_int_equal(count_changes(fx->store, gone), 0);
    assert_int_equal(count_changes(fx->store, last_ok), 2);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM ferry_audit"), 1);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM ferry_sessions"), 1);
    assert_int_equal(query_int(fx, "SELECT count(*) FROM ferry_delivery_attempts"), 0);
}

static void queued_running_and_held_runs_are_never_pruned(void **state)
{
    fixture *fx = *state;
    int64_t held = old_run(fx, "therapists", FERRY_RUN_SUCCEEDED, 2, 300);
    int64_t newer = old_run(fx, "therapists", FERRY_RUN_SUCCEEDED, 0, 250);
    ferry_run running = new_run("clients", ferry_time_now_ms() - 300 * DAY_MS);
    int64_t rid = start(fx->store, &running);
    ferry_prune_counts c;
    char sql[128];

    (void)newer;
    snprintf(sql, sizeof(sql), "UPDATE ferry_runs SET status = 'held' WHERE id = %lld",
             (long long)held);
    fx_exec(fx, sql);
    add_change(fx->store, rid, 1, "K", FERRY_OUTCOME_CREATED, 2, NULL, NULL);
    prune(fx, &default_policy, false, 0, &c);
    assert_int_equal(ferry_prune_counts_total(&c), 0);
    assert_int_equal(count_changes(fx->store, held), 2);
    assert_int_equal(count_changes(fx->store, rid), 1);
}

static void the_latest_scheduled_run_of_a_sync_is_kept(void **state)
{
    fixture *fx = *state;
    int64_t older = old_run(fx, "therapists", FERRY_RUN_SUCCEEDED, 0, 300);
    int64_t scheduled = old_run(fx, "therapists", FERRY_RUN_SUCCEEDED, 0, 250);
    ferry_prune_counts c;
    char sql[128];

    (void)old_run(fx, "therapists", FERRY_RUN_FAILED, 0, 200);
    (void)old_run(fx, "therapists", FERRY_RUN_SUCCEEDED, 0, 1);
    snprintf(sql, sizeof(sql),
             "UPDATE ferry_runs SET trigger = 'schedule' WHERE id IN (%lld, %lld)",
             (long long)older, (long long)scheduled);
    fx_exec(fx, sql);
    prune(fx, &default_policy, false, 0, &c);
    assert_int_equal(c.rows[FERRY_PRUNE_RUNS], 2); /* the older scheduled one, the failed one */
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM ferry_runs WHERE id = %lld",
             (long long)scheduled);
    assert_int_equal(query_int(fx, sql), 1);
}

static int pauses;

/* Counts the pauses; with a limit (*ctx), says stop once it is reached. */
static bool count_pause(void *ctx)
{
    const int *limit = ctx;

    pauses++;
    return limit == NULL || pauses < *limit;
}

static void prune_deletes_in_batches_and_stops_when_the_pause_says_so(void **state)
{
    fixture *fx = *state;
    int64_t a = old_run(fx, "therapists", FERRY_RUN_SUCCEEDED, 7, 40);
    int64_t b = old_run(fx, "therapists", FERRY_RUN_SUCCEEDED, 3, 40);
    ferry_prune_opts opts = {.batch = 4, .pause = count_pause};
    ferry_prune_counts c;
    ferry_err err;

    int stop_after = 1;
    ferry_audit_entry e = {.action = (char *)"login"};

    (void)old_run(fx, "therapists", FERRY_RUN_SUCCEEDED, 1, 40); /* the latest: kept */
    ferry_err_clear(&err);
    assert_int_equal(fx->store->people->audit_add(fx->store, &e, &err), FERRY_OK);
    age(fx, "ferry_audit", "at", 1, 400);
    /* Stopped at the first pause: one batch went, in order (the first 4 rows of a). */
    pauses = 0;
    opts.ctx = &stop_after;
    ferry_err_clear(&err);
    assert_int_equal(
        ferry_store_prune(fx->store, &default_policy, ferry_time_now_ms(), &opts, &c, &err),
        FERRY_OK);
    assert_int_equal(c.rows[FERRY_PRUNE_CHANGES], 4);
    assert_int_equal(c.change_runs, 0);
    assert_int_equal(ferry_prune_counts_total(&c), 4); /* not the old audit entry either */
    assert_int_equal(query_int(fx, "SELECT count(*) FROM ferry_audit"), 1);
    assert_int_equal(count_changes(fx->store, a), 3);
    /* Then the rest. */
    pauses = 0;
    opts.ctx = NULL;
    assert_int_equal(
        ferry_store_prune(fx->store, &default_policy, ferry_time_now_ms(), &opts, &c, &err),
        FERRY_OK);
    assert_int_equal(c.rows[FERRY_PRUNE_CHANGES], 6);
    assert_int_equal(c.change_runs, 2);
    assert_int_equal(pauses, 3); /* 4 + 2 rows, a batch that found none; the audit entry */
    assert_int_equal(c.rows[FERRY_PRUNE_AUDIT], 1);
    assert_int_equal(count_changes(fx->store, a) + count_changes(fx->store, b), 0);
}

/* A checkpoint truncates the -wal file another open connection keeps (the last connection
 * to close would remove it anyway); without force it leaves a small one alone. */
static void a_forced_checkpoint_truncates_the_wal(void **state)
{
    fixture *fx = *state;
    ferry_store *other = NULL;
    char wal[4200];
    struct stat sb;
    bool done = true;
    ferry_err err;

    assert_int_equal(fx_open(fx, &other, &err), FERRY_OK);
    (void)old_run(fx, "therapists", FERRY_RUN_SUCCEEDED, 500, 1);
    snprintf(wal, sizeof(wal), "%s-wal", fx->path);
    assert_int_equal(stat(wal, &sb), 0);
    assert_true(sb.st_size > 0);
    assert_int_equal(fx->store->prune->checkpoint(fx->store, false, &done, &err), FERRY_OK);
    assert_false(done);
    assert_int_equal(stat(wal, &sb), 0);
    assert_true(sb.st_size > 0);
    assert_int_equal(fx->store->prune->checkpoint(fx->store, true, &done, &err), FERRY_OK);
    assert_true(done);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_size, 0);
    ferry_store_close(other);
}

#define BOTH_STORES(setup)                                                                         \
    cmocka_unit_test_setup_teardown(run_round_trip_keeps_every_field, setup, teardown),            \
        cmocka_unit_test_setup_teardown(watermarks_commit_with_the_run_and_runs_keep_their_mode,   \
                                        setup, teardown),                                          \
        cmocka_unit_test_setup_teardown(a_runs_end_enqueues_its_deliveries_in_the_same_write,      \
                                        setup, teardown),                                          \
        cmocka_unit_test_setup_teardown(                                                           \
            deliveries_are_claimed_once_recorded_and_batches_follow_in_order, setup, teardown),    \
        cmocka_unit_test_setup_teardown(run_without_optional_fields_reads_back_as_null, setup,     \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(run_get_of_an_unknown_id_is_not_found, setup, teardown),   \
        cmocka_unit_test_setup_teardown(second_run_start_while_one_is_running_is_einval, setup,    \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(queued_run_also_blocks_a_second_one, setup, teardown),     \
        cmocka_unit_test_setup_teardown(active_runs_are_per_sync_and_tenant, setup, teardown),     \
        cmocka_unit_test_setup_teardown(new_run_can_start_after_the_previous_finished, setup,      \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(                                                           \
            run_start_failing_for_another_reason_is_not_called_a_duplicate, setup, teardown),      \
        cmocka_unit_test_setup_teardown(run_list_is_newest_first_filtered_and_limited, setup,      \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(run_list_without_a_limit_gives_20, setup, teardown),       \
        cmocka_unit_test_setup_teardown(changes_list_in_sequence_order_with_every_field, setup,    \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(changes_filter_by_outcome_and_limit, setup, teardown),     \
        cmocka_unit_test_setup_teardown(changes_belong_to_their_run, setup, teardown),             \
        cmocka_unit_test_setup_teardown(repeated_change_seq_is_a_database_error, setup, teardown), \
        cmocka_unit_test_setup_teardown(a_run_whose_lease_was_taken_cannot_be_finished, setup,     \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(enqueue_twice_returns_the_queued_run_and_claim_takes_it,   \
                                        setup, teardown),                                          \
        cmocka_unit_test_setup_teardown(a_queued_run_can_be_cancelled, setup, teardown),           \
        cmocka_unit_test_setup_teardown(                                                           \
            heartbeats_renew_a_held_lease_and_expired_leases_are_reclaimed, setup, teardown),      \
        cmocka_unit_test_setup_teardown(a_revert_whose_lease_expired_fails_and_is_not_run_again,   \
                                        setup, teardown),                                          \
        cmocka_unit_test_setup_teardown(labelled_skip_counts_are_kept_in_their_order, setup,       \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(a_run_keeps_what_it_read_and_its_activity, setup,          \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(a_revert_names_its_run_and_a_deleted_row_keeps_its_values, \
                                        setup, teardown),                                          \
        cmocka_unit_test_setup_teardown(a_change_keeps_the_records_name, setup, teardown),         \
        cmocka_unit_test_setup_teardown(a_batch_of_many_changes_is_stored_in_order, setup,         \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(reopening_the_database_keeps_runs_and_changes, setup,      \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(users_are_added_listed_changed_and_disabled, setup,        \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(a_run_keeps_its_token_and_who_cancelled_it, setup,         \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(run_list_filters_by_exactly_one_user, setup, teardown),    \
        cmocka_unit_test_setup_teardown(a_valid_token_names_its_user_and_records_its_use, setup,   \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(unknown_revoked_or_disabled_tokens_are_refused, setup,     \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(a_session_names_its_user_until_it_is_deleted, setup,       \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(a_session_can_only_be_added_for_an_enabled_user, setup,    \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(an_idle_session_expires_and_is_deleted, setup, teardown),  \
        cmocka_unit_test_setup_teardown(an_old_session_expires_however_active_it_is, setup,        \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(purge_deletes_idle_and_old_sessions_only, setup,           \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(a_new_password_logs_out_every_session_of_the_user, setup,  \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(                                                           \
            disabling_a_user_logs_out_its_sessions_and_stops_its_tokens, setup, teardown),         \
        cmocka_unit_test_setup_teardown(                                                           \
            a_session_of_a_user_disabled_behind_the_stores_back_is_refused, setup, teardown),      \
        cmocka_unit_test_setup_teardown(a_users_role_can_be_changed, setup, teardown),             \
        cmocka_unit_test_setup_teardown(audit_entries_list_newest_first_with_every_field, setup,   \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(audit_list_filters_by_actor_and_action_and_pages_by_id,    \
                                        setup, teardown),                                          \
        cmocka_unit_test_setup_teardown(audit_list_without_a_limit_gives_100, setup, teardown),    \
        cmocka_unit_test_setup_teardown(a_running_run_names_its_node_and_others_do_not, setup,     \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(nodes_beat_list_and_leave, setup, teardown),               \
        cmocka_unit_test_setup_teardown(a_schedule_firing_is_claimed_once, setup, teardown),       \
        cmocka_unit_test_setup_teardown(a_running_run_can_be_asked_to_cancel, setup, teardown),    \
        cmocka_unit_test_setup_teardown(a_secret_is_kept_replaced_and_read_by_another_connection,  \
                                        setup, teardown),                                          \
        cmocka_unit_test_setup_teardown(a_failure_never_overwrites_a_run_that_already_ended,       \
                                        setup, teardown),                                          \
        cmocka_unit_test_setup_teardown(a_held_run_is_queued_again_as_the_same_attempt, setup,     \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(                                                           \
            a_run_whose_process_died_is_interrupted_and_without_retries_fails, setup, teardown),   \
        cmocka_unit_test_setup_teardown(the_latest_success_of_each_sync_and_tenant_is_found,       \
                                        setup, teardown),                                          \
        cmocka_unit_test_setup_teardown(pending_deliveries_are_counted, setup, teardown),          \
        cmocka_unit_test_setup_teardown(the_schema_version_is_read_from_the_database, setup,       \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(                                                           \
            prune_takes_old_change_rows_and_keeps_the_run_with_its_counts, setup, teardown),       \
        cmocka_unit_test_setup_teardown(                                                           \
            prune_takes_old_runs_deliveries_audit_firings_and_sessions_but_keeps_the_latest,       \
            setup, teardown),                                                                      \
        cmocka_unit_test_setup_teardown(queued_running_and_held_runs_are_never_pruned, setup,      \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(the_latest_scheduled_run_of_a_sync_is_kept, setup,         \
                                        teardown),                                                 \
        cmocka_unit_test_setup_teardown(prune_deletes_in_batches_and_stops_when_the_pause_says_so, \
                                        setup, teardown)

int main(void)
{
    const struct CMUnitTest sqlite_tests[] = {
        BOTH_STORES(setup_sqlite),
        cmocka_unit_test_setup_teardown(a_version_1_database_is_migrated_and_keeps_its_runs,
                                        setup_sqlite, teardown),
        cmocka_unit_test_setup_teardown(a_forced_checkpoint_truncates_the_wal, setup_sqlite,
                                        teardown),
        cmocka_unit_test_setup_teardown(database_from_a_newer_ferry_is_refused, setup_sqlite,
                                        teardown),
        cmocka_unit_test_setup_teardown(opening_creates_ferry_tables_at_the_current_schema_version,
                                        setup_sqlite, teardown),
        cmocka_unit_test_setup_teardown(store_open_resolves_sqlite_paths_against_the_config_dir,
                                        setup_sqlite, teardown),
        cmocka_unit_test_setup_teardown(
            a_version_3_database_is_migrated_and_keeps_users_tokens_and_runs, setup_sqlite,
            teardown),
        cmocka_unit_test_setup_teardown(authentication_does_not_wait_for_a_busy_database,
                                        setup_sqlite, teardown),
        cmocka_unit_test(store_open_rejects_other_databases),
        cmocka_unit_test(status_and_outcome_names_round_trip),
    };
    const struct CMUnitTest pg_tests[] = {
        BOTH_STORES(setup_pg),
        cmocka_unit_test_setup_teardown(
            pg_opening_creates_ferry_tables_at_the_current_schema_version, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(pg_database_from_a_newer_ferry_is_refused, setup_pg,
                                        teardown),
        cmocka_unit_test_setup_teardown(pg_concurrent_claims_hand_each_run_to_one_claimer, setup_pg,
                                        teardown),
        cmocka_unit_test_setup_teardown(pg_concurrent_enqueues_create_one_run, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(pg_concurrent_schedule_claims_have_one_winner, setup_pg,
                                        teardown),
        cmocka_unit_test_setup_teardown(pg_three_processes_migrate_one_empty_database, setup_pg,
                                        teardown),
        cmocka_unit_test_setup_teardown(pg_the_password_never_appears_in_an_error, setup_pg,
                                        teardown),
        cmocka_unit_test_setup_teardown(pg_a_broken_connection_is_reset, setup_pg, teardown),
        cmocka_unit_test_setup_teardown(pg_changes_commit_or_roll_back_with_the_callers_transaction,
                                        setup_pg, teardown),
        cmocka_unit_test_setup_teardown(pg_reclaim_skips_a_run_whose_transaction_is_alive, setup_pg,
                                        teardown),
        cmocka_unit_test_setup_teardown(pg_authentication_does_not_wait_for_a_locked_row, setup_pg,
                                        teardown),
        cmocka_unit_test_setup_teardown(pg_many_changes_are_written_in_batches, setup_pg, teardown),
    };
    int failed = cmocka_run_group_tests_name("sqlite", sqlite_tests, NULL, NULL);

    return failed + cmocka_run_group_tests_name("postgres", pg_tests, NULL, NULL);
}
