/* test_map.c - field typing and validation (src/sync/map.c).
 *
 * The first half checks ferry_map_convert() type by type: what each type accepts, the
 * canonical form it produces (what is stored and compared) and the static reason for what it
 * rejects. The second half runs whole records through ferry_mapper_map() with syncs parsed
 * from YAML: required and trim, skip rules and their exact reasons, the order of skip rules
 * and validation, keys of failed records, source errors and long values in reasons. */
#include "config/config.h"
#include "sync/map.h"
#include "util/buf.h"

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

/* ---- ferry_map_convert ---- */

static char karyawan[] = "Karyawan";
static char freelance[] = "Freelance";
static char *employment_values[] = {karyawan, freelance};

static ferry_field_spec field_of(ferry_field_type type)
{
    ferry_field_spec f;

    memset(&f, 0, sizeof(f));
    f.name = (char *)"v";
    f.column = (char *)"v";
    f.type = type;
    f.trim = true;
    if (type == FERRY_TYPE_ENUM) {
        f.values = employment_values;
        f.nvalues = 2;
    }
    return f;
}

/* text converts as type to exactly want. */
static void expect_canonical(ferry_field_type type, const char *text, const char *want)
{
    ferry_field_spec f = field_of(type);
    ferry_buf out;
    const char *why;

    ferry_buf_init(&out, 4096);
    why = ferry_map_convert(&f, text, strlen(text), &out);
    if (why != NULL)
        fail_msg("%s '%s': rejected (%s), want '%s'", ferry_field_type_name(type), text, why, want);
    if (strcmp(ferry_buf_str(&out), want) != 0)
        fail_msg("%s '%s': got '%s', want '%s'", ferry_field_type_name(type), text,
                 ferry_buf_str(&out), want);
    ferry_buf_done(&out);
}

/* text is rejected as type with exactly the reason why. */
static void expect_rejected(ferry_field_type type, const char *text, const char *want_why)
{
    ferry_field_spec f = field_of(type);
    ferry_buf out;
    const char *why;

    ferry_buf_init(&out, 4096);
    why = ferry_map_convert(&f, text, strlen(text), &out);
    if (why == NULL)
        fail_msg("%s '%s': accepted as '%s', want rejected", ferry_field_type_name(type), text,
                 ferry_buf_str(&out));
    if (strcmp(why, want_why) != 0)
        fail_msg("%s '%s': reason '%s', want '%s'", ferry_field_type_name(type), text, why,
                 want_why);
    ferry_buf_done(&out);
}

#define NOT_INTEGER "is not an integer"
#define INT_RANGE "is out of range for an integer"
#define NOT_DECIMAL "is not a decimal number"
#define NOT_BOOLEAN "is not a boolean (expected true/false, yes/no or 1/0)"
#define NOT_DATE "is not a date (expected YYYY-MM-DD)"
#define NOT_DATETIME "is not a date-time (expected YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM])"
#define NOT_EMAIL "is not an email address"
#define NOT_ENUM "is not one of the allowed values"

static void text_is_kept_verbatim(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_TEXT, "Jakarta Selatan", "Jakarta Selatan");
    expect_canonical(FERRY_TYPE_TEXT, " 007 ", " 007 ");
    expect_canonical(FERRY_TYPE_TEXT, "caf\xC3\xA9", "caf\xC3\xA9");
}

static void integer_sign_is_kept_and_plus_dropped(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_INTEGER, "42", "42");
    expect_canonical(FERRY_TYPE_INTEGER, "-42", "-42");
    expect_canonical(FERRY_TYPE_INTEGER, "+42", "42");
}

static void integer_leading_zeros_are_dropped(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_INTEGER, "007", "7");
    expect_canonical(FERRY_TYPE_INTEGER, "-007", "-7");
    expect_canonical(FERRY_TYPE_INTEGER, "000000000000000000000000000001", "1");
    expect_canonical(FERRY_TYPE_INTEGER, "000", "0");
}

static void integer_negative_zero_is_zero(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_INTEGER, "-0", "0");
    expect_canonical(FERRY_TYPE_INTEGER, "+0", "0");
    expect_canonical(FERRY_TYPE_INTEGER, "-000", "0");
}

static void integer_int64_limits_fit(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_INTEGER, "9223372036854775807", "9223372036854775807");
    expect_canonical(FERRY_TYPE_INTEGER, "-9223372036854775808", "-9223372036854775808");
    expect_canonical(FERRY_TYPE_INTEGER, "+09223372036854775807", "9223372036854775807");
}

static void integer_past_int64_limits_is_out_of_range(void **state)
{
    (void)state;
    expect_rejected(FERRY_TYPE_INTEGER, "9223372036854775808", INT_RANGE);
    expect_rejected(FERRY_TYPE_INTEGER, "-9223372036854775809", INT_RANGE);
    expect_rejected(FERRY_TYPE_INTEGER, "18446744073709551615", INT_RANGE);
    expect_rejected(FERRY_TYPE_INTEGER, "18446744073709551616", INT_RANGE);
    expect_rejected(FERRY_TYPE_INTEGER, "99999999999999999999999999", INT_RANGE);
}

static void integer_junk_is_rejected(void **state)
{
    static const char *const junk[] = {
        "", "-", "+", "12a", "1.0", "1e3", "0x10", " 1", "1 ", "1,000", "--1", "+-1", "\xD9\xA3",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        expect_rejected(FERRY_TYPE_INTEGER, junk[i], NOT_INTEGER);
}

static void decimal_trailing_zeros_are_canonical(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_DECIMAL, "12.50", "12.5");
    expect_canonical(FERRY_TYPE_DECIMAL, "12.5", "12.5");
    expect_canonical(FERRY_TYPE_DECIMAL, "12.000", "12");
    expect_canonical(FERRY_TYPE_DECIMAL, "12.", "12");
    expect_canonical(FERRY_TYPE_DECIMAL, "100", "100");
    expect_canonical(FERRY_TYPE_DECIMAL, "0012.50", "12.5");
    expect_canonical(FERRY_TYPE_DECIMAL, "+3.140", "3.14");
    expect_canonical(FERRY_TYPE_DECIMAL, "-3.140", "-3.14");
}

static void decimal_negative_zero_is_zero(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_DECIMAL, "-0.0", "0");
    expect_canonical(FERRY_TYPE_DECIMAL, "-0", "0");
    expect_canonical(FERRY_TYPE_DECIMAL, "0.000", "0");
    expect_canonical(FERRY_TYPE_DECIMAL, "-.0", "0");
    expect_canonical(FERRY_TYPE_DECIMAL, "000", "0");
}

static void decimal_leading_point_gets_a_zero(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_DECIMAL, ".5", "0.5");
    expect_canonical(FERRY_TYPE_DECIMAL, "-.5", "-0.5");
    expect_canonical(FERRY_TYPE_DECIMAL, "0.05", "0.05");
    expect_canonical(FERRY_TYPE_DECIMAL, "00.050", "0.05");
}

static void decimal_keeps_every_significant_digit(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_DECIMAL, "123456789012345678901234567890.123456789",
                     "123456789012345678901234567890.123456789");
}

static void decimal_junk_is_rejected(void **state)
{
    static const char *const junk[] = {
        "", ".", "-", "-.", "+.", "1.2.3", "1e5", "1,5", "abc", "1.5x", " 1.5", "--1", "0x1",
    };
    char toolong[80];

    (void)state;
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        expect_rejected(FERRY_TYPE_DECIMAL, junk[i], NOT_DECIMAL);
    memset(toolong, '1', sizeof(toolong) - 1);
    toolong[sizeof(toolong) - 1] = '\0';
    expect_rejected(FERRY_TYPE_DECIMAL, toolong, "is too long for a decimal");
}

static void boolean_accepts_every_spelling_in_any_case(void **state)
{
    static const char *const yes[] = {"true", "TRUE", "True", "yes", "YES", "Yes", "y",
                                      "Y",    "t",    "T",    "on",  "ON",  "On",  "1"};
    static const char *const no[] = {"false", "FALSE", "False", "no",  "NO",  "No",  "n",
                                     "N",     "f",     "F",     "off", "OFF", "Off", "0"};

    (void)state;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        expect_canonical(FERRY_TYPE_BOOLEAN, yes[i], "1");
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        expect_canonical(FERRY_TYPE_BOOLEAN, no[i], "0");
}

static void boolean_other_words_are_rejected(void **state)
{
    static const char *const junk[] = {"",   "2",   "-1", "yess", "tru",  "nope",
                                       "of", "onn", "10", "ya",   "true "};

    (void)state;
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
        expect_rejected(FERRY_TYPE_BOOLEAN, junk[i], NOT_BOOLEAN);
}

static void date_leap_day_only_in_leap_years(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_DATE, "2024-02-29", "2024-02-29");
    expect_canonical(FERRY_TYPE_DATE, "2000-02-29", "2000-02-29");
    expect_rejected(FERRY_TYPE_DATE, "2023-02-29", NOT_DATE);
    expect_rejected(FERRY_TYPE_DATE, "1900-02-29", NOT_DATE);
    expect_rejected(FERRY_TYPE_DATE, "2100-02-29", NOT_DATE);
}

static void date_that_does_not_exist_is_rejected(void **state)
{
    static const char *const bad[] = {
        "2021-02-31", "2021-04-31", "2021-13-01", "2021-00-10",
        "2021-01-00", "2021-01-32", "0000-01-01",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_rejected(FERRY_TYPE_DATE, bad[i], NOT_DATE);
    expect_canonical(FERRY_TYPE_DATE, "2021-12-31", "2021-12-31");
    expect_canonical(FERRY_TYPE_DATE, "0001-01-01", "0001-01-01");
}

static void date_with_slashes_is_canonical_with_dashes(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_DATE, "2021/03/01", "2021-03-01");
    expect_rejected(FERRY_TYPE_DATE, "2021/03-01", NOT_DATE);
    expect_rejected(FERRY_TYPE_DATE, "2021-03/01", NOT_DATE);
}

static void date_in_other_shapes_is_rejected(void **state)
{
    static const char *const bad[] = {
        "",         "2021-3-1",         "21-03-01",    "01-03-2021", "2021.03.01",
        "20210301", "2021-03-01T00:00", "2021-03-01 ", "2021-03-0a", "yesterday",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_rejected(FERRY_TYPE_DATE, bad[i], NOT_DATE);
}

static void datetime_in_utc_is_kept(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_DATETIME, "2024-03-10T12:34:56Z", "2024-03-10T12:34:56Z");
    expect_canonical(FERRY_TYPE_DATETIME, "2024-03-10t12:34:56z", "2024-03-10T12:34:56Z");
    expect_canonical(FERRY_TYPE_DATETIME, "2024-03-10 12:34:56Z", "2024-03-10T12:34:56Z");
    expect_canonical(FERRY_TYPE_DATETIME, "2024-03-10T12:34:56+00:00", "2024-03-10T12:34:56Z");
}

static void datetime_without_offset_is_taken_as_utc(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_DATETIME, "2024-03-10T12:34:56", "2024-03-10T12:34:56Z");
    expect_canonical(FERRY_TYPE_DATETIME, "2024-03-10", "2024-03-10T00:00:00Z");
    expect_canonical(FERRY_TYPE_DATETIME, "2024/03/10 08:00", "2024-03-10T08:00:00Z");
}

static void datetime_offset_is_converted_to_utc(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_DATETIME, "2024-03-10T12:34:56+07:00", "2024-03-10T05:34:56Z");
    expect_canonical(FERRY_TYPE_DATETIME, "2024-03-10T12:34:56-05:30", "2024-03-10T18:04:56Z");
    expect_canonical(FERRY_TYPE_DATETIME, "2024-03-10T12:34:56+0530", "2024-03-10T07:04:56Z");
    expect_canonical(FERRY_TYPE_DATETIME, "2024-03-10T12:34:56+05", "2024-03-10T07:34:56Z");
}

static void datetime_offset_rolls_the_day_back_across_a_leap_day(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_DATETIME, "2024-03-01T02:00:00+05:00", "2024-02-29T21:00:00Z");
    expect_canonical(FERRY_TYPE_DATETIME, "2023-03-01T02:00:00+05:00", "2023-02-28T21:00:00Z");
    expect_canonical(FERRY_TYPE_DATETIME, "2024-01-01T00:00:00+00:01", "2023-12-31T23:59:00Z");
}

static void datetime_offset_rolls_the_day_forward_across_a_year(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_DATETIME, "2023-12-31T22:30:00-02:00", "2024-01-01T00:30:00Z");
    expect_canonical(FERRY_TYPE_DATETIME, "2024-02-28T23:00:00-01:00", "2024-02-29T00:00:00Z");
}

static void datetime_without_seconds_gets_zero_seconds(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_DATETIME, "2024-03-10T12:34", "2024-03-10T12:34:00Z");
    expect_canonical(FERRY_TYPE_DATETIME, "2024-03-10T12:34Z", "2024-03-10T12:34:00Z");
    expect_canonical(FERRY_TYPE_DATETIME, "2024-03-10T12:34+01:00", "2024-03-10T11:34:00Z");
}

static void datetime_fraction_is_kept_without_trailing_zeros(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_DATETIME, "2024-03-10T12:34:56.120Z", "2024-03-10T12:34:56.12Z");
    expect_canonical(FERRY_TYPE_DATETIME, "2024-03-10T12:34:56.000Z", "2024-03-10T12:34:56Z");
    expect_canonical(FERRY_TYPE_DATETIME, "2024-03-10T12:34:56.123456789+01:00",
                     "2024-03-10T11:34:56.123456789Z");
}

static void datetime_junk_is_rejected(void **state)
{
    static const char *const bad[] = {
        "",
        "2024-03-10T",
        "2024-03-10T12",
        "2024-03-10T12:3",
        "2024-03-10T24:00",
        "2024-03-10T12:60",
        "2024-03-10T12:34:61",
        "2024-03-10T12:34:56.",
        "2024-03-10T12:34:56.Z",
        "2024-03-10T12:34:56.1234567891Z",
        "2024-03-10T12:34:56+24:00",
        "2024-03-10T12:34:56+05:60",
        "2024-03-10T12:34:56+5",
        "2024-03-10T12:34:56ZZ",
        "2024-03-10T12:34:56 UTC",
        "2024-02-30T00:00:00Z",
        "10/03/2024 12:00",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_rejected(FERRY_TYPE_DATETIME, bad[i], NOT_DATETIME);
}

static void email_valid_addresses_keep_the_local_part(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_EMAIL, "ayu.lestari@example.com", "ayu.lestari@example.com");
    expect_canonical(FERRY_TYPE_EMAIL, "Ayu.Lestari+hr@example.co.id",
                     "Ayu.Lestari+hr@example.co.id");
    expect_canonical(FERRY_TYPE_EMAIL, "o'brien_1@mail-1.example.org",
                     "o'brien_1@mail-1.example.org");
    expect_canonical(FERRY_TYPE_EMAIL, "a@b.co", "a@b.co");
}

static void email_domain_is_lower_cased(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_EMAIL, "Bob@Example.COM", "Bob@example.com");
    expect_canonical(FERRY_TYPE_EMAIL, "BOB@MAIL.EXAMPLE.ORG", "BOB@mail.example.org");
}

static void email_malformed_addresses_are_rejected(void **state)
{
    static const char *const bad[] = {
        "",
        "bob",
        "bob@",
        "@example.com",
        "a@b",
        "a@b.c",
        "a@example.c0m",
        "bob smith@example.com",
        "bob@exa mple.com",
        " bob@example.com",
        "bob..smith@example.com",
        ".bob@example.com",
        "bob.@example.com",
        "bob@example..com",
        "bob@.example.com",
        "bob@example.com.",
        "bob@-example.com",
        "bob@example-.com",
        "bob@@example.com",
        "bob@ex@ample.com",
        "bob@exa_mple.com",
        "<bob>@example.com",
        "bob,x@example.com",
        "bob@127.0.0.1",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_rejected(FERRY_TYPE_EMAIL, bad[i], NOT_EMAIL);
}

static void email_local_part_over_64_bytes_is_rejected(void **state)
{
    char addr[128];

    (void)state;
    memset(addr, 'a', 65);
    snprintf(addr + 65, sizeof(addr) - 65, "@example.com");
    expect_rejected(FERRY_TYPE_EMAIL, addr, NOT_EMAIL);
    snprintf(addr + 64, sizeof(addr) - 64, "@example.com");
    expect_canonical(FERRY_TYPE_EMAIL, addr, addr);
}

static void enum_matches_case_insensitively_and_gives_configured_spelling(void **state)
{
    (void)state;
    expect_canonical(FERRY_TYPE_ENUM, "Karyawan", "Karyawan");
    expect_canonical(FERRY_TYPE_ENUM, "karyawan", "Karyawan");
    expect_canonical(FERRY_TYPE_ENUM, "FREELANCE", "Freelance");
}

static void enum_unknown_value_is_rejected(void **state)
{
    (void)state;
    expect_rejected(FERRY_TYPE_ENUM, "Intern", NOT_ENUM);
    expect_rejected(FERRY_TYPE_ENUM, "Karyawa", NOT_ENUM);
    expect_rejected(FERRY_TYPE_ENUM, "Karyawan ", NOT_ENUM);
    expect_rejected(FERRY_TYPE_ENUM, "", NOT_ENUM);
}

static void convert_replaces_what_out_held(void **state)
{
    ferry_field_spec f = field_of(FERRY_TYPE_INTEGER);
    ferry_buf out;

    (void)state;
    ferry_buf_init(&out, 64);
    ferry_buf_printf(&out, "stale");
    assert_null(ferry_map_convert(&f, "12", 2, &out));
    assert_string_equal(ferry_buf_str(&out), "12");
    /* Only len bytes are read: the rest of the text is not part of the value. */
    assert_null(ferry_map_convert(&f, "345xyz", 3, &out));
    assert_string_equal(ferry_buf_str(&out), "345");
    ferry_buf_done(&out);
}

/* ---- ferry_mapper_map ---- */

/* Fields, in order: id 0, name 1, email 2, employment 3, note 4, age 5. */
#define STAFF_YAML                                                                                 \
    "syncs:\n"                                                                                     \
    "  staff:\n"                                                                                   \
    "    source: { url: staff.csv }\n"                                                             \
    "    target: { table: staff, key: id }\n"                                                      \
    "    fields:\n"                                                                                \
    "      id: {}\n"                                                                               \
    "      name: { required: true }\n"                                                             \
    "      email: { type: email }\n"                                                               \
    "      employment: { type: enum, values: [Karyawan, Freelance] }\n"                            \
    "      note: { trim: false }\n"                                                                \
    "      age: { type: integer }\n"

enum { F_ID, F_NAME, F_EMAIL, F_EMPLOYMENT, F_NOTE, F_AGE, NFIELDS };

typedef struct {
    ferry_config *cfg;
    const ferry_sync_spec *sync;
    ferry_mapper *mapper;
    ferry_mapped_record out;
} fixture;

static void load(fixture *fx, const char *yaml)
{
    ferry_err err;

    memset(fx, 0, sizeof(*fx));
    ferry_err_clear(&err);
    if (ferry_config_parse(yaml, strlen(yaml), "ferry.yaml", NULL, &fx->cfg, &err) != FERRY_OK)
        fail_msg("config: %s", err.msg);
    assert_int_equal(fx->cfg->nsyncs, 1);
    fx->sync = &fx->cfg->syncs[0];
    assert_int_equal(ferry_mapper_new(fx->sync, NULL, &fx->mapper, &err), FERRY_OK);
}

static void unload(fixture *fx)
{
    ferry_mapper_free(fx->mapper);
    ferry_config_free(fx->cfg);
}

/* Maps one record of the given raw values (NULL for none) at row. */
static ferry_map_result map_values(fixture *fx, long row, const char *const *values)
{
    size_t len[16];
    ferry_source_record in;
    ferry_map_result result = FERRY_MAP_OK;
    ferry_err err;

    assert_true(fx->sync->nfields <= 16);
    for (size_t i = 0; i < fx->sync->nfields; i++)
        len[i] = values[i] != NULL ? strlen(values[i]) : 0;
    memset(&in, 0, sizeof(in));
    in.nvalues = fx->sync->nfields;
    in.value = values;
    in.len = len;
    in.row = row;
    ferry_err_clear(&err);
    assert_int_equal(ferry_mapper_map(fx->mapper, &in, &result, &fx->out, &err), FERRY_OK);
    assert_int_equal(fx->out.row, row);
    assert_int_equal(fx->out.nvalues, fx->sync->nfields);
    return result;
}

static void mapped_values_are_canonical_and_empty_optional_is_null(void **state)
{
    const char *row[NFIELDS] = {"E001", "Ayu", "Ayu@Example.COM", "karyawan", "n", " 007 "};
    fixture fx;

    (void)state;
    load(&fx, STAFF_YAML);
    assert_int_equal(map_values(&fx, 2, row), FERRY_MAP_OK);
    assert_null(fx.out.reason);
    assert_string_equal(fx.out.key, "E001");
    assert_string_equal(fx.out.value[F_EMAIL], "Ayu@example.com");
    assert_string_equal(fx.out.value[F_EMPLOYMENT], "Karyawan");
    assert_string_equal(fx.out.value[F_AGE], "7");
    assert_int_equal(fx.out.len[F_AGE], 1);
    assert_int_equal(fx.out.len[F_EMAIL], strlen("Ayu@example.com"));

    const char *sparse[NFIELDS] = {"E002", "Budi", "", NULL, NULL, "  "};
    assert_int_equal(map_values(&fx, 3, sparse), FERRY_MAP_OK);
    assert_null(fx.out.value[F_EMAIL]);
    assert_null(fx.out.value[F_EMPLOYMENT]);
    assert_null(fx.out.value[F_NOTE]);
    assert_null(fx.out.value[F_AGE]);
    assert_int_equal(fx.out.len[F_EMAIL], 0);
    unload(&fx);
}

static void required_but_empty_reason_names_row_and_field(void **state)
{
    const char *row[NFIELDS] = {"E001", "", "a@example.com", NULL, NULL, NULL};
    fixture fx;

    (void)state;
    load(&fx, STAFF_YAML);
    assert_int_equal(map_values(&fx, 4, row), FERRY_MAP_FAILED);
    assert_string_equal(fx.out.reason, "row 4: name is required but empty");
    unload(&fx);
}

static void required_field_of_only_spaces_is_empty_when_trimmed(void **state)
{
    const char *row[NFIELDS] = {"E001", " \t ", NULL, NULL, NULL, NULL};
    fixture fx;

    (void)state;
    load(&fx, STAFF_YAML);
    assert_int_equal(map_values(&fx, 12, row), FERRY_MAP_FAILED);
    assert_string_equal(fx.out.reason, "row 12: name is required but empty");
    unload(&fx);
}

static void key_fields_are_required(void **state)
{
    const char *row[NFIELDS] = {"", "Ayu", NULL, NULL, NULL, NULL};
    fixture fx;

    (void)state;
    load(&fx, STAFF_YAML);
    assert_int_equal(map_values(&fx, 6, row), FERRY_MAP_FAILED);
    assert_string_equal(fx.out.reason, "row 6: id is required but empty");
    assert_null(fx.out.key);
    unload(&fx);
}

static void trim_on_strips_spaces_before_typing(void **state)
{
    const char *row[NFIELDS] = {
        "  E001\t", "  Ayu Lestari  ", " a@example.com ", " Freelance ", NULL, "\t42 "};
    fixture fx;

    (void)state;
    load(&fx, STAFF_YAML);
    assert_int_equal(map_values(&fx, 2, row), FERRY_MAP_OK);
    assert_string_equal(fx.out.key, "E001");
    assert_string_equal(fx.out.value[F_NAME], "Ayu Lestari");
    assert_string_equal(fx.out.value[F_EMAIL], "a@example.com");
    assert_string_equal(fx.out.value[F_EMPLOYMENT], "Freelance");
    assert_string_equal(fx.out.value[F_AGE], "42");
    unload(&fx);
}

static void trim_off_keeps_surrounding_spaces(void **state)
{
    const char *row[NFIELDS] = {"E001", "Ayu", NULL, NULL, "  two  spaces  ", NULL};
    fixture fx;

    (void)state;
    load(&fx, STAFF_YAML);
    assert_int_equal(map_values(&fx, 2, row), FERRY_MAP_OK);
    assert_string_equal(fx.out.value[F_NOTE], "  two  spaces  ");
    /* Without trim, spaces are a value, not an empty field. */
    const char *spaces[NFIELDS] = {"E001", "Ayu", NULL, NULL, "   ", NULL};
    assert_int_equal(map_values(&fx, 3, spaces), FERRY_MAP_OK);
    assert_string_equal(fx.out.value[F_NOTE], "   ");
    unload(&fx);
}

static void trim_off_on_a_typed_field_rejects_padded_values(void **state)
{
    const char *row[NFIELDS] = {"E001", "Ayu", NULL, NULL, NULL, " 42"};
    fixture fx;

    (void)state;
    load(&fx, "syncs:\n"
              "  staff:\n"
              "    source: { url: staff.csv }\n"
              "    target: { table: staff, key: id }\n"
              "    fields:\n"
              "      id: {}\n"
              "      name: {}\n"
              "      email: {}\n"
              "      employment: {}\n"
              "      note: {}\n"
              "      age: { type: integer, trim: false }\n");
    assert_int_equal(map_values(&fx, 8, row), FERRY_MAP_FAILED);
    assert_string_equal(fx.out.reason, "row 8: age ' 42' is not an integer");
    unload(&fx);
}

static void invalid_value_reason_quotes_the_value(void **state)
{
    const char *row[NFIELDS] = {"E001", "Ayu", "bob@", NULL, NULL, NULL};
    fixture fx;

    (void)state;
    load(&fx, STAFF_YAML);
    assert_int_equal(map_values(&fx, 17, row), FERRY_MAP_FAILED);
    assert_string_equal(fx.out.reason, "row 17: email 'bob@' is not an email address");
    unload(&fx);
}

static void enum_reason_lists_the_allowed_values(void **state)
{
    const char *row[NFIELDS] = {"E001", "Ayu", NULL, "Intern", NULL, NULL};
    fixture fx;

    (void)state;
    load(&fx, STAFF_YAML);
    assert_int_equal(map_values(&fx, 5, row), FERRY_MAP_FAILED);
    assert_string_equal(fx.out.reason, "row 5: employment 'Intern' is not one of the allowed "
                                       "values [Karyawan, Freelance]");
    unload(&fx);
}

static void first_invalid_field_in_field_order_is_the_reason(void **state)
{
    const char *row[NFIELDS] = {"E001", "", "bob@", "Intern", NULL, "x"};
    fixture fx;

    (void)state;
    load(&fx, STAFF_YAML);
    assert_int_equal(map_values(&fx, 3, row), FERRY_MAP_FAILED);
    assert_string_equal(fx.out.reason, "row 3: name is required but empty");
    unload(&fx);
}

#define SKIP_NOT_IN_YAML STAFF_YAML "    skip: { employment: { not_in: [Karyawan] } }\n"

static void skip_not_in_reason_names_field_value_and_list(void **state)
{
    const char *row[NFIELDS] = {"E009", "Dian", "dian@example.com", "Freelance", NULL, NULL};
    fixture fx;

    (void)state;
    load(&fx, SKIP_NOT_IN_YAML);
    assert_int_equal(map_values(&fx, 9, row), FERRY_MAP_SKIPPED);
    assert_string_equal(fx.out.reason, "row 9: employment 'Freelance' not in [Karyawan]");
    unload(&fx);
}

static void skip_not_in_lets_listed_values_through_in_any_case(void **state)
{
    const char *row[NFIELDS] = {"E001", "Ayu", NULL, "KARYAWAN", NULL, NULL};
    fixture fx;

    (void)state;
    load(&fx, SKIP_NOT_IN_YAML);
    assert_int_equal(map_values(&fx, 2, row), FERRY_MAP_OK);
    assert_string_equal(fx.out.value[F_EMPLOYMENT], "Karyawan");
    unload(&fx);
}

static void skip_not_in_skips_an_empty_value(void **state)
{
    const char *row[NFIELDS] = {"E001", "Ayu", NULL, "", NULL, NULL};
    fixture fx;

    (void)state;
    load(&fx, SKIP_NOT_IN_YAML);
    assert_int_equal(map_values(&fx, 4, row), FERRY_MAP_SKIPPED);
    assert_string_equal(fx.out.reason, "row 4: employment (empty) not in [Karyawan]");
    unload(&fx);
}

static void skip_in_matches_case_insensitively(void **state)
{
    const char *row[NFIELDS] = {"T1", "test user", NULL, NULL, "demo", NULL};
    fixture fx;

    (void)state;
    load(&fx, STAFF_YAML "    skip: { note: { in: [Test, Demo] } }\n");
    assert_int_equal(map_values(&fx, 3, row), FERRY_MAP_SKIPPED);
    assert_string_equal(fx.out.reason, "row 3: note 'demo' in [Test, Demo]");
    const char *kept[NFIELDS] = {"T2", "real user", NULL, NULL, "demos", NULL};
    assert_int_equal(map_values(&fx, 4, kept), FERRY_MAP_OK);
    unload(&fx);
}

static void skip_empty_reason_names_the_field(void **state)
{
    const char *row[NFIELDS] = {"E001", "Ayu", " ", NULL, NULL, NULL};
    fixture fx;

    (void)state;
    load(&fx, STAFF_YAML "    skip: { email: { empty: true } }\n");
    assert_int_equal(map_values(&fx, 5, row), FERRY_MAP_SKIPPED);
    assert_string_equal(fx.out.reason, "row 5: email is empty");
    const char *filled[NFIELDS] = {"E002", "Budi", "b@example.com", NULL, NULL, NULL};
    assert_int_equal(map_values(&fx, 6, filled), FERRY_MAP_OK);
    unload(&fx);
}

static void skip_empty_on_a_required_field_skips_rather_than_fails(void **state)
{
    const char *row[NFIELDS] = {"E001", "Ayu", "", NULL, NULL, NULL};
    fixture fx;

    (void)state;
    /* docs/config.md's own pairing: a required email, and `email: { empty: true }`. */
    load(&fx, "syncs:\n"
              "  staff:\n"
              "    source: { url: staff.csv }\n"
              "    target: { table: staff, key: id }\n"
              "    fields:\n"
              "      id: {}\n"
              "      name: {}\n"
              "      email: { type: email, required: true }\n"
              "      employment: {}\n"
              "      note: {}\n"
              "      age: {}\n"
              "    skip: { email: { empty: true } }\n");
    assert_int_equal(map_values(&fx, 7, row), FERRY_MAP_SKIPPED);
    assert_string_equal(fx.out.reason, "row 7: email is empty");
    assert_string_equal(fx.out.key, "E001");
    unload(&fx);
}

static void required_skip_field_left_empty_still_fails_when_no_rule_matches(void **state)
{
    const char *row[NFIELDS] = {"E001", "Ayu", NULL, "", NULL, NULL};
    fixture fx;

    (void)state;
    load(&fx, "syncs:\n"
              "  staff:\n"
              "    source: { url: staff.csv }\n"
              "    target: { table: staff, key: id }\n"
              "    fields:\n"
              "      id: {}\n"
              "      name: {}\n"
              "      email: {}\n"
              "      employment: { required: true }\n"
              "      note: {}\n"
              "      age: {}\n"
              "    skip: { employment: { in: [Test] } }\n");
    assert_int_equal(map_values(&fx, 3, row), FERRY_MAP_FAILED);
    assert_string_equal(fx.out.reason, "row 3: employment is required but empty");
    unload(&fx);
}

static void skip_is_evaluated_before_other_validation(void **state)
{
    /* The name is missing and the email and age are invalid, but the record is skipped. */
    const char *row[NFIELDS] = {"E009", "", "not-an-email", "Freelance", NULL, "abc"};
    fixture fx;

    (void)state;
    load(&fx, SKIP_NOT_IN_YAML);
    assert_int_equal(map_values(&fx, 9, row), FERRY_MAP_SKIPPED);
    assert_string_equal(fx.out.reason, "row 9: employment 'Freelance' not in [Karyawan]");
    unload(&fx);
}

static void invalid_value_in_a_skip_field_fails_the_record(void **state)
{
    const char *row[NFIELDS] = {"E010", "Eko", NULL, "Intern", NULL, NULL};
    fixture fx;

    (void)state;
    load(&fx, SKIP_NOT_IN_YAML);
    assert_int_equal(map_values(&fx, 10, row), FERRY_MAP_FAILED);
    assert_string_equal(fx.out.reason, "row 10: employment 'Intern' is not one of the allowed "
                                       "values [Karyawan, Freelance]");
    unload(&fx);
}

static void first_matching_skip_rule_is_the_reason(void **state)
{
    const char *row[NFIELDS] = {"E001", "Ayu", "", "Freelance", NULL, NULL};
    fixture fx;

    (void)state;
    load(&fx, STAFF_YAML "    skip:\n"
                         "      email: { empty: true }\n"
                         "      employment: { not_in: [Karyawan] }\n");
    assert_int_equal(map_values(&fx, 2, row), FERRY_MAP_SKIPPED);
    assert_string_equal(fx.out.reason, "row 2: email is empty");
    unload(&fx);
}

static void skipped_record_reports_its_key(void **state)
{
    const char *row[NFIELDS] = {" E009 ", "Dian", NULL, "Freelance", NULL, NULL};
    fixture fx;

    (void)state;
    load(&fx, SKIP_NOT_IN_YAML);
    assert_int_equal(map_values(&fx, 9, row), FERRY_MAP_SKIPPED);
    assert_string_equal(fx.out.key, "E009");
    unload(&fx);
}

static void a_labelled_rule_names_its_label_in_the_reason_and_the_record(void **state)
{
    const char *freelancer[NFIELDS] = {"E009", "Dian", NULL, "Freelance", NULL, NULL};
    const char *no_email[NFIELDS] = {"E010", "Eka", NULL, "Karyawan", NULL, NULL};
    const char *ok[NFIELDS] = {"E011", "Fika", "f@example.com", "Karyawan", NULL, NULL};
    fixture fx;

    (void)state;
    load(&fx, STAFF_YAML "    skip:\n"
                         "      employment: { not_in: [Karyawan], label: FLAT }\n"
                         "      email: { empty: true }\n");
    assert_int_equal(map_values(&fx, 9, freelancer), FERRY_MAP_SKIPPED);
    assert_string_equal(fx.out.reason, "row 9: employment 'Freelance' not in [Karyawan] (FLAT)");
    /* The config's own string, so the run can count it without copying it. */
    assert_ptr_equal(fx.out.skip_label, fx.sync->skip_labels[0]);
    assert_int_equal(map_values(&fx, 10, no_email), FERRY_MAP_SKIPPED);
    assert_string_equal(fx.out.reason, "row 10: email is empty");
    assert_null(fx.out.skip_label);
    assert_int_equal(map_values(&fx, 11, ok), FERRY_MAP_OK);
    assert_null(fx.out.skip_label);
    unload(&fx);
}

static void a_failed_or_skipped_record_still_has_its_names_fields(void **state)
{
    /* email fails before name and age are read; employment skips before any is. */
    const char *bad_email[NFIELDS] = {"E001", "Ayu", "ayu@", "Karyawan", NULL, "30"};
    const char *skipped[NFIELDS] = {"E002", "Budi", "b@example.com", "Freelance", "n", "x"};
    fixture fx;

    (void)state;
    load(&fx, "syncs:\n"
              "  staff:\n"
              "    source: { url: staff.csv }\n"
              "    target: { table: staff, key: id }\n"
              "    label: \"{name} ({email}, {age})\"\n"
              "    fields:\n"
              "      id: {}\n"
              "      email: { type: email }\n"
              "      employment: { type: enum, values: [Karyawan, Freelance] }\n"
              "      note: {}\n"
              "      age: { type: integer }\n"
              "      name: { required: true }\n"
              "    skip: { employment: { not_in: [Karyawan] } }\n");
    const char *r1[NFIELDS] = {bad_email[F_ID],   bad_email[F_EMAIL], bad_email[F_EMPLOYMENT],
                               bad_email[F_NOTE], bad_email[F_AGE],   bad_email[F_NAME]};
    assert_int_equal(map_values(&fx, 2, r1), FERRY_MAP_FAILED);
    assert_string_equal(fx.out.reason, "row 2: email 'ayu@' is not an email address");
    assert_string_equal(fx.out.value[5], "Ayu");
    assert_string_equal(fx.out.value[4], "30");
    assert_null(fx.out.value[1]); /* the failing value stays unread */
    const char *r2[NFIELDS] = {skipped[F_ID],   skipped[F_EMAIL], skipped[F_EMPLOYMENT],
                               skipped[F_NOTE], skipped[F_AGE],   skipped[F_NAME]};
    assert_int_equal(map_values(&fx, 3, r2), FERRY_MAP_SKIPPED);
    assert_string_equal(fx.out.reason, "row 3: employment 'Freelance' not in [Karyawan]");
    assert_string_equal(fx.out.value[5], "Budi");
    assert_string_equal(fx.out.value[1], "b@example.com");
    assert_null(fx.out.value[4]); /* 'x' is no integer: empty in the name */
    assert_null(fx.out.value[3]); /* not in the name: not read */
    unload(&fx);
}

static void failed_record_still_reports_its_key(void **state)
{
    const char *row[NFIELDS] = {"E001", "Ayu", "bob@", NULL, NULL, NULL};
    fixture fx;

    (void)state;
    load(&fx, STAFF_YAML);
    assert_int_equal(map_values(&fx, 2, row), FERRY_MAP_FAILED);
    assert_string_equal(fx.out.key, "E001");
    assert_string_equal(fx.out.value[F_ID], "E001");
    /* Getting the key does not change the reason. */
    assert_string_equal(fx.out.reason, "row 2: email 'bob@' is not an email address");
    unload(&fx);
}

static void failed_record_with_an_invalid_key_has_no_key(void **state)
{
    const char *row[NFIELDS] = {"x", "Ayu", NULL, NULL, NULL, NULL};
    fixture fx;

    (void)state;
    load(&fx, "syncs:\n"
              "  staff:\n"
              "    source: { url: staff.csv }\n"
              "    target: { table: staff, key: id }\n"
              "    fields:\n"
              "      id: { type: integer }\n"
              "      name: {}\n"
              "      email: {}\n"
              "      employment: {}\n"
              "      note: {}\n"
              "      age: {}\n");
    assert_int_equal(map_values(&fx, 3, row), FERRY_MAP_FAILED);
    assert_string_equal(fx.out.reason, "row 3: id 'x' is not an integer");
    assert_null(fx.out.key);
    unload(&fx);
}

static void composite_key_names_each_field(void **state)
{
    const char *row[NFIELDS] = {"E001", "Ayu", NULL, "freelance", NULL, "0042"};
    fixture fx;

    (void)state;
    load(&fx, "syncs:\n"
              "  staff:\n"
              "    source: { url: staff.csv }\n"
              "    target: { table: staff, key: [employment, age] }\n"
              "    fields:\n"
              "      id: {}\n"
              "      name: {}\n"
              "      email: {}\n"
              "      employment: { type: enum, values: [Karyawan, Freelance] }\n"
              "      note: {}\n"
              "      age: { type: integer }\n");
    assert_int_equal(map_values(&fx, 2, row), FERRY_MAP_OK);
    assert_string_equal(fx.out.key, "employment=Freelance, age=42");
    unload(&fx);
}

static void source_record_error_passes_through_with_the_row(void **state)
{
    ferry_source_record in;
    ferry_map_result result;
    ferry_err err;
    fixture fx;

    (void)state;
    load(&fx, STAFF_YAML);
    memset(&in, 0, sizeof(in));
    in.nvalues = NFIELDS;
    in.row = 7;
    in.error = "has 3 fields but the header has 6 (line 8)";
    ferry_err_clear(&err);
    assert_int_equal(ferry_mapper_map(fx.mapper, &in, &result, &fx.out, &err), FERRY_OK);
    assert_int_equal(result, FERRY_MAP_FAILED);
    assert_string_equal(fx.out.reason, "row 7: has 3 fields but the header has 6 (line 8)");
    assert_null(fx.out.key);
    for (size_t i = 0; i < NFIELDS; i++)
        assert_null(fx.out.value[i]);
    unload(&fx);
}

static void long_value_is_cut_at_60_bytes_in_the_reason(void **state)
{
    char longval[201];
    const char *row[NFIELDS] = {"E001", "Ayu", longval, NULL, NULL, NULL};
    char want[256];
    fixture fx;

    (void)state;
    memset(longval, 'x', 200);
    longval[200] = '\0';
    snprintf(want, sizeof(want), "row 2: email '%.60s...' is not an email address", longval);
    load(&fx, STAFF_YAML);
    assert_int_equal(map_values(&fx, 2, row), FERRY_MAP_FAILED);
    assert_string_equal(fx.out.reason, want);
    unload(&fx);
}

static void long_value_is_cut_on_a_utf8_character_boundary(void **state)
{
    /* 59 ASCII bytes, then 'é' (2 bytes) straddling byte 60, then more. */
    char longval[128];
    const char *row[NFIELDS] = {"E001", "Ayu", NULL, NULL, NULL, longval};
    char want[256];
    fixture fx;

    (void)state;
    memset(longval, 'a', 59);
    snprintf(longval + 59, sizeof(longval) - 59, "\xC3\xA9zzzzzzzzzz");
    snprintf(want, sizeof(want), "row 2: age '%.59s...' is not an integer", longval);
    load(&fx, STAFF_YAML);
    assert_int_equal(map_values(&fx, 2, row), FERRY_MAP_FAILED);
    assert_string_equal(fx.out.reason, want);
    unload(&fx);
}

static void value_of_exactly_60_bytes_is_shown_whole(void **state)
{
    char val[61];
    const char *row[NFIELDS] = {"E001", "Ayu", NULL, NULL, NULL, val};
    char want[256];
    fixture fx;

    (void)state;
    memset(val, 'q', 60);
    val[60] = '\0';
    snprintf(want, sizeof(want), "row 2: age '%s' is not an integer", val);
    load(&fx, STAFF_YAML);
    assert_int_equal(map_values(&fx, 2, row), FERRY_MAP_FAILED);
    assert_string_equal(fx.out.reason, want);
    unload(&fx);
}

static void values_do_not_leak_from_one_record_to_the_next(void **state)
{
    const char *first[NFIELDS] = {"E001", "Ayu", "a@example.com", "Karyawan", "n1", "1"};
    const char *second[NFIELDS] = {"E002", "Budi", NULL, NULL, NULL, NULL};
    fixture fx;

    (void)state;
    load(&fx, STAFF_YAML);
    assert_int_equal(map_values(&fx, 2, first), FERRY_MAP_OK);
    assert_int_equal(map_values(&fx, 3, second), FERRY_MAP_OK);
    assert_string_equal(fx.out.key, "E002");
    assert_string_equal(fx.out.value[F_NAME], "Budi");
    for (size_t i = F_EMAIL; i < NFIELDS; i++)
        assert_null(fx.out.value[i]);
    assert_null(fx.out.reason);
    unload(&fx);
}

static void many_large_values_survive_arena_growth(void **state)
{
    static char big[NFIELDS][5000];
    const char *row[NFIELDS];
    fixture fx;

    (void)state;
    load(&fx, "syncs:\n"
              "  staff:\n"
              "    source: { url: staff.csv }\n"
              "    target: { table: staff, key: id }\n"
              "    fields: { id: {}, name: {}, email: {}, employment: {}, note: {}, age: {} }\n");
    for (size_t i = 0; i < NFIELDS; i++) {
        memset(big[i], (int)('a' + i), sizeof(big[i]) - 1);
        big[i][sizeof(big[i]) - 1] = '\0';
        row[i] = big[i];
    }
    assert_int_equal(map_values(&fx, 2, row), FERRY_MAP_OK);
    for (size_t i = 0; i < NFIELDS; i++) {
        assert_int_equal(fx.out.len[i], sizeof(big[i]) - 1);
        assert_string_equal(fx.out.value[i], big[i]);
    }
    unload(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_is_kept_verbatim),
        cmocka_unit_test(integer_sign_is_kept_and_plus_dropped),
        cmocka_unit_test(integer_leading_zeros_are_dropped),
        cmocka_unit_test(integer_negative_zero_is_zero),
        cmocka_unit_test(integer_int64_limits_fit),
        cmocka_unit_test(integer_past_int64_limits_is_out_of_range),
        cmocka_unit_test(integer_junk_is_rejected),
        cmocka_unit_test(decimal_trailing_zeros_are_canonical),
        cmocka_unit_test(decimal_negative_zero_is_zero),
        cmocka_unit_test(decimal_leading_point_gets_a_zero),
        cmocka_unit_test(decimal_keeps_every_significant_digit),
        cmocka_unit_test(decimal_junk_is_rejected),
        cmocka_unit_test(boolean_accepts_every_spelling_in_any_case),
        cmocka_unit_test(boolean_other_words_are_rejected),
        cmocka_unit_test(date_leap_day_only_in_leap_years),
        cmocka_unit_test(date_that_does_not_exist_is_rejected),
        cmocka_unit_test(date_with_slashes_is_canonical_with_dashes),
        cmocka_unit_test(date_in_other_shapes_is_rejected),
        cmocka_unit_test(datetime_in_utc_is_kept),
        cmocka_unit_test(datetime_without_offset_is_taken_as_utc),
        cmocka_unit_test(datetime_offset_is_converted_to_utc),
        cmocka_unit_test(datetime_offset_rolls_the_day_back_across_a_leap_day),
        cmocka_unit_test(datetime_offset_rolls_the_day_forward_across_a_year),
        cmocka_unit_test(datetime_without_seconds_gets_zero_seconds),
        cmocka_unit_test(datetime_fraction_is_kept_without_trailing_zeros),
        cmocka_unit_test(datetime_junk_is_rejected),
        cmocka_unit_test(email_valid_addresses_keep_the_local_part),
        cmocka_unit_test(email_domain_is_lower_cased),
        cmocka_unit_test(email_malformed_addresses_are_rejected),
        cmocka_unit_test(email_local_part_over_64_bytes_is_rejected),
        cmocka_unit_test(enum_matches_case_insensitively_and_gives_configured_spelling),
        cmocka_unit_test(enum_unknown_value_is_rejected),
        cmocka_unit_test(convert_replaces_what_out_held),
        cmocka_unit_test(mapped_values_are_canonical_and_empty_optional_is_null),
        cmocka_unit_test(required_but_empty_reason_names_row_and_field),
        cmocka_unit_test(required_field_of_only_spaces_is_empty_when_trimmed),
        cmocka_unit_test(key_fields_are_required),
        cmocka_unit_test(trim_on_strips_spaces_before_typing),
        cmocka_unit_test(trim_off_keeps_surrounding_spaces),
        cmocka_unit_test(trim_off_on_a_typed_field_rejects_padded_values),
        cmocka_unit_test(invalid_value_reason_quotes_the_value),
        cmocka_unit_test(enum_reason_lists_the_allowed_values),
        cmocka_unit_test(first_invalid_field_in_field_order_is_the_reason),
        cmocka_unit_test(skip_not_in_reason_names_field_value_and_list),
        cmocka_unit_test(a_labelled_rule_names_its_label_in_the_reason_and_the_record),
        cmocka_unit_test(a_failed_or_skipped_record_still_has_its_names_fields),
        cmocka_unit_test(skip_not_in_lets_listed_values_through_in_any_case),
        cmocka_unit_test(skip_not_in_skips_an_empty_value),
        cmocka_unit_test(skip_in_matches_case_insensitively),
        cmocka_unit_test(skip_empty_reason_names_the_field),
        cmocka_unit_test(skip_empty_on_a_required_field_skips_rather_than_fails),
        cmocka_unit_test(required_skip_field_left_empty_still_fails_when_no_rule_matches),
        cmocka_unit_test(skip_is_evaluated_before_other_validation),
        cmocka_unit_test(invalid_value_in_a_skip_field_fails_the_record),
        cmocka_unit_test(first_matching_skip_rule_is_the_reason),
        cmocka_unit_test(skipped_record_reports_its_key),
        cmocka_unit_test(failed_record_still_reports_its_key),
        cmocka_unit_test(failed_record_with_an_invalid_key_has_no_key),
        cmocka_unit_test(composite_key_names_each_field),
        cmocka_unit_test(source_record_error_passes_through_with_the_row),
        cmocka_unit_test(long_value_is_cut_at_60_bytes_in_the_reason),
        cmocka_unit_test(long_value_is_cut_on_a_utf8_character_boundary),
        cmocka_unit_test(value_of_exactly_60_bytes_is_shown_whole),
        cmocka_unit_test(values_do_not_leak_from_one_record_to_the_next),
        cmocka_unit_test(many_large_values_survive_arena_growth),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
