/* test_tz.c - time zones from TZif files: offsets across transitions, the footer rule for
 * dates past the last transition, local times in gaps and overlaps, damaged files refused.
 * The zones are tzdata's files copied into tests/data/tz (TZDIR), so the results do not
 * depend on the machine's tzdata. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util/tz.h"

/* UTC seconds of a date and time. */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};

    return (int64_t)timegm(&tm);
}

static ferry_tz *load(const char *name)
{
    ferry_tz *tz = NULL;
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_equal(ferry_tz_load(name, &tz, &err), FERRY_OK);
    assert_non_null(tz);
    assert_string_equal(ferry_tz_name(tz), name);
    return tz;
}

static int32_t off_at(const ferry_tz *tz, int y, int mo, int d, int h, int mi)
{
    return ferry_tz_offset(tz, utc(y, mo, d, h, mi) * 1000);
}

static void jakarta_is_seven_hours_ahead(void **state)
{
    ferry_tz *tz = load("Asia/Jakarta");

    (void)state;
    assert_int_equal(off_at(tz, 2026, 1, 15, 0, 0), 7 * 3600);
    assert_int_equal(off_at(tz, 2026, 7, 15, 0, 0), 7 * 3600);
    assert_int_equal(off_at(tz, 2090, 7, 15, 0, 0), 7 * 3600);
    ferry_tz_free(tz);
}

static void new_york_changes_at_both_transitions(void **state)
{
    ferry_tz *tz = load("America/New_York");

    (void)state;
    /* 2026-03-08 02:00 EST -> 03:00 EDT at 07:00 UTC; 2026-11-01 02:00 EDT -> 01:00 EST at
     * 06:00 UTC. */
    assert_int_equal(off_at(tz, 2026, 3, 8, 6, 59), -5 * 3600);
    assert_int_equal(off_at(tz, 2026, 3, 8, 7, 0), -4 * 3600);
    assert_int_equal(off_at(tz, 2026, 11, 1, 5, 59), -4 * 3600);
    assert_int_equal(off_at(tz, 2026, 11, 1, 6, 0), -5 * 3600);
    ferry_tz_free(tz);
}

static void berlin_changes_at_both_transitions(void **state)
{
    ferry_tz *tz = load("Europe/Berlin");

    (void)state;
    /* Last Sundays of March and October, at 01:00 UTC. */
    assert_int_equal(off_at(tz, 2026, 3, 29, 0, 59), 3600);
    assert_int_equal(off_at(tz, 2026, 3, 29, 1, 0), 7200);
    assert_int_equal(off_at(tz, 2026, 10, 25, 0, 59), 7200);
    assert_int_equal(off_at(tz, 2026, 10, 25, 1, 0), 3600);
    ferry_tz_free(tz);
}

static void a_date_in_2090_comes_from_the_footer(void **state)
{
    ferry_tz *tz = load("America/New_York");

    (void)state;
    /* Past every transition in the file: only the POSIX rule knows 2090. */
    assert_int_equal(off_at(tz, 2090, 1, 1, 12, 0), -5 * 3600);
    assert_int_equal(off_at(tz, 2090, 7, 1, 12, 0), -4 * 3600);
    assert_int_equal(off_at(tz, 2090, 3, 12, 6, 59), -5 * 3600);
    assert_int_equal(off_at(tz, 2090, 3, 12, 7, 0), -4 * 3600);
    ferry_tz_free(tz);
}

/* A v2 file with no transitions at all, only a footer: the slimmest "slim" file. */
static size_t footer_only(uint8_t *buf, const char *footer)
{
    size_t n = 0;

    for (int block = 0; block < 2; block++) {
        memcpy(buf + n, "TZif2", 5);
        memset(buf + n + 5, 0, 39);
        buf[n + 39] = 1; /* typecnt */
        buf[n + 43] = 4; /* charcnt */
        n += 44;
        memcpy(buf + n, "\xff\xff\xb9\xb0\0\0", 6); /* -18000, not dst, abbr 0 */
        memcpy(buf + n + 6, "EST", 4);
        n += 10;
    }
    n += (size_t)sprintf((char *)buf + n, "\n%s\n", footer);
    return n;
}

static void a_slim_file_follows_its_footer(void **state)
{
    uint8_t buf[256];
    size_t n = footer_only(buf, "EST5EDT,M3.2.0,M11.1.0");
    ferry_tz *tz = NULL;
    ferry_err err;

    (void)state;
    assert_int_equal(ferry_tz_parse("slim", buf, n, &tz, &err), FERRY_OK);
    assert_int_equal(off_at(tz, 2026, 3, 8, 6, 59), -5 * 3600);
    assert_int_equal(off_at(tz, 2026, 3, 8, 7, 0), -4 * 3600);
    assert_int_equal(off_at(tz, 2026, 11, 1, 5, 59), -4 * 3600);
    assert_int_equal(off_at(tz, 2026, 11, 1, 6, 0), -5 * 3600);
    ferry_tz_free(tz);
    /* The southern hemisphere: DST spans the new year. */
    n = footer_only(buf, "<-03>3<-02>,M10.1.0/0,M2.3.0/0");
    assert_int_equal(ferry_tz_parse("south", buf, n, &tz, &err), FERRY_OK);
    assert_int_equal(off_at(tz, 2030, 1, 10, 12, 0), -2 * 3600);
    assert_int_equal(off_at(tz, 2030, 6, 10, 12, 0), -3 * 3600);
    assert_int_equal(off_at(tz, 2030, 12, 10, 12, 0), -2 * 3600);
    ferry_tz_free(tz);
}

static void local_times_in_gaps_and_overlaps(void **state)
{
    ferry_tz *tz = load("America/New_York");
    int64_t first, second;

    (void)state;
    /* 2026-03-08 02:30 does not exist: the first instant after the gap is 03:00 EDT. */
    assert_int_equal(ferry_tz_local_resolve(tz, utc(2026, 3, 8, 2, 30), &first, &second),
                     FERRY_TZ_LOCAL_GAP);
    assert_int_equal(first, utc(2026, 3, 8, 7, 0));
    /* 2026-11-01 01:30 happens twice: 05:30 UTC (EDT) and 06:30 UTC (EST). */
    assert_int_equal(ferry_tz_local_resolve(tz, utc(2026, 11, 1, 1, 30), &first, &second),
                     FERRY_TZ_LOCAL_OVERLAP);
    assert_int_equal(first, utc(2026, 11, 1, 5, 30));
    assert_int_equal(second, utc(2026, 11, 1, 6, 30));
    assert_int_equal(ferry_tz_local_resolve(tz, utc(2026, 7, 1, 9, 0), &first, &second),
                     FERRY_TZ_LOCAL_UNIQUE);
    assert_int_equal(first, utc(2026, 7, 1, 13, 0));
    ferry_tz_free(tz);
    assert_int_equal(ferry_tz_local_resolve(NULL, utc(2026, 7, 1, 9, 0), &first, &second),
                     FERRY_TZ_LOCAL_UNIQUE);
    assert_int_equal(first, utc(2026, 7, 1, 9, 0));
}

static void bad_names_are_unknown_zones(void **state)
{
    static const char *const bad[] = {"Asia/Jakata",   "../etc/passwd", "/etc/localtime",
                                      "Asia/../UTC",   "America",       "",
                                      "Asia//Jakarta", "Asia/Jakarta/", "Asia/Jak arta"};
    ferry_tz *tz = NULL;
    ferry_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ferry_err_clear(&err);
        assert_int_equal(ferry_tz_load(bad[i], &tz, &err), FERRY_ECONFIG);
        assert_non_null(strstr(err.msg, "unknown time zone"));
    }
    assert_true(ferry_tz_name_is_valid("Etc/GMT+5"));
    tz = load("UTC");
    assert_int_equal(off_at(tz, 2026, 7, 1, 0, 0), 0);
    ferry_tz_free(tz);
}

static uint8_t *read_all(const char *path, size_t *ret_len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = malloc(FERRY_TZ_FILE_MAX);

    assert_non_null(f);
    assert_non_null(buf);
    *ret_len = fread(buf, 1, FERRY_TZ_FILE_MAX, f);
    fclose(f);
    return buf;
}

static void refused(const uint8_t *data, size_t len, const char *why)
{
    ferry_tz *tz = NULL;
    ferry_err err;

    ferry_err_clear(&err);
    assert_int_equal(ferry_tz_parse("Damaged/Zone", data, len, &tz, &err), FERRY_ECONFIG);
    assert_null(tz);
    if (strstr(err.msg, why) == NULL)
        fail_msg("expected '%s' in '%s'", why, err.msg);
}

static void damaged_files_are_refused(void **state)
{
    size_t len, n;
    uint8_t *orig = read_all(FERRY_TESTDATA "/tz/America/New_York", &len);
    uint8_t *buf = malloc(len);
    ferry_tz *tz = NULL;
    ferry_err err;

    (void)state;
    assert_int_equal(ferry_tz_parse("America/New_York", orig, len, &tz, &err), FERRY_OK);
    ferry_tz_free(tz);
    /* Every truncation is refused. */
    for (n = 0; n < len - 1; n++)
        refused(orig, n, "TZif file");
    memcpy(buf, orig, len);
    buf[0] = 'X';
    refused(buf, len, "is not a TZif file");
    memcpy(buf, orig, len);
    memcpy(buf + 32, "\xff\xff\xff\xff", 4); /* timecnt: 4 billion */
    refused(buf, len, "impossible counts");
    memcpy(buf, orig, len);
    memcpy(buf + 28, "\0\0\0\1", 4); /* a leap second */
    refused(buf, len, "leap seconds");
    memcpy(buf, orig, len);
    memcpy(buf + len - 8, "M13.1.0\n", 8); /* the footer's month 13 */
    refused(buf, len, "footer");
    /* A transition to a type that does not exist, and transitions out of order (in the
     * v1 block, which v2 readers skip: damage the 64-bit block). */
    {
        uint32_t c[6];
        for (int i = 0; i < 6; i++) /* isutcnt isstdcnt leapcnt timecnt typecnt charcnt */
            c[i] = (uint32_t)orig[20 + 4 * i] << 24 | (uint32_t)orig[21 + 4 * i] << 16 |
                   (uint32_t)orig[22 + 4 * i] << 8 | orig[23 + 4 * i];
        size_t timecnt = c[3];
        size_t v2 = 44 + timecnt * 5 + c[4] * 6 + c[5] + c[1] + c[0] + 44;
        memcpy(buf, orig, len);
        buf[v2 + (size_t)timecnt * 8] = 200;
        refused(buf, len, "type that does not exist");
        memcpy(buf, orig, len);
        memcpy(buf + v2 + 8, buf + v2, 8);
        refused(buf, len, "out of order");
    }
    free(buf);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jakarta_is_seven_hours_ahead),
        cmocka_unit_test(new_york_changes_at_both_transitions),
        cmocka_unit_test(berlin_changes_at_both_transitions),
        cmocka_unit_test(a_date_in_2090_comes_from_the_footer),
        cmocka_unit_test(a_slim_file_follows_its_footer),
        cmocka_unit_test(local_times_in_gaps_and_overlaps),
        cmocka_unit_test(bad_names_are_unknown_zones),
        cmocka_unit_test(damaged_files_are_refused),
    };

    setenv("TZDIR", FERRY_TESTDATA "/tz", 1);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
