/* test_metrics.c - this process's counters for GET /metrics (src/events/metrics.c).
 *
 * Each test starts from zero (ferry_metrics_reset()) and reads the counters back from the
 * text ferry_metrics_format() writes, as Prometheus would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "events/metrics.h"
#include "store/store.h"
#include "util/buf.h"

static int reset(void **state)
{
    (void)state;
    ferry_metrics_reset();
    return 0;
}

/* The text of every family, owned by b (ferry_buf_done()). */
static const char *format(ferry_buf *b)
{
    ferry_buf_init(b, 1024 * 1024);
    assert_int_equal(ferry_metrics_format(b), FERRY_OK);
    return ferry_buf_str(b);
}

static void assert_line(const char *text, const char *line)
{
    char want[512];

    snprintf(want, sizeof(want), "\n%s\n", line);
    if (strstr(text, want) == NULL)
        fail_msg("no line '%s' in:\n%s", line, text);
}

static int occurrences(const char *text, const char *needle)
{
    int n = 0;

    for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
        n++;
    return n;
}

static ferry_run ended(const char *sync, ferry_run_status status, int64_t duration_ms)
{
    ferry_run run;

    memset(&run, 0, sizeof(run));
    run.sync = (char *)sync;
    run.status = status;
    run.duration_ms = duration_ms;
    return run;
}

static void label_value_escapes_backslash_quote_and_newline(void **state)
{
    ferry_buf b;

    (void)state;
    ferry_buf_init(&b, 256);
    assert_int_equal(ferry_metrics_label_append(&b, "a\\b \"c\"\nd"), FERRY_OK);
    assert_string_equal(ferry_buf_str(&b), "a\\\\b \\\"c\\\"\\nd");
    ferry_buf_done(&b);
}

static void label_value_past_the_buffer_marks_it_truncated(void **state)
{
    ferry_buf b;

    (void)state;
    ferry_buf_init(&b, 4);
    assert_int_not_equal(ferry_metrics_label_append(&b, "\"too long\""), FERRY_OK);
    assert_true(b.truncated);
    ferry_buf_done(&b);
}

static void ended_runs_count_by_status_records_and_duration(void **state)
{
    ferry_run a = ended("people", FERRY_RUN_SUCCEEDED, 1000);
    ferry_run c = ended("people", FERRY_RUN_FAILED, 1001);
    ferry_buf b;
    const char *text;

    (void)state;
    a.counts[FERRY_OUTCOME_CREATED] = 7;
    a.counts[FERRY_OUTCOME_SKIPPED] = 2;
    ferry_metrics_run_finished(&a, true);
    ferry_metrics_run_finished(&c, true);
    text = format(&b);
    assert_line(text, "ferry_runs_finished_total{sync=\"people\",status=\"succeeded\"} 1");
    assert_line(text, "ferry_runs_finished_total{sync=\"people\",status=\"failed\"} 1");
    assert_line(text, "ferry_runs_finished_total{sync=\"people\",status=\"cancelled\"} 0");
    assert_null(strstr(text, "status=\"queued\""));
    assert_line(text, "ferry_records_total{sync=\"people\",outcome=\"created\"} 7");
    assert_line(text, "ferry_records_total{sync=\"people\",outcome=\"skipped\"} 2");
    /* 1 s is in the 1 s bucket (le: less or equal); 1.001 s in the next. */
    assert_line(text, "ferry_run_duration_seconds_bucket{sync=\"people\",le=\"1\"} 1");
    assert_line(text, "ferry_run_duration_seconds_bucket{sync=\"people\",le=\"5\"} 2");
    assert_line(text, "ferry_run_duration_seconds_bucket{sync=\"people\",le=\"7200\"} 2");
    assert_line(text, "ferry_run_duration_seconds_bucket{sync=\"people\",le=\"+Inf\"} 2");
    assert_line(text, "ferry_run_duration_seconds_sum{sync=\"people\"} 2.001");
    assert_line(text, "ferry_run_duration_seconds_count{sync=\"people\"} 2");
    ferry_buf_done(&b);
}

static void a_run_longer_than_every_bucket_counts_in_inf_only(void **state)
{
    ferry_run a = ended("long", FERRY_RUN_SUCCEEDED, 3 * 3600 * 1000);
    ferry_buf b;
    const char *text;

    (void)state;
    ferry_metrics_run_finished(&a, true);
    text = format(&b);
    assert_line(text, "ferry_run_duration_seconds_bucket{sync=\"long\",le=\"7200\"} 0");
    assert_line(text, "ferry_run_duration_seconds_bucket{sync=\"long\",le=\"+Inf\"} 1");
    assert_line(text, "ferry_run_duration_seconds_count{sync=\"long\"} 1");
    ferry_buf_done(&b);
}

static void a_run_handed_back_to_the_queue_is_not_counted(void **state)
{
    ferry_run a = ended("people", FERRY_RUN_QUEUED, 10);
    ferry_run c = ended("people", FERRY_RUN_CANCELLED, 0);
    ferry_buf b;
    const char *text;

    (void)state;
    ferry_metrics_run_finished(&a, true);
    ferry_metrics_run_finished(&c, false); /* ended, not executed here: not timed */
    text = format(&b);
    assert_line(text, "ferry_runs_finished_total{sync=\"people\",status=\"cancelled\"} 1");
    assert_line(text, "ferry_run_duration_seconds_count{sync=\"people\"} 0");
    ferry_buf_done(&b);
}

static void an_added_sync_has_its_series_at_zero(void **state)
{
    ferry_buf b;
    const char *text;

    (void)state;
    ferry_metrics_sync_add("idle");
    ferry_metrics_sync_add("idle");
    text = format(&b);
    assert_line(text, "ferry_runs_finished_total{sync=\"idle\",status=\"succeeded\"} 0");
    assert_line(text, "ferry_run_duration_seconds_count{sync=\"idle\"} 0");
    assert_int_equal(occurrences(text, "{sync=\"idle\",status=\"succeeded\"}"), 1);
    ferry_buf_done(&b);
}

static void failed_delivery_attempts_count_as_failed_too(void **state)
{
    ferry_buf b;
    const char *text;

    (void)state;
    ferry_metrics_delivery_attempt(FERRY_METRICS_DELIVERED);
    ferry_metrics_delivery_attempt(FERRY_METRICS_RETRIED);
    ferry_metrics_delivery_attempt(FERRY_METRICS_RETRIED);
    ferry_metrics_delivery_attempt(FERRY_METRICS_ABANDONED);
    text = format(&b);
    assert_line(text, "ferry_outbox_deliveries_total{outcome=\"delivered\"} 1");
    assert_line(text, "ferry_outbox_deliveries_total{outcome=\"failed\"} 3");
    assert_line(text, "ferry_outbox_deliveries_total{outcome=\"retried\"} 2");
    assert_line(text, "ferry_outbox_deliveries_total{outcome=\"abandoned\"} 1");
    ferry_buf_done(&b);
}

static void pruned_rows_count_by_table(void **state)
{
    ferry_buf b;
    const char *text;

    (void)state;
    ferry_metrics_pruned("changes", 1200);
    ferry_metrics_pruned("changes", 34);
    ferry_metrics_pruned("runs", 5);
    ferry_metrics_pruned("not_a_table", 99);
    text = format(&b);
    assert_line(text, "ferry_pruned_rows_total{table=\"changes\"} 1234");
    assert_line(text, "ferry_pruned_rows_total{table=\"runs\"} 5");
    assert_line(text, "ferry_pruned_rows_total{table=\"audit\"} 0");
    assert_line(text, "ferry_pruned_rows_total{table=\"deliveries\"} 0");
    assert_null(strstr(text, "not_a_table"));
    ferry_buf_done(&b);
}

static void every_family_has_help_and_type(void **state)
{
    static const char *const families[][2] = {
        {"ferry_runs_finished_total", "counter"},    {"ferry_records_total", "counter"},
        {"ferry_run_duration_seconds", "histogram"}, {"ferry_outbox_deliveries_total", "counter"},
        {"ferry_pruned_rows_total", "counter"},
    };
    char line[256];
    ferry_buf b;
    const char *text;

    (void)state;
    text = format(&b);
    for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        snprintf(line, sizeof(line), "# HELP %s ", families[i][0]);
        assert_non_null(strstr(text, line));
        snprintf(line, sizeof(line), "# TYPE %s %s\n", families[i][0], families[i][1]);
        assert_non_null(strstr(text, line));
    }
    ferry_buf_done(&b);
}

static void a_buffer_too_small_is_an_error(void **state)
{
    ferry_buf b;

    (void)state;
    ferry_metrics_sync_add("people");
    ferry_buf_init(&b, 100);
    assert_int_equal(ferry_metrics_format(&b), FERRY_ELIMIT);
    ferry_buf_done(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(label_value_escapes_backslash_quote_and_newline, reset),
        cmocka_unit_test_setup(label_value_past_the_buffer_marks_it_truncated, reset),
        cmocka_unit_test_setup(ended_runs_count_by_status_records_and_duration, reset),
        cmocka_unit_test_setup(a_run_longer_than_every_bucket_counts_in_inf_only, reset),
        cmocka_unit_test_setup(a_run_handed_back_to_the_queue_is_not_counted, reset),
        cmocka_unit_test_setup(an_added_sync_has_its_series_at_zero, reset),
        cmocka_unit_test_setup(failed_delivery_attempts_count_as_failed_too, reset),
        cmocka_unit_test_setup(pruned_rows_count_by_table, reset),
        cmocka_unit_test_setup(every_family_has_help_and_type, reset),
        cmocka_unit_test_setup(a_buffer_too_small_is_an_error, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
