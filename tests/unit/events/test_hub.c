/* test_hub.c - the event hub: ids, replay after Last-Event-ID, the ring's bound, sync filters,
 * notification of subscribers, and publishing from several threads at once. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "events/hub.h"

static ferry_hub *new_hub(size_t replay)
{
    ferry_hub *hub = NULL;
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_equal(ferry_hub_new(replay, &hub, &err), FERRY_OK);
    return hub;
}

static size_t count(const char *text, const char *needle)
{
    size_t n = 0;

    for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void events_get_increasing_ids_and_sse_frames(void **state)
{
    ferry_hub *hub = new_hub(8);
    ferry_buf out;
    uint64_t last = 0;

    (void)state;
    assert_int_equal(ferry_hub_publish(hub, "run.queued", "a", "{\"id\":1}"), 1);
    assert_int_equal(ferry_hub_publish(hub, "run.started", "a", "{\"id\":1}"), 2);
    ferry_buf_init(&out, 1 << 20);
    assert_int_equal(ferry_hub_read(hub, 0, NULL, 10, &out, &last), 2);
    assert_string_equal(ferry_buf_str(&out), "id: 1\nevent: run.queued\ndata: {\"id\":1}\n\n"
                                             "id: 2\nevent: run.started\ndata: {\"id\":1}\n\n");
    assert_int_equal(last, 2);
    ferry_buf_done(&out);
    ferry_hub_free(hub);
}

static void reading_after_an_id_replays_only_what_was_missed(void **state)
{
    ferry_hub *hub = new_hub(16);
    ferry_buf out;
    uint64_t last = 0;

    (void)state;
    for (int i = 0; i < 5; i++)
        ferry_hub_publish(hub, "run.progress", "a", "{}");
    ferry_buf_init(&out, 1 << 20);
    assert_int_equal(ferry_hub_read(hub, 3, NULL, 10, &out, &last), 2);
    assert_non_null(strstr(ferry_buf_str(&out), "id: 4\n"));
    assert_non_null(strstr(ferry_buf_str(&out), "id: 5\n"));
    assert_null(strstr(ferry_buf_str(&out), "id: 3\n"));
    assert_int_equal(last, 5);
    ferry_buf_reset(&out);
    assert_int_equal(ferry_hub_read(hub, 5, NULL, 10, &out, &last), 0);
    assert_int_equal(out.len, 0);
    ferry_buf_done(&out);
    ferry_hub_free(hub);
}

static void the_replay_ring_keeps_only_the_newest_events(void **state)
{
    ferry_hub *hub = new_hub(4);
    ferry_buf out;
    uint64_t last = 0;

    (void)state;
    for (int i = 0; i < 10; i++)
        ferry_hub_publish(hub, "run.progress", "a", "{}");
    ferry_buf_init(&out, 1 << 20);
    assert_int_equal(ferry_hub_read(hub, 0, NULL, 100, &out, &last), 4);
    assert_non_null(strstr(ferry_buf_str(&out), "id: 7\n"));
    assert_null(strstr(ferry_buf_str(&out), "id: 6\n"));
    assert_int_equal(last, 10);
    ferry_buf_done(&out);
    ferry_hub_free(hub);
}

static void a_sync_filter_skips_other_syncs_but_advances(void **state)
{
    ferry_hub *hub = new_hub(8);
    ferry_buf out;
    uint64_t last = 0;

    (void)state;
    ferry_hub_publish(hub, "run.queued", "a", "{\"s\":\"a\"}");
    ferry_hub_publish(hub, "run.queued", "b", "{\"s\":\"b\"}");
    ferry_hub_publish(hub, "run.queued", "a", "{\"s\":\"a\"}");
    ferry_buf_init(&out, 1 << 20);
    assert_int_equal(ferry_hub_read(hub, 0, "b", 10, &out, &last), 1);
    assert_int_equal(count(ferry_buf_str(&out), "\"s\":\"b\""), 1);
    assert_int_equal(count(ferry_buf_str(&out), "\"s\":\"a\""), 0);
    assert_int_equal(last, 3);
    ferry_buf_done(&out);
    ferry_hub_free(hub);
}

static void max_events_bounds_one_read(void **state)
{
    ferry_hub *hub = new_hub(64);
    ferry_buf out;
    uint64_t last = 0;

    (void)state;
    for (int i = 0; i < 20; i++)
        ferry_hub_publish(hub, "run.progress", "a", "{}");
    ferry_buf_init(&out, 1 << 20);
    assert_int_equal(ferry_hub_read(hub, 0, NULL, 5, &out, &last), 5);
    assert_int_equal(last, 5);
    ferry_buf_reset(&out);
    assert_int_equal(ferry_hub_read(hub, last, NULL, 100, &out, &last), 15);
    assert_int_equal(last, 20);
    ferry_buf_done(&out);
    ferry_hub_free(hub);
}

static void notify_cb(void *ctx)
{
    int *calls = ctx;

    (*calls)++;
}

static void subscribers_are_notified_until_they_unsubscribe(void **state)
{
    ferry_hub *hub = new_hub(8);
    ferry_hub_sub *sub = NULL;
    int calls = 0;
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_hub_subscribe(hub, notify_cb, &calls, &sub, &err), FERRY_OK);
    assert_int_equal(ferry_hub_subscribers(hub), 1);
    ferry_hub_publish(hub, "run.queued", "a", "{}");
    ferry_hub_notify_all(hub);
    assert_int_equal(calls, 2);
    ferry_hub_unsubscribe(hub, sub);
    assert_int_equal(ferry_hub_subscribers(hub), 0);
    ferry_hub_publish(hub, "run.queued", "a", "{}");
    assert_int_equal(calls, 2);
    ferry_hub_free(hub);
}

static void forward_cb(void *ctx, const char *type, const char *sync, const char *data)
{
    ferry_buf *seen = ctx;

    ferry_buf_printf(seen, "%s %s %s;", type, sync, data);
}

static void local_events_are_forwarded_and_relayed_ones_are_not(void **state)
{
    ferry_hub *hub = new_hub(8);
    ferry_buf seen;

    (void)state;
    ferry_buf_init(&seen, 4096);
    ferry_hub_set_forward(hub, forward_cb, &seen);
    assert_int_equal(ferry_hub_publish(hub, "run.queued", "a", "{\"id\":1}"), 1);
    assert_int_equal(ferry_hub_publish_relayed(hub, "run.started", "b", "{\"id\":2}"), 2);
    ferry_hub_set_forward(hub, NULL, NULL);
    assert_int_equal(ferry_hub_publish(hub, "run.finished", "a", "{\"id\":1}"), 3);
    assert_string_equal(ferry_buf_str(&seen), "run.queued a {\"id\":1};");
    ferry_buf_done(&seen);
    ferry_hub_free(hub);
}

/* A node paused under a run sends, on waking, what it queued before: a run.progress that says
 * the run is running, after another node announced it ended. */
static void a_relayed_progress_of_a_run_announced_ended_is_dropped(void **state)
{
    ferry_hub *hub = new_hub(8);

    (void)state;
    assert_int_equal(ferry_hub_publish_relayed(hub, "run.progress", "a", "{\"id\":7}"), 1);
    assert_int_equal(ferry_hub_publish(hub, "run.finished", "a", "{\"id\":7}"), 2);
    assert_int_equal(ferry_hub_publish_relayed(hub, "run.progress", "a", "{\"id\":7}"), 0);
    assert_int_equal(ferry_hub_publish_relayed(hub, "run.started", "a", "{\"id\":7}"), 0);
    assert_int_equal(ferry_hub_last_id(hub), 2);
    /* Other runs, and a relayed end, go through; a relayed end is remembered too. */
    assert_int_equal(ferry_hub_publish_relayed(hub, "run.progress", "a", "{\"id\":8}"), 3);
    assert_int_equal(ferry_hub_publish_relayed(hub, "run.finished", "a", "{\"id\":8}"), 4);
    assert_int_equal(ferry_hub_publish_relayed(hub, "run.progress", "a", "{\"id\":8}"), 0);
    assert_int_equal(ferry_hub_publish(hub, "run.queued", "a", "{\"id\":9}"), 5);
    ferry_hub_free(hub);
}

static void *publish_many(void *arg)
{
    ferry_hub *hub = arg;

    for (int i = 0; i < 1000; i++)
        ferry_hub_publish(hub, "run.progress", "a", "{}");
    return NULL;
}

static void concurrent_publishers_get_distinct_ids(void **state)
{
    ferry_hub *hub = new_hub(4000);
    pthread_t t[4];
    ferry_buf out;
    uint64_t last = 0;

    (void)state;
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, publish_many, hub), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(ferry_hub_last_id(hub), 4000);
    ferry_buf_init(&out, 1 << 24);
    assert_int_equal(ferry_hub_read(hub, 0, NULL, 5000, &out, &last), 4000);
    assert_int_equal(count(ferry_buf_str(&out), "event: run.progress"), 4000);
    ferry_buf_done(&out);
    ferry_hub_free(hub);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(events_get_increasing_ids_and_sse_frames),
        cmocka_unit_test(reading_after_an_id_replays_only_what_was_missed),
        cmocka_unit_test(the_replay_ring_keeps_only_the_newest_events),
        cmocka_unit_test(a_sync_filter_skips_other_syncs_but_advances),
        cmocka_unit_test(max_events_bounds_one_read),
        cmocka_unit_test(subscribers_are_notified_until_they_unsubscribe),
        cmocka_unit_test(concurrent_publishers_get_distinct_ids),
        cmocka_unit_test(local_events_are_forwarded_and_relayed_ones_are_not),
        cmocka_unit_test(a_relayed_progress_of_a_run_announced_ended_is_dropped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
