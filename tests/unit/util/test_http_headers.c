/* test_http_headers.c - Link next targets, Retry-After and X-RateLimit-Reset values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "util/http_headers.h"

#define BASE "https://x.example/v1/items?page=1"

/* ms since the epoch of a UTC date and time. */
static int64_t at(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = s};

    return (int64_t)timegm(&tm) * 1000;
}

static void assert_next(const char *link, const char *want)
{
    char *got = ferry_link_next(link, BASE);

    if (want == NULL) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void next_is_found_among_several_links(void **state)
{
    (void)state;
    assert_next("<https://x.example/v1/items?page=1>; rel=\"first\", "
                "<https://x.example/v1/items?page=2>; rel=\"next\", "
                "<https://x.example/v1/items?page=9>; rel=\"last\"",
                "https://x.example/v1/items?page=2");
}

static void next_is_found_in_a_rel_list(void **state)
{
    (void)state;
    assert_next("<https://x.example/v1/items?page=9>; rel=\"prev last\", "
                "<https://x.example/v1/items?page=2>; title=\"a; b, c\"; rel=\"NEXT last\"",
                "https://x.example/v1/items?page=2");
}

static void unquoted_rel_is_read(void **state)
{
    (void)state;
    assert_next("<https://x.example/v1/items?page=2>;rel=next",
                "https://x.example/v1/items?page=2");
}

static void comma_inside_the_url_does_not_split_links(void **state)
{
    (void)state;
    assert_next("<https://x.example/v1/items?ids=1,2,3&page=2>; rel=\"next\"",
                "https://x.example/v1/items?ids=1,2,3&page=2");
}

static void relative_target_is_resolved_against_the_base(void **state)
{
    (void)state;
    assert_next("</api?page=2>; rel=\"next\"", "https://x.example/api?page=2");
    assert_next("<items?page=2>; rel=\"next\"", "https://x.example/v1/items?page=2");
}

static void no_next_link_gives_null(void **state)
{
    (void)state;
    assert_next("<https://x.example/v1/items?page=9>; rel=\"last\", "
                "<https://x.example/v1/items?page=3>; rel=\"nextish\"",
                NULL);
    assert_next("", NULL);
}

static void malformed_link_values_give_null(void **state)
{
    (void)state;
    assert_next("garbage", NULL);
    assert_next("<https://x.example/v1/items?page=2; rel=\"next\"", NULL);
    assert_next("<https://x.example/v1/items?page=2>; rel=\"next", NULL);
    assert_next("<https://x.example/v1/items?page=2> rel=\"next\"", NULL);
    assert_next("<file:///etc/passwd>; rel=\"next\"", NULL);
    assert_null(ferry_link_next(NULL, BASE));
}

static void retry_after_seconds_count_from_now(void **state)
{
    int64_t now = at(2026, 11, 23, 12, 0, 0), until = 0;

    (void)state;
    assert_true(ferry_retry_after_parse("120", now, &until));
    assert_int_equal(until, now + 120000);
    assert_true(ferry_retry_after_parse(" 0 ", now, &until));
    assert_int_equal(until, now);
}

static void retry_after_http_date_is_read(void **state)
{
    int64_t now = at(2015, 10, 21, 7, 0, 0), until = 0;

    (void)state;
    assert_true(ferry_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", now, &until));
    assert_int_equal(until, at(2015, 10, 21, 7, 28, 0));
    /* The obsolete forms RFC 9110 still asks recipients to read. */
    assert_true(ferry_retry_after_parse("Wednesday, 21-Oct-15 07:28:01 GMT", now, &until));
    assert_int_equal(until, at(2015, 10, 21, 7, 28, 1));
    assert_true(ferry_retry_after_parse("Wed Oct 21 07:28:02 2015", now, &until));
    assert_int_equal(until, at(2015, 10, 21, 7, 28, 2));
    assert_true(ferry_retry_after_parse("Sun Nov  1 07:28:02 2015", now, &until));
    assert_int_equal(until, at(2015, 11, 1, 7, 28, 2));
}

static void retry_after_past_date_gives_now(void **state)
{
    int64_t now = at(2026, 11, 23, 12, 0, 0), until = 0;

    (void)state;
    assert_true(ferry_retry_after_parse("Wed, 21 Oct 2015 07:28:00 GMT", now, &until));
    assert_int_equal(until, now);
}

static void retry_after_garbage_is_refused(void **state)
{
    int64_t now = at(2026, 11, 23, 12, 0, 0), until = 42;

    (void)state;
    assert_false(ferry_retry_after_parse("soon", now, &until));
    assert_false(ferry_retry_after_parse("", now, &until));
    assert_false(ferry_retry_after_parse("-5", now, &until));
    assert_false(ferry_retry_after_parse("12abc", now, &until));
    assert_false(ferry_retry_after_parse("1.5", now, &until));
    assert_false(ferry_retry_after_parse("99999999999999999999", now, &until));
    assert_false(ferry_retry_after_parse("Wed, 32 Oct 2015 07:28:00 GMT", now, &until));
    assert_false(ferry_retry_after_parse("Wed, 21 Oct 2015 07:28:00", now, &until));
    assert_false(ferry_retry_after_parse("Wed, 21 Foo 2015 07:28:00 GMT", now, &until));
    assert_false(ferry_retry_after_parse("Wed, 29 Feb 2015 07:28:00 GMT", now, &until));
    assert_false(ferry_retry_after_parse(NULL, now, &until));
    assert_int_equal(until, 42);
}

static void reset_epoch_seconds_are_read(void **state)
{
    int64_t until = 0;

    (void)state;
    assert_true(ferry_ratelimit_reset_parse("1700000000", 1699999000000, &until));
    assert_int_equal(until, 1700000000000);
}

static void reset_epoch_milliseconds_are_read(void **state)
{
    int64_t until = 0;

    (void)state;
    assert_true(ferry_ratelimit_reset_parse("1700000000123", 1699999000000, &until));
    assert_int_equal(until, 1700000000123);
}

static void reset_small_integer_is_a_delta(void **state)
{
    int64_t now = at(2026, 11, 23, 12, 0, 0), until = 0;

    (void)state;
    assert_true(ferry_ratelimit_reset_parse("30", now, &until));
    assert_int_equal(until, now + 30000);
    assert_true(ferry_ratelimit_reset_parse("1.5", now, &until));
    assert_int_equal(until, now + 1500);
}

static void reset_past_epoch_gives_now(void **state)
{
    int64_t now = at(2026, 11, 23, 12, 0, 0), until = 0;

    (void)state;
    assert_true(ferry_ratelimit_reset_parse("1700000000", now, &until));
    assert_int_equal(until, now);
}

static void reset_iso_time_in_utc_is_read(void **state)
{
    int64_t now = at(2026, 11, 23, 6, 0, 0), until = 0;

    (void)state;
    assert_true(ferry_ratelimit_reset_parse("2026-11-23T12:00:00Z", now, &until));
    assert_int_equal(until, at(2026, 11, 23, 12, 0, 0));
}

static void reset_iso_time_with_offset_is_read(void **state)
{
    int64_t now = at(2026, 11, 23, 0, 0, 0), until = 0;

    (void)state;
    assert_true(ferry_ratelimit_reset_parse("2026-11-23T12:00:00+10:00", now, &until));
    assert_int_equal(until, at(2026, 11, 23, 2, 0, 0));
    assert_true(ferry_ratelimit_reset_parse("2026-11-23T12:00:00-0130", now, &until));
    assert_int_equal(until, at(2026, 11, 23, 13, 30, 0));
}

static void reset_iso_time_with_fraction_is_read(void **state)
{
    int64_t now = at(2026, 11, 23, 6, 0, 0), until = 0;

    (void)state;
    assert_true(ferry_ratelimit_reset_parse("2026-11-23T12:00:00.25Z", now, &until));
    assert_int_equal(until, at(2026, 11, 23, 12, 0, 0) + 250);
    assert_true(ferry_ratelimit_reset_parse("2026-11-23T12:00:00.123456+00:00", now, &until));
    assert_int_equal(until, at(2026, 11, 23, 12, 0, 0) + 123);
}

static void reset_garbage_is_refused(void **state)
{
    int64_t now = at(2026, 11, 23, 6, 0, 0), until = 42;

    (void)state;
    assert_false(ferry_ratelimit_reset_parse("tomorrow", now, &until));
    assert_false(ferry_ratelimit_reset_parse("", now, &until));
    assert_false(ferry_ratelimit_reset_parse("-30", now, &until));
    assert_false(ferry_ratelimit_reset_parse("30s", now, &until));
    assert_false(ferry_ratelimit_reset_parse("2026-11-23T12:00:00", now, &until));
    assert_false(ferry_ratelimit_reset_parse("2026-13-23T12:00:00Z", now, &until));
    assert_false(ferry_ratelimit_reset_parse("2026-11-23T12:00:00.Z", now, &until));
    assert_false(ferry_ratelimit_reset_parse("99999999999999999999", now, &until));
    assert_int_equal(until, 42);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(next_is_found_among_several_links),
        cmocka_unit_test(next_is_found_in_a_rel_list),
        cmocka_unit_test(unquoted_rel_is_read),
        cmocka_unit_test(comma_inside_the_url_does_not_split_links),
        cmocka_unit_test(relative_target_is_resolved_against_the_base),
        cmocka_unit_test(no_next_link_gives_null),
        cmocka_unit_test(malformed_link_values_give_null),
        cmocka_unit_test(retry_after_seconds_count_from_now),
        cmocka_unit_test(retry_after_http_date_is_read),
        cmocka_unit_test(retry_after_past_date_gives_now),
        cmocka_unit_test(retry_after_garbage_is_refused),
        cmocka_unit_test(reset_epoch_seconds_are_read),
        cmocka_unit_test(reset_epoch_milliseconds_are_read),
        cmocka_unit_test(reset_small_integer_is_a_delta),
        cmocka_unit_test(reset_past_epoch_gives_now),
        cmocka_unit_test(reset_iso_time_in_utc_is_read),
        cmocka_unit_test(reset_iso_time_with_offset_is_read),
        cmocka_unit_test(reset_iso_time_with_fraction_is_read),
        cmocka_unit_test(reset_garbage_is_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
