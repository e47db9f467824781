/* test_csv_reader.c - the streaming CSV reader: RFC 4180 cases, the csv-spectrum suite, limits
 * and per-record errors. Every case is also read one byte per read call, so buffer boundaries
 * fall everywhere. */
#include <dirent.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "source/csv_reader.h"
#include "testutil.h"

typedef struct {
    const char *data;
    size_t len, pos;
    size_t chunk; /* bytes per read call */
} mem_input;

static ferry_rc mem_read(void *ctx, char *buf, size_t cap, size_t *ret_n, ferry_err *err)
{
    mem_input *in = ctx;
    size_t n = in->len - in->pos;

    (void)err;
    if (n > cap)
        n = cap;
    if (n > in->chunk)
        n = in->chunk;
    memcpy(buf, in->data + in->pos, n);
    in->pos += n;
    *ret_n = n;
    return FERRY_OK;
}

/* Parses data into a JSON array of arrays (rows of strings); errors become {"error": msg,
 * "row": R, "line": L}. */
static json_t *parse_all(const char *data, size_t len, size_t chunk, const ferry_csv_limits *limits)
{
    mem_input in = {data, len, 0, chunk};
    ferry_csv_reader *r = NULL;
    ferry_csv_record rec;
    ferry_err err;
    json_t *out = json_array();
    ferry_rc rc;

    ferry_err_clear(&err);
    assert_int_equal(ferry_csv_reader_new(limits, mem_read, &in, &r, &err), FERRY_OK);
    while ((rc = ferry_csv_reader_next(r, &rec, &err)) == FERRY_OK) {
        if (rec.error != NULL) {
            json_array_append_new(out, json_pack("{s:s, s:i, s:i, s:i}", "error", rec.error, "row",
                                                 (int)rec.row, "line", (int)rec.line, "field",
                                                 (int)rec.error_field));
            continue;
        }
        json_t *row = json_array();
        for (size_t i = 0; i < rec.nfields; i++)
            json_array_append_new(row, json_stringn(rec.field[i], rec.len[i]));
        json_array_append_new(out, row);
    }
    assert_int_equal(rc, FERRY_DONE);
    assert_int_equal(ferry_csv_reader_bytes_consumed(r), len);
    ferry_csv_reader_free(r);
    return out;
}

/* Checks data parses to the JSON text expect, in one read and one byte at a time. */
static void expect_rows(const char *data, const char *expect)
{
    json_error_t jerr;
    json_t *want = json_loads(expect, 0, &jerr);
    size_t chunks[] = {1, 2, 3, 7, 1 << 20};

    assert_non_null(want);
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        json_t *got = parse_all(data, strlen(data), chunks[i], NULL);
        if (!json_equal(got, want)) {
            char *g = json_dumps(got, JSON_COMPACT);
            fprintf(stderr, "chunk %zu: got %s\nwant %s\n", chunks[i], g, expect);
            free(g);
            fail();
        }
        json_decref(got);
    }
    json_decref(want);
}

static void simple_rows_parse(void **state)
{
    (void)state;
    expect_rows("a,b,c\n1,2,3\n", "[[\"a\",\"b\",\"c\"],[\"1\",\"2\",\"3\"]]");
}

static void quoted_comma_stays_in_field(void **state)
{
    (void)state;
    expect_rows("a,b\n\"x,y\",z\n", "[[\"a\",\"b\"],[\"x,y\",\"z\"]]");
}

static void doubled_quote_is_one_quote(void **state)
{
    (void)state;
    expect_rows("a\n\"say \"\"hi\"\"\"\n", "[[\"a\"],[\"say \\\"hi\\\"\"]]");
}

static void quoted_newline_stays_in_field(void **state)
{
    (void)state;
    expect_rows("a,b\n\"1\n2\",3\n", "[[\"a\",\"b\"],[\"1\\n2\",\"3\"]]");
}

static void quoted_crlf_is_kept_verbatim(void **state)
{
    (void)state;
    expect_rows("a,b\r\n\"1\r\n2\",3\r\n", "[[\"a\",\"b\"],[\"1\\r\\n2\",\"3\"]]");
}

static void crlf_lf_and_cr_all_end_records(void **state)
{
    (void)state;
    expect_rows("a\r\n1\n2\r3", "[[\"a\"],[\"1\"],[\"2\"],[\"3\"]]");
}

static void bom_is_dropped(void **state)
{
    (void)state;
    expect_rows("\xEF\xBB\xBFid,name\n1,x\n", "[[\"id\",\"name\"],[\"1\",\"x\"]]");
}

static void blank_lines_are_not_records(void **state)
{
    (void)state;
    expect_rows("a,b\n1,2\n\n3,4\n\n\r\n\n", "[[\"a\",\"b\"],[\"1\",\"2\"],[\"3\",\"4\"]]");
}

static void empty_quoted_field_is_a_record(void **state)
{
    (void)state;
    expect_rows("a\n\"\"\n", "[[\"a\"],[\"\"]]");
}

static void empty_fields_and_trailing_delimiter(void **state)
{
    (void)state;
    expect_rows("a,b,c\n,,\n1,,\n", "[[\"a\",\"b\",\"c\"],[\"\",\"\",\"\"],[\"1\",\"\",\"\"]]");
}

static void no_final_newline(void **state)
{
    (void)state;
    expect_rows("a,b\n1,2", "[[\"a\",\"b\"],[\"1\",\"2\"]]");
}

static void empty_input_has_no_records(void **state)
{
    (void)state;
    expect_rows("", "[]");
    expect_rows("\n\n", "[]");
    expect_rows("\xEF\xBB\xBF", "[]");
}

static void stray_quotes_are_kept(void **state)
{
    (void)state;
    expect_rows("a,b\n5\" pipe,x\"y\"\n", "[[\"a\",\"b\"],[\"5\\\" pipe\",\"x\\\"y\\\"\"]]");
}

static void text_after_closing_quote_fails_the_record(void **state)
{
    (void)state;
    expect_rows("id,name,x\n4,\"d\"junk,x\n5,\"e\",y\n",
                "[[\"id\",\"name\",\"x\"],{\"error\":\"field 2 has text after its closing "
                "quote\",\"row\":2,\"line\":2,\"field\":1},[\"5\",\"e\",\"y\"]]");
    /* A closing quote followed by a space is text too; by a delimiter or line end, fine. */
    expect_rows("a,b\n\"x\" ,1\n\"y\",\"z\"\r\n",
                "[[\"a\",\"b\"],{\"error\":\"field 1 has text after its closing quote\","
                "\"row\":2,\"line\":2,\"field\":0},[\"y\",\"z\"]]");
}

/* Reads data in chunks of chunk bytes and returns the first record after the header, or
 * fails the test; *r must be freed by the caller. */
static void second_record(const char *data, size_t len, size_t chunk, mem_input *in,
                          ferry_csv_reader **r, ferry_csv_record *rec)
{
    ferry_err err;

    ferry_err_clear(&err);
    *in = (mem_input){data, len, 0, chunk};
    assert_int_equal(ferry_csv_reader_new(NULL, mem_read, in, r, &err), FERRY_OK);
    assert_int_equal(ferry_csv_reader_next(*r, rec, &err), FERRY_OK);
    assert_false(rec->unterminated);
    assert_int_equal(ferry_csv_reader_next(*r, rec, &err), FERRY_OK);
}

static void record_cut_by_the_end_of_input_is_unterminated(void **state)
{
    static const char *cases[] = {"a,b,c\n1,2,3", "a,b,c\n1,2", "a,b,c\n1,\"tw",
                                  "a,b,c\n1,2,\"3\""};
    static const bool quote_open[] = {false, false, true, false};
    static const size_t nfields[] = {3, 2, 2, 3};
    mem_input in;
    ferry_csv_reader *r;
    ferry_csv_record rec;
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (size_t chunk = 1; chunk <= 64; chunk *= 4) {
            second_record(cases[i], strlen(cases[i]), chunk, &in, &r, &rec);
            assert_true(rec.unterminated);
            assert_int_equal(rec.quote_open, quote_open[i]);
            assert_int_equal(rec.nfields, nfields[i]);
            assert_int_equal(ferry_csv_reader_next(r, &rec, &err), FERRY_DONE);
            ferry_csv_reader_free(r);
        }
    }
    /* With a line end (LF, CRLF or CR) the last record is whole. */
    second_record("a,b\n1\r\n", 8, 1, &in, &r, &rec);
    assert_false(rec.unterminated);
    ferry_csv_reader_free(r);
    second_record("a,b\n1,\"2\"\r", 10, 3, &in, &r, &rec);
    assert_false(rec.unterminated);
    ferry_csv_reader_free(r);
}

static void utf16_input_is_refused_naming_the_encoding(void **state)
{
    static const struct {
        const char *data;
        size_t len;
        const char *form;
    } cases[] = {
        {"\xFF\xFEi\0d\0\n\0", 8, "UTF-16 LE with a byte order mark"},
        {"\xFE\xFF\0i\0d\0\n", 8, "UTF-16 BE with a byte order mark"},
        {"i\0d\0,\0n\0\n\0", 10, "UTF-16 LE without a byte order mark"},
        {"\0i\0d\0,\0n\0\n", 10, "UTF-16 BE without a byte order mark"},
    };
    ferry_csv_reader *r;
    ferry_csv_record rec;
    ferry_err err;

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (size_t chunk = 1; chunk <= 1024; chunk *= 32) {
            mem_input in = {cases[i].data, cases[i].len, 0, chunk};
            char want[160];
            ferry_err_clear(&err);
            assert_int_equal(ferry_csv_reader_new(NULL, mem_read, &in, &r, &err), FERRY_OK);
            assert_int_equal(ferry_csv_reader_next(r, &rec, &err), FERRY_ECSV);
            snprintf(want, sizeof(want),
                     "the input is %s, not UTF-8: export or save it as CSV in UTF-8",
                     cases[i].form);
            assert_string_equal(err.msg, want);
            ferry_csv_reader_free(r);
        }
    }
    /* One NUL further on is a record's problem, not an encoding. */
    expect_rows("a\n1\n", "[[\"a\"],[\"1\"]]");
}

static void byte_errors_give_their_input_offset(void **state)
{
    /* offsets:   a , b \n 1 , " x " " c a f \xE9 " \n */
    static const char bad_utf8[] = "a,b\n1,\"x\"\"caf\xE9\"\n";
    static const char bom_nul[] = "\xEF\xBB\xBF"
                                  "a,b\n22,x\0y\n";
    mem_input in;
    ferry_csv_reader *r;
    ferry_csv_record rec;

    (void)state;
    for (size_t chunk = 1; chunk <= 64; chunk *= 4) {
        second_record(bad_utf8, sizeof(bad_utf8) - 1, chunk, &in, &r, &rec);
        assert_string_equal(rec.error, "field 2 is not valid UTF-8");
        assert_int_equal(rec.error_offset, 13);
        assert_int_equal((unsigned char)bad_utf8[13], 0xE9);
        ferry_csv_reader_free(r);
        second_record(bom_nul, sizeof(bom_nul) - 1, chunk, &in, &r, &rec);
        assert_string_equal(rec.error, "field 2 contains a NUL byte");
        assert_int_equal(rec.error_offset, 11);
        assert_int_equal(bom_nul[11], '\0');
        ferry_csv_reader_free(r);
    }
}

static void unclosed_quote_fails_the_record_with_its_line(void **state)
{
    (void)state;
    expect_rows("a,b\n1,2\n3,\"open\nstill\n",
                "[[\"a\",\"b\"],[\"1\",\"2\"],{\"error\":\"quoted field 2 is not closed at the "
                "end of the input\",\"row\":3,\"line\":3,\"field\":1}]");
}

static void nul_byte_fails_only_its_record(void **state)
{
    static const char data[] = "a,b\n1,x\0y\n2,z\n";
    json_t *got = parse_all(data, sizeof(data) - 1, 5, NULL);
    json_t *bad = json_array_get(got, 1);

    (void)state;
    assert_int_equal(json_array_size(got), 3);
    assert_string_equal(json_string_value(json_object_get(bad, "error")),
                        "field 2 contains a NUL byte");
    assert_int_equal(json_integer_value(json_object_get(bad, "line")), 2);
    assert_string_equal(json_string_value(json_array_get(json_array_get(got, 2), 1)), "z");
    json_decref(got);
}

static void invalid_utf8_fails_only_its_record(void **state)
{
    (void)state;
    expect_rows("a,b\n1,caf\xE9\n2,ok\n",
                "[[\"a\",\"b\"],{\"error\":\"field 2 is not valid UTF-8\",\"row\":2,\"line\":2,"
                "\"field\":1},[\"2\",\"ok\"]]");
}

static void oversized_field_fails_its_record_and_reader_resyncs(void **state)
{
    ferry_csv_limits limits;
    json_t *got;

    (void)state;
    ferry_csv_limits_default(&limits);
    limits.max_field_bytes = 8;
    got = parse_all("a,b\n1,\"0123456789\nxx\"\n2,ok\n", 27, 3, &limits);
    assert_int_equal(json_array_size(got), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(got, 1), "error")),
                        "field 2 is larger than the limit of 8 bytes");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(got, 1), "line")), 2);
    assert_string_equal(json_string_value(json_array_get(json_array_get(got, 2), 1)), "ok");
    json_decref(got);
}

static void too_many_fields_fails_the_record(void **state)
{
    ferry_csv_limits limits;
    json_t *got;

    (void)state;
    ferry_csv_limits_default(&limits);
    limits.max_fields = 3;
    got = parse_all("a,b,c\n1,2,3,4,5\n6,7,8\n", 22, 4, &limits);
    assert_int_equal(json_array_size(got), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(got, 1), "error")),
                        "record has more than 3 fields");
    assert_int_equal(json_array_size(json_array_get(got, 2)), 3);
    json_decref(got);
}

static void rows_and_lines_are_counted_across_quoted_newlines(void **state)
{
    static const char data[] = "h\n\"a\nb\"\n\nc\n";
    mem_input in = {data, sizeof(data) - 1, 0, 2};
    ferry_csv_reader *r = NULL;
    ferry_csv_record rec;
    ferry_err err;

    (void)state;
    ferry_err_clear(&err);
    assert_int_equal(ferry_csv_reader_new(NULL, mem_read, &in, &r, &err), FERRY_OK);
    assert_int_equal(ferry_csv_reader_next(r, &rec, &err), FERRY_OK);
    assert_int_equal(rec.row, 1);
    assert_int_equal(rec.line, 1);
    assert_int_equal(ferry_csv_reader_next(r, &rec, &err), FERRY_OK);
    assert_int_equal(rec.row, 2);
    assert_int_equal(rec.line, 2);
    assert_int_equal(ferry_csv_reader_next(r, &rec, &err), FERRY_OK);
    assert_string_equal(rec.field[0], "c");
    assert_int_equal(rec.row, 4); /* the blank line counts as a row, as in a spreadsheet */
    assert_int_equal(rec.line, 5);
    assert_int_equal(ferry_csv_reader_next(r, &rec, &err), FERRY_DONE);
    ferry_csv_reader_free(r);
}

static void semicolon_delimiter(void **state)
{
    ferry_csv_limits limits;
    json_t *got, *want;

    (void)state;
    ferry_csv_limits_default(&limits);
    limits.delimiter = ';';
    got = parse_all("a;b\n\"x;y\";2,3\n", 14, 1, &limits);
    want = json_loads("[[\"a\",\"b\"],[\"x;y\",\"2,3\"]]", 0, NULL);
    assert_true(json_equal(got, want));
    json_decref(got);
    json_decref(want);
}

/* Known errors in csv-spectrum's expected data (upstream max-mapper/csv-spectrum issue #20):
 * location_coordinates.json expects the phone number 1234567890 where the CSV holds
 * 2095257564, and is one object rather than an array of one. A correct parser must return
 * what the CSV holds, so the test checks exactly that value there and everything else as the
 * JSON says. */
static const struct {
    const char *file, *column, *csv_value;
} spectrum_errata[] = {
    {"location_coordinates", "Contact Phone Number", "2095257564"},
};

static void apply_errata(const char *base, json_t *want)
{
    for (size_t i = 0; i < sizeof(spectrum_errata) / sizeof(spectrum_errata[0]); i++) {
        if (strcmp(base, spectrum_errata[i].file) != 0)
            continue;
        json_t *rec = json_array_get(want, 0);
        assert_non_null(json_object_get(rec, spectrum_errata[i].column));
        json_object_set_new(rec, spectrum_errata[i].column,
                            json_string(spectrum_errata[i].csv_value));
    }
}

/* Every csv-spectrum case must parse to exactly its JSON (objects keyed by the header). */
static void csv_spectrum_cases_parse_exactly(void **state)
{
    const char *root = FERRY_SHARED_TESTDATA "/csv-spectrum";
    char dirpath[1024];
    struct dirent *de;
    int ncases = 0;
    DIR *dir;

    (void)state;
    snprintf(dirpath, sizeof(dirpath), "%s/csvs", root);
    dir = opendir(dirpath);
    assert_non_null(dir);
    while ((de = readdir(dir)) != NULL) {
        char csvpath[2048], jsonpath[2048], base[256];
        size_t n = strlen(de->d_name), len;
        json_t *want, *rows, *got;
        json_error_t jerr;
        char *data;

        if (n < 5 || strcmp(de->d_name + n - 4, ".csv") != 0)
            continue;
        snprintf(base, sizeof(base), "%.*s", (int)(n - 4), de->d_name);
        snprintf(csvpath, sizeof(csvpath), "%s/csvs/%s.csv", root, base);
        snprintf(jsonpath, sizeof(jsonpath), "%s/json/%s.json", root, base);
        data = tu_read_file(csvpath, &len);
        assert_non_null(data);
        want = json_load_file(jsonpath, 0, &jerr);
        assert_non_null(want);
        if (json_is_object(want)) {
            json_t *one = json_array();
            json_array_append_new(one, want);
            want = one;
        }
        apply_errata(base, want);
        for (size_t chunk = 1; chunk <= 1024; chunk *= 32) {
            rows = parse_all(data, len, chunk, NULL);
            got = json_array();
            json_t *header = json_array_get(rows, 0);
            for (size_t i = 1; i < json_array_size(rows); i++) {
                json_t *row = json_array_get(rows, i), *obj = json_object();
                assert_true(json_is_array(row));
                assert_int_equal(json_array_size(row), json_array_size(header));
                for (size_t j = 0; j < json_array_size(row); j++)
                    json_object_set(obj, json_string_value(json_array_get(header, j)),
                                    json_array_get(row, j));
                json_array_append_new(got, obj);
            }
            if (!json_equal(got, want)) {
                char *g = json_dumps(got, JSON_COMPACT);
                fprintf(stderr, "csv-spectrum %s (chunk %zu): got %s\n", base, chunk, g);
                free(g);
                fail();
            }
            json_decref(got);
            json_decref(rows);
        }
        json_decref(want);
        free(data);
        ncases++;
    }
    closedir(dir);
    assert_true(ncases >= 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(simple_rows_parse),
        cmocka_unit_test(quoted_comma_stays_in_field),
        cmocka_unit_test(doubled_quote_is_one_quote),
        cmocka_unit_test(quoted_newline_stays_in_field),
        cmocka_unit_test(quoted_crlf_is_kept_verbatim),
        cmocka_unit_test(crlf_lf_and_cr_all_end_records),
        cmocka_unit_test(bom_is_dropped),
        cmocka_unit_test(blank_lines_are_not_records),
        cmocka_unit_test(empty_quoted_field_is_a_record),
        cmocka_unit_test(empty_fields_and_trailing_delimiter),
        cmocka_unit_test(no_final_newline),
        cmocka_unit_test(empty_input_has_no_records),
        cmocka_unit_test(stray_quotes_are_kept),
        cmocka_unit_test(text_after_closing_quote_fails_the_record),
        cmocka_unit_test(record_cut_by_the_end_of_input_is_unterminated),
        cmocka_unit_test(utf16_input_is_refused_naming_the_encoding),
        cmocka_unit_test(byte_errors_give_their_input_offset),
        cmocka_unit_test(unclosed_quote_fails_the_record_with_its_line),
        cmocka_unit_test(nul_byte_fails_only_its_record),
        cmocka_unit_test(invalid_utf8_fails_only_its_record),
        cmocka_unit_test(oversized_field_fails_its_record_and_reader_resyncs),
        cmocka_unit_test(too_many_fields_fails_the_record),
        cmocka_unit_test(rows_and_lines_are_counted_across_quoted_newlines),
        cmocka_unit_test(semicolon_delimiter),
        cmocka_unit_test(csv_spectrum_cases_parse_exactly),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
