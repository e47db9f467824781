/* test_value.c - column types, fitting and comparison by value (src/target/value.c), and the
 * typed diff built on them (src/target/diff.c). */
#include "target/diff.h"
#include "target/value.h"
#include "util/buf.h"

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

static ferry_column_type pg(const char *decl)
{
    ferry_column_type ct;

    ferry_column_type_parse(decl, false, &ct);
    return ct;
}

static ferry_column_type lite(const char *decl)
{
    ferry_column_type ct;

    ferry_column_type_parse(decl, true, &ct);
    return ct;
}

/* True when a and b are the same value in a column of type ct. */
static bool equal(const ferry_column_type *ct, const char *a, const char *b)
{
    ferry_buf fa, fb;
    bool same;

    ferry_buf_init(&fa, 4096);
    ferry_buf_init(&fb, 4096);
    same = strcmp(ferry_column_value_norm(ct, a, &fa), ferry_column_value_norm(ct, b, &fb)) == 0;
    ferry_buf_done(&fa);
    ferry_buf_done(&fb);
    return same;
}

/* The reason v does not fit, or "" when it does. */
static const char *misfit(const ferry_column_type *ct, const char *name, const char *v)
{
    static char reason[512];

    if (ferry_column_value_fits(ct, name, v, strlen(v), reason, sizeof(reason)))
        return "";
    return reason;
}

static void postgres_type_names_are_read_exactly(void **state)
{
    (void)state;
    assert_int_equal(pg("boolean").kind, FERRY_COLUMN_BOOLEAN);
    assert_int_equal(pg("smallint").max, 32767);
    assert_int_equal(pg("integer").max, 2147483647);
    assert_int_equal(pg("bigint").kind, FERRY_COLUMN_INTEGER);
    assert_int_equal(pg("numeric(10,2)").precision, 10);
    assert_int_equal(pg("numeric(10,2)").scale, 2);
    assert_int_equal(pg("numeric").precision, 0);
    assert_int_equal(pg("real").kind, FERRY_COLUMN_FLOAT);
    assert_int_equal(pg("double precision").kind, FERRY_COLUMN_FLOAT);
    assert_int_equal(pg("date").kind, FERRY_COLUMN_DATE);
    assert_int_equal(pg("timestamp(6) without time zone").kind, FERRY_COLUMN_TIMESTAMP);
    assert_int_equal(pg("timestamp with time zone").kind, FERRY_COLUMN_TIMESTAMPTZ);
    assert_int_equal(pg("time without time zone").kind, FERRY_COLUMN_TIME);
    assert_int_equal(pg("time with time zone").kind, FERRY_COLUMN_TEXT);
    assert_int_equal(pg("uuid").kind, FERRY_COLUMN_UUID);
    assert_true(pg("jsonb").jsonb);
    assert_int_equal(pg("json").kind, FERRY_COLUMN_JSON);
    assert_false(pg("json").jsonb);
    assert_int_equal(pg("citext").kind, FERRY_COLUMN_CITEXT);
    assert_int_equal(pg("character varying(10)").maxlen, 10);
    assert_int_equal(pg("character(3)").maxlen, 3);
    assert_int_equal(pg("character varying").maxlen, 0);
    assert_int_equal(pg("text").kind, FERRY_COLUMN_TEXT);
    /* Not an integer for containing "int". */
    assert_int_equal(pg("interval").kind, FERRY_COLUMN_TEXT);
    assert_int_equal(pg("point").kind, FERRY_COLUMN_TEXT);
    assert_int_equal(pg("character varying(10)[]").maxlen, 0);
    assert_int_equal(pg("integer[]").kind, FERRY_COLUMN_TEXT);
}

static void sqlite_declared_types_follow_affinity_words(void **state)
{
    (void)state;
    assert_int_equal(lite("INTEGER").kind, FERRY_COLUMN_INTEGER);
    assert_int_equal(lite("bigint unsigned").kind, FERRY_COLUMN_INTEGER);
    assert_int_equal(lite("REAL").kind, FERRY_COLUMN_FLOAT);
    assert_int_equal(lite("NUMERIC").kind, FERRY_COLUMN_NUMERIC);
    assert_int_equal(lite("DECIMAL(10,2)").scale, 2);
    assert_int_equal(lite("BOOLEAN").kind, FERRY_COLUMN_BOOLEAN);
    assert_int_equal(lite("tinyint(1)").kind, FERRY_COLUMN_BOOLEAN);
    assert_int_equal(lite("tinyint").kind, FERRY_COLUMN_INTEGER);
    assert_int_equal(lite("DATE").kind, FERRY_COLUMN_DATE);
    assert_int_equal(lite("DATETIME").kind, FERRY_COLUMN_TIMESTAMP);
    assert_int_equal(lite("VARCHAR(255)").maxlen, 255);
    assert_int_equal(lite("TEXT").kind, FERRY_COLUMN_TEXT);
    assert_int_equal(lite("").kind, FERRY_COLUMN_TEXT);
    assert_false(lite("INTEGER").strict);
    assert_int_equal(lite("SMALLINT").max, 32767);
}

static void numbers_compare_without_redundant_zeros(void **state)
{
    ferry_column_type num = pg("numeric(10,2)"), i = pg("integer");

    (void)state;
    assert_true(equal(&num, "92.00", "92"));
    assert_true(equal(&num, "-0.50", "-.5"));
    assert_true(equal(&num, "0.00", "-0"));
    assert_false(equal(&num, "92.01", "92"));
    assert_true(equal(&i, "030", "30"));
    assert_false(equal(&i, "30", "31"));
}

static void booleans_compare_as_true_or_false(void **state)
{
    ferry_column_type b = pg("boolean"), sb = lite("BOOLEAN");

    (void)state;
    assert_true(equal(&b, "t", "1"));
    assert_true(equal(&b, "f", "0"));
    assert_true(equal(&sb, "0", "false"));
    assert_false(equal(&b, "t", "0"));
    assert_string_equal(ferry_column_value_show(&b, "t", "1"), "true");
    assert_string_equal(ferry_column_value_show(&b, "0", "0"), "false");
}

static void instants_compare_in_utc_whatever_the_offset(void **state)
{
    ferry_column_type tz = pg("timestamp with time zone"), ts = pg("timestamp without time zone");
    ferry_column_type sdt = lite("DATETIME");
    ferry_buf f;

    (void)state;
    assert_true(equal(&tz, "2024-03-01 10:00:00+01", "2024-03-01T09:00:00Z"));
    assert_true(equal(&tz, "2024-03-01 04:30:00-04:30", "2024-03-01T09:00:00Z"));
    assert_true(equal(&ts, "2024-03-01 09:00:00", "2024-03-01T09:00:00Z"));
    assert_true(equal(&ts, "2024-03-01 09:00:00.500000", "2024-03-01T09:00:00.5Z"));
    assert_false(equal(&ts, "2024-03-01 09:00:01", "2024-03-01T09:00:00Z"));
    assert_true(equal(&sdt, "2024-03-01 09:00:00.000000", "2024-03-01T09:00:00Z"));
    ferry_buf_init(&f, 256);
    assert_string_equal(ferry_column_value_norm(&ts, "2024-03-01 09:00:00", &f),
                        "2024-03-01T09:00:00Z");
    ferry_buf_done(&f);
    {
        char plain[64];
        assert_true(ferry_column_datetime_plain("2024-03-01T10:00:00+01:00", plain, sizeof(plain)));
        assert_string_equal(plain, "2024-03-01 09:00:00");
    }
}

static void uuids_compare_without_case_or_hyphens(void **state)
{
    ferry_column_type u = pg("uuid");

    (void)state;
    assert_true(
        equal(&u, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11"));
    assert_true(
        equal(&u, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "{a0eebc999c0b4ef8bb6d6bb9bd380a11}"));
    assert_false(
        equal(&u, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12"));
}

static void json_compares_with_keys_in_any_order(void **state)
{
    ferry_column_type j = pg("jsonb");

    (void)state;
    assert_true(equal(&j, "{\"b\": 2, \"a\": [1, {\"y\": null, \"x\": true}]}",
                      "{\"a\":[1,{\"x\":true,\"y\":null}],\"b\":2}"));
    assert_false(equal(&j, "{\"a\": 1}", "{\"a\": 2}"));
}

static void text_compares_as_written(void **state)
{
    ferry_column_type t = pg("text"), ci = pg("citext");

    (void)state;
    assert_false(ferry_column_type_has_norm(&t));
    assert_false(equal(&t, "Bob", "bob"));
    assert_true(equal(&ci, "Bob", "bob"));
}

static void values_the_column_cannot_hold_name_the_column(void **state)
{
    ferry_column_type v10 = pg("character varying(10)"), s = pg("smallint"), u = pg("uuid");
    ferry_column_type num = pg("numeric(5,2)"), j = pg("jsonb"), b = pg("boolean");
    ferry_column_type lv = lite("VARCHAR(3)");

    (void)state;
    assert_string_equal(misfit(&v10, "code", "ABCDEFGHIJK"),
                        "column 'code' (character varying(10)) cannot hold 'ABCDEFGHIJK': it is "
                        "longer than 10 characters");
    assert_string_equal(misfit(&v10, "code", "ÄÖÜÄÖÜÄÖÜÄ"), "");
    assert_string_equal(misfit(&s, "rank", "40000"),
                        "column 'rank' (smallint) cannot hold '40000': it is out of range (-32768 "
                        "to 32767)");
    assert_string_equal(misfit(&s, "rank", "-32768"), "");
    assert_string_equal(misfit(&s, "rank", "1.5"),
                        "column 'rank' (smallint) cannot hold '1.5': it is not an integer");
    assert_string_equal(misfit(&u, "ref", "not-a-uuid"),
                        "column 'ref' (uuid) cannot hold 'not-a-uuid': it is not a uuid");
    assert_string_equal(misfit(&num, "fee", "1000"),
                        "column 'fee' (numeric(5,2)) cannot hold '1000': it is out of range (at "
                        "most 3 digits before the point)");
    assert_string_equal(misfit(&num, "fee", "1.234"),
                        "column 'fee' (numeric(5,2)) cannot hold '1.234': it has more than 2 "
                        "decimal places");
    assert_string_equal(misfit(&num, "fee", "999.50"), "");
    assert_string_equal(misfit(&j, "meta", "{nope"),
                        "column 'meta' (jsonb) cannot hold '{nope': it is not JSON");
    assert_string_equal(misfit(&b, "active", "maybe"),
                        "column 'active' (boolean) cannot hold 'maybe': it is not a boolean "
                        "(true/false, yes/no or 1/0)");
    assert_string_equal(misfit(&lv, "cc", "ABCD"),
                        "column 'cc' (VARCHAR(3)) cannot hold 'ABCD': it is longer than 3 "
                        "characters");
}

static void fields_whose_values_always_fit_are_not_checked(void **state)
{
    ferry_column_type big = pg("bigint"), b = pg("boolean"), t = pg("text"), s = pg("smallint");

    (void)state;
    assert_false(ferry_column_type_needs_check(&big, FERRY_TYPE_INTEGER));
    assert_false(ferry_column_type_needs_check(&b, FERRY_TYPE_BOOLEAN));
    assert_false(ferry_column_type_needs_check(&t, FERRY_TYPE_TEXT));
    assert_true(ferry_column_type_needs_check(&s, FERRY_TYPE_INTEGER));
    assert_true(ferry_column_type_needs_check(&b, FERRY_TYPE_TEXT));
}

static void typed_diff_shows_values_as_a_person_writes_them(void **state)
{
    ferry_column_type b = pg("boolean"), tz = pg("timestamp with time zone");
    ferry_column_type num = pg("numeric(10,2)"), j = pg("jsonb");
    ferry_target_diff d;
    bool changed;

    (void)state;
    ferry_target_diff_init(&d);
    assert_int_equal(ferry_target_diff_add_typed(&d, "active", &b, "f", "1", NULL), FERRY_OK);
    assert_int_equal(ferry_target_diff_add_typed(&d, "fee", &num, "92.00", "92", NULL), FERRY_OK);
    assert_int_equal(ferry_target_diff_add_typed(&d, "meta", &j, "{\"a\": 1, \"b\": 2}",
                                                 "{\"b\":2,\"a\":1}", NULL),
                     FERRY_OK);
    assert_int_equal(ferry_target_diff_add_typed(&d, "tags", &j, "{\"b\": 2, \"a\": 1}",
                                                 "{\"a\":1,\"b\":3}", NULL),
                     FERRY_OK);
    assert_int_equal(ferry_target_diff_add_typed(&d, "at", &tz, "2024-03-01 09:00:00+00",
                                                 "2024-03-02T09:00:00Z", NULL),
                     FERRY_OK);
    assert_int_equal(ferry_target_diff_finish(&d, &changed, NULL), FERRY_OK);
    assert_true(changed);
    assert_string_equal(ferry_target_diff_text(&d),
                        "active: 'false' -> 'true', tags: '{\"a\":1,\"b\":2}' -> "
                        "'{\"a\":1,\"b\":3}', at: '2024-03-01T09:00:00Z' -> "
                        "'2024-03-02T09:00:00Z'");
    assert_string_equal(ferry_target_diff_json(&d),
                        "{\"active\":[\"false\",\"true\"],"
                        "\"tags\":[\"{\\\"a\\\":1,\\\"b\\\":2}\",\"{\\\"a\\\":1,\\\"b\\\":3}\"],"
                        "\"at\":[\"2024-03-01T09:00:00Z\",\"2024-03-02T09:00:00Z\"]}");
    ferry_target_diff_done(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(postgres_type_names_are_read_exactly),
        cmocka_unit_test(sqlite_declared_types_follow_affinity_words),
        cmocka_unit_test(numbers_compare_without_redundant_zeros),
        cmocka_unit_test(booleans_compare_as_true_or_false),
        cmocka_unit_test(instants_compare_in_utc_whatever_the_offset),
        cmocka_unit_test(uuids_compare_without_case_or_hyphens),
        cmocka_unit_test(json_compares_with_keys_in_any_order),
        cmocka_unit_test(text_compares_as_written),
        cmocka_unit_test(values_the_column_cannot_hold_name_the_column),
        cmocka_unit_test(fields_whose_values_always_fit_are_not_checked),
        cmocka_unit_test(typed_diff_shows_values_as_a_person_writes_them),
    };

    return cmocka_run_group_tests_name("value", tests, NULL, NULL);
}
