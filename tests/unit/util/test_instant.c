/* test_instant.c - cursor values as instants: ISO 8601 dates and date-times (offsets,
 * fractions) and epoch seconds read to the same milliseconds, bad values refused, and the
 * since value written to the second. */
#include "util/instant.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

static int64_t read_ms(const char *s)
{
    int64_t ms = -12345;

    assert_true(ferry_instant_parse(s, strlen(s), &ms));
    return ms;
}

static void iso_and_epoch_seconds_are_the_same_instant(void **state)
{
    (void)state;
    assert_int_equal(read_ms("2026-12-06T09:00:00Z"), 1796547600000LL);
    assert_int_equal(read_ms("1796547600"), 1796547600000LL);
    assert_int_equal(read_ms("2026-12-06T10:00:00+01:00"), 1796547600000LL);
    assert_int_equal(read_ms("2026-12-06T04:30:00-04:30"), 1796547600000LL);
    assert_int_equal(read_ms("2026-12-06T09:00:00"), 1796547600000LL);
    assert_int_equal(read_ms("2026-12-06T09:00Z"), 1796547600000LL);
    assert_int_equal(read_ms("1970-01-01"), 0);
    assert_int_equal(read_ms("2026-12-06"), 1796515200000LL);
}

static void fractions_count_in_milliseconds(void **state)
{
    (void)state;
    assert_int_equal(read_ms("2026-12-06T09:00:00.250Z"), 1796547600250LL);
    assert_int_equal(read_ms("2026-12-06T09:00:00.123456+00:00"), 1796547600123LL);
    assert_int_equal(read_ms("1796547600.5"), 1796547600500LL);
}

static void later_offsets_compare_as_instants(void **state)
{
    (void)state;
    /* 09:30 in New York is after 12:00 UTC; as text it sorts first. */
    assert_true(read_ms("2026-12-06T09:30:00-05:00") > read_ms("2026-12-06T12:00:00Z"));
    assert_true(read_ms("2024-02-29T00:00:00Z") > read_ms("2024-02-28T23:59:59Z"));
}

static void values_that_are_no_instant_are_refused(void **state)
{
    const char *bad[] = {"",
                         "yesterday",
                         "2026-13-01",
                         "2026-02-30",
                         "2026-12-06T25:00:00Z",
                         "2026-12-06T09:00:00+5",
                         "12abc",
                         "1.",
                         "-5",
                         "2026-12-06T09:00:00Z trailing",
                         "2025-02-29"};
    int64_t ms = 7;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(ferry_instant_parse(bad[i], strlen(bad[i]), &ms));
        assert_int_equal(ms, 7);
    }
}

static void since_is_written_to_the_second(void **state)
{
    char out[FERRY_INSTANT_TEXT_MAX];

    (void)state;
    ferry_instant_format(1796547600999LL, false, out);
    assert_string_equal(out, "2026-12-06T09:00:00Z");
    ferry_instant_format(1796547600999LL, true, out);
    assert_string_equal(out, "1796547600");
    ferry_instant_format(0, false, out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    ferry_instant_format(read_ms("2024-02-29T23:59:59Z"), false, out);
    assert_string_equal(out, "2024-02-29T23:59:59Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(iso_and_epoch_seconds_are_the_same_instant),
        cmocka_unit_test(fractions_count_in_milliseconds),
        cmocka_unit_test(later_offsets_compare_as_instants),
        cmocka_unit_test(values_that_are_no_instant_are_refused),
        cmocka_unit_test(since_is_written_to_the_second),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
