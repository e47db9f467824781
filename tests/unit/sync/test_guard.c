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

static void missing_message_gives_the_count_and_both_ways_to_allow_it(void **state)
{
    ferry_sync_spec sync = people(FERRY_ON_MISSING_DELETE);
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_guard_check_missing(&sync, NULL, 200, 2000, &err), FERRY_OK);
    assert_int_equal(ferry_guard_check_missing(&sync, NULL, 761, 2000, &err), FERRY_ELIMIT);
    assert_string_equal(err.msg,
                        "the run would delete 761 of the 2000 rows of people (38.1%), more than "
                        "guard.max_missing allows (10%), so it was stopped before writing "
                        "anything; if the source is right, allow it with guard: {max_missing: "
                        "100%} on the sync, or for one run with ferry sync people "
                        "--allow-missing");
    sync = people(FERRY_ON_MISSING_FLAG);
    ferry_err_clear(&err);
    assert_int_equal(ferry_guard_check_missing(&sync, "acme", 30, 40, &err), FERRY_ELIMIT);
    assert_string_equal(err.msg,
                        "the run would flag as missing 30 of the 40 rows of people for tenant "
                        "'acme' (75.0%), more than guard.max_missing allows (10%), so it was "
                        "stopped before writing anything; if the source is right, allow it with "
                        "guard: {max_missing: 100%} on the sync, or for one run with ferry sync "
                        "people --tenant acme --allow-missing");
}

static void failed_message_quotes_the_first_failure(void **state)
{
    ferry_sync_spec sync = people(FERRY_ON_MISSING_KEEP);
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    /* No limit by default. */
    assert_int_equal(ferry_guard_check_failed(&sync, 900, 1000, NULL, &err), FERRY_OK);
    sync.guard.max_failed = (ferry_guard_limit){.set = true, .percent = true, .value = 500};
    assert_int_equal(ferry_guard_check_failed(&sync, 50, 1000, "row 2: x", &err), FERRY_OK);
    assert_int_equal(ferry_guard_check_failed(&sync, 51, 1000,
                                              "row 7: email 'bob@' is not an "
                                              "email address",
                                              &err),
                     FERRY_ELIMIT);
    assert_string_equal(err.msg, "51 of the 1000 records failed (5.1%), more than "
                                 "guard.max_failed allows (5%), so the run was stopped before "
                                 "writing anything (the first: row 7: email 'bob@' is not an "
                                 "email address); fix the source, or raise guard.max_failed on "
                                 "the sync");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(share_is_exact_and_spares_ten_rows),
        cmocka_unit_test(count_and_unset_limits),
        cmocka_unit_test(limits_format_as_written),
        cmocka_unit_test(missing_message_gives_the_count_and_both_ways_to_allow_it),
        cmocka_unit_test(failed_message_quotes_the_first_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
