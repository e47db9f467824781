/* test_activity.c - a run's bounded activity log (src/sync/activity.c).
 *
 * A short log comes back whole and in order; a long one keeps its first and last entries
 * with one "dropped" entry between saying how many were left out; texts are cut at their
 * maximum and never break the JSON. */
#include "sync/activity.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
/* clang-format on */

#define T0 1796601600000LL /* 2026-12-07T00:00:00Z */

static json_t *formatted(const ferry_activity_log *log)
{
    char *text = ferry_activity_log_format(log);
    json_t *list;

    assert_non_null(text);
    list = json_loads(text, 0, NULL);
    free(text);
    assert_true(json_is_array(list));
    return list;
}

static const char *field(json_t *list, size_t i, const char *name)
{
    return json_string_value(json_object_get(json_array_get(list, i), name));
}

static void empty_log_formats_to_nothing(void **state)
{
    ferry_activity_log log;

    (void)state;
    ferry_activity_log_init(&log);
    assert_null(ferry_activity_log_format(&log));
}

static void short_log_is_kept_whole_in_order(void **state)
{
    ferry_activity_log log;
    json_t *list;

    (void)state;
    ferry_activity_log_init(&log);
    assert_int_equal(ferry_activity_log_add(&log, T0, "phase", "connecting"), 1);
    assert_int_equal(ferry_activity_log_add(&log, T0 + 1500, "page", "page 1: 100 records"), 2);
    list = formatted(&log);
    assert_int_equal(json_array_size(list), 2);
    assert_string_equal(field(list, 0, "kind"), "phase");
    assert_string_equal(field(list, 0, "text"), "connecting");
    assert_string_equal(field(list, 0, "at"), "2026-12-07T00:00:00.000Z");
    assert_string_equal(field(list, 1, "text"), "page 1: 100 records");
    assert_string_equal(field(list, 1, "at"), "2026-12-07T00:00:01.500Z");
    json_decref(list);
}

static void long_log_keeps_first_and_last_and_counts_the_rest(void **state)
{
    ferry_activity_log log;
    int total = FERRY_ACTIVITY_HEAD + FERRY_ACTIVITY_TAIL + 57;
    char text[32];
    json_t *list;

    (void)state;
    ferry_activity_log_init(&log);
    for (int i = 1; i <= total; i++) {
        snprintf(text, sizeof(text), "page %d", i);
        assert_int_equal(ferry_activity_log_add(&log, T0 + i * 1000, "page", text), i);
    }
    list = formatted(&log);
    assert_int_equal(json_array_size(list), FERRY_ACTIVITY_HEAD + 1 + FERRY_ACTIVITY_TAIL);
    assert_string_equal(field(list, 0, "text"), "page 1");
    assert_string_equal(field(list, FERRY_ACTIVITY_HEAD - 1, "text"), "page 20");
    assert_string_equal(field(list, FERRY_ACTIVITY_HEAD, "kind"), "dropped");
    assert_string_equal(field(list, FERRY_ACTIVITY_HEAD, "text"), "57 entries left out");
    snprintf(text, sizeof(text), "page %d", FERRY_ACTIVITY_HEAD + 57 + 1);
    assert_string_equal(field(list, FERRY_ACTIVITY_HEAD + 1, "text"), text);
    snprintf(text, sizeof(text), "page %d", total);
    assert_string_equal(field(list, FERRY_ACTIVITY_HEAD + FERRY_ACTIVITY_TAIL, "text"), text);
    json_decref(list);
}

static void one_dropped_entry_is_said_in_the_singular(void **state)
{
    ferry_activity_log log;
    json_t *list;

    (void)state;
    ferry_activity_log_init(&log);
    for (int i = 0; i < FERRY_ACTIVITY_HEAD + FERRY_ACTIVITY_TAIL + 1; i++)
        ferry_activity_log_add(&log, T0, "page", "p");
    list = formatted(&log);
    assert_string_equal(field(list, FERRY_ACTIVITY_HEAD, "text"), "1 entry left out");
    json_decref(list);
}

static void long_text_is_cut_and_stays_valid_json(void **state)
{
    ferry_activity_log log;
    char big[FERRY_ACTIVITY_TEXT_MAX * 2];
    json_t *list;

    (void)state;
    memset(big, '"', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ferry_activity_log_init(&log);
    ferry_activity_log_add(&log, T0, "retry", big);
    list = formatted(&log);
    assert_int_equal(strlen(field(list, 0, "text")), FERRY_ACTIVITY_TEXT_MAX - 1);
    json_decref(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_log_formats_to_nothing),
        cmocka_unit_test(short_log_is_kept_whole_in_order),
        cmocka_unit_test(long_log_keeps_first_and_last_and_counts_the_rest),
        cmocka_unit_test(one_dropped_entry_is_said_in_the_singular),
        cmocka_unit_test(long_text_is_cut_and_stays_valid_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
