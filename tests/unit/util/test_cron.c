/* test_cron.c - cron expressions: parsing, names and macros, errors, and the next matching
 * minute in UTC and in zones with daylight saving time (tzdata's files in tests/data/tz). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
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

/* The firings of expr in zone after after, one by one, are want[0..n). */
static void sequence_is(const char *expr, const char *zone, int64_t after, const int64_t *want,
                        size_t n)
{
    ferry_cron c;
    ferry_tz *tz = NULL;
    ferry_err err;

    assert_null(ferry_cron_parse(expr, &c));
    assert_int_equal(ferry_tz_load(zone, &tz, &err), FERRY_OK);
    for (size_t i = 0; i < n; i++) {
        int64_t got = ferry_cron_next(&c, tz, after);
        if (got != want[i])
            fail_msg("'%s' in %s, firing %zu: got %lld, want %lld", expr, zone, i,
                     (long long)got / 1000, (long long)want[i] / 1000);
        after = got;
    }
    ferry_tz_free(tz);
}

#define SEQUENCE(expr, zone, after, ...)                                                           \
    do {                                                                                           \
        const int64_t want_[] = {__VA_ARGS__};                                                     \
        sequence_is(expr, zone, after, want_, sizeof(want_) / sizeof(want_[0]));                   \
    } while (0)

static void jakarta_two_am_is_seven_pm_utc(void **state)
{
    (void)state;
    SEQUENCE("0 2 * * *", "Asia/Jakarta", at(2026, 11, 23, 12, 0), at(2026, 11, 23, 19, 0),
             at(2026, 11, 24, 19, 0));
}

/* 2026-03-08 02:00 EST jumps to 03:00 EDT (07:00 UTC); 2026-11-01 02:00 EDT falls back to
 * 01:00 EST (06:00 UTC). */
static void new_york_daily_across_both_transitions(void **state)
{
    (void)state;
    /* 02:30 does not exist on the 8th: at 03:00 EDT, not skipped. */
    SEQUENCE("30 2 * * *", "America/New_York", at(2026, 3, 6, 12, 0), at(2026, 3, 7, 7, 30),
             at(2026, 3, 8, 7, 0), at(2026, 3, 9, 6, 30));
    /* 01:30 happens twice on Nov 1: once, at the first (EDT). */
    SEQUENCE("30 1 * * *", "America/New_York", at(2026, 10, 30, 12, 0), at(2026, 10, 31, 5, 30),
             at(2026, 11, 1, 5, 30), at(2026, 11, 2, 6, 30));
    SEQUENCE("30 2 * * *", "America/New_York", at(2026, 10, 30, 12, 0), at(2026, 10, 31, 6, 30),
             at(2026, 11, 1, 7, 30), at(2026, 11, 2, 7, 30));
}

static void new_york_hourly_across_both_transitions(void **state)
{
    (void)state;
    /* Every real hour: the skipped 02:00 is not made up, the repeated 01:00 is another. */
    SEQUENCE("0 * * * *", "America/New_York", at(2026, 3, 8, 4, 30), at(2026, 3, 8, 5, 0),
             at(2026, 3, 8, 6, 0), at(2026, 3, 8, 7, 0), at(2026, 3, 8, 8, 0));
    SEQUENCE("30 * * * *", "America/New_York", at(2026, 3, 8, 5, 0), at(2026, 3, 8, 5, 30),
             at(2026, 3, 8, 6, 30), at(2026, 3, 8, 7, 30));
    SEQUENCE("@hourly", "America/New_York", at(2026, 11, 1, 3, 30), at(2026, 11, 1, 4, 0),
             at(2026, 11, 1, 5, 0), at(2026, 11, 1, 6, 0), at(2026, 11, 1, 7, 0),
             at(2026, 11, 1, 8, 0));
}

/* 2026-03-29 02:00 CET jumps to 03:00 CEST (01:00 UTC); 2026-10-25 03:00 CEST falls back to
 * 02:00 CET (01:00 UTC). */
static void berlin_daily_and_hourly_across_both_transitions(void **state)
{
    (void)state;
    SEQUENCE("30 2 * * *", "Europe/Berlin", at(2026, 3, 27, 12, 0), at(2026, 3, 28, 1, 30),
             at(2026, 3, 29, 1, 0), at(2026, 3, 30, 0, 30));
    SEQUENCE("30 2 * * *", "Europe/Berlin", at(2026, 10, 23, 12, 0), at(2026, 10, 24, 0, 30),
             at(2026, 10, 25, 0, 30), at(2026, 10, 26, 1, 30));
    SEQUENCE("0 * * * *", "Europe/Berlin", at(2026, 3, 28, 23, 30), at(2026, 3, 29, 0, 0),
             at(2026, 3, 29, 1, 0), at(2026, 3, 29, 2, 0));
    SEQUENCE("0 * * * *", "Europe/Berlin", at(2026, 10, 24, 23, 30), at(2026, 10, 25, 0, 0),
             at(2026, 10, 25, 1, 0), at(2026, 10, 25, 2, 0), at(2026, 10, 25, 3, 0));
    /* A step over all hours is real hours too: 02:30 CEST and 02:30 CET both fire. */
    SEQUENCE("30 */2 * * *", "Europe/Berlin", at(2026, 10, 24, 22, 0), at(2026, 10, 24, 22, 30),
             at(2026, 10, 25, 0, 30), at(2026, 10, 25, 1, 30), at(2026, 10, 25, 3, 30));
}

static void month_and_day_names(void **state)
{
    (void)state;
    /* 2026-11-28 is a Saturday. */
    assert_int_equal(next_of("0 9 * * MON-FRI", at(2026, 11, 28, 6, 0)), at(2026, 11, 30, 9, 0));
    assert_int_equal(next_of("0 9 * * sat,Sun", at(2026, 11, 27, 6, 0)), at(2026, 11, 28, 9, 0));
    assert_int_equal(next_of("0 0 1 jan,Jul *", at(2026, 2, 1, 0, 0)), at(2026, 7, 1, 0, 0));
    assert_int_equal(next_of("0 0 1 JAN-DEC/3 *", at(2026, 5, 1, 0, 0)), at(2026, 7, 1, 0, 0));
    assert_int_equal(next_of("0 0 1 Mar-5 *", at(2026, 5, 2, 0, 0)), at(2027, 3, 1, 0, 0));
}

static void macros_stand_for_their_fields(void **state)
{
    (void)state;
    assert_int_equal(next_of("@hourly", at(2026, 11, 23, 6, 5)), at(2026, 11, 23, 7, 0));
    assert_int_equal(next_of("@daily", at(2026, 11, 23, 6, 5)), at(2026, 11, 24, 0, 0));
    assert_int_equal(next_of(" @midnight ", at(2026, 11, 23, 6, 5)), at(2026, 11, 24, 0, 0));
    assert_int_equal(next_of("@weekly", at(2026, 11, 23, 6, 5)), at(2026, 11, 29, 0, 0));
    assert_int_equal(next_of("@monthly", at(2026, 11, 23, 6, 5)), at(2026, 12, 1, 0, 0));
    assert_int_equal(next_of("@yearly", at(2026, 11, 23, 6, 5)), at(2027, 1, 1, 0, 0));
    assert_int_equal(next_of("@ANNUALLY", at(2026, 11, 23, 6, 5)), at(2027, 1, 1, 0, 0));
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
    assert_non_null(ferry_cron_parse("0 0 * * MONDAY", &c));
    assert_non_null(ferry_cron_parse("0 0 * FOO *", &c));
    assert_non_null(ferry_cron_parse("0 0 * * JAN", &c));
    assert_non_null(ferry_cron_parse("0 JAN * * *", &c));
    assert_non_null(ferry_cron_parse("0 0 * DEC-JAN *", &c));
    assert_non_null(ferry_cron_parse("@reboot", &c));
    assert_non_null(ferry_cron_parse("@daily 0", &c));
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
        cmocka_unit_test(month_and_day_names),
        cmocka_unit_test(macros_stand_for_their_fields),
        cmocka_unit_test(jakarta_two_am_is_seven_pm_utc),
        cmocka_unit_test(new_york_daily_across_both_transitions),
        cmocka_unit_test(new_york_hourly_across_both_transitions),
        cmocka_unit_test(berlin_daily_and_hourly_across_both_transitions),
    };

    setenv("TZDIR", FERRY_TESTDATA "/tz", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
