/* test_json_scan.c - validating JSON like jansson does and reading values out of the bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "util/json_path.h"
#include "util/json_scan.h"

/* A text with an explicit length, so NUL bytes can be inside. */
typedef struct {
    const char *text;
    size_t len;
    bool valid;
} json_case;

#define VALID(s)                                                                                   \
    {                                                                                              \
        s, sizeof(s) - 1, true                                                                     \
    }
#define INVALID(s)                                                                                 \
    {                                                                                              \
        s, sizeof(s) - 1, false                                                                    \
    }

static const char page[] =
    "{\"patients\": [\n"
    "  {\"id\": \"101\", \"first_name\": \"Ann\", \"visits\": 7, \"balance\": 12.50,\n"
    "   \"archived_at\": null, \"active\": true, \"vip\": false,\n"
    "   \"address\": {\"city\": \"Oslo\", \"geo\": {\"lat\": 59.91}},\n"
    "   \"phones\": [{\"number\": \"123\"}, {\"number\": \"456\"}], \"tags\": []},\n"
    "  {\"id\": \"102\", \"first_name\": \"Bo\", \"visits\": 0}\n"
    " ],\n"
    " \"a/b\": \"slash\", \"m~n\": \"tilde\", \"0\": \"zero key\", \"k\\u0065y\": \"escaped\",\n"
    " \"dup\": 1, \"dup\": 2, \"empty\": [ ], \"total\": 2}";

/* Validates text and returns its root span; fails the test when text is rejected. */
static ferry_json_span root_of(const char *text, size_t len)
{
    ferry_json_span root = {0, 0};
    ferry_err err = {0};

    assert_int_equal(ferry_json_validate(text, len, &root, &err), FERRY_OK);
    return root;
}

/* Finds path_text in text; returns found and sets *ret. */
static bool find(const char *text, const char *path_text, ferry_json_span *ret)
{
    ferry_json_path *path = NULL;
    bool found;

    assert_int_equal(ferry_json_path_compile(path_text, &path, NULL), FERRY_OK);
    found = ferry_json_scan_find(text, root_of(text, strlen(text)), path, ret);
    ferry_json_path_free(path);
    return found;
}

/* The bytes of the value found at path_text, copied into a static buffer ("" when absent). */
static const char *raw_at(const char *text, const char *path_text)
{
    static char raw[256];
    ferry_json_span s;

    if (!find(text, path_text, &s))
        return "";
    assert_true(s.end - s.start < sizeof(raw));
    memcpy(raw, text + s.start, s.end - s.start);
    raw[s.end - s.start] = '\0';
    return raw;
}

static void validate_accepts_exactly_what_jansson_accepts(void **state)
{
    static const json_case cases[] = {
        VALID("{}"),
        VALID("[]"),
        VALID(" \t\r\n[1, 2.5, \"x\", true, false, null, {\"a\": []}] \n"),
        VALID("\"plain string root\""),
        VALID("0"),
        VALID("-0"),
        VALID("-0.0e-0"),
        VALID("9223372036854775807"),
        VALID("-9223372036854775808"),
        VALID("1E2"),
        VALID("1e-400"), /* underflows to 0 */
        VALID("1.7976931348623157e308"),
        VALID("\"\\u00e9 \\ud83d\\ude00 caf\xc3\xa9 \xf0\x9f\x98\x80\""),
        VALID("{\"a\": 1, \"a\": 2}"),
        VALID("[1\0]"),       /* jansson drops a NUL right after a number */
        VALID("[true\0, 2]"), /* or a word */
        VALID("1\0"),
        INVALID(""),
        INVALID("   "),
        INVALID("[1\0\0]"),
        INVALID("[\0]"),
        INVALID("\"a\"\0"),
        INVALID("\"a\0b\""),
        INVALID("9223372036854775808"),
        INVALID("-9223372036854775809"),
        INVALID("1E400"),
        INVALID("-1.7976931348623159e308"),
        INVALID("01"),
        INVALID("-01"),
        INVALID("1."),
        INVALID(".5"),
        INVALID("+1"),
        INVALID("1e"),
        INVALID("1e+"),
        INVALID("-"),
        INVALID("0x10"),
        INVALID("NaN"),
        INVALID("tru"),
        INVALID("truex"),
        INVALID("[1,]"),
        INVALID("{\"a\":1,}"),
        INVALID("{\"a\" 1}"),
        INVALID("{1: 2}"),
        INVALID("[1 2]"),
        INVALID("{\"a\":1} x"),
        INVALID("[1]]"),
        INVALID("{\"a\":[1}"),
        INVALID("\"tab\there\""),
        INVALID("\"nl\nhere\""),
        INVALID("\"\\u0000\""),
        INVALID("\"\\ud800\""),
        INVALID("\"\\udc00\""),
        INVALID("\"\\ud800\\u0041\""),
        INVALID("\"\\ud800x\""),
        INVALID("\"\\x\""),
        INVALID("\"\\u12g4\""),
        INVALID("\"\xc3\x28\""),         /* bad continuation */
        INVALID("\"\xc0\xaf\""),         /* overlong */
        INVALID("\"\xe0\x80\xaf\""),     /* overlong */
        INVALID("\"\xed\xa0\x80\""),     /* an encoded surrogate */
        INVALID("\"\xf4\x90\x80\x80\""), /* past U+10FFFF */
        INVALID("\"\xff\""),
        INVALID("\"\xc3\""),
        INVALID("\xef\xbb\xbf{}"), /* a BOM */
        INVALID("{\"patients\": [{\"id\": 1"),
        INVALID("\"unterminated"),
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const json_case *c = &cases[i];
        ferry_json_span root;
        json_error_t jerr;
        ferry_err err = {0};
        json_t *doc = json_loadb(c->text, c->len, JSON_DECODE_ANY, &jerr);
        ferry_rc rc = ferry_json_validate(c->text, c->len, &root, &err);

        /* The table agrees with jansson, and the validator with both. */
        if ((doc != NULL) != c->valid || (rc == FERRY_OK) != c->valid)
            fail_msg("case %zu '%.*s': table %d, jansson %d, validate %s", i, (int)c->len, c->text,
                     c->valid, doc != NULL, err.msg);
        if (!c->valid)
            assert_int_equal(rc, FERRY_ESOURCE);
        json_decref(doc);
    }
}

/* A scalar needs one more level than the containers around it: jansson counts 2048 values. */
static void nesting_is_limited_to_2048_values(void **state)
{
    static char text[2 * 2048 + 2];
    ferry_json_span root;
    ferry_err err = {0};
    json_error_t jerr;
    size_t n = 0;

    (void)state;
    for (int i = 0; i < 2048; i++)
        text[n++] = '[';
    for (int i = 0; i < 2048; i++)
        text[n++] = ']';
    assert_int_equal(ferry_json_validate(text, n, &root, &err), FERRY_OK);
    assert_int_equal(root.end, n);

    memmove(text + 2049, text + 2048, 2048);
    text[2048] = '1';
    assert_null(json_loadb(text, n + 1, JSON_DECODE_ANY, &jerr));
    assert_int_equal(ferry_json_validate(text, n + 1, &root, &err), FERRY_ESOURCE);
    assert_non_null(strstr(err.msg, "2048"));
}

static void error_says_what_and_where(void **state)
{
    static const char text[] = "{\"a\": 1,\n  \"b\": tru}";
    ferry_json_span root;
    ferry_err err = {0};

    (void)state;
    assert_int_equal(ferry_json_validate(text, strlen(text), &root, &err), FERRY_ESOURCE);
    assert_string_equal(err.msg, "invalid literal (line 2, column 8)");
}

static void truncated_page_is_unexpected_end_of_input(void **state)
{
    static const char text[] = "{\"patients\": [{\"id\": \"101\"";
    ferry_json_span root;
    ferry_err err = {0};

    (void)state;
    assert_int_equal(ferry_json_validate(text, strlen(text), &root, &err), FERRY_ESOURCE);
    assert_string_equal(err.msg, "unexpected end of input (line 1, column 27)");
}

static void root_span_excludes_white_space(void **state)
{
    static const char text[] = " \n {\"a\": 1}\r\n ";
    ferry_json_span root = root_of(text, strlen(text));

    (void)state;
    assert_int_equal(root.start, 3);
    assert_int_equal(root.end, 11);
    assert_int_equal(ferry_json_scan_kind(text, root), FERRY_JSON_OBJECT);
}

static void nested_members_are_found(void **state)
{
    (void)state;
    assert_string_equal(raw_at(page, "/patients/0/address/city"), "\"Oslo\"");
    assert_string_equal(raw_at(page, "/patients/0/address/geo/lat"), "59.91");
    assert_string_equal(raw_at(page, "/patients/0/address/geo"), "{\"lat\": 59.91}");
    assert_string_equal(raw_at(page, "/total"), "2");
}

static void decimal_token_indexes_an_array(void **state)
{
    (void)state;
    assert_string_equal(raw_at(page, "/patients/1/first_name"), "\"Bo\"");
    assert_string_equal(raw_at(page, "/patients/0/phones/1/number"), "\"456\"");
    assert_string_equal(raw_at(page, "/0"), "\"zero key\""); /* a member name on an object */
    assert_string_equal(raw_at(page, "/patients/2"), "");
    assert_string_equal(raw_at(page, "/patients/01"), "");
    assert_string_equal(raw_at(page, "/patients/-"), "");
}

static void escaped_tokens_and_escaped_names_match(void **state)
{
    (void)state;
    assert_string_equal(raw_at(page, "/a~1b"), "\"slash\"");
    assert_string_equal(raw_at(page, "/m~0n"), "\"tilde\"");
    assert_string_equal(raw_at(page, "/key"), "\"escaped\"");
}

static void duplicate_member_last_wins(void **state)
{
    (void)state;
    assert_string_equal(raw_at(page, "/dup"), "2");
}

static void absent_member_is_not_found(void **state)
{
    ferry_json_span s;

    (void)state;
    assert_false(find(page, "/nope", &s));
    assert_false(find(page, "/patients/0/address/zip", &s));
    assert_false(find(page, "/total/x", &s)); /* below a scalar */
    assert_false(find(page, "/patients/*/id", &s));
}

static void null_is_found(void **state)
{
    ferry_json_span s;

    (void)state;
    assert_true(find(page, "/patients/0/archived_at", &s));
    assert_int_equal(ferry_json_scan_kind(page, s), FERRY_JSON_NULL);
}

static void find_many_equals_find_for_each_path(void **state)
{
    static const char *const texts[] = {"/patients/0/id", "/total", "",     "/dup",
                                        "/nope",          "/a~1b",  "/key", "/patients/*/id"};
    enum { N = sizeof(texts) / sizeof(texts[0]) };
    ferry_json_path *paths[N];
    ferry_json_span root = root_of(page, strlen(page)), many[N], one, elem;
    bool found[N];
    size_t pos = 0;

    (void)state;
    for (size_t i = 0; i < N; i++)
        assert_int_equal(ferry_json_path_compile(texts[i], &paths[i], NULL), FERRY_OK);
    ferry_json_scan_find_many(page, root, (const ferry_json_path *const *)paths, N, many, found);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(found[i], ferry_json_scan_find(page, root, paths[i], &one));
        if (found[i]) {
            assert_int_equal(many[i].start, one.start);
            assert_int_equal(many[i].end, one.end);
        }
    }
    assert_true(found[0] && found[1] && found[2] && found[3] && found[5] && found[6]);
    assert_false(found[4] || found[7]);
    /* On an array, each path is found as ferry_json_scan_find() finds it. */
    assert_true(find(page, "/patients", &elem));
    ferry_json_scan_find_many(page, elem, (const ferry_json_path *const *)paths, N, many, found);
    for (size_t i = 0; i < N; i++)
        assert_int_equal(found[i], ferry_json_scan_find(page, elem, paths[i], &one));
    /* Per record, as the REST source reads fields. */
    assert_true(ferry_json_scan_next(page, elem, &pos, &elem));
    for (size_t i = 0; i < N; i++)
        ferry_json_path_free(paths[i]);
    assert_int_equal(ferry_json_path_compile("/id", &paths[0], NULL), FERRY_OK);
    assert_int_equal(ferry_json_path_compile("/address/geo/lat", &paths[1], NULL), FERRY_OK);
    ferry_json_scan_find_many(page, elem, (const ferry_json_path *const *)paths, 2, many, found);
    assert_true(found[0] && found[1]);
    assert_memory_equal(page + many[0].start, "\"101\"", 5);
    assert_memory_equal(page + many[1].start, "59.91", 5);
    ferry_json_path_free(paths[0]);
    ferry_json_path_free(paths[1]);
}

static void next_iterates_elements_in_order(void **state)
{
    static const char text[] = "[ 1 ,\"two\",[3, [4]] , {\"five\": [5]},null ]";
    static const char *const raws[] = {"1", "\"two\"", "[3, [4]]", "{\"five\": [5]}", "null"};
    ferry_json_span root = root_of(text, strlen(text)), e;
    size_t pos = 0, n = 0;

    (void)state;
    while (ferry_json_scan_next(text, root, &pos, &e)) {
        assert_true(n < 5);
        assert_int_equal(e.end - e.start, strlen(raws[n]));
        assert_memory_equal(text + e.start, raws[n], e.end - e.start);
        n++;
    }
    assert_int_equal(n, 5);
    assert_false(ferry_json_scan_next(text, root, &pos, &e));
    assert_int_equal(ferry_json_scan_count(text, root), 5);
}

static void empty_arrays_have_no_elements(void **state)
{
    static const char *const texts[] = {"[]", "[ \n ]", "{\"a\": [ ]}"};
    ferry_json_span s, e;
    size_t pos = 0;

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        s = root_of(texts[i], strlen(texts[i]));
        pos = 0;
        assert_false(ferry_json_scan_next(texts[i], s, &pos, &e));
        assert_int_equal(ferry_json_scan_count(texts[i], s), 0);
    }
    assert_true(find(texts[2], "/a", &s));
    assert_int_equal(ferry_json_scan_count(texts[2], s), 0);
    assert_true(find(page, "/empty", &s));
    assert_int_equal(ferry_json_scan_count(page, s), 0);
}

static void text_of_every_scalar_equals_path_text(void **state)
{
    static const char doc_text[] =
        "{\"s\": \"plain\", \"esc\": \"q\\\" b\\\\ s\\/ \\b\\f\\n\\r\\t \\u00e9\\u20ac\","
        " \"pair\": \"\\ud83d\\ude00 \\uD834\\uDD1E\", \"utf8\": \"caf\xc3\xa9\","
        " \"empty\": \"\", \"zero\": 0, \"negzero\": -0, \"max\": 9223372036854775807,"
        " \"min\": -9223372036854775808, \"r1\": 0.1, \"r2\": 12.50, \"r3\": 1e300,"
        " \"r4\": -1.5e-7, \"r5\": 1E2, \"r6\": 1.0, \"r7\": -0.0, \"r8\": 1e-400,"
        " \"r9\": 0.30000000000000004, \"t\": true, \"f\": false, \"n\": null}";
    json_error_t jerr;
    json_t *doc = json_loads(doc_text, 0, &jerr);
    ferry_json_span root = root_of(doc_text, strlen(doc_text));
    const char *key;
    json_t *value;
    size_t checked = 0;

    (void)state;
    assert_non_null(doc);
    json_object_foreach(doc, key, value)
    {
        char path_text[64];
        ferry_json_path *path = NULL;
        ferry_json_span s;
        ferry_buf a, b;
        bool fa = true, fb = true;

        (void)value;
        snprintf(path_text, sizeof(path_text), "/%s", key);
        assert_int_equal(ferry_json_path_compile(path_text, &path, NULL), FERRY_OK);
        assert_true(ferry_json_scan_find(doc_text, root, path, &s));
        ferry_buf_init(&a, 4096);
        ferry_buf_init(&b, 4096);
        assert_int_equal(ferry_json_scan_text(doc_text, s, &a, &fa), FERRY_OK);
        assert_int_equal(ferry_json_path_text(path, doc, NULL, &b, &fb), FERRY_OK);
        if (fa != fb || a.len != b.len || (a.len > 0 && memcmp(a.data, b.data, a.len) != 0))
            fail_msg("%s: scan '%s' (%d), tree '%s' (%d)", key, ferry_buf_str(&a), fa,
                     ferry_buf_str(&b), fb);
        assert_int_equal(fa, strcmp(key, "n") != 0); /* null is not found */
        ferry_buf_done(&a);
        ferry_buf_done(&b);
        ferry_json_path_free(path);
        checked++;
    }
    assert_int_equal(checked, 21);
    json_decref(doc);
}

static void text_of_numbers_is_jansson_value(void **state)
{
    static const char text[] = "[-0, 12.50, 1e300, -1.5e-7, 1E2, 1.0, -9223372036854775808]";
    static const char *const want[] = {
        "0", "12.5", "1e+300", "-1.5e-07", "100", "1", "-9223372036854775808"};
    ferry_json_span root = root_of(text, strlen(text)), e;
    size_t pos = 0;
    ferry_buf out;
    bool found;

    (void)state;
    ferry_buf_init(&out, 64);
    for (size_t i = 0; ferry_json_scan_next(text, root, &pos, &e); i++) {
        ferry_buf_reset(&out);
        assert_int_equal(ferry_json_scan_text(text, e, &out, &found), FERRY_OK);
        assert_true(found);
        assert_string_equal(ferry_buf_str(&out), want[i]);
    }
    ferry_buf_done(&out);
}

static void containers_have_no_scalar_text(void **state)
{
    static const char text[] = "{\"a\": [1], \"b\": {}}";
    ferry_json_span s;
    ferry_buf out;
    bool found = true;

    (void)state;
    ferry_buf_init(&out, 64);
    assert_true(find(text, "/a", &s));
    assert_int_equal(ferry_json_scan_text(text, s, &out, &found), FERRY_EINVAL);
    assert_true(find(text, "/b", &s));
    assert_int_equal(ferry_json_scan_text(text, s, &out, &found), FERRY_EINVAL);
    assert_int_equal(out.len, 0);
    ferry_buf_done(&out);
}

static void full_buffer_is_a_limit_and_left_as_it_was(void **state)
{
    static const char text[] = "{\"s\": \"long \\n string with an escape\", \"n\": 123456}";
    ferry_json_span s;
    ferry_buf out;
    bool found = false;

    (void)state;
    ferry_buf_init(&out, 12);
    assert_int_equal(ferry_buf_append(&out, "keep", 4), FERRY_OK);
    assert_true(find(text, "/s", &s));
    assert_int_equal(ferry_json_scan_text(text, s, &out, &found), FERRY_ELIMIT);
    assert_string_equal(ferry_buf_str(&out), "keep");
    assert_false(found);
    assert_true(find(text, "/n", &s));
    assert_int_equal(ferry_json_scan_text(text, s, &out, &found), FERRY_OK);
    assert_string_equal(ferry_buf_str(&out), "keep123456");
    assert_int_equal(ferry_json_scan_text(text, s, &out, &found), FERRY_ELIMIT);
    assert_string_equal(ferry_buf_str(&out), "keep123456");
    ferry_buf_done(&out);
}

static void numbers_longer_than_the_copy_read_like_strtod(void **state)
{
    /* 1.5e-101, 1.77...e100 and 1e200, each written in more than 1024 bytes */
    static char text[4096];
    ferry_json_span root, e;
    json_error_t jerr;
    json_t *doc;
    size_t n = 0, pos = 0;
    ferry_buf a, b;
    bool fa, fb;

    (void)state;
    n += (size_t)snprintf(text + n, sizeof(text) - n, "[0.");
    memset(text + n, '0', 1100);
    n += 1100;
    n += (size_t)snprintf(text + n, sizeof(text) - n, "15e1000, 1");
    memset(text + n, '7', 1200);
    n += 1200;
    n += (size_t)snprintf(text + n, sizeof(text) - n, ".5e-1100, 1");
    memset(text + n, '0', 1200);
    n += 1200;
    n += (size_t)snprintf(text + n, sizeof(text) - n, ".0e-1000]");
    doc = json_loadb(text, n, 0, &jerr);
    assert_non_null(doc);
    root = root_of(text, n);
    for (size_t i = 0; ferry_json_scan_next(text, root, &pos, &e); i++) {
        char path_text[16];
        ferry_json_path *path = NULL;
        snprintf(path_text, sizeof(path_text), "/%zu", i);
        assert_int_equal(ferry_json_path_compile(path_text, &path, NULL), FERRY_OK);
        ferry_buf_init(&a, 256);
        ferry_buf_init(&b, 256);
        assert_int_equal(ferry_json_scan_text(text, e, &a, &fa), FERRY_OK);
        assert_int_equal(ferry_json_path_text(path, doc, NULL, &b, &fb), FERRY_OK);
        assert_string_equal(ferry_buf_str(&a), ferry_buf_str(&b));
        ferry_buf_done(&a);
        ferry_buf_done(&b);
        ferry_json_path_free(path);
    }
    json_decref(doc);
    /* One past the largest double, written long, overflows in both. */
    n = (size_t)snprintf(text, sizeof(text), "1");
    memset(text + n, '0', 1200);
    n += 1200;
    n += (size_t)snprintf(text + n, sizeof(text) - n, ".0e-891");
    assert_null(json_loadb(text, n, JSON_DECODE_ANY, &jerr));
    assert_int_equal(ferry_json_validate(text, n, &root, NULL), FERRY_ESOURCE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(validate_accepts_exactly_what_jansson_accepts),
        cmocka_unit_test(nesting_is_limited_to_2048_values),
        cmocka_unit_test(error_says_what_and_where),
        cmocka_unit_test(truncated_page_is_unexpected_end_of_input),
        cmocka_unit_test(root_span_excludes_white_space),
        cmocka_unit_test(nested_members_are_found),
        cmocka_unit_test(decimal_token_indexes_an_array),
        cmocka_unit_test(escaped_tokens_and_escaped_names_match),
        cmocka_unit_test(duplicate_member_last_wins),
        cmocka_unit_test(absent_member_is_not_found),
        cmocka_unit_test(null_is_found),
        cmocka_unit_test(find_many_equals_find_for_each_path),
        cmocka_unit_test(next_iterates_elements_in_order),
        cmocka_unit_test(empty_arrays_have_no_elements),
        cmocka_unit_test(text_of_every_scalar_equals_path_text),
        cmocka_unit_test(text_of_numbers_is_jansson_value),
        cmocka_unit_test(containers_have_no_scalar_text),
        cmocka_unit_test(full_buffer_is_a_limit_and_left_as_it_was),
        cmocka_unit_test(numbers_longer_than_the_copy_read_like_strtod),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
