/* test_cron.c - cron expressions: parsing, errors, and the next matching minute in UTC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util/cron.h"

/* ms since the epoch of a UTC date and time. */
static int64_t at(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};

    return (int64_t)timegm(&tm) * 1000;
}

static int64_t next_of(const char *expr, int64_t after)
{
    ferry_cron c;

    assert_null(ferry_cron_parse(expr, &c));
    return ferry_cron_next(&c, NULL, after);
}

static void hourly_fires_at_the_next_full_hour(void **state)
{
    (void)state;
    assert_int_equal(next_of("0 * * * *", at(2026, 11, 23, 6, 5)), at(2026, 11, 23, 7, 0));
    assert_int_equal(next_of("0 * * * *", at(2026, 11, 23, 7, 0)), at(2026, 11, 23, 8, 0));
}

static void steps_ranges_and_lists(void **state)
{
    (void)state;
    assert_int_equal(next_of("*/15 * * * *", at(2026, 11, 23, 6, 5)), at(2026, 11, 23, 6, 15));
    assert_int_equal(next_of("30 9-17/4 * * *", at(2026, 11, 23, 10, 0)), at(2026, 11, 23, 13, 30));
    assert_int_equal(next_of("5,10 0 * * *", at(2026, 11, 23, 0, 7)), at(2026, 11, 23, 0, 10));
}

static void weekdays_and_month_days(void **state)
{
    (void)state;
    /* 2026-11-23 is a Monday; the next Saturday is the 28th. */
    assert_int_equal(next_of("0 2 * * 6", at(2026, 11, 23, 6, 0)), at(2026, 11, 28, 2, 0));
    assert_int_equal(next_of("0 0 * * 7", at(2026, 11, 23, 6, 0)), at(2026, 11, 29, 0, 0));
    assert_int_equal(next_of("0 0 1 * *", at(2026, 11, 23, 6, 0)), at(2026, 12, 1, 0, 0));
    /* Both day fields restricted: either matches (the 1st, or a Saturday). */
    assert_int_equal(next_of("0 0 1 * 6", at(2026, 11, 23, 6, 0)), at(2026, 11, 28, 0, 0));
    assert_int_equal(next_of("0 0 29 2 *", at(2026, 3, 1, 0, 0)), at(2028, 2, 29, 0, 0));
}

static void impossible_dates_have_no_next(void **state)
{
    (void)state;
    assert_int_equal(next_of("0 0 31 2 *", at(2026, 1, 1, 0, 0)), 0);
}

static void bad_expressions_say_why(void **state)
{
    ferry_cron c;

    (void)state;
    assert_non_null(ferry_cron_parse("* * * *", &c));
    assert_non_null(ferry_cron_parse("* * * * * *", &c));
    assert_non_null(ferry_cron_parse("60 * * * *", &c));
    assert_non_null(ferry_cron_parse("* 24 * * *", &c));
    assert_non_null(ferry_cron_parse("* * 0 * *", &c));
    assert_non_null(ferry_cron_parse("*/0 * * * *", &c));
    assert_non_null(ferry_cron_parse("a * * * *", &c));
    assert_non_null(ferry_cron_parse("5-1 * * * *", &c));
    assert_non_null(ferry_cron_parse("1,,2 * * * *", &c));
    assert_string_equal(ferry_cron_parse("* * *", &c),
                        "needs five fields: minute hour day-of-month month day-of-week");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hourly_fires_at_the_next_full_hour),
        cmocka_unit_test(steps_ranges_and_lists),
        cmocka_unit_test(weekdays_and_month_days),
        cmocka_unit_test(impossible_dates_have_no_next),
        cmocka_unit_test(bad_expressions_say_why),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
