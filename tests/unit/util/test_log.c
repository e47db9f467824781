/* test_log.c - log lines: the caller's logfmt text as JSON (quotes, escapes, numbers, text
 * that does not parse), the thread's context in both formats, the threshold checked before
 * the arguments are evaluated, and one whole line per write. */
#include "util/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka.h needs these first. */
/* clang-format off */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
/* clang-format on */

#define ISO "2026-11-23T06:05:44.123Z"

/* The JSON line for text, parsed back (the caller decrefs). */
static json_t *as_json(ferry_log_level level, const char *text)
{
    char *line = ferry_log_json_format(level, ISO, text);
    json_error_t e;
    json_t *obj;

    assert_non_null(line);
    assert_null(strchr(line, '\n'));
    obj = json_loads(line, 0, &e);
    if (obj == NULL)
        fail_msg("not JSON: %s (%s)", line, e.text);
    free(line);
    return obj;
}

static const char *str(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);

    if (!json_is_string(v))
        fail_msg("%s is not a string", key);
    return json_string_value(v);
}

static void json_line_has_time_level_msg_and_typed_members(void **state)
{
    json_t *o;

    (void)state;
    o = as_json(FERRY_LOG_WARN, "msg=\"run started\" run=12 sync=\"a b\" worker=3 neg=-4 zero=0 "
                                "lead=007 big=123456789012345678901 url=http://x/y q=\"5\" e=");
    assert_string_equal(str(o, "time"), ISO);
    assert_string_equal(str(o, "level"), "warn");
    assert_string_equal(str(o, "msg"), "run started");
    assert_int_equal(json_integer_value(json_object_get(o, "run")), 12);
    assert_true(json_is_integer(json_object_get(o, "worker")));
    assert_int_equal(json_integer_value(json_object_get(o, "neg")), -4);
    assert_int_equal(json_integer_value(json_object_get(o, "zero")), 0);
    assert_string_equal(str(o, "sync"), "a b");
    assert_string_equal(str(o, "lead"), "007");
    assert_string_equal(str(o, "big"), "123456789012345678901");
    assert_string_equal(str(o, "url"), "http://x/y");
    assert_string_equal(str(o, "q"), "5"); /* quoted: the caller meant a string */
    assert_string_equal(str(o, "e"), "");
    /* the members keep the line's order, after time, level and msg */
    assert_string_equal(json_object_iter_key(json_object_iter(o)), "time");
    json_decref(o);
}

static void quoted_values_decode_their_escapes(void **state)
{
    json_t *o;

    (void)state;
    o = as_json(FERRY_LOG_INFO, "msg=\"say \\\"hi\\\" \\\\ done\" nl=\"a\\nb\\tc\" hex=\"\\x41\" "
                                "path=\"C:\\data\" eq=\"a=b c=d\"");
    assert_string_equal(str(o, "msg"), "say \"hi\" \\ done");
    assert_string_equal(str(o, "nl"), "a\nb\tc");
    assert_string_equal(str(o, "hex"), "A");
    assert_string_equal(str(o, "path"), "C:\\data"); /* not an escape: kept */
    assert_string_equal(str(o, "eq"), "a=b c=d");
    assert_null(json_object_get(o, "c"));
    json_decref(o);
}

static void text_that_does_not_parse_is_kept_whole_as_msg(void **state)
{
    static const char *const broken[] = {
        "msg=\"unbalanced error=x",     "msg=\"a\" stray words",        "msg=\"a\"b",
        "msg=\"column \"x\" missing\"", "plain sentence without pairs", "v=a\"b",
    };
    json_t *o;

    (void)state;
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        o = as_json(FERRY_LOG_ERROR, broken[i]);
        assert_string_equal(str(o, "msg"), broken[i]);
        assert_string_equal(str(o, "level"), "error");
        assert_null(json_object_get(o, "error"));
        json_decref(o);
    }
}

static void bytes_that_are_not_utf8_still_give_json(void **state)
{
    json_t *o;

    (void)state;
    o = as_json(FERRY_LOG_INFO, "msg=\"caf\xe9\" ctl=\"a\x01z\"");
    assert_string_equal(str(o, "msg"), "caf\xef\xbf\xbd");
    assert_string_equal(str(o, "ctl"), "a\x01z");
    json_decref(o);
}

static void repeated_and_reserved_keys_are_not_overwritten(void **state)
{
    json_t *o;

    (void)state;
    o = as_json(FERRY_LOG_INFO, "msg=\"m\" time=5 level=x a=1 a=2 msg=again");
    assert_string_equal(str(o, "time"), ISO);
    assert_string_equal(str(o, "level"), "info");
    assert_string_equal(str(o, "msg"), "m");
    assert_int_equal(json_integer_value(json_object_get(o, "time_")), 5);
    assert_string_equal(str(o, "level_"), "x");
    assert_int_equal(json_integer_value(json_object_get(o, "a")), 1);
    assert_int_equal(json_integer_value(json_object_get(o, "a_")), 2);
    assert_string_equal(str(o, "msg_"), "again");
    json_decref(o);
}

static void context_fields_join_lines_that_lack_them(void **state)
{
    char line[1024];
    json_t *o;

    (void)state;
    ferry_log_context_set_run(7, "we\"ird sync", "t\n1");
    ferry_log_context_set_request("req-1");
    o = as_json(FERRY_LOG_INFO, "msg=\"page read\" records=100");
    assert_int_equal(json_integer_value(json_object_get(o, "run")), 7);
    assert_string_equal(str(o, "sync"), "we\"ird sync");
    assert_string_equal(str(o, "tenant"), "t\n1");
    assert_string_equal(str(o, "request"), "req-1");
    json_decref(o);
    /* the line's own run wins */
    o = as_json(FERRY_LOG_INFO, "msg=\"other\" run=9");
    assert_int_equal(json_integer_value(json_object_get(o, "run")), 9);
    json_decref(o);

    ferry_log_text_format(FERRY_LOG_INFO, ISO, "msg=\"page read\" records=100", line, sizeof(line));
    assert_string_equal(line, ISO " level=info msg=\"page read\" records=100 run=7 "
                                  "sync=\"we\\\"ird sync\" tenant=\"t\\n1\" request=req-1");
    ferry_log_text_format(FERRY_LOG_INFO, ISO, "msg=x run=9 sync=s", line, sizeof(line));
    assert_string_equal(line, ISO " level=info msg=x run=9 sync=s tenant=\"t\\n1\" request=req-1");
    /* what the text format writes, the JSON conversion reads back */
    o = as_json(FERRY_LOG_INFO, strstr(line, "msg="));
    assert_string_equal(str(o, "tenant"), "t\n1");
    json_decref(o);

    ferry_log_context_clear();
    ferry_log_text_format(FERRY_LOG_DEBUG, ISO, "msg=x", line, sizeof(line));
    assert_string_equal(line, ISO " level=debug msg=x");
    o = as_json(FERRY_LOG_INFO, "msg=x");
    assert_int_equal(json_object_size(o), 3);
    json_decref(o);
}

static void text_lines_escape_control_characters(void **state)
{
    char line[256];

    (void)state;
    ferry_log_text_format(FERRY_LOG_WARN, ISO, "msg=\"a\nb\rc\x1b\" k=v", line, sizeof(line));
    assert_string_equal(line, ISO " level=warn msg=\"a\\nb\\rc\\x1b\" k=v");
}

static void quote_leaves_plain_words_bare(void **state)
{
    char out[32];

    (void)state;
    assert_string_equal(ferry_log_quote("abc-1.2", out, sizeof(out)), "abc-1.2");
    assert_string_equal(ferry_log_quote("", out, sizeof(out)), "\"\"");
    assert_string_equal(ferry_log_quote("a b", out, sizeof(out)), "\"a b\"");
    assert_string_equal(ferry_log_quote("a=\"\\", out, sizeof(out)), "\"a=\\\"\\\\\"");
    assert_string_equal(ferry_log_quote("0123456789 0123456789", out, 10), "\"0123456\"");
}

static void levels_and_request_ids_are_checked(void **state)
{
    ferry_log_level l = FERRY_LOG_INFO;
    char long_id[FERRY_LOG_REQUEST_ID_MAX + 2];

    (void)state;
    assert_true(ferry_log_level_parse("debug", &l));
    assert_int_equal(l, FERRY_LOG_DEBUG);
    assert_true(ferry_log_level_parse("error", &l));
    assert_int_equal(l, FERRY_LOG_ERROR);
    assert_false(ferry_log_level_parse("warning", &l));
    assert_false(ferry_log_level_parse("INFO", &l));
    assert_false(ferry_log_level_parse("", &l));
    assert_true(ferry_log_request_id_is_valid("a.B_9-z"));
    assert_false(ferry_log_request_id_is_valid(""));
    assert_false(ferry_log_request_id_is_valid("a b"));
    assert_false(ferry_log_request_id_is_valid("a\"b"));
    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    assert_false(ferry_log_request_id_is_valid(long_id));
    long_id[FERRY_LOG_REQUEST_ID_MAX] = '\0';
    assert_true(ferry_log_request_id_is_valid(long_id));
}

static int evaluated;

static int count_evaluation(void)
{
    return ++evaluated;
}

/* Runs the lines below with stderr in a temporary file; returns what was written. */
static char *captured(void (*write_lines)(void))
{
    FILE *tmp = tmpfile();
    int saved = dup(STDERR_FILENO);
    char *text = calloc(1, 8192);
    size_t n;

    assert_non_null(tmp);
    assert_non_null(text);
    assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
    write_lines();
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    rewind(tmp);
    n = fread(text, 1, 8191, tmp);
    text[n] = '\0';
    fclose(tmp);
    return text;
}

static void warn_threshold_lines(void)
{
    ferry_log_threshold = FERRY_LOG_WARN;
    ferry_log(FERRY_LOG_INFO, "msg=\"hidden\" n=%d", count_evaluation());
    ferry_log(FERRY_LOG_DEBUG, "msg=\"hidden\" n=%d", count_evaluation());
    ferry_log(FERRY_LOG_WARN, "msg=\"shown\" n=%d", 1);
    ferry_log(FERRY_LOG_ERROR, "msg=\"also shown\" n=%d", 2);
    ferry_log_threshold = FERRY_LOG_INFO;
}

static void threshold_drops_lines_before_their_arguments(void **state)
{
    char *out;

    (void)state;
    evaluated = 0;
    out = captured(warn_threshold_lines);
    assert_int_equal(evaluated, 0);
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, " level=warn msg=\"shown\" n=1\n"));
    assert_non_null(strstr(out, " level=error msg=\"also shown\" n=2\n"));
    free(out);
}

static void json_lines(void)
{
    ferry_log_format_set(FERRY_LOG_JSON);
    ferry_log_threshold = FERRY_LOG_DEBUG;
    ferry_log_context_set_run(3, "s", NULL);
    ferry_log(FERRY_LOG_DEBUG, "msg=\"one\" n=%d", 1);
    ferry_log(FERRY_LOG_INFO, "msg=\"two\nlines\" n=%d", 2);
    ferry_log_context_clear();
    ferry_log_threshold = FERRY_LOG_INFO;
    ferry_log_format_set(FERRY_LOG_TEXT);
}

static void json_format_writes_one_object_a_line(void **state)
{
    char *out, *nl, *line;
    int n = 0;
    json_t *o;

    (void)state;
    out = captured(json_lines);
    for (line = out; (nl = strchr(line, '\n')) != NULL; line = nl + 1) {
        *nl = '\0';
        o = json_loads(line, 0, NULL);
        assert_non_null(o);
        assert_int_equal(json_integer_value(json_object_get(o, "run")), 3);
        assert_int_equal(json_integer_value(json_object_get(o, "n")), ++n);
        json_decref(o);
    }
    assert_int_equal(n, 2);
    assert_string_equal(line, "");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_line_has_time_level_msg_and_typed_members),
        cmocka_unit_test(quoted_values_decode_their_escapes),
        cmocka_unit_test(text_that_does_not_parse_is_kept_whole_as_msg),
        cmocka_unit_test(bytes_that_are_not_utf8_still_give_json),
        cmocka_unit_test(repeated_and_reserved_keys_are_not_overwritten),
        cmocka_unit_test(context_fields_join_lines_that_lack_them),
        cmocka_unit_test(text_lines_escape_control_characters),
        cmocka_unit_test(quote_leaves_plain_words_bare),
        cmocka_unit_test(levels_and_request_ids_are_checked),
        cmocka_unit_test(threshold_drops_lines_before_their_arguments),
        cmocka_unit_test(json_format_writes_one_object_a_line),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
