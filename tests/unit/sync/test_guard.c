/* test_guard.c - a sync's guard (src/sync/guard.c): when a limit is over, and what the
 * message says. The runs that obey it are tested in test_run.c and tests/integration. */
#include "config/config.h"
#include "sync/guard.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

static const ferry_guard_limit ten_percent = {.set = true, .percent = true, .value = 1000};

static void share_is_exact_and_spares_ten_rows(void **state)
{
    const ferry_guard_limit half = {.set = true, .percent = true, .value = 5050};

    (void)state;
    assert_false(ferry_guard_limit_is_exceeded(&ten_percent, 200, 2000));
    assert_true(ferry_guard_limit_is_exceeded(&ten_percent, 201, 2000));
    assert_true(ferry_guard_limit_is_exceeded(&ten_percent, 761, 2000));
    /* Ten rows may go whatever their share; the eleventh of a small table may not. */
    assert_false(ferry_guard_limit_is_exceeded(&ten_percent, 10, 12));
    assert_true(ferry_guard_limit_is_exceeded(&ten_percent, 11, 12));
    assert_false(ferry_guard_limit_is_exceeded(&half, 505, 1000));
    assert_true(ferry_guard_limit_is_exceeded(&half, 506, 1000));
}

static void count_and_unset_limits(void **state)
{
    const ferry_guard_limit fifty = {.set = true, .percent = false, .value = 50};
    const ferry_guard_limit zero = {.set = true, .percent = false, .value = 0};
    const ferry_guard_limit none = {0};
    const ferry_guard_limit all = {.set = true, .percent = true, .value = 10000};

    (void)state;
    assert_false(ferry_guard_limit_is_exceeded(&fifty, 50, 60));
    assert_true(ferry_guard_limit_is_exceeded(&fifty, 51, 1000000));
    assert_true(ferry_guard_limit_is_exceeded(&zero, 1, 1000));
    assert_false(ferry_guard_limit_is_exceeded(&zero, 0, 1000));
    assert_false(ferry_guard_limit_is_exceeded(&none, 1000000, 1));
    assert_false(ferry_guard_limit_is_exceeded(&all, 2000, 2000));
}

static void limits_format_as_written(void **state)
{
    static const struct {
        ferry_guard_limit limit;
        const char *text;
    } cases[] = {
        {{.set = true, .percent = true, .value = 1000}, "10%"},
        {{.set = true, .percent = true, .value = 250}, "2.5%"},
        {{.set = true, .percent = true, .value = 5}, "0.05%"},
        {{.set = true, .percent = false, .value = 50}, "50"},
        {{.set = false}, "none"},
    };
    char out[32];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ferry_guard_limit_format(&cases[i].limit, out, sizeof(out));
        assert_string_equal(out, cases[i].text);
    }
}

static ferry_sync_spec people(ferry_on_missing on_missing)
{
    ferry_sync_spec sync;

    memset(&sync, 0, sizeof(sync));
    sync.name = "people";
    sync.target.table = "people";
    sync.target.on_missing = on_missing;
    sync.guard.max_missing = ten_percent;
    return sync;
}

static void missing_rule_says_the_count_the_share_and_the_limit(void **state)
{
    ferry_sync_spec sync = people(FERRY_ON_MISSING_DELETE);
    ferry_buf reasons;

    (void)state;
    ferry_buf_init(&reasons, 4096);
    assert_false(ferry_guard_hold_limit(&sync.guard.max_missing, FERRY_GUARD_DELETED, 200, 2000,
                                        "therapists", NULL, &reasons));
    assert_int_equal(reasons.len, 0);
    assert_true(ferry_guard_hold_limit(&sync.guard.max_missing, FERRY_GUARD_DELETED, 761, 2000,
                                       "therapists", NULL, &reasons));
    assert_string_equal(ferry_buf_str(&reasons),
                        "would delete 761 of 2,000 therapists (38%), more than 10%");
    assert_true(ferry_guard_hold_limit(&sync.guard.max_missing, FERRY_GUARD_FLAGGED, 30, 40,
                                       "people", NULL, &reasons));
    assert_string_equal(ferry_buf_str(&reasons),
                        "would delete 761 of 2,000 therapists (38%), more than 10%; would flag "
                        "as missing 30 of 40 people (75%), more than 10%");
    ferry_buf_done(&reasons);
}

static void updated_rule_holds_from_the_first_row(void **state)
{
    ferry_guard_limit thirty = {.set = true, .percent = true, .value = 3000};
    ferry_guard_limit five = {.set = true, .percent = false, .value = 5};
    ferry_buf reasons;

    (void)state;
    ferry_buf_init(&reasons, 4096);
    assert_false(
        ferry_guard_hold_limit(&thirty, FERRY_GUARD_UPDATED, 3, 10, "services", NULL, &reasons));
    assert_true(
        ferry_guard_hold_limit(&thirty, FERRY_GUARD_UPDATED, 5, 10, "services", NULL, &reasons));
    assert_string_equal(ferry_buf_str(&reasons),
                        "would update 5 of 10 services (50%), more than 30%");
    ferry_buf_reset(&reasons);
    assert_false(
        ferry_guard_hold_limit(&five, FERRY_GUARD_UPDATED, 5, 10, "services", NULL, &reasons));
    assert_true(
        ferry_guard_hold_limit(&five, FERRY_GUARD_UPDATED, 6, 1000, "services", NULL, &reasons));
    assert_string_equal(ferry_buf_str(&reasons),
                        "would update 6 of 1,000 services (0.6%), more than 5");
    ferry_buf_done(&reasons);
}

static void failed_rule_quotes_the_first_failure(void **state)
{
    ferry_sync_spec sync = people(FERRY_ON_MISSING_KEEP);
    ferry_buf reasons;

    (void)state;
    ferry_buf_init(&reasons, 4096);
    /* No limit by default. */
    assert_false(ferry_guard_hold_limit(&sync.guard.max_failed, FERRY_GUARD_FAILED, 900, 1000,
                                        "people", NULL, &reasons));
    sync.guard.max_failed = (ferry_guard_limit){.set = true, .percent = true, .value = 500};
    assert_false(ferry_guard_hold_limit(&sync.guard.max_failed, FERRY_GUARD_FAILED, 50, 1000,
                                        "people", "row 2: x", &reasons));
    assert_true(ferry_guard_hold_limit(&sync.guard.max_failed, FERRY_GUARD_FAILED, 51, 1000,
                                       "people", "row 7: email 'bob@' is not an email address",
                                       &reasons));
    assert_string_equal(ferry_buf_str(&reasons),
                        "51 of 1,000 people failed (5%), more than 5% (the first: row 7: email "
                        "'bob@' is not an email address)");
    ferry_buf_done(&reasons);
}

static void protected_fields_are_found_only_as_keys(void **state)
{
    ferry_buf reasons;

    (void)state;
    assert_true(ferry_guard_diff_has_field("{\"price\":[\"1\",\"2\"]}", "price"));
    assert_true(
        ferry_guard_diff_has_field("{\"name\":[\"a\",\"b\"],\"price\":[\"1\",\"2\"]}", "price"));
    assert_false(ferry_guard_diff_has_field("{\"unit_price\":[\"1\",\"2\"]}", "price"));
    assert_false(ferry_guard_diff_has_field("{\"prices\":[\"1\",\"2\"]}", "price"));
    /* A value that reads like the key is not the key. */
    assert_false(ferry_guard_diff_has_field("{\"name\":[\"a\\\"price\\\":\",\"b\"]}", "price"));
    ferry_buf_init(&reasons, 4096);
    ferry_guard_hold_protected("email", 3, 2000, "therapists", &reasons);
    assert_string_equal(ferry_buf_str(&reasons),
                        "would change protected field email of 3 of 2,000 therapists");
    ferry_buf_done(&reasons);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(share_is_exact_and_spares_ten_rows),
        cmocka_unit_test(count_and_unset_limits),
        cmocka_unit_test(limits_format_as_written),
        cmocka_unit_test(missing_rule_says_the_count_the_share_and_the_limit),
        cmocka_unit_test(updated_rule_holds_from_the_first_row),
        cmocka_unit_test(failed_rule_quotes_the_first_failure),
        cmocka_unit_test(protected_fields_are_found_only_as_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
