/* test_util.c - the small utilities under src/util: ferry_buf (limits, truncation, take),
 * ferry_rowset (dense, sparse, negative and a million ids), the sticky ferry_err record
 * (first cause wins, prefixes up to the buffer limit), ISO timestamps and durations, and
 * ferry_url_redact (credentials and query strings never shown). */
#include "util/buf.h"
#include "util/err.h"
#include "util/rowset.h"
#include "util/timeutil.h"
#include "util/url.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

/* ---- ferry_buf ---- */

static void buf_append_up_to_max_succeeds(void **state)
{
    ferry_buf b;

    (void)state;
    ferry_buf_init(&b, 8);
    assert_int_equal(ferry_buf_append(&b, "abcd", 4), FERRY_OK);
    assert_int_equal(ferry_buf_append(&b, "efgh", 4), FERRY_OK);
    assert_int_equal(b.len, 8);
    assert_string_equal(ferry_buf_str(&b), "abcdefgh");
    assert_false(b.truncated);
    ferry_buf_done(&b);
}

static void buf_append_past_max_is_elimit_and_keeps_contents(void **state)
{
    ferry_buf b;

    (void)state;
    ferry_buf_init(&b, 8);
    assert_int_equal(ferry_buf_append(&b, "abcdef", 6), FERRY_OK);
    assert_int_equal(ferry_buf_append(&b, "xyz", 3), FERRY_ELIMIT);
    assert_int_equal(b.len, 6);
    assert_string_equal(ferry_buf_str(&b), "abcdef");
    ferry_buf_done(&b);
}

static void buf_printf_past_max_is_elimit(void **state)
{
    ferry_buf b;

    (void)state;
    ferry_buf_init(&b, 10);
    assert_int_equal(ferry_buf_printf(&b, "%d-%s", 42, "ok"), FERRY_OK);
    assert_int_equal(ferry_buf_printf(&b, "%s", "too long now"), FERRY_ELIMIT);
    assert_string_equal(ferry_buf_str(&b), "42-ok");
    ferry_buf_done(&b);
}

static void buf_printf_trunc_cuts_at_max_and_marks_truncated(void **state)
{
    ferry_buf b;

    (void)state;
    ferry_buf_init(&b, 10);
    ferry_buf_printf_trunc(&b, "%s", "hello");
    assert_false(b.truncated);
    ferry_buf_printf_trunc(&b, " %s", "wonderful world");
    assert_true(b.truncated);
    assert_int_equal(b.len, 10);
    assert_string_equal(ferry_buf_str(&b), "hello wond");
    /* A full buffer takes nothing more and stays truncated. */
    ferry_buf_printf_trunc(&b, "!");
    assert_true(b.truncated);
    assert_string_equal(ferry_buf_str(&b), "hello wond");
    ferry_buf_done(&b);
}

static void buf_str_of_an_unused_buffer_is_empty(void **state)
{
    ferry_buf b;

    (void)state;
    ferry_buf_init(&b, 16);
    assert_null(b.data);
    assert_string_equal(ferry_buf_str(&b), "");
    ferry_buf_done(&b);
}

static void buf_copy_text_escapes_what_copy_gives_a_meaning(void **state)
{
    static const char value[] = "a\\b\tc\nd\re \\N f\0g";
    ferry_buf b;

    (void)state;
    ferry_buf_init(&b, 1024);
    assert_int_equal(ferry_buf_append_copy_text(&b, value, sizeof(value) - 3), FERRY_OK);
    assert_string_equal(ferry_buf_str(&b), "a\\\\b\\tc\\nd\\re \\\\N f");
    ferry_buf_reset(&b);
    assert_int_equal(ferry_buf_append_copy_text(&b, NULL, 0), FERRY_OK);
    assert_int_equal(ferry_buf_append_copy_text(&b, "", 0), FERRY_OK);
    assert_string_equal(ferry_buf_str(&b), "\\N");
    ferry_buf_done(&b);
    /* Past the maximum it fails like any append. */
    ferry_buf_init(&b, 3);
    assert_int_equal(ferry_buf_append_copy_text(&b, "a\tb", 3), FERRY_ELIMIT);
    ferry_buf_done(&b);
}

static void buf_reset_empties_and_clears_truncated(void **state)
{
    ferry_buf b;

    (void)state;
    ferry_buf_init(&b, 4);
    ferry_buf_printf_trunc(&b, "%s", "abcdef");
    assert_true(b.truncated);
    ferry_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_false(b.truncated);
    assert_string_equal(ferry_buf_str(&b), "");
    assert_int_equal(ferry_buf_append(&b, "wxyz", 4), FERRY_OK);
    assert_string_equal(ferry_buf_str(&b), "wxyz");
    ferry_buf_done(&b);
}

static void buf_grows_well_past_its_first_allocation(void **state)
{
    char chunk[1000];
    ferry_buf b;

    (void)state;
    memset(chunk, 'q', sizeof(chunk));
    ferry_buf_init(&b, 1 << 20);
    for (int i = 0; i < 100; i++)
        assert_int_equal(ferry_buf_append(&b, chunk, sizeof(chunk)), FERRY_OK);
    assert_int_equal(b.len, 100000);
    assert_int_equal(strlen(ferry_buf_str(&b)), 100000);
    assert_true(b.cap > b.len);
    ferry_buf_done(&b);
}

static void buf_take_moves_contents_out_and_empties(void **state)
{
    ferry_buf b;
    char *s;

    (void)state;
    ferry_buf_init(&b, 64);
    ferry_buf_printf(&b, "run %d", 7);
    s = ferry_buf_take(&b);
    assert_string_equal(s, "run 7");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    assert_string_equal(ferry_buf_str(&b), "");
    free(s);
    /* The buffer can be used again after a take. */
    assert_int_equal(ferry_buf_append(&b, "again", 5), FERRY_OK);
    assert_string_equal(ferry_buf_str(&b), "again");
    ferry_buf_done(&b);
}

static void buf_take_of_an_unused_buffer_is_an_empty_string(void **state)
{
    ferry_buf b;
    char *s;

    (void)state;
    ferry_buf_init(&b, 64);
    s = ferry_buf_take(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
}

/* ---- ferry_rowset ---- */

static void rowset_empty_has_nothing(void **state)
{
    ferry_rowset set;

    (void)state;
    ferry_rowset_init(&set);
    assert_false(ferry_rowset_has(&set, 0));
    assert_false(ferry_rowset_has(&set, 1));
    assert_false(ferry_rowset_has(&set, -1));
    assert_false(ferry_rowset_has(&set, INT64_MIN));
    ferry_rowset_done(&set);
}

static void rowset_dense_ids_are_all_found_and_neighbours_are_not(void **state)
{
    ferry_rowset set;

    (void)state;
    ferry_rowset_init(&set);
    for (int64_t id = 1; id <= 200000; id++)
        assert_int_equal(ferry_rowset_add(&set, id), FERRY_OK);
    for (int64_t id = 1; id <= 200000; id++)
        assert_true(ferry_rowset_has(&set, id));
    assert_false(ferry_rowset_has(&set, 0));
    assert_false(ferry_rowset_has(&set, 200001));
    assert_false(ferry_rowset_has(&set, -1));
    ferry_rowset_done(&set);
}

static void rowset_sparse_ids_far_apart_are_kept_apart(void **state)
{
    static const int64_t ids[] = {
        0, 65535, 65536, (int64_t)1 << 32, ((int64_t)1 << 40) + 7, INT64_MAX, INT64_MAX - 65536,
    };
    static const int64_t absent[] = {
        1, 65534, 65537, ((int64_t)1 << 32) + 1, (int64_t)1 << 40, INT64_MAX - 1, 131072,
    };
    ferry_rowset set;

    (void)state;
    ferry_rowset_init(&set);
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        assert_int_equal(ferry_rowset_add(&set, ids[i]), FERRY_OK);
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        assert_true(ferry_rowset_has(&set, ids[i]));
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        assert_false(ferry_rowset_has(&set, absent[i]));
    ferry_rowset_done(&set);
}

static void rowset_negative_ids_are_distinct_from_positive_ones(void **state)
{
    static const int64_t ids[] = {-1,        -65536,        -65537,
                                  INT64_MIN, INT64_MIN + 1, -((int64_t)1 << 40)};
    ferry_rowset set;

    (void)state;
    ferry_rowset_init(&set);
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        assert_int_equal(ferry_rowset_add(&set, ids[i]), FERRY_OK);
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        assert_true(ferry_rowset_has(&set, ids[i]));
    assert_false(ferry_rowset_has(&set, 1));
    assert_false(ferry_rowset_has(&set, 65535));
    assert_false(ferry_rowset_has(&set, -2));
    assert_false(ferry_rowset_has(&set, INT64_MIN + 2));
    assert_false(ferry_rowset_has(&set, INT64_MAX));
    ferry_rowset_done(&set);
}

static void rowset_holds_a_million_scattered_ids(void **state)
{
    ferry_rowset set;
    uint64_t x = 88172645463325252ull;

    (void)state;
    ferry_rowset_init(&set);
    /* Ids spread over a wide range (many chunks), in a scrambled order. */
    for (int64_t i = 0; i < 1000000; i++)
        assert_int_equal(ferry_rowset_add(&set, (i * 7919) % 1000000 * 3), FERRY_OK);
    for (int64_t i = 0; i < 1000000; i++) {
        if (!ferry_rowset_has(&set, i * 3) || ferry_rowset_has(&set, i * 3 + 1))
            fail_msg("id %lld or its neighbour is wrong", (long long)(i * 3));
    }
    /* Far away ids were never added. */
    for (int i = 0; i < 1000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        assert_false(ferry_rowset_has(&set, (int64_t)(x | ((uint64_t)1 << 40)) & INT64_MAX));
    }
    ferry_rowset_done(&set);
}

/* ---- ferry_err ---- */

static void err_first_cause_wins(void **state)
{
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_err_set(&err, FERRY_EIO, "reading %s", "a.csv"), FERRY_EIO);
    assert_int_equal(ferry_err_set(&err, FERRY_EDB, "later failure"), FERRY_EDB);
    assert_int_equal(err.code, FERRY_EIO);
    assert_string_equal(err.msg, "reading a.csv");
}

static void err_set_on_null_returns_the_code(void **state)
{
    (void)state;
    assert_int_equal(ferry_err_set(NULL, FERRY_ENOMEM, "x"), FERRY_ENOMEM);
    assert_int_equal(ferry_err_prefix(NULL, "ctx"), FERRY_OK);
    ferry_err_clear(NULL);
}

static void err_set_errno_appends_the_system_reason(void **state)
{
    char want[256];
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    errno = ENOENT;
    ferry_err_set_errno(&err, FERRY_EIO, "opening %s", "x.csv");
    snprintf(want, sizeof(want), "opening x.csv: %s", strerror(ENOENT));
    assert_int_equal(err.sys_errno, ENOENT);
    assert_string_equal(err.msg, want);
}

static void err_clear_forgets_the_failure(void **state)
{
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    ferry_err_set(&err, FERRY_EIO, "first");
    ferry_err_clear(&err);
    assert_int_equal(err.code, FERRY_OK);
    assert_string_equal(err.msg, "");
    ferry_err_set(&err, FERRY_EDB, "second");
    assert_string_equal(err.msg, "second");
}

static void err_prefix_puts_context_in_front(void **state)
{
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    ferry_err_set(&err, FERRY_EDB, "disk I/O error");
    assert_int_equal(ferry_err_prefix(&err, "database %s", "ferry.db"), FERRY_EDB);
    assert_string_equal(err.msg, "database ferry.db: disk I/O error");
    ferry_err_prefix(&err, "sync %d", 2);
    assert_string_equal(err.msg, "sync 2: database ferry.db: disk I/O error");
}

static void err_prefix_on_a_full_message_stays_within_the_buffer(void **state)
{
    char longmsg[FERRY_ERR_MSG_MAX + 100];
    ferry_err err;

    (void)state;
    memset(longmsg, 'm', sizeof(longmsg) - 1);
    longmsg[sizeof(longmsg) - 1] = '\0';
    ferry_err_clear(&err);
    ferry_err_set(&err, FERRY_ECSV, "%s", longmsg);
    assert_int_equal(strlen(err.msg), FERRY_ERR_MSG_MAX - 1);
    ferry_err_prefix(&err, "ctx");
    assert_int_equal(strlen(err.msg), FERRY_ERR_MSG_MAX - 1);
    assert_memory_equal(err.msg, "ctx: mmmm", 9);
    assert_int_equal(err.msg[FERRY_ERR_MSG_MAX - 2], 'm');
}

static void err_prefix_longer_than_the_buffer_is_cut(void **state)
{
    char longctx[FERRY_ERR_MSG_MAX * 2];
    ferry_err err;

    (void)state;
    memset(longctx, 'c', sizeof(longctx) - 1);
    longctx[sizeof(longctx) - 1] = '\0';
    ferry_err_clear(&err);
    ferry_err_set(&err, FERRY_EIO, "cause");
    ferry_err_prefix(&err, "%s", longctx);
    assert_true(strlen(err.msg) <= FERRY_ERR_MSG_MAX - 1);
    assert_int_equal(err.msg[0], 'c');
    assert_int_equal(err.code, FERRY_EIO);
}

static void rc_names_are_stable(void **state)
{
    (void)state;
    assert_string_equal(ferry_rc_name(FERRY_OK), "ok");
    assert_string_equal(ferry_rc_name(FERRY_EEMPTY), "empty_source");
    assert_string_equal(ferry_rc_name(FERRY_ESCHEMA), "schema");
    assert_string_equal(ferry_rc_name(FERRY_ECANCELLED), "cancelled");
    assert_string_equal(ferry_rc_name(FERRY_DONE), "done");
    assert_string_equal(ferry_rc_name((ferry_rc)999), "unknown");
}

/* ---- timeutil ---- */

static void iso_time_formats_the_epoch_and_milliseconds(void **state)
{
    char out[FERRY_ISO_TIME_MAX];

    (void)state;
    ferry_time_format_iso(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    ferry_time_format_iso(1795500344123, out);
    assert_string_equal(out, "2026-11-24T06:05:44.123Z");
    ferry_time_format_iso(951782400007, out); /* a leap day */
    assert_string_equal(out, "2000-02-29T00:00:00.007Z");
}

static void iso_time_before_the_epoch_counts_back(void **state)
{
    char out[FERRY_ISO_TIME_MAX];

    (void)state;
    ferry_time_format_iso(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    ferry_time_format_iso(-1000, out);
    assert_string_equal(out, "1969-12-31T23:59:59.000Z");
}

static void now_is_after_2024_and_monotonic_clock_advances(void **state)
{
    int64_t a, b;

    (void)state;
    assert_true(ferry_time_now_ms() > 1704067200000); /* 2024-01-01 */
    a = ferry_time_mono_ms();
    b = ferry_time_mono_ms();
    assert_true(b >= a);
}

static void duration_picks_a_unit_people_read(void **state)
{
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        {-5, "0 ms"},           {0, "0 ms"},
        {850, "850 ms"},        {999, "999 ms"},
        {1000, "1.0 s"},        {4200, "4.2 s"},
        {59999, "59.9 s"},      {60000, "1 min 0 s"},
        {185000, "3 min 5 s"},  {3599999, "59 min 59 s"},
        {3600000, "1 h 0 min"}, {7260000, "2 h 1 min"},
    };
    char out[64];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ferry_time_format_duration(cases[i].ms, out, sizeof(out));
        if (strcmp(out, cases[i].want) != 0)
            fail_msg("%lld ms: got '%s', want '%s'", (long long)cases[i].ms, out, cases[i].want);
    }
}

static void duration_fits_a_small_buffer(void **state)
{
    char out[4];

    (void)state;
    ferry_time_format_duration(185000, out, sizeof(out));
    assert_string_equal(out, "3 m");
}

/* ---- ferry_url_redact ---- */

static void redact_removes_userinfo_and_query(void **state)
{
    char out[256];

    (void)state;
    ferry_url_redact("https://alice:s3cret@example.com/export.csv?token=abc&gid=1", out,
                     sizeof(out));
    assert_string_equal(out, "https://example.com/export.csv");
    assert_null(strstr(out, "s3cret"));
    assert_null(strstr(out, "token"));
}

static void redact_removes_fragment_and_keeps_port(void **state)
{
    char out[256];

    (void)state;
    ferry_url_redact("http://host:8080/a/b.csv#frag", out, sizeof(out));
    assert_string_equal(out, "http://host:8080/a/b.csv");
    ferry_url_redact("https://bob@host?x=1", out, sizeof(out));
    assert_string_equal(out, "https://host");
}

static void redact_keeps_a_plain_url_as_is(void **state)
{
    char out[256];

    (void)state;
    ferry_url_redact("https://docs.example.com/spreadsheets/d/ID/export", out, sizeof(out));
    assert_string_equal(out, "https://docs.example.com/spreadsheets/d/ID/export");
}

static void redact_hides_a_password_holding_an_at_sign(void **state)
{
    char out[256];

    (void)state;
    ferry_url_redact("https://user:p@ss@example.com/x.csv", out, sizeof(out));
    assert_string_equal(out, "https://example.com/x.csv");
    assert_null(strstr(out, "ss"));
}

static void redact_leaves_a_path_without_scheme(void **state)
{
    char out[256];

    (void)state;
    ferry_url_redact("data/rooms.csv", out, sizeof(out));
    assert_string_equal(out, "data/rooms.csv");
}

static void redact_shows_a_database_url_without_credentials_or_options(void **state)
{
    char out[256];

    (void)state;
    ferry_url_redact("postgres://ana:pw@db:5432/app?sslmode=require&password=x", out, sizeof(out));
    assert_string_equal(out, "postgres://db:5432/app");
}

static void redact_keeps_an_at_sign_in_the_path(void **state)
{
    char out[256];

    (void)state;
    ferry_url_redact("https://host/users/ana@example.com.csv?k=1", out, sizeof(out));
    assert_string_equal(out, "https://host/users/ana@example.com.csv");
}

static void redact_truncates_to_the_output_size(void **state)
{
    char out[12];

    (void)state;
    ferry_url_redact("https://user:pw@example.com/long/path", out, sizeof(out));
    assert_string_equal(out, "https://exa");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(buf_append_up_to_max_succeeds),
        cmocka_unit_test(buf_append_past_max_is_elimit_and_keeps_contents),
        cmocka_unit_test(buf_printf_past_max_is_elimit),
        cmocka_unit_test(buf_printf_trunc_cuts_at_max_and_marks_truncated),
        cmocka_unit_test(buf_str_of_an_unused_buffer_is_empty),
        cmocka_unit_test(buf_reset_empties_and_clears_truncated),
        cmocka_unit_test(buf_copy_text_escapes_what_copy_gives_a_meaning),
        cmocka_unit_test(buf_grows_well_past_its_first_allocation),
        cmocka_unit_test(buf_take_moves_contents_out_and_empties),
        cmocka_unit_test(buf_take_of_an_unused_buffer_is_an_empty_string),
        cmocka_unit_test(rowset_empty_has_nothing),
        cmocka_unit_test(rowset_dense_ids_are_all_found_and_neighbours_are_not),
        cmocka_unit_test(rowset_sparse_ids_far_apart_are_kept_apart),
        cmocka_unit_test(rowset_negative_ids_are_distinct_from_positive_ones),
        cmocka_unit_test(rowset_holds_a_million_scattered_ids),
        cmocka_unit_test(err_first_cause_wins),
        cmocka_unit_test(err_set_on_null_returns_the_code),
        cmocka_unit_test(err_set_errno_appends_the_system_reason),
        cmocka_unit_test(err_clear_forgets_the_failure),
        cmocka_unit_test(err_prefix_puts_context_in_front),
        cmocka_unit_test(err_prefix_on_a_full_message_stays_within_the_buffer),
        cmocka_unit_test(err_prefix_longer_than_the_buffer_is_cut),
        cmocka_unit_test(rc_names_are_stable),
        cmocka_unit_test(iso_time_formats_the_epoch_and_milliseconds),
        cmocka_unit_test(iso_time_before_the_epoch_counts_back),
        cmocka_unit_test(now_is_after_2024_and_monotonic_clock_advances),
        cmocka_unit_test(duration_picks_a_unit_people_read),
        cmocka_unit_test(duration_fits_a_small_buffer),
        cmocka_unit_test(redact_removes_userinfo_and_query),
        cmocka_unit_test(redact_removes_fragment_and_keeps_port),
        cmocka_unit_test(redact_keeps_a_plain_url_as_is),
        cmocka_unit_test(redact_hides_a_password_holding_an_at_sign),
        cmocka_unit_test(redact_leaves_a_path_without_scheme),
        cmocka_unit_test(redact_shows_a_database_url_without_credentials_or_options),
        cmocka_unit_test(redact_keeps_an_at_sign_in_the_path),
        cmocka_unit_test(redact_truncates_to_the_output_size),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
