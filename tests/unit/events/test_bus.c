/* test_bus.c - the bus between nodes (src/events/bus.c) on the test run's PostgreSQL server.
 *
 * Two buses with their own hubs stand for two nodes on one database: an event published on
 * one arrives in the other's hub (and is not echoed back), a cancel reaches the other node's
 * callback only, and an event too long for a notification arrives rebuilt from the store. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "events/bus.h"
#include "events/hub.h"
#include "store/store.h"
#include "testutil.h"
#include "util/buf.h"
#include "util/timeutil.h"

typedef struct {
    pthread_mutex_t lock;
    int64_t run_id;
    char user[64];
    int calls;
} cancel_seen;

typedef struct {
    char *url;
    ferry_hub *hub[2];
    ferry_bus *bus[2];
    cancel_seen seen[2];
} fixture;

static void on_cancel(void *ctx, int64_t run_id, const char *user)
{
    cancel_seen *c = ctx;

    pthread_mutex_lock(&c->lock);
    c->run_id = run_id;
    snprintf(c->user, sizeof(c->user), "%s", user != NULL ? user : "");
    c->calls++;
    pthread_mutex_unlock(&c->lock);
}

static int setup(void **state)
{
    static const char *const names[2] = {"node-a:1", "node-b:2"};
    fixture *f = calloc(1, sizeof(*f));
    ferry_err err;

    if (f == NULL || (f->url = tu_pg_database()) == NULL)
        return -1;
    for (int i = 0; i < 2; i++) {
        pthread_mutex_init(&f->seen[i].lock, NULL);
        ferry_err_clear(&err);
        if (ferry_hub_new(64, &f->hub[i], &err) != FERRY_OK ||
            ferry_bus_start(f->url, names[i], f->hub[i], on_cancel, &f->seen[i], &f->bus[i],
                            &err) != FERRY_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return -1;
        }
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    for (int i = 0; i < 2; i++) {
        ferry_bus_stop(f->bus[i]);
        ferry_hub_free(f->hub[i]);
        pthread_mutex_destroy(&f->seen[i].lock);
    }
    free(f->url);
    free(f);
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* Waits (at most 10 s) until hub has an event with an id of at least id. */
static bool wait_for_event(ferry_hub *hub, uint64_t id)
{
    for (int i = 0; i < 1000; i++) {
        if (ferry_hub_last_id(hub) >= id)
            return true;
        sleep_ms(10);
    }
    return false;
}

static char *read_all(ferry_hub *hub)
{
    ferry_buf out;
    uint64_t last = 0;

    ferry_buf_init(&out, 1 << 20);
    ferry_hub_read(hub, 0, NULL, 100, &out, &last);
    return ferry_buf_take(&out);
}

static void an_event_crosses_to_the_other_node_and_is_not_echoed(void **state)
{
    fixture *f = *state;
    char *text;

    ferry_hub_publish(f->hub[0], "run.progress", "people", "{\"id\":7,\"percent\":40}");
    assert_true(wait_for_event(f->hub[1], 1));
    text = read_all(f->hub[1]);
    assert_non_null(strstr(text, "event: run.progress\n"));
    assert_non_null(strstr(text, "data: {\"id\":7,\"percent\":40}\n"));
    free(text);
    /* The relayed copy is not sent back: node a still has its one event. */
    sleep_ms(300);
    assert_int_equal(ferry_hub_last_id(f->hub[0]), 1);
    assert_int_equal(ferry_hub_last_id(f->hub[1]), 1);

    /* Filters by sync work on relayed events as on local ones. */
    ferry_buf out;
    uint64_t last = 0;
    ferry_buf_init(&out, 1 << 20);
    assert_int_equal(ferry_hub_read(f->hub[1], 0, "other", 10, &out, &last), 0);
    assert_int_equal(ferry_hub_read(f->hub[1], 0, "people", 10, &out, &last), 1);
    ferry_buf_done(&out);
}

static void a_cancel_reaches_the_other_node_only(void **state)
{
    fixture *f = *state;
    int calls = 0;

    ferry_bus_send_cancel(f->bus[0], 42, "alice");
    for (int i = 0; i < 1000 && calls == 0; i++) {
        pthread_mutex_lock(&f->seen[1].lock);
        calls = f->seen[1].calls;
        pthread_mutex_unlock(&f->seen[1].lock);
        if (calls == 0)
            sleep_ms(10);
    }
    assert_int_equal(calls, 1);
    pthread_mutex_lock(&f->seen[1].lock);
    assert_int_equal(f->seen[1].run_id, 42);
    assert_string_equal(f->seen[1].user, "alice");
    pthread_mutex_unlock(&f->seen[1].lock);
    sleep_ms(200);
    pthread_mutex_lock(&f->seen[0].lock);
    assert_int_equal(f->seen[0].calls, 0);
    pthread_mutex_unlock(&f->seen[0].lock);
}

static void an_event_too_long_for_a_notification_is_rebuilt_from_the_store(void **state)
{
    fixture *f = *state;
    ferry_store *st = NULL;
    ferry_run run;
    int64_t id = 0;
    ferry_buf data;
    ferry_err err;
    char *text, want[64];

    ferry_err_clear(&err);
    assert_int_equal(ferry_store_open(f->url, NULL, &st, &err), FERRY_OK);
    memset(&run, 0, sizeof(run));
    run.sync = "people";
    run.trigger = "api";
    run.status = FERRY_RUN_RUNNING;
    run.queued_at_ms = run.started_at_ms = 1795000000000;
    if (st->runs->run_start(st, &run, &id, &err) != FERRY_OK)
        fail_msg("%s", err.msg);
    ferry_store_close(st);

    /* 20 KB of log: over PostgreSQL's 8000-byte payload limit. */
    ferry_buf_init(&data, 1 << 20);
    ferry_buf_printf(&data, "{\"id\":%lld,\"log_message\":\"", (long long)id);
    for (int i = 0; i < 2000; i++)
        ferry_buf_printf(&data, "row %04d; ", i);
    ferry_buf_printf(&data, "\"}");
    ferry_hub_publish(f->hub[0], "run.finished", "people", ferry_buf_str(&data));
    ferry_buf_done(&data);
    assert_true(wait_for_event(f->hub[1], 1));
    text = read_all(f->hub[1]);
    assert_non_null(strstr(text, "event: run.finished\n"));
    snprintf(want, sizeof(want), "data: {\"id\":%lld,", (long long)id);
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "\"sync\":\"people\""));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(an_event_crosses_to_the_other_node_and_is_not_echoed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_cancel_reaches_the_other_node_only, setup, teardown),
        cmocka_unit_test_setup_teardown(
            an_event_too_long_for_a_notification_is_rebuilt_from_the_store, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
