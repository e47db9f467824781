/* test_notation.c - dates and numbers as a source writes them (src/util/notation.c): which
 * date formats and number samples load, with what reason the others are refused, and what
 * each reads a value as (the form the mapper's types take). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "util/notation.h"

/* ---- date formats ---- */

static void expect_date_format_ok(const char *format, bool datetime)
{
    char why[256] = "";

    if (!ferry_notation_date_check(format, datetime, why, sizeof(why)))
        fail_msg("format '%s' refused: %s", format, why);
}

static void expect_date_format_refused(const char *format, bool datetime, const char *want)
{
    char why[256] = "";

    if (ferry_notation_date_check(format, datetime, why, sizeof(why)))
        fail_msg("format '%s' accepted, want refused (%s)", format, want);
    assert_string_equal(why, want);
}

/* text read with format as a date (datetime false) or date-time gives want. */
static void expect_date(const char *format, bool datetime, const char *text, const char *want)
{
    ferry_buf out;
    ferry_notation_result r;

    ferry_buf_init(&out, 1024);
    r = ferry_notation_date_read(format, datetime, text, strlen(text), &out);
    if (r != FERRY_NOTATION_OK)
        fail_msg("'%s' with '%s': result %d, want '%s'", text, format, (int)r, want);
    assert_string_equal(ferry_buf_str(&out), want);
    ferry_buf_done(&out);
}

static void expect_date_result(const char *format, bool datetime, const char *text,
                               ferry_notation_result want)
{
    ferry_buf out;

    ferry_buf_init(&out, 1024);
    assert_int_equal(ferry_notation_date_read(format, datetime, text, strlen(text), &out), want);
    ferry_buf_done(&out);
}

static void day_month_year_formats_read_as_iso_dates(void **state)
{
    (void)state;
    expect_date("%d/%m/%Y", false, "31/12/2024", "2024-12-31");
    expect_date("%d/%m/%Y", false, "1/2/2024", "2024-02-01");
    expect_date("%m/%d/%Y", false, "12/31/2024", "2024-12-31");
    expect_date("%d.%m.%y", false, "05.03.24", "2024-03-05");
    expect_date("%d.%m.%y", false, "05.03.69", "1969-03-05");
    expect_date("%Y%m%d", false, "20240229", "2024-02-29");
    expect_date("%d %b %Y", false, "7 Mar 2024", "2024-03-07");
    expect_date("%d %B %Y", false, "7 MARCH 2024", "2024-03-07");
    expect_date("%d %B %Y", false, "7   september 2024", "2024-09-07");
    expect_date("%d-%b-%Y", false, "07-sep-2024", "2024-09-07");
}

static void a_date_field_drops_the_time_of_day(void **state)
{
    (void)state;
    expect_date("%d/%m/%Y %H:%M", false, "31/12/2024 23:59", "2024-12-31");
}

static void datetime_formats_read_as_iso_datetimes(void **state)
{
    (void)state;
    expect_date("%d/%m/%Y %H:%M", true, "31/12/2024 9:05", "2024-12-31T09:05:00");
    expect_date("%d/%m/%Y %H:%M:%S.%f", true, "31/12/2024 09:05:07.250", "2024-12-31T09:05:07.250");
    expect_date("%d/%m/%Y %I:%M %p", true, "31/12/2024 12:30 AM", "2024-12-31T00:30:00");
    expect_date("%d/%m/%Y %I:%M %p", true, "31/12/2024 12:30 pm", "2024-12-31T12:30:00");
    expect_date("%d/%m/%Y %I:%M %p", true, "31/12/2024 1:30 PM", "2024-12-31T13:30:00");
    expect_date("%Y-%m-%d %H:%M %z", true, "2024-12-31 10:00 +0700", "2024-12-31T10:00:00+07:00");
    expect_date("%Y-%m-%d %H:%M%z", true, "2024-12-31 10:00Z", "2024-12-31T10:00:00Z");
    expect_date("%d/%m/%Y", true, "31/12/2024", "2024-12-31T00:00:00");
    expect_date("%Y %% %m %d", true, "2024 % 12 31", "2024-12-31T00:00:00");
}

static void text_of_another_shape_does_not_match(void **state)
{
    (void)state;
    expect_date_result("%d/%m/%Y", false, "31-12-2024", FERRY_NOTATION_NO_MATCH);
    expect_date_result("%d/%m/%Y", false, "2024-12-31", FERRY_NOTATION_NO_MATCH);
    expect_date_result("%d/%m/%Y", false, "31/12/2024 ", FERRY_NOTATION_NO_MATCH);
    expect_date_result("%d/%m/%Y", false, "31/13/2024", FERRY_NOTATION_NOT_A_DATE);
    expect_date_result("%d/%m/%Y", false, "31/12/24", FERRY_NOTATION_NO_MATCH);
    expect_date_result("%d %b %Y", false, "7 Mrz 2024", FERRY_NOTATION_NO_MATCH);
    expect_date_result("%d/%m/%Y %H:%M", true, "31/12/2024 24:00", FERRY_NOTATION_NO_MATCH);
    expect_date_result("%d/%m/%Y %H:%M", true, "31/12/202410:00", FERRY_NOTATION_NO_MATCH);
    expect_date_result("%d/%m/%Y %I:%M %p", true, "31/12/2024 13:00 PM", FERRY_NOTATION_NO_MATCH);
}

static void a_day_the_month_lacks_is_not_a_date(void **state)
{
    (void)state;
    expect_date_result("%d/%m/%Y", false, "31/02/2024", FERRY_NOTATION_NOT_A_DATE);
    expect_date_result("%d/%m/%Y", false, "29/02/2023", FERRY_NOTATION_NOT_A_DATE);
    expect_date("%d/%m/%Y", false, "29/02/2024", "2024-02-29");
    expect_date_result("%d/%m/%Y", false, "0/02/2024", FERRY_NOTATION_NOT_A_DATE);
}

static void usable_date_formats_load(void **state)
{
    (void)state;
    expect_date_format_ok("%d/%m/%Y", false);
    expect_date_format_ok("%e %B %y", false);
    expect_date_format_ok("%d/%m/%Y %H:%M", false);
    expect_date_format_ok("%d/%m/%Y %I:%M:%S %p", true);
    expect_date_format_ok("%Y-%m-%dT%H:%M:%S.%f%z", true);
}

static void unusable_date_formats_are_refused_with_the_reason(void **state)
{
    (void)state;
    expect_date_format_refused("%d/%m/%Q", false,
                               "unknown directive %Q (known: %d %e %m %b %B %Y %y %H %I %p %M %S "
                               "%f %z %%)");
    expect_date_format_refused("%d/%m/%Y %", false,
                               "the format ends in a lone % (write %% for a percent sign)");
    expect_date_format_refused("%d/%m", false,
                               "a date format needs a day (%d), a month (%m or %b) and a year (%Y "
                               "or %y)");
    expect_date_format_refused("%d/%m/%Y/%y", false,
                               "%y gives a part of the date or time the format already has");
    expect_date_format_refused("%d/%m/%Y %H %I %p", true,
                               "%I gives a part of the date or time the format already has");
    expect_date_format_refused("%d/%m/%Y %I:%M", true,
                               "%I (a 12-hour clock) and %p (AM or PM) go together");
    expect_date_format_refused("%d/%m/%Y %M", true,
                               "minutes need an hour, seconds minutes, and %f (a fraction of a "
                               "second) seconds");
    expect_date_format_refused("%d/%m/%Y %z", false,
                               "%z (a time zone) is for datetime fields: a date has none");
    expect_date_format_refused("%d/%m/%Y                                                         "
                               "       ",
                               false, "a date format is at most 64 characters");
}

/* ---- number notations ---- */

static ferry_number_notation notation_of(const char *sample)
{
    ferry_number_notation nn;
    char why[256] = "";

    if (!ferry_notation_number_parse(sample, false, &nn, why, sizeof(why)))
        fail_msg("sample '%s' refused: %s", sample, why);
    return nn;
}

static void expect_notation(const char *sample, char group, char decimal)
{
    ferry_number_notation nn = notation_of(sample);

    if (nn.group != group || nn.decimal != decimal)
        fail_msg("sample '%s': group '%c' decimal '%c', want '%c' '%c'", sample,
                 nn.group ? nn.group : '0', nn.decimal ? nn.decimal : '0', group ? group : '0',
                 decimal ? decimal : '0');
}

static void expect_sample_refused(const char *sample, const char *want)
{
    ferry_number_notation nn;
    char why[512] = "";

    if (ferry_notation_number_parse(sample, false, &nn, why, sizeof(why)))
        fail_msg("sample '%s' accepted, want refused", sample);
    assert_string_equal(why, want);
}

static void expect_number(const char *sample, const char *text, const char *want)
{
    ferry_number_notation nn = notation_of(sample);
    ferry_buf out;
    ferry_notation_result r;

    ferry_buf_init(&out, 1024);
    r = ferry_notation_number_read(&nn, text, strlen(text), &out);
    if (r != FERRY_NOTATION_OK)
        fail_msg("'%s' under '%s': result %d, want '%s'", text, sample, (int)r, want);
    assert_string_equal(ferry_buf_str(&out), want);
    ferry_buf_done(&out);
}

static void expect_number_mismatch(const char *sample, const char *text)
{
    ferry_number_notation nn = notation_of(sample);
    ferry_buf out;

    ferry_buf_init(&out, 1024);
    if (ferry_notation_number_read(&nn, text, strlen(text), &out) != FERRY_NOTATION_NO_MATCH)
        fail_msg("'%s' under '%s' read as '%s', want no match", text, sample, ferry_buf_str(&out));
    ferry_buf_done(&out);
}

static void samples_show_the_group_and_the_decimal_mark(void **state)
{
    (void)state;
    expect_notation("1.234,50", '.', ',');
    expect_notation("1,234.50", ',', '.');
    expect_notation("-1.234,5", '.', ',');
    expect_notation("1 234,50", ' ', ',');
    expect_notation("1\xC2\xA0"
                    "234,50",
                    ' ', ',');
    expect_notation("1'234.50", '\'', '.');
    expect_notation("1234,5", 0, ',');
    expect_notation("12,50", 0, ',');
    expect_notation("1234,567", 0, ',');
    expect_notation("1.234.567", '.', ',');
    expect_notation("1,234,567", ',', '.');
    expect_notation("1 234", ' ', 0);
}

static void a_lone_group_of_three_groups_thousands_in_a_whole_number(void **state)
{
    ferry_number_notation nn;
    char why[256] = "";

    (void)state;
    assert_true(ferry_notation_number_parse("1.234", true, &nn, why, sizeof(why)));
    assert_int_equal(nn.group, '.');
    assert_int_equal(nn.decimal, ',');
    assert_true(ferry_notation_number_parse("1,234", true, &nn, why, sizeof(why)));
    assert_int_equal(nn.group, ',');
    assert_int_equal(nn.decimal, '.');
    /* Not three digits after it: a decimal mark still. */
    assert_true(ferry_notation_number_parse("1234,5", true, &nn, why, sizeof(why)));
    assert_int_equal(nn.group, 0);
    assert_int_equal(nn.decimal, ',');
}

static void samples_that_are_not_a_notation_are_refused(void **state)
{
    (void)state;
    expect_sample_refused("1.234", "'1.234' is ambiguous: '.' may group thousands or mark "
                                   "decimals; write a sample number such as 1.234,50 ('.' groups "
                                   "thousands, ',' marks decimals) or 1,234.50");
    expect_sample_refused("abc", "'abc' is not a number notation: write a sample number such as "
                                 "1.234,50 ('.' groups thousands, ',' marks decimals) or 1,234.50");
    expect_sample_refused("1234", "'1234' is not a number notation: write a sample number such as "
                                  "1.234,50 ('.' groups thousands, ',' marks decimals) or "
                                  "1,234.50");
    expect_sample_refused("12.34,5", "'12.34,5' is not a number notation: write a sample number "
                                     "such as 1.234,50 ('.' groups thousands, ',' marks "
                                     "decimals) or 1,234.50");
    expect_sample_refused("1,234.567,8", "'1,234.567,8' is not a number notation: write a sample "
                                         "number such as 1.234,50 ('.' groups thousands, ',' "
                                         "marks decimals) or 1,234.50");
    expect_sample_refused("1 234 50", "'1 234 50' is not a number notation: write a sample "
                                      "number such as 1.234,50 ('.' groups thousands, ',' marks "
                                      "decimals) or 1,234.50");
    expect_sample_refused("1.,5", "'1.,5' is not a number notation: write a sample number such "
                                  "as 1.234,50 ('.' groups thousands, ',' marks decimals) or "
                                  "1,234.50");
}

static void numbers_read_in_their_notation(void **state)
{
    (void)state;
    expect_number("1.234,50", "1.234,50", "1234.5");
    expect_number("1.234,50", "450.000", "450000");
    expect_number("1.234,50", "1.234.567,891", "1234567.891");
    expect_number("1.234,50", "-12,00", "-12");
    expect_number("1.234,50", "1234", "1234");
    expect_number("1.234,50", ",5", ".5");
    expect_number("1,234.50", "4,500,000.75", "4500000.75");
    expect_number("1 234,50",
                  "4 500\xC2\xA0"
                  "000,5",
                  "4500000.5");
    expect_number("1 234,50",
                  "4\xE2\x80\xAF"
                  "500",
                  "4500");
    expect_number("1'234.50", "1'234.5", "1234.5");
    expect_number("1234,5", "1234,25", "1234.25");
}

static void numbers_in_another_notation_do_not_match(void **state)
{
    (void)state;
    expect_number_mismatch("1.234,50", "1.5");     /* not 15: a group has three digits */
    expect_number_mismatch("1.234,50", "1234.50"); /* the other notation */
    expect_number_mismatch("1.234,50", "1.2345");
    expect_number_mismatch("1.234,50", "1234.567.890"); /* the first group has 1 to 3 digits */
    expect_number_mismatch("1.234,50", "1.234,");
    expect_number_mismatch("1.234,50", "1,234,5");
    expect_number_mismatch("1.234,50", "Rp 1.000");
    expect_number_mismatch("1.234,50", "-");
    expect_number_mismatch("1234,5", "1.234,5");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(day_month_year_formats_read_as_iso_dates),
        cmocka_unit_test(a_date_field_drops_the_time_of_day),
        cmocka_unit_test(datetime_formats_read_as_iso_datetimes),
        cmocka_unit_test(text_of_another_shape_does_not_match),
        cmocka_unit_test(a_day_the_month_lacks_is_not_a_date),
        cmocka_unit_test(usable_date_formats_load),
        cmocka_unit_test(unusable_date_formats_are_refused_with_the_reason),
        cmocka_unit_test(samples_show_the_group_and_the_decimal_mark),
        cmocka_unit_test(a_lone_group_of_three_groups_thousands_in_a_whole_number),
        cmocka_unit_test(samples_that_are_not_a_notation_are_refused),
        cmocka_unit_test(numbers_read_in_their_notation),
        cmocka_unit_test(numbers_in_another_notation_do_not_match),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
