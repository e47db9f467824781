/* test_template.c - {name} placeholders: finding, expanding, encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "util/template.h"

static const char *lookup(void *ctx, const char *name, size_t len)
{
    (void)ctx;
    if (len == 3 && memcmp(name, "org", 3) == 0)
        return "a b/c";
    if (len == 5 && memcmp(name, "shard", 5) == 0)
        return "au1";
    return NULL;
}

static const char *expand(const char *tmpl, bool encode, ferry_buf *out)
{
    ferry_err err;

    ferry_err_clear(&err);
    ferry_buf_reset(out);
    assert_int_equal(ferry_template_expand(tmpl, lookup, NULL, encode, out, &err), FERRY_OK);
    return ferry_buf_str(out);
}

static void placeholders_are_replaced(void **state)
{
    ferry_buf out;

    (void)state;
    ferry_buf_init(&out, 1024);
    assert_string_equal(expand("https://api.{shard}.x.com/{org}", false, &out),
                        "https://api.au1.x.com/a b/c");
    assert_string_equal(expand("https://api.{shard}.x.com/{org}", true, &out),
                        "https://api.au1.x.com/a%20b%2Fc");
    assert_string_equal(expand("no placeholders", true, &out), "no placeholders");
    ferry_buf_done(&out);
}

static void query_value_is_encoded_whole(void **state)
{
    ferry_buf out;
    ferry_err err;

    (void)state;
    ferry_buf_init(&out, 1024);
    ferry_err_clear(&err);
    assert_int_equal(ferry_template_expand_query("project = \"OPS\" AND updated >= -1d", lookup,
                                                 NULL, &out, &err),
                     FERRY_OK);
    assert_string_equal(ferry_buf_str(&out),
                        "project%20%3D%20%22OPS%22%20AND%20updated%20%3E%3D%20-1d");
    ferry_buf_reset(&out);
    assert_int_equal(ferry_template_expand_query("a&b=c+d 'é' {org}", lookup, NULL, &out, &err),
                     FERRY_OK);
    assert_string_equal(ferry_buf_str(&out), "a%26b%3Dc%2Bd%20%27%C3%A9%27%20a%20b%2Fc");
    ferry_buf_done(&out);
}

static void braces_that_are_not_names_stay(void **state)
{
    ferry_buf out;

    (void)state;
    ferry_buf_init(&out, 1024);
    assert_string_equal(expand("{\"a\": {\"b\": 1}, \"s\": \"{shard}\"} {1x} {}", false, &out),
                        "{\"a\": {\"b\": 1}, \"s\": \"au1\"} {1x} {}");
    ferry_buf_done(&out);
}

static void unknown_name_is_an_error(void **state)
{
    ferry_buf out;
    ferry_err err;

    (void)state;
    ferry_buf_init(&out, 1024);
    ferry_err_clear(&err);
    assert_int_equal(ferry_template_expand("x/{nope}", lookup, NULL, false, &out, &err),
                     FERRY_EINVAL);
    assert_non_null(strstr(err.msg, "{nope}"));
    ferry_buf_done(&out);
}

static void next_walks_every_placeholder(void **state)
{
    const char *s = "{a}-{b_2}{c";
    const char *name = NULL;
    size_t pos = 0, len = 0;

    (void)state;
    assert_true(ferry_template_next(s, &pos, &name, &len));
    assert_int_equal(len, 1);
    assert_memory_equal(name, "a", 1);
    assert_true(ferry_template_next(s, &pos, &name, &len));
    assert_int_equal(len, 3);
    assert_memory_equal(name, "b_2", 3);
    assert_false(ferry_template_next(s, &pos, &name, &len));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(placeholders_are_replaced),
        cmocka_unit_test(query_value_is_encoded_whole),
        cmocka_unit_test(braces_that_are_not_names_stay),
        cmocka_unit_test(unknown_name_is_an_error),
        cmocka_unit_test(next_walks_every_placeholder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
