/* test_json_path.c - compiling JSON pointers and the text of the values they select. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "util/json_path.h"

static const char record[] =
    "{\"id\": 42, \"price\": 12.5, \"ratio\": 0.1, \"huge\": 1e300, \"active\": true,"
    " \"archived\": false, \"note\": null, \"name\": \"Ann\","
    " \"address\": {\"city\": \"Oslo\", \"zip\": \"0150\", \"geo\": {\"lat\": 59.91}},"
    " \"labels\": [\"a\", \"b\", null, 3],"
    " \"phones\": [{\"type\": \"home\", \"number\": \"123\"}, {\"type\": \"work\"},"
    "              {\"type\": \"cell\", \"number\": \"456\"}],"
    " \"a/b\": \"slash\", \"m~n\": \"tilde\", \"0\": \"zero key\", \"empty\": [],"
    " \"nested\": [[1, 2], {\"k\": \"v\"}, \"s\"],"
    " \"text\": \"quote \\\" back \\\\ nl \\n tab \\t\"}";

static int load(void **state)
{
    json_error_t jerr;

    *state = json_loads(record, 0, &jerr);
    return *state == NULL ? -1 : 0;
}

static int unload(void **state)
{
    json_decref(*state);
    return 0;
}

/* text_of()'s result, kept until the next call or the end of the group. */
static ferry_buf out;

static int free_text(void **state)
{
    (void)state;
    ferry_buf_done(&out);
    return 0;
}

/* The text at path in doc with join (NULL for the default); NULL when nothing was found.
 * Returns a pointer into a buffer that the next call reuses. */
static const char *text_of(json_t *doc, const char *path_text, const char *join)
{
    ferry_json_path *path = NULL;
    ferry_err err = {0};
    bool found = true;

    ferry_buf_done(&out);
    ferry_buf_init(&out, 4096);
    assert_int_equal(ferry_json_path_compile(path_text, &path, &err), FERRY_OK);
    assert_int_equal(ferry_json_path_text(path, doc, join, &out, &found), FERRY_OK);
    ferry_json_path_free(path);
    if (!found) {
        assert_int_equal(out.len, 0);
        ferry_buf_done(&out);
        return NULL;
    }
    return ferry_buf_str(&out);
}

static void empty_path_is_the_whole_document(void **state)
{
    json_t *doc = json_pack("{s:i,s:s}", "b", 1, "a", "x");
    ferry_json_path *path = NULL;

    (void)state;
    assert_int_equal(ferry_json_path_compile("", &path, NULL), FERRY_OK);
    assert_ptr_equal(ferry_json_path_get(path, doc), doc);
    assert_string_equal(ferry_json_path_str(path), "");
    assert_false(ferry_json_path_has_wildcard(path));
    ferry_json_path_free(path);
    assert_string_equal(text_of(doc, "", NULL), "{\"b\":1,\"a\":\"x\"}");
    json_decref(doc);
}

static void nested_member_is_found(void **state)
{
    ferry_json_path *path = NULL;

    assert_int_equal(ferry_json_path_compile("/address/city", &path, NULL), FERRY_OK);
    assert_string_equal(json_string_value(ferry_json_path_get(path, *state)), "Oslo");
    ferry_json_path_free(path);
    assert_string_equal(text_of(*state, "/address/zip", NULL), "0150");
}

static void decimal_token_indexes_an_array(void **state)
{
    assert_string_equal(text_of(*state, "/phones/1/type", NULL), "work");
    assert_string_equal(text_of(*state, "/labels/0", NULL), "a");
    assert_null(text_of(*state, "/labels/9", NULL));
    /* RFC 6901: a leading zero is not an index. */
    assert_null(text_of(*state, "/labels/00", NULL));
    assert_null(text_of(*state, "/labels/-", NULL));
    /* On an object a decimal token is a member name. */
    assert_string_equal(text_of(*state, "/0", NULL), "zero key");
}

static void escapes_name_slash_and_tilde(void **state)
{
    assert_string_equal(text_of(*state, "/a~1b", NULL), "slash");
    assert_string_equal(text_of(*state, "/m~0n", NULL), "tilde");
}

static void missing_member_is_not_found(void **state)
{
    ferry_json_path *path = NULL;

    assert_null(text_of(*state, "/nope", NULL));
    assert_null(text_of(*state, "/name/first", NULL));
    assert_null(text_of(*state, "/address/geo/lat/x", NULL));
    assert_int_equal(ferry_json_path_compile("/nope/deeper", &path, NULL), FERRY_OK);
    assert_null(ferry_json_path_get(path, *state));
    ferry_json_path_free(path);
}

static void null_is_not_found(void **state)
{
    assert_null(text_of(*state, "/note", NULL));
    assert_null(text_of(*state, "/labels/2", NULL));
}

static void numbers_are_written_shortest(void **state)
{
    json_t *reals = json_pack("[f,f,f,f]", 2.0, 1.0 / 3, -0.000001, 123456789012.75);

    assert_string_equal(text_of(*state, "/id", NULL), "42");
    assert_string_equal(text_of(*state, "/price", NULL), "12.5");
    assert_string_equal(text_of(*state, "/ratio", NULL), "0.1");
    assert_string_equal(text_of(*state, "/huge", NULL), "1e+300");
    assert_string_equal(text_of(reals, "", "|"), "2|0.3333333333333333|-1e-06|123456789012.75");
    json_decref(reals);
}

static void booleans_are_true_and_false(void **state)
{
    assert_string_equal(text_of(*state, "/active", NULL), "true");
    assert_string_equal(text_of(*state, "/archived", NULL), "false");
}

static void array_elements_are_joined(void **state)
{
    /* The null element is left out. */
    assert_string_equal(text_of(*state, "/labels", NULL), "a, b, 3");
    assert_string_equal(text_of(*state, "/labels", ";"), "a;b;3");
    assert_string_equal(text_of(*state, "/empty", NULL), "");
}

static void array_of_objects_joins_compact_json(void **state)
{
    assert_string_equal(text_of(*state, "/phones", NULL),
                        "{\"type\":\"home\",\"number\":\"123\"}, {\"type\":\"work\"}, "
                        "{\"type\":\"cell\",\"number\":\"456\"}");
    assert_string_equal(text_of(*state, "/nested", " | "), "[1,2] | {\"k\":\"v\"} | s");
}

static void object_is_compact_json_in_document_order(void **state)
{
    assert_string_equal(text_of(*state, "/address", NULL),
                        "{\"city\":\"Oslo\",\"zip\":\"0150\",\"geo\":{\"lat\":59.91}}");
}

static void strings_inside_json_are_escaped(void **state)
{
    json_t *doc = json_pack("{s:o}", "v", json_deep_copy(*state));
    const char *want = "\"text\":\"quote \\\" back \\\\ nl \\n tab \\t\"}";
    const char *got = text_of(doc, "/v", NULL);

    assert_string_equal(got + strlen(got) - strlen(want), want);
    /* Alone, a string is its bytes. */
    assert_string_equal(text_of(*state, "/text", NULL), "quote \" back \\ nl \n tab \t");
    json_decref(doc);
}

static void wildcard_collects_a_member_of_each_element(void **state)
{
    ferry_json_path *path = NULL;

    assert_int_equal(ferry_json_path_compile("/phones/*/type", &path, NULL), FERRY_OK);
    assert_true(ferry_json_path_has_wildcard(path));
    assert_null(ferry_json_path_get(path, *state));
    ferry_json_path_free(path);
    assert_string_equal(text_of(*state, "/phones/*/type", NULL), "home, work, cell");
    assert_string_equal(text_of(*state, "/address/*", " / "), "Oslo / 0150 / {\"lat\":59.91}");
    /* Arrays selected by "*" are flattened one level. */
    assert_string_equal(text_of(*state, "/nested/*", NULL), "1, 2, {\"k\":\"v\"}, s");
}

static void wildcard_skips_elements_without_the_member(void **state)
{
    assert_string_equal(text_of(*state, "/phones/*/number", NULL), "123, 456");
    assert_null(text_of(*state, "/phones/*/fax", NULL));
    assert_null(text_of(*state, "/empty/*", NULL));
    assert_null(text_of(*state, "/name/*", NULL));
}

static void compile_errors_say_what_is_wrong(void **state)
{
    ferry_json_path *path = NULL;
    ferry_err err = {0};

    (void)state;
    assert_int_equal(ferry_json_path_compile("address/city", &path, &err), FERRY_EINVAL);
    assert_non_null(strstr(err.msg, "must start with '/'"));
    ferry_err_clear(&err);
    assert_int_equal(ferry_json_path_compile("/a/b~2c", &path, &err), FERRY_EINVAL);
    assert_non_null(strstr(err.msg, "bad escape '~2'"));
    ferry_err_clear(&err);
    assert_int_equal(ferry_json_path_compile("/a~", &path, &err), FERRY_EINVAL);
    assert_non_null(strstr(err.msg, "bad escape '~'"));
    assert_null(path);
}

static void tokens_are_decoded_and_indexes_noted(void **state)
{
    ferry_json_path *path = NULL;
    size_t len = 99, index = 99;

    (void)state;
    assert_int_equal(ferry_json_path_compile("/a~1b/~0c/12/012/-/", &path, NULL), FERRY_OK);
    assert_int_equal(ferry_json_path_ntokens(path), 6);
    assert_string_equal(ferry_json_path_token(path, 0, &len), "a/b");
    assert_int_equal(len, 3);
    assert_string_equal(ferry_json_path_token(path, 1, &len), "~c");
    assert_int_equal(len, 2);
    assert_false(ferry_json_path_token_index(path, 1, &index));
    assert_true(ferry_json_path_token_index(path, 2, &index));
    assert_int_equal(index, 12);
    assert_false(ferry_json_path_token_index(path, 3, &index)); /* leading zero */
    assert_false(ferry_json_path_token_index(path, 4, &index)); /* "-" */
    assert_string_equal(ferry_json_path_token(path, 5, &len), "");
    assert_int_equal(len, 0);
    assert_false(ferry_json_path_token_index(path, 5, &index));
    ferry_json_path_free(path);
    assert_int_equal(ferry_json_path_compile("", &path, NULL), FERRY_OK);
    assert_int_equal(ferry_json_path_ntokens(path), 0);
    ferry_json_path_free(path);
}

static void real_format_is_the_shortest_that_reads_back(void **state)
{
    char num[64];

    (void)state;
    ferry_json_real_format(0.1, num, sizeof(num));
    assert_string_equal(num, "0.1");
    ferry_json_real_format(0.1 + 0.2, num, sizeof(num));
    assert_string_equal(num, "0.30000000000000004");
    ferry_json_real_format(1e300, num, sizeof(num));
    assert_string_equal(num, "1e+300");
    ferry_json_real_format(-0.0, num, sizeof(num));
    assert_string_equal(num, "-0");
}

static void full_buffer_is_a_limit_and_left_as_it_was(void **state)
{
    ferry_json_path *path = NULL;
    bool found = false;
    ferry_buf small;

    ferry_buf_init(&small, 10);
    assert_int_equal(ferry_buf_append(&small, "pre:", 4), FERRY_OK);
    assert_int_equal(ferry_json_path_compile("/address", &path, NULL), FERRY_OK);
    assert_int_equal(ferry_json_path_text(path, *state, NULL, &small, &found), FERRY_ELIMIT);
    assert_string_equal(ferry_buf_str(&small), "pre:");
    ferry_json_path_free(path);
    assert_int_equal(ferry_json_path_compile("/name", &path, NULL), FERRY_OK);
    assert_int_equal(ferry_json_path_text(path, *state, NULL, &small, &found), FERRY_OK);
    assert_true(found);
    assert_string_equal(ferry_buf_str(&small), "pre:Ann");
    ferry_json_path_free(path);
    ferry_buf_done(&small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_path_is_the_whole_document),
        cmocka_unit_test_setup_teardown(nested_member_is_found, load, unload),
        cmocka_unit_test_setup_teardown(decimal_token_indexes_an_array, load, unload),
        cmocka_unit_test_setup_teardown(escapes_name_slash_and_tilde, load, unload),
        cmocka_unit_test_setup_teardown(missing_member_is_not_found, load, unload),
        cmocka_unit_test_setup_teardown(null_is_not_found, load, unload),
        cmocka_unit_test_setup_teardown(numbers_are_written_shortest, load, unload),
        cmocka_unit_test_setup_teardown(booleans_are_true_and_false, load, unload),
        cmocka_unit_test_setup_teardown(array_elements_are_joined, load, unload),
        cmocka_unit_test_setup_teardown(array_of_objects_joins_compact_json, load, unload),
        cmocka_unit_test_setup_teardown(object_is_compact_json_in_document_order, load, unload),
        cmocka_unit_test_setup_teardown(strings_inside_json_are_escaped, load, unload),
        cmocka_unit_test_setup_teardown(wildcard_collects_a_member_of_each_element, load, unload),
        cmocka_unit_test_setup_teardown(wildcard_skips_elements_without_the_member, load, unload),
        cmocka_unit_test(compile_errors_say_what_is_wrong),
        cmocka_unit_test(tokens_are_decoded_and_indexes_noted),
        cmocka_unit_test(real_format_is_the_shortest_that_reads_back),
        cmocka_unit_test_setup_teardown(full_buffer_is_a_limit_and_left_as_it_was, load, unload),
    };

    return cmocka_run_group_tests(tests, NULL, free_text);
}
