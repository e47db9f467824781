/* test_queue.c - a run's life outside the pipeline, on a SQLite store: a request queues one
 * run and announces it once, after its commit; a second request answers with the active run;
 * a claim hands the queued run over as running; a queued run is cancelled and announced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "queue/queue.h"
#include "testutil.h"
#include "util/buf.h"

typedef struct {
    char *dir;
    ferry_store *store;
    ferry_hub *hub;
    ferry_hub_sub *sub;
    sqlite3 *reader;           /* a second connection: what other threads can see */
    int queued_seen_by_reader; /* queued runs the reader saw when an event was published */
    ferry_sync_spec sync;
} fixture;

/* Called from the publishing thread: counts the queued runs another connection sees now. */
static void on_event(void *ctx)
{
    fixture *fx = ctx;
    sqlite3_stmt *st;

    assert_int_equal(sqlite3_prepare_v2(fx->reader,
                                        "SELECT count(*) FROM ferry_runs WHERE status = 'queued'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    fx->queued_seen_by_reader = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
}

static int setup(void **state)
{
    fixture *fx = calloc(1, sizeof(*fx));
    char path[4096];
    ferry_err err;

    fx->dir = tu_tempdir();
    snprintf(path, sizeof(path), "%s/ferry.db", fx->dir);
    ferry_err_clear(&err);
    assert_int_equal(ferry_sqlite_store_open(path, &fx->store, &err), FERRY_OK);
    assert_int_equal(sqlite3_open(path, &fx->reader), SQLITE_OK);
    assert_int_equal(ferry_hub_new(16, &fx->hub, &err), FERRY_OK);
    assert_int_equal(ferry_hub_subscribe(fx->hub, on_event, fx, &fx->sub, &err), FERRY_OK);
    fx->sync.name = (char *)"staff";
    fx->sync.title = (char *)"Staff";
    fx->queued_seen_by_reader = -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture *fx = *state;

    ferry_hub_unsubscribe(fx->hub, fx->sub);
    ferry_hub_free(fx->hub);
    sqlite3_close(fx->reader);
    ferry_store_close(fx->store);
    tu_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

/* The events published so far, as the event stream sends them. */
static char *events(fixture *fx)
{
    ferry_buf out;
    uint64_t last = 0;
    char *text;

    ferry_buf_init(&out, 1 << 20);
    ferry_hub_read(fx->hub, 0, NULL, 100, &out, &last);
    text = strndup(out.data != NULL ? out.data : "", out.len);
    ferry_buf_done(&out);
    return text;
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;

    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static ferry_queue_request api_request(fixture *fx)
{
    ferry_queue_request rq = {0};

    rq.sync = &fx->sync;
    rq.trigger = "api";
    rq.user = "alice";
    rq.queued_message = "Sync started...";
    return rq;
}

static void run_queued_is_announced_after_its_commit(void **state)
{
    fixture *fx = *state;
    ferry_queue q = {fx->hub, NULL, NULL};
    ferry_queue_request rq = api_request(fx);
    ferry_run run;
    bool created = false;
    int64_t wait_ms = 0;
    ferry_err err;
    char *text;

    ferry_err_clear(&err);
    assert_int_equal(ferry_queue_run_request(&q, fx->store, &rq, &run, &created, &wait_ms, &err),
                     FERRY_OK);
    assert_true(created);
    assert_int_equal(run.status, FERRY_RUN_QUEUED);
    /* When run.queued went out, another connection could already claim the run. */
    assert_int_equal(fx->queued_seen_by_reader, 1);
    text = events(fx);
    assert_int_equal(count(text, "event: run.queued"), 1);
    assert_non_null(strstr(text, "Sync started..."));
    free(text);
    ferry_run_done(&run);
}

static void second_request_returns_the_active_run(void **state)
{
    fixture *fx = *state;
    ferry_queue q = {fx->hub, NULL, NULL};
    ferry_queue_request rq = api_request(fx);
    ferry_run first, second;
    bool created = false;
    ferry_err err;
    char *text;

    ferry_err_clear(&err);
    assert_int_equal(ferry_queue_run_request(&q, fx->store, &rq, &first, &created, NULL, &err),
                     FERRY_OK);
    assert_true(created);
    assert_int_equal(ferry_queue_run_request(&q, fx->store, &rq, &second, &created, NULL, &err),
                     FERRY_OK);
    assert_false(created);
    assert_int_equal(second.id, first.id);
    text = events(fx);
    assert_int_equal(count(text, "event: run.queued"), 1);
    free(text);
    ferry_run_done(&first);
    ferry_run_done(&second);
}

static void claim_hands_over_the_queued_run_as_running(void **state)
{
    fixture *fx = *state;
    ferry_queue q = {fx->hub, NULL, NULL};
    ferry_queue_request rq = api_request(fx);
    ferry_run queued, claimed;
    bool created = false;
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_equal(ferry_queue_run_claim(fx->store, &claimed, &err), FERRY_DONE);
    assert_int_equal(ferry_queue_run_request(&q, fx->store, &rq, &queued, &created, NULL, &err),
                     FERRY_OK);
    assert_int_equal(ferry_queue_run_claim(fx->store, &claimed, &err), FERRY_OK);
    assert_int_equal(claimed.id, queued.id);
    assert_int_equal(claimed.status, FERRY_RUN_RUNNING);
    assert_string_equal(claimed.user, "alice");
    assert_int_equal(ferry_queue_lease_renew(NULL, fx->store, claimed.id, &err), FERRY_OK);
    ferry_run_done(&queued);
    ferry_run_done(&claimed);
}

static void queued_run_is_cancelled_and_announced(void **state)
{
    fixture *fx = *state;
    ferry_queue q = {fx->hub, NULL, NULL};
    ferry_queue_request rq = api_request(fx);
    ferry_queue_cancel_result result;
    ferry_run queued, cancelled;
    bool created = false;
    ferry_err err;
    char *text;

    ferry_err_clear(&err);
    assert_int_equal(ferry_queue_run_request(&q, fx->store, &rq, &queued, &created, NULL, &err),
                     FERRY_OK);
    assert_false(ferry_queue_run_cancel_here(&q, queued.id, "bob"));
    assert_int_equal(
        ferry_queue_run_cancel(&q, fx->store, queued.id, "bob", &result, &cancelled, &err),
        FERRY_OK);
    assert_int_equal(result, FERRY_QUEUE_CANCELLED);
    assert_int_equal(cancelled.status, FERRY_RUN_CANCELLED);
    assert_string_equal(cancelled.cancelled_by, "bob");
    assert_int_equal(
        ferry_queue_run_cancel(&q, fx->store, queued.id, "bob", &result, &cancelled, &err),
        FERRY_OK);
    assert_int_equal(result, FERRY_QUEUE_NOT_ACTIVE);
    assert_int_equal(ferry_queue_run_cancel(&q, fx->store, 999, "bob", &result, NULL, &err),
                     FERRY_ENOTFOUND);
    text = events(fx);
    assert_int_equal(count(text, "event: run.queued"), 1);
    assert_int_equal(count(text, "event: run.finished"), 1);
    free(text);
    ferry_run_done(&queued);
    ferry_run_done(&cancelled);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(run_queued_is_announced_after_its_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(second_request_returns_the_active_run, setup, teardown),
        cmocka_unit_test_setup_teardown(claim_hands_over_the_queued_run_as_running, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(queued_run_is_cancelled_and_announced, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
